"""allowedRegistries (E706) and images.txt see every image easel knows a component pulls (SPEC §3 step 6), not
only the containers as a component's template wrote them:

- on objects easel renders (a user's ComponentDefinition), the images a trait's patch sets (a user's
  TraitDefinition may set a container's image or add an init container);
- on a kustomize folder, the images its traits' patches set and the images the image-registry trait names, and
  (the proof builds the folder the cluster's tree carries) the images of the folder's own objects.
"""

from __future__ import annotations

from builders import docs
from scenario import codes, compile_files
from test_definitions import BASE, CACHE, _with_registries, profile

ALLOWED = "[registry.example.com]"
OWN_CACHE = CACHE.replace("redis:7", "registry.example.com/redis:7")
PINNED = docs("""
kind: TraitDefinition
metadata: {name: pinned}
spec:
  parameters: {type: object, properties: {image: {type: string}}, required: [image]}
  template: |
    patches:
      - patch:
          spec:
            template:
              spec:
                initContainers: [{name: init, image: "{{ parameters.image }}"}]
                containers: [{name: redis, image: "{{ parameters.image }}"}]
""")


def _cache(image: str) -> dict[str, str]:
    return _with_registries({**BASE, "profiles/defs.yaml": OWN_CACHE + "---\n" + PINNED, **profile(f"""
    - name: cache
      type: cache
      properties: {{size: "{{{{ params.size }}}}"}}
      traits: [{{type: pinned, properties: {{image: "{image}"}}}}]
""")}, ALLOWED)


def test_an_image_a_user_trait_sets_on_a_user_components_objects_must_come_from_an_allowed_registry():
    result = compile_files(_cache("evil.example.org/redis:1"))
    assert codes(result) == ["E706"], [d.text for d in result.diagnostics]
    [problem] = [d for d in result.diagnostics if d.code == "E706"]
    assert "'evil.example.org/redis:1'" in problem.message and "'cache'" in problem.message


def test_the_images_a_user_trait_sets_are_listed_for_mirroring_in_place_of_the_ones_it_replaced():
    result = compile_files(_cache("registry.example.com/redis:8"))
    assert codes(result) == [], [d.text for d in result.diagnostics]
    assert result.files["clusters/c/images.txt"] == "registry.example.com/redis:8\n"


FOLDER = {"profiles/site/kustomization.yaml": "resources: [deployment.yaml]\n",
          "profiles/site/deployment.yaml": """apiVersion: apps/v1
kind: Deployment
metadata: {name: site}
spec:
  selector: {matchLabels: {app: site}}
  template:
    metadata: {labels: {app: site}}
    spec: {containers: [{name: site, image: docker.io/library/nginx:1.27}]}
"""}


def _folder(traits: str) -> dict[str, str]:
    return _with_registries({**BASE, **FOLDER, **profile(f"""
    - name: site
      type: kustomize
      properties: {{path: profiles/site, target: {{kind: Deployment, name: site}}, container: site}}
      traits: {traits}
""")}, ALLOWED)


def test_an_image_a_trait_patch_sets_on_a_kustomize_folder_must_come_from_an_allowed_registry():
    result = compile_files({**_folder('[{type: pinned, properties: {image: "evil.example.org/site:2"}}]'),
                            "profiles/defs.yaml": PINNED})
    assert codes(result) == ["E706"], [d.text for d in result.diagnostics]
    assert "'evil.example.org/site:2'" in next(d for d in result.diagnostics if d.code == "E706").message
    pinned = {**_folder('[{type: pinned, properties: {image: "registry.example.com/site:2"}}]'),
              "profiles/defs.yaml": PINNED}
    # the folder's own Deployment still pulls from Docker Hub: the proof sees it in the folder the tree carries
    [own] = [d for d in compile_files(pinned).diagnostics if d.code != "W111"]  # (W111: no easel.yaml here)
    assert own.code == "E812" and "'docker.io/library/nginx:1.27' is not from a registry" in own.message, own.text
    assert "clusters/c/repository/profiles/site/deployment.yaml" in own.message
    moved = {**pinned, "profiles/site/deployment.yaml": pinned["profiles/site/deployment.yaml"].replace(
        "docker.io/library/nginx:1.27", "registry.example.com/site:1")}
    allowed = compile_files(moved)
    assert codes(allowed) == [], [d.text for d in allowed.diagnostics]
    assert allowed.files["clusters/c/images.txt"] == "registry.example.com/site:1\nregistry.example.com/site:2\n"


def test_the_images_an_image_registry_trait_names_on_a_folder_are_checked_as_pulled_and_listed():
    mirrored = compile_files(_folder("[{type: image-registry, properties: {registry: registry.example.com/mirror, "
                                     "images: [docker.io/library/nginx]}}]"))
    assert codes(mirrored) == [], [d.text for d in mirrored.diagnostics]
    # the trait's own line, and the tag the folder's Deployment pulls, from its source to the mirror
    assert mirrored.files["clusters/c/images.txt"] == (
        "docker.io/library/nginx registry.example.com/mirror/library/nginx\n"
        "docker.io/library/nginx:1.27 registry.example.com/mirror/library/nginx:1.27\n")
    elsewhere = compile_files(_folder("[{type: image-registry, properties: {registry: mirror.elsewhere.org, "
                                      "images: [docker.io/library/nginx]}}]"))
    assert codes(elsewhere) == ["E706"], [d.text for d in elsewhere.diagnostics]


def test_an_image_a_user_component_definition_writes_is_checked_and_listed():
    """(Held before these fixes too: a user template's containers were already read like the built-ins'.)"""
    files = _with_registries({**BASE, "profiles/defs.yaml": CACHE, **profile("""
    - name: cache
      type: cache
      properties: {size: "{{ params.size }}"}
""")}, ALLOWED)
    assert codes(compile_files(files)) == ["E706"]
    allowed = compile_files({**files, "profiles/defs.yaml": OWN_CACHE})
    assert codes(allowed) == [] and allowed.files["clusters/c/images.txt"] == "registry.example.com/redis:7\n"
