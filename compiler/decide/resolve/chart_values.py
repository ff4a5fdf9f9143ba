"""Traits and images on what easel cannot see inside, a chart or a kustomize folder: trait properties the profile
maps to chart values (`traitValues`), patches that need the component's `container`, and the images a chart's
values name (`imageValues`), rewritten for the image-registry trait."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from compiler.decide.resolve.chart_pods import (
    ChartPods,
    Looked,
    container_values,
    look,
    names_a_container,
    names_every_container,
)
from compiler.decide.resolve.types import ResolvedTrait
from compiler.diagnostics import Diagnostic, Location, Subject, error, warning
from compiler.kube import images, podtemplates
from compiler.model import Component, Model, valuespath
from compiler.model.gpu import DEVICE_PLUGIN, DRA, GPU_RESOURCE
from compiler.model.parts import ALL_CONTAINERS, ComponentOutput, ExternalSource, ValuesMapping


@dataclass(frozen=True)
class Applied:
    output: ComponentOutput | None  # None: an error stops the component
    traits: tuple[ResolvedTrait, ...]
    images: tuple[tuple[str, str], ...]  # (image as written, image as pulled)
    problems: list[Diagnostic]


# Traits whose container-level part placement or policy counts on: on a chart it must go somewhere.
COUNTED = ("gpu", "resources")


def apply(model: Model, component: Component, external: ExternalSource | None, output: ComponentOutput,
          traits: list[ResolvedTrait], subject: Subject, required: tuple[str, ...] = (),
          gpu_allocation: str = DEVICE_PLUGIN, looked: Looked | None = None) -> Applied:
    """The component's output and traits once trait values are mapped, and the images it pulls. external: the
    typed fields of a chart or folder (None for other components), with what easel found in its rendered chart
    (chart_pods.py: looked says what it saw there)."""
    problems: list[Diagnostic] = []
    looked = looked or Looked(external)
    if external is not None and (output.helm is not None or output.kustomize_path is not None):
        if looked.fitting and not external.target and (external.container or any(
                names_a_container(p.body) for t in traits for p in t.output.patches)):
            problems.append(_several(
                component, looked.fitting, f"container {external.container!r}" if external.container else
                "the containers its traits name", component.loc.at("properties", "container")
                if external.container else component.loc, subject))
            return Applied(None, tuple(traits), (), problems)
        if external.container and not external.target:
            problems.append(error("E410", f"component {component.name!r} names container {external.container!r} "
                                  "but no `target`", component.loc.at("properties", "container"), subject=subject))
            return Applied(None, tuple(traits), (), problems)
        named = [t for t in traits if not external.target and any(names_a_container(p.body)
                                                                  for p in t.output.patches)]
        for trait in named:  # a trait's own `container` on a chart: the same risk as the component's
            problems.append(error("E410", f"trait {trait.type!r} names a container of component "
                                  f"{component.name!r}, which names no `target`", trait.loc, subject=subject))
        if named:
            return Applied(None, tuple(traits), (), problems)
        mapped, traits = _external_traits(model, component, external, output, traits, subject, problems,
                                          (*COUNTED, *required), gpu_allocation, looked.fitting)
        if mapped is None:
            return Applied(None, tuple(traits), (), problems)
        output = mapped
    pulling, found = _images(component, external, output, traits, subject, problems)
    return Applied(pulling, tuple(traits), tuple(found), problems)


def _several(component: Component, fitting: str, what: str, at: Location, subject: Subject) -> Diagnostic:
    """E416: several of the rendered chart's pod objects (or containers) could take what the component's traits
    set on containers."""
    return error("E416", f"{what} of chart component {component.name!r} could go to several of the pods its "
                 f"rendered chart runs, and the component does not say which (`target`, `container`): {fitting}",
                 at, subject=subject)


def looked_at(model: Model, component: Component, external: ExternalSource | None, output: ComponentOutput,
              traits: list[ResolvedTrait], subject: Subject, gpu_allocation: str, charts: ChartPods | None,
              release: str, namespace: str) -> Looked:
    """What easel finds in the component's rendered chart (chart_pods.py): rendered with its values once
    `traitValues` are mapped (as apply maps them, and reports their problems), for what the traits then leave to
    patches. release, namespace: the component's defaults (its own `releaseName` and `namespace` win)."""
    if external is None or output.helm is None or charts is None:
        return Looked(external)
    if external.trait_values:
        output, traits, _ = _mapped_values(model, component, external.trait_values, output, traits, subject, [],
                                           gpu_allocation)
    assert output.helm is not None
    return look(charts, output, external, [p for t in traits for p in t.output.patches],
                output.helm.release_name or release, output.helm.namespace or namespace)


def _external_traits(model: Model, component: Component, external: ExternalSource, output: ComponentOutput,
                     traits: list[ResolvedTrait], subject: Subject, problems: list[Diagnostic],
                     counted: tuple[str, ...], gpu_allocation: str = DEVICE_PLUGIN, fitting: str | None = None
                     ) -> tuple[ComponentOutput | None, list[ResolvedTrait]]:
    """Traits on a chart or folder: through chart values where the profile maps them (`traitValues`), else
    as patches, which need the component's `container` when they change containers.

    Under DRA a chart's GPU values would ask for the device plugin's resource: a mapped `gpu.count` is set to 0
    there, and the claims go by patch (only the GPU toleration may still go through values)."""
    ok = True
    if external.trait_values and output.helm is not None:
        output, traits, ok = _mapped_values(model, component, external.trait_values, output, traits, subject,
                                            problems, gpu_allocation)
    if gpu_allocation == DRA:
        traits = [_without_device_plugin_gpus(t) if t.output.gpu is not None else t for t in traits]
    if not external.container:
        traits, reached = _without_container_settings(component, output, traits, subject, problems, counted,
                                                      gpu_allocation, fitting)
        ok = ok and reached
    return (output if ok else None), traits


def _mapped_values(model: Model, component: Component, mapping: tuple[ValuesMapping, ...], output: ComponentOutput,
                   traits: list[ResolvedTrait], subject: Subject, problems: list[Diagnostic], gpu_allocation: str
                   ) -> tuple[ComponentOutput, list[ResolvedTrait], bool]:
    """The chart's values with the traits' properties put where `traitValues` maps them; the traits without
    what the values now carry; and whether every mapping worked."""
    assert output.helm is not None
    at = component.loc.at("properties", "traitValues")
    ok = True
    values = copy.deepcopy(output.helm.values)
    covered: dict[str, Covered] = {}
    for entry in mapping:
        key, paths = entry.key, entry.paths
        trait_type, _, rest = key.partition(".")
        if model.trait_definition(trait_type) is None:
            problems.append(error("E302", f"traitValues names unknown trait {trait_type!r}", at.at(key).as_key()))
            ok = False
            continue
        trait = next((t for t in traits if t.type == trait_type), None)
        if trait is None:
            continue  # the trait is not used here: the chart keeps its own value
        part, _, field = rest.partition(".")
        if trait_type == "gpu" and gpu_allocation == DRA and rest != "pod.tolerations":
            if rest == "count":
                for path in paths:
                    valuespath.put(values, path, 0)  # put worked for it under the device plugin too
            continue
        value = _rendered_part(trait, part, field) if part in PARTS and field else trait.properties.get(rest)
        covered[trait_type] = covered.get(trait_type, Covered()).adding(part if part in PARTS else None,
                                                                         field or rest)
        if value is None:
            continue  # the trait does not set it here
        for index, path in enumerate(paths):
            problem = valuespath.put(values, path, value)
            if problem:
                where = at.at(key, index) if entry.listed else at.at(key)
                problems.append(error("E407", f"traitValues {key}: {problem}", where, subject=subject))
                ok = False
    traits = [_without_covered(t, covered[t.type]) if t.type in covered else t for t in traits]
    return dataclasses.replace(output, helm=dataclasses.replace(output.helm, values=values)), traits, ok


def _without_container_settings(component: Component, output: ComponentOutput, traits: list[ResolvedTrait],
                                subject: Subject, problems: list[Diagnostic], counted: tuple[str, ...],
                                gpu_allocation: str, fitting: str | None = None) -> tuple[list[ResolvedTrait], bool]:
    """On a chart or folder that names no `container`: a counted trait that must reach containers is an error
    (E416 where its rendered chart has several that fit: `fitting`); another trait's container settings are
    dropped, with a warning. Whether no counted trait was lost."""
    kind = "chart" if output.helm is not None else "kustomize folder"
    kept = []
    ok = True
    for trait in traits:
        if any(names_every_container(p.body) for p in trait.output.patches) and trait.type in counted and fitting:
            problems.append(_several(component, fitting, f"trait {trait.type!r}", trait.loc, subject))
            ok = False
        elif any(names_every_container(p.body) for p in trait.output.patches) and trait.type in counted:
            dra = trait.type == "gpu" and gpu_allocation == DRA
            problems.append(error(
                "E411", f"trait {trait.type!r} cannot reach the containers of {kind} component "
                f"{component.name!r}: easel cannot see them"
                + (" (on clusters that allocate GPUs through DRA, its claims go by patch, not values)"
                   if dra else ""), trait.loc,
                "name the container that gets the GPU claims with `container` (and the object with `target`)"
                if dra else None, subject=subject))
            ok = False
        elif any(names_every_container(p.body) for p in trait.output.patches):
            # A patch naming a container the chart lacks would add a broken one: leave containers alone.
            patches = [dataclasses.replace(p, body=_without_every_container(p.body)) for p in trait.output.patches]
            trait = dataclasses.replace(trait, output=dataclasses.replace(
                trait.output, patches=[p for p in patches if _has_content(p.body)]))
            problems.append(warning(
                "W103", f"trait {trait.type!r}: its container settings are not applied to {kind} component "
                f"{component.name!r}, whose containers easel cannot see" if not fitting else
                f"{component.name!r}, whose rendered chart has several pods that could take them: {fitting}",
                trait.loc, subject=subject))
        kept.append(trait)
    return kept, ok


def _images(component: Component, external: ExternalSource | None, output: ComponentOutput, traits: list[ResolvedTrait],
            subject: Subject, problems: list[Diagnostic]) -> tuple[ComponentOutput | None, list[tuple[str, str]]]:
    """The component's images, as written and as pulled (after the image-registry trait): from the containers
    of the objects easel renders, and from the chart values the profile names in `imageValues`. A chart's
    values are rewritten here; easel's own objects when they are rendered."""
    mirror = next((t.output.registry for t in reversed(traits) if t.output.registry), None)
    found: list[tuple[str, str]] = []
    if output.helm is not None and external is not None and external.image_values:
        values = copy.deepcopy(output.helm.values)
        for index, path in enumerate(external.image_values):
            value = valuespath.get(values, path)
            image = images.from_values(value)
            if image is None:
                problems.append(error("E407", f"imageValues {path!r}: no image there in the chart values",
                                      component.loc.at("properties", "imageValues", index),
                                      "the path names an image string, or a mapping with repository and tag",
                                      subject=subject))
                return None, []
            if mirror:
                value = images.rewrite_values(value, mirror)
                valuespath.put(values, path, value)
            found.append((image, images.from_values(value) or image))
        output = dataclasses.replace(output, helm=dataclasses.replace(output.helm, values=values))
    if external is not None and (output.helm is not None or output.kustomize_path is not None):
        found.extend(_external_images(output, traits))
    elif output.objects is not None:
        found.extend(object_images(output, traits))
    return output, list(dict.fromkeys(found))  # an image two containers pull is one image


def object_images(output: ComponentOutput, traits: Sequence[ResolvedTrait]) -> list[tuple[str, str]]:
    """The images of the objects easel renders for a component, once its traits are applied, as written and as
    pulled (after the image-registry trait)."""
    mirror = next((t.output.registry for t in reversed(traits) if t.output.registry), None)
    objects = [*(output.objects or ()), *(o for t in traits for o in t.output.objects)]
    patches = [p for t in traits for p in t.output.patches]
    if any(_sets_an_image(p.body) for p in patches):  # a trait (a user's) may change or add an image
        objects = [podtemplates.patched(obj, patches, output.pod_templates) for obj in objects]
    found = []
    for obj in objects:
        for container in images.containers(obj, output.pod_templates):
            image = container.get("image")
            if isinstance(image, str):
                found.append((image, images.rewrite(image, mirror) if mirror else image))
    return list(dict.fromkeys(found))


def _external_images(output: ComponentOutput, traits: list[ResolvedTrait]) -> list[tuple[str, str]]:
    """What easel knows a chart or folder pulls besides its `imageValues`: the images its traits' patches set on
    its containers, and, for a folder, the images the image-registry trait names (a folder's own files are
    kustomize's, not in the model). As pulled: rewritten where an image-registry trait names the image."""
    mirrors = {_image_name(image): t.output.registry for t in traits if t.output.registry
               for image in t.output.helm_images}
    written = [image for t in traits for p in t.output.patches for image in _patch_images(p.body)]
    if output.kustomize_path is not None:
        written += [image for t in traits if t.output.registry for image in t.output.helm_images]
    return [(image, images.rewrite(image, mirrors[_image_name(image)]) if _image_name(image) in mirrors else image)
            for image in dict.fromkeys(written)]


def _image_name(image: str) -> str:
    """An image without its tag or digest: what a kustomize `images` entry matches (render/objects.py)."""
    return image.split("@")[0].rsplit(":", 1)[0] if "/" in image or ":" in image else image


def _patch_images(body: Any) -> list[str]:
    """The images a patch sets on containers."""
    return container_values(body, "image")


def _sets_an_image(body: Any) -> bool:
    if isinstance(body, dict):
        return "image" in body or any(_sets_an_image(v) for v in body.values())
    return isinstance(body, list) and any(_sets_an_image(v) for v in body)


def _without_device_plugin_gpus(trait: ResolvedTrait) -> ResolvedTrait:
    """A gpu trait's patch under DRA, for what easel cannot see: its container's limits and requests of the
    device plugin's GPUs are deleted (null, as a strategic merge patch deletes a key), so that the chart's own
    values cannot leave the pods waiting for a resource no node offers."""
    assert trait.output.gpu is not None
    names = dict.fromkeys((GPU_RESOURCE, trait.output.gpu.resource_name))
    gone = dict.fromkeys(names)

    def body(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ([{**c, "resources": {**c.get("resources", {}), "limits": gone, "requests": gone}}
                         if isinstance(c, dict) and "claims" in (c.get("resources") or {}) else c for c in v]
                        if k == "containers" and isinstance(v, list) else body(v)) for k, v in value.items()}
        return value

    patches = [dataclasses.replace(p, body=body(p.body)) for p in trait.output.patches]
    return dataclasses.replace(trait, output=dataclasses.replace(trait.output, patches=patches))


PARTS = ("pod", "container")  # traitValues `<trait>.pod.<field>` / `<trait>.container.<field>`


@dataclass(frozen=True)
class Covered:
    """What a trait's traitValues entries take over from its patches: a property (its container settings and the
    object-level ones, such as spec.replicas, and the pod field of that name), pod fields, container fields."""
    properties: frozenset[str] = frozenset()
    pod: frozenset[str] = frozenset()
    container: frozenset[str] = frozenset()

    def adding(self, part: str | None, name: str) -> Covered:
        if part == "pod":
            return dataclasses.replace(self, pod=self.pod | {name})
        if part == "container":
            return dataclasses.replace(self, container=self.container | {name})
        return dataclasses.replace(self, properties=self.properties | {name})


def _pod_spec(body: Any) -> dict[str, Any] | None:
    spec = ((body.get("spec") or {}).get("template") or {}).get("spec") if isinstance(body, dict) else None
    return spec if isinstance(spec, dict) else None


def _rendered_part(trait: ResolvedTrait, part: str, field: str) -> Any:
    """What the trait sets on the pod (`pod`) or on its container (`container`) for that field, if it sets it."""
    for patch in trait.output.patches:
        pod = _pod_spec(patch.body) if patch.kind is None else None
        if pod is None:
            continue
        if part == "pod" and field in pod and field not in ("containers", "initContainers"):
            return copy.deepcopy(pod[field])
        if part == "container":
            for container in pod.get("containers") or ():
                if isinstance(container, dict) and field in container and field != "name":
                    return copy.deepcopy(container[field])
    return None


def _without_covered(trait: ResolvedTrait, covered: Covered) -> ResolvedTrait:
    """The trait with what its values take over left out of its patches; what is left still goes by patch."""
    patches = []
    for patch in trait.output.patches:
        pod = _pod_spec(patch.body) if patch.kind is None else None
        if pod is None:
            if not covered.properties:
                patches.append(patch)  # a patch of its own kind: only a property mapping takes it over
            continue
        kept_pod = {k: v for k, v in pod.items() if k not in covered.pod and k not in covered.properties
                    and k not in ("containers", "initContainers")}
        if not covered.properties:
            for key in ("containers", "initContainers"):
                entries = [{k: v for k, v in c.items() if k not in covered.container} if isinstance(c, dict) else c
                           for c in pod.get(key) or ()]
                entries = [c for c in entries if not (isinstance(c, dict) and set(c) <= {"name"})]
                if entries:
                    kept_pod[key] = entries
        template = {k: v for k, v in patch.body["spec"]["template"].items() if k != "spec"}
        if kept_pod:
            template["spec"] = kept_pod
        spec = {} if covered.properties else {k: v for k, v in patch.body["spec"].items() if k != "template"}
        if template:
            spec["template"] = template
        body = {**{k: v for k, v in patch.body.items() if k != "spec"}, **({"spec": spec} if spec else {})}
        if _has_content(body):
            patches.append(dataclasses.replace(patch, body=body))
    return dataclasses.replace(trait, output=dataclasses.replace(trait.output, patches=patches))


def _without_every_container(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    out = {}
    for key, value in body.items():
        if key in ("containers", "initContainers") and isinstance(value, list):
            value = [c for c in value if not (isinstance(c, dict) and c.get("name") == ALL_CONTAINERS)]
            if value:
                out[key] = value
        else:
            out[key] = _without_every_container(value)
    return out


def _has_content(body: Any) -> bool:
    if isinstance(body, dict):
        return any(_has_content(v) for v in body.values())
    return body not in ({}, [], None)
