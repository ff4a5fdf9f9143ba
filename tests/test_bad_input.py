"""Bad input: every mistake a user can make gives exit status 1, a stable code, the file and line to look at, and
never a traceback.

Each case starts from the small working repository of `easel init` (the `repo` fixture) and changes a few
lines of it: the input is written inline, next to the error it must produce. Line numbers are the lines of the
patched file as written here, so a case can be read without running it.
"""

from __future__ import annotations

import json
import re
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import INIT_REPO, easel, tree, write_files

# The files of the init repository, as named in the cases below.
SETTINGS = "easel.yaml"
CLUSTER = "clusters/local.yaml"
ENV = "environments/dev.yaml"  # Project `demo` (lines 1-6), then Environment `dev` (lines 8-24)
PROFILE = "profiles/hello/1.0.0.yaml"
WORKLOAD = "workloads/demo/hello.yaml"


def edit(path: str, *replacements: tuple[str, str]) -> dict[str, str]:
    """The init repository's file at path with each (old, new) replaced once; old must be there."""
    text = (INIT_REPO / path).read_text()
    for old, new in replacements:
        assert old in text, f"{old!r} is not in {path}"
        text = text.replace(old, new, 1)
    return {path: text}


def append(path: str, more: str, indent: int = 0) -> dict[str, str]:
    """The init repository's file at path with lines added at its end, dedented then indented by `indent`."""
    return {path: (INIT_REPO / path).read_text() + textwrap.indent(textwrap.dedent(more).lstrip("\n"), " " * indent)}


def build(repo: Path, files: dict[str, str] | None = None, raw: dict[str, bytes] | None = None) -> Path:
    """The init repository with files replaced or added (text is dedented), and raw bytes written as they are."""
    write_files(repo, files or {})
    for path, data in (raw or {}).items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(data)
    return repo


def assert_error(run, code: str, where: str) -> None:
    """Exit 1, no traceback, and an `error[CODE]` reported at `where` ("path:LINE:")."""
    assert "Traceback" not in run.text, run.text
    assert "E999" not in run.text, run.text
    assert run.code == 1, run.text
    assert f"error[{code}]" in run.text, run.text
    pattern = rf"^{re.escape(where)}\d+: error\[{code}\]"
    assert re.search(pattern, run.err, re.M), f"expected {where}COLUMN: error[{code}] in:\n{run.text}"


def error_count(run) -> int:
    found = re.search(r"^easel: (\d+) errors?$", run.err, re.M)
    return int(found.group(1)) if found else 0


# --- inputs shared by several cases ---------------------------------------------------------------------------

# Two small GPU clusters beside the init repository's CPU-only `local`, all three selected by the `dev` environment
# (tier: dev): gpu-a (2 × L40S on one device) and gpu-b (4 × A100 on one device).
GPU_CLUSTERS = {"clusters/gpu.yaml": """
    apiVersion: easel.dev/v1alpha1
    kind: Cluster
    metadata:
      name: gpu-a
      labels: {tier: dev}
    spec:
      source: byoc
      kubernetesVersion: "1.30.2"
      devices:
        - name: a-node-1
          facts: {arch: amd64, gpus: [{product: NVIDIA-L40S, memory: 48Gi, count: 2}]}
    ---
    apiVersion: easel.dev/v1alpha1
    kind: Cluster
    metadata:
      name: gpu-b
      labels: {tier: dev}
    spec:
      source: byoc
      kubernetesVersion: "1.30.2"
      devices:
        - name: b-node-1
          facts: {arch: amd64, gpus: [{product: NVIDIA-A100-SXM4-80GB, memory: 80Gi, count: 4}]}
    """}

# The hello profile with a `gpus` parameter (default 1) and a gpu trait on its `web` component (line 25).
GPU_PROFILE = edit(
    PROFILE,
    ("    replicas: {type: integer, minimum: 1, default: 1}\n",
     ("    replicas: {type: integer, minimum: 1, default: 1}\n"
     "    gpus: {type: integer, minimum: 0, default: 1}\n")),
    ("          properties: {cpu: 100m, memory: 64Mi}\n",
     ("          properties: {cpu: 100m, memory: 64Mi}\n"
     "        - type: gpu\n"
     "          properties: {count: \"{{ params.gpus }}\"}\n")))


def gpu_repo(gpus: int, quota: int = 100, placement: str = "", policy: str = "") -> dict[str, str]:
    """The GPU fleet and profile, the workload asking for `gpus` GPUs, the project's quota, extra env settings."""
    env = edit(ENV, ("quota: {gpus: 0}", f"quota: {{gpus: {quota}}}"),
               ("      matchLabels: {tier: dev}\n", "      matchLabels: {tier: dev}\n" + placement))
    env[ENV] += policy
    return {**GPU_CLUSTERS, **GPU_PROFILE, **env, **append(WORKLOAD, f"gpus: {gpus}\n", indent=4)}


def component_definition(greeting: str) -> dict[str, str]:
    """A user-defined ComponentDefinition `config` whose template (starting line 9) renders `greeting` at
    template line 6, used by a second component `cfg` of the hello profile (line 24)."""
    return {
        "profiles/definitions.yaml": """
            apiVersion: easel.dev/v1alpha1
            kind: ComponentDefinition
            metadata:
              name: config
            spec:
              parameters:
                type: object
                properties: {greeting: {type: string}}
              template: |
                - apiVersion: v1
                  kind: ConfigMap
                  metadata:
                    name: {{ component.instance }}
                  data:
                    greeting: GREETING
            """.replace("GREETING", greeting),
        **append(PROFILE, """
            - name: cfg
              type: config
              properties: {greeting: hi}
            """, indent=4),
    }


def manifests_component(files: str) -> dict[str, str]:
    """The hello profile with a second component of type `manifests` whose `files` list is on line 27."""
    return append(PROFILE, f"""
        - name: extra
          type: manifests
          properties:
            files: {files}
        """, indent=4)


ANOTHER_PROFILE = {"profiles/goodbye/1.0.0.yaml": (INIT_REPO / PROFILE).read_text().replace("name: hello",
                                                                                             "name: goodbye")}


# --- the table ------------------------------------------------------------------------------------------------

@dataclass
class Case:
    files: dict[str, str]
    code: str
    where: str  # "path:LINE:" the error must be reported at
    also: tuple[str, ...] = ()  # more text the output must hold (a hint, a note, a name)
    errors: int | None = 1  # the number of errors; None: not checked
    raw: dict[str, bytes] | None = None
    command: tuple[str, ...] = ("validate",)


def case(id: str, *args, xfail: str | None = None, **kwargs):
    marks = [pytest.mark.xfail(reason=xfail, strict=True)] if xfail else []
    return pytest.param(Case(*args, **kwargs), id=id, marks=marks)


def bomb(levels: int) -> str:
    """Billion laughs: each level is a list of ten aliases of the one before: 10**levels strings."""
    lines = ["apiVersion: easel.dev/v1alpha1", "kind: Workload", "metadata: {name: bomb}", "spec:",
             '  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"  l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


CASES = [
    # --- reading files (E1xx) -----------------------------------------------------------------------------------
    case("yaml-syntax-error",
         edit(WORKLOAD, ("  environment: dev\n", "  environment: dev: x\n")), "E101", f"{WORKLOAD}:8:"),
    case("yaml-unterminated-quote-points-at-the-quote",
         edit(WORKLOAD, ("message: hello, world", 'message: "hello, world')), "E101", f"{WORKLOAD}:11:"),
    case("tab-indentation",
         edit(WORKLOAD, ("  name: hello\n", "\tname: hello\n")), "E101", f"{WORKLOAD}:5:"),
    case("top-level-list", {"workloads/demo/list.yaml": """
            # a list of documents is not a document
            - apiVersion: easel.dev/v1alpha1
              kind: Workload
            """}, "E102", "workloads/demo/list.yaml:2:", also=("a list, not a mapping",)),
    case("scalar-document", {"workloads/demo/note.yaml": "# notes\n\njust some text\n"},
         "E102", "workloads/demo/note.yaml:3:", also=("a single value",)),
    case("duplicate-key",
         append(WORKLOAD, "project: demo\n", indent=2), "E104", f"{WORKLOAD}:12:", also=("'project'",)),
    case("python-object-tag",
         edit(WORKLOAD, ("  name: hello\n", "  name: !!python/object/apply:os.system [echo pwned]\n")),
         "E107", f"{WORKLOAD}:5:"),
    case("complex-mapping-key-is-not-a-tag-problem",
         edit(WORKLOAD, ("  project: demo\n", "  ? [project, name]\n  : demo\n")), "E101", f"{WORKLOAD}:7:"),
    case("not-utf8", {}, "E105", "workloads/demo/latin1.yaml:3:",
         raw={"workloads/demo/latin1.yaml": b"apiVersion: easel.dev/v1alpha1\nkind: Workload\n"
                                            b"metadata: {name: caf\xe9}\n"}),
    case("input-folder-outside-repository",
         edit(SETTINGS, ("inputs: [profiles, environments, clusters, workloads]",
                         "inputs: [profiles, environments, clusters, workloads, ../shared]")),
         "E106", f"{SETTINGS}:5:"),
    case("input-folder-is-the-output-folder",
         edit(SETTINGS, ("inputs: [profiles, environments, clusters, workloads]",
                         "inputs: [profiles, environments, clusters, workloads, output]")),
         "E303", f"{SETTINGS}:5:", also=("overlaps",)),
    case("output-folder-inside-an-input-folder",
         edit(SETTINGS, ("output: output", "output: workloads/compiled")), "E303", f"{SETTINGS}:5:"),
    case("input-folder-is-the-repository-root",
         edit(SETTINGS, ("inputs: [profiles, environments, clusters, workloads]", "inputs: [.]")),
         "E303", f"{SETTINGS}:5:"),
    case("manifest-file-outside-repository",
         manifests_component("[../../etc/passwd]"), "E106", f"{PROFILE}:28:"),
    case("manifest-file-missing",
         manifests_component("[profiles/hello/missing.yaml]"), "E306", f"{PROFILE}:28:"),
    case("manifest-file-from-a-parameter-missing",
         manifests_component('["{{ params.message }}"]'), "E306", f"{PROFILE}:28:"),

    # --- document shape (E2xx) ----------------------------------------------------------------------------------
    case("missing-api-version",
         edit(WORKLOAD, ("apiVersion: easel.dev/v1alpha1\n", "")), "E201", f"{WORKLOAD}:2:"),  # 1 is a comment
    case("wrong-api-version",
         edit(WORKLOAD, ("apiVersion: easel.dev/v1alpha1", "apiVersion: easel.dev/v2")), "E201", f"{WORKLOAD}:2:",
         also=("easel.dev/v1alpha1",)),
    case("unknown-kind-did-you-mean",
         edit(WORKLOAD, ("kind: Workload", "kind: Workloda")), "E202", f"{WORKLOAD}:3:",
         also=("did you mean 'Workload'",)),
    case("name-with-dot-dot",
         edit(WORKLOAD, ("  name: hello\n", '  name: "../x"\n')), "E207", f"{WORKLOAD}:5:"),
    case("name-with-slash",
         edit(WORKLOAD, ("  name: hello\n", "  name: a/b\n")), "E207", f"{WORKLOAD}:5:"),
    case("name-uppercase",
         edit(CLUSTER, ("  name: local\n", "  name: Local\n")), "E207", f"{CLUSTER}:5:"),
    case("name-with-a-final-newline",  # Python's `$` matches before it; a label may not hold one
         edit(WORKLOAD, ("  name: hello\n", '  name: "hello\\n"\n')), "E207", f"{WORKLOAD}:5:"),
    case("name-64-characters",
         edit(WORKLOAD, ("  name: hello\n", f"  name: {'a' * 64}\n")), "E207", f"{WORKLOAD}:5:"),
    case("unknown-field-did-you-mean",
         edit(WORKLOAD, ("  environment: dev", "  enviroment: dev")), "E203", f"{WORKLOAD}:8:",
         also=("did you mean 'environment'",)),  # one mistake, one error (no E204 beside it)
    case("unknown-field-deep",
         edit(ENV, ("    clusterSelector:", "    clusterSelecter:")), "E203", f"{ENV}:15:",
         also=("spec.placement", "did you mean 'clusterSelector'")),
    case("quoted-integer",
         edit(ENV, ("  namespace:\n", '    numberOfClusters: "2"\n  namespace:\n')), "E205", f"{ENV}:17:",
         also=("remove the quotes",)),
    case("version-read-as-number",
         edit(CLUSTER, ('kubernetesVersion: "1.30.2"', "kubernetesVersion: 1.10")), "E205", f"{CLUSTER}:9:",
         also=("quote it",)),
    case("label-value-true-unquoted",
         edit(CLUSTER, ("labels: {tier: dev}", "labels: {tier: dev, gpu: true}")), "E205", f"{CLUSTER}:6:",
         also=("quote the value",)),
    case("missing-required-field",
         edit(WORKLOAD, ("  project: demo\n", "")), "E204", f"{WORKLOAD}:6:", also=("'project'",)),
    case("bad-enum",
         edit(ENV, ("strategy: workload", "strategy: namespace")), "E206", f"{ENV}:18:",
         also=("'project' or 'workload'",)),
    case("bad-quantity",
         edit(CLUSTER, ("memory: 32Gi", "memory: lots")), "E209", f"{CLUSTER}:14:"),
    case("bad-quantity-in-trait-properties",
         edit(PROFILE, ("memory: 64Mi", "memory: lots")), "E407", f"{PROFILE}:24:",
         also=("not a Kubernetes quantity",)),
    case("bad-semver",
         edit(PROFILE, ("version: 1.0.0", 'version: "1.2"')), "E501", f"{PROFILE}:8:"),
    case("semver-read-as-number",
         edit(PROFILE, ("version: 1.0.0", "version: 1.2")), "E205", f"{PROFILE}:8:", also=("quote it",)),
    case("bad-version-range",
         edit(WORKLOAD, ('version: "^1.0"', 'version: ">=>1"')), "E502", f"{WORKLOAD}:9:"),
    case("template-syntax-error",
         component_definition('"{{ parameters.greeting "'), "E210", "profiles/definitions.yaml:15:"),
    case("plain-kubernetes-manifest-in-an-input-folder", {"workloads/demo/configmap.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: stray}
            data: {greeting: hi}
            """}, "E211", "workloads/demo/configmap.yaml:1:", also=("`manifests` component",)),

    # --- references (E3xx) --------------------------------------------------------------------------------------
    case("unknown-profile",
         edit(WORKLOAD, ("{name: hello,", "{name: helo,")), "E302", f"{WORKLOAD}:9:",
         also=("did you mean 'hello'",)),
    case("unknown-environment",
         edit(WORKLOAD, ("environment: dev", "environment: prod")), "E302", f"{WORKLOAD}:8:"),
    case("unknown-project",
         edit(WORKLOAD, ("project: demo", "project: demos")), "E302", f"{WORKLOAD}:7:"),
    case("unknown-cluster-profile",
         edit(CLUSTER, ("  source: byoc\n", "  source: palette\n"),
              ('  kubernetesVersion: "1.30.2"\n', "  clusterProfile: {name: edge-gpu, version: 2.1.0}\n")),
         "E302", f"{CLUSTER}:9:", also=("edge-gpu",)),
    case("device-for-unknown-cluster", {"clusters/nodes.yaml": """
            apiVersion: easel.dev/v1alpha1
            kind: Device
            metadata: {name: node-2}
            spec:
              cluster: lokal
              facts: {arch: amd64}
            """}, "E304", "clusters/nodes.yaml:5:", also=("did you mean 'local'",)),
    case("environment-names-unknown-project",
         edit(ENV, ("projects: [demo]", "projects: [demo, vision]")), "E302", f"{ENV}:13:"),
    case("unknown-trait-type",
         edit(PROFILE, ("- type: resources", "- type: resource")), "E302", f"{PROFILE}:23:",
         also=("did you mean 'resources'",)),
    case("unknown-component-type",
         edit(PROFILE, ("type: webservice", "type: web-service")), "E302", f"{PROFILE}:15:",
         also=("did you mean 'webservice'",)),
    case("unknown-helm-repository", {
        "profiles/repositories.yaml": """
            apiVersion: easel.dev/v1alpha1
            kind: Repository
            metadata: {name: bitnami}
            spec: {type: helm, url: https://charts.bitnami.com/bitnami}
            """,
        **append(PROFILE, """
            - name: cache
              type: helm-chart
              properties: {repository: bitnamy, chart: redis, version: 19.0.0}
            """, indent=4)}, "E302", f"{PROFILE}:27:", also=("did you mean 'bitnami'",)),
    case("duplicate-cluster",
         {"clusters/more.yaml": (INIT_REPO / CLUSTER).read_text()}, "E301", "clusters/more.yaml:5:",
         also=(f"note: {CLUSTER}:5:",)),
    case("duplicate-profile-version",
         {"profiles/hello/1.0.0-again.yaml": (INIT_REPO / PROFILE).read_text()}, "E301",
         "profiles/hello/1.0.0.yaml:5:", also=("version 1.0.0", "note: profiles/hello/1.0.0-again.yaml:5:")),
    case("duplicate-workload-in-project",
         {"workloads/demo/hello-copy.yaml": (INIT_REPO / WORKLOAD).read_text()}, "E301", f"{WORKLOAD}:5:",
         also=("in project 'demo'", "note: workloads/demo/hello-copy.yaml:5:")),
    case("component-dependency-cycle", append(PROFILE, """
            - name: a
              type: webservice
              dependsOn: [b]
              properties: {image: ghcr.io/traefik/whoami:v1.10, port: 80}
            - name: b
              type: webservice
              dependsOn: [a]
              properties: {image: ghcr.io/traefik/whoami:v1.10, port: 80}
            """, indent=4), "E305", f"{PROFILE}:27:", also=("a -> b -> a",)),

    # --- parameters and templates (E4xx) ------------------------------------------------------------------------
    case("unknown-parameter",
         append(WORKLOAD, "replcias: 2\n", indent=4), "E401", f"{WORKLOAD}:12:", also=("did you mean 'replicas'",)),
    case("missing-parameter",
         {**edit(PROFILE, ("message: {type: string, default: hello from easel}", "message: {type: string}")),
          **edit(WORKLOAD, ("  parameters:\n    message: hello, world\n", ""))},
         "E402", f"{WORKLOAD}:9:", also=("'message'",)),
    case("locked-parameter-overridden",
         edit(ENV, ("  defaults:\n", ("  defaults:\n    parameters:\n"
                                     "      message: {value: hello from dev, locked: true}\n"))),
         "E403", f"{WORKLOAD}:11:", also=(f"note: {ENV}:21:", "locked by the environment layer")),
    case("parameter-fails-its-schema",
         append(WORKLOAD, "replicas: 0\n", indent=4), "E404", f"{WORKLOAD}:12:", also=("minimum",)),
    case("template-undefined-variable",
         component_definition('"{{ nothere.value }}"'), "E405", "profiles/definitions.yaml:15:",
         also=("'nothere' is undefined", f"note: {PROFILE}:25:")),
    case("sandbox-escape-via-mro",
         component_definition("\"{{ ''.__class__.__mro__[1].__subclasses__() }}\""), "E406",
         "profiles/definitions.yaml:15:"),
    case("sandbox-escape-via-globals",
         component_definition('"{{ self.__init__.__globals__ }}"'), "E406", "profiles/definitions.yaml:15:"),
    case("sandbox-escape-in-trait-definition", {
        "profiles/definitions.yaml": """
            apiVersion: easel.dev/v1alpha1
            kind: TraitDefinition
            metadata: {name: annotate}
            spec:
              template: |
                patches:
                  - patch:
                      metadata:
                        annotations: {x: "{{ ''.__class__.__mro__[1].__subclasses__() }}"}
            """,
        **append(PROFILE, "- type: annotate\n", indent=8)}, "E406", "profiles/definitions.yaml:9:"),
    case("huge-string-repetition",
         component_definition("\"{{ 'x' * 100000000 }}\""), "E406", "profiles/definitions.yaml:15:",
         also=("repetition",)),
    case("huge-string-padding",
         component_definition("\"{{ parameters.greeting | center(10000000) }}\""), "E406",
         "profiles/definitions.yaml:15:"),

    # --- versions, placement and policy (E5xx-E7xx) -------------------------------------------------------------
    case("no-matching-profile-version",
         edit(WORKLOAD, ('"^1.0"', '"^2.0"')), "E503", f"{WORKLOAD}:9:", also=("versions of 'hello': 1.0.0",)),
    case("fewer-eligible-clusters-than-asked",
         gpu_repo(gpus=2, placement="    numberOfClusters: 3\n"), "E602", f"{WORKLOAD}:8:",
         also=("only 2 eligible", "local: no GPUs")),
    case("profile-not-allowed-by-environment",
         {**ANOTHER_PROFILE, **append(ENV, "allowedProfiles: [{name: goodbye}]\n", indent=4)},
         "E702", f"{WORKLOAD}:9:", also=("profiles allowed there: goodbye", f"note: {ENV}:25:")),
    case("profile-version-not-allowed-by-environment",
         append(ENV, 'allowedProfiles: [{name: hello, versions: ">=2"}]\n', indent=4), "E702", f"{WORKLOAD}:9:"),
    case("project-not-allowed-in-environment",
         edit(ENV, ("projects: [demo]", "projects: []")), "E701", f"{WORKLOAD}:8:"),
    case("project-gpu-quota-exceeded",
         gpu_repo(gpus=2, quota=3), "E704", f"{WORKLOAD}:12:", also=(f"note: {ENV}:6:", "quota of 3")),  # gpus: 2
    case("too-many-gpus-for-one-workload",
         gpu_repo(gpus=2, policy="    maxGPUsPerWorkload: 1\n"), "E703", f"{WORKLOAD}:12:",  # gpus: 2
         also=(f"note: {PROFILE}:26:", f"note: {ENV}:25:")),
    case("required-trait-missing",
         edit(ENV, ("requiredTraits: [security-context]", "requiredTraits: [security-context, labels]")),
         "E705", f"{PROFILE}:14:", also=("'labels'", f"note: {WORKLOAD}:5:")),
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_reported_with_code_and_line(repo: Path, case: Case):
    build(repo, case.files, case.raw)
    run = easel("-C", str(repo), *case.command)
    assert_error(run, case.code, case.where)
    for text in case.also:
        assert text in run.text, run.text
    if case.errors is not None:
        assert error_count(run) == case.errors, run.text


# --- cases of another shape -----------------------------------------------------------------------------------

def test_alias_bomb_is_refused_quickly(repo: Path):
    build(repo, {"workloads/demo/bomb.yaml": bomb(15)})  # 10**15 strings once expanded
    started = time.monotonic()
    run = easel("-C", str(repo), "validate")
    assert time.monotonic() - started < 10
    assert_error(run, "E103", "workloads/demo/bomb.yaml:1:")
    assert "more than 1,000,000 nodes" in run.text


def test_output_folder_outside_repository_writes_nothing(repo: Path):
    build(repo, edit(SETTINGS, ("output: output", "output: ../elsewhere")))
    run = easel("-C", str(repo), "compile")
    assert_error(run, "E106", f"{SETTINGS}:6:")
    assert not (repo.parent / "elsewhere").exists()
    assert not (repo / "output").exists()


def test_symlink_out_of_the_repository_is_refused(repo: Path, tmp_path: Path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("apiVersion: easel.dev/v1alpha1\nkind: Project\nmetadata: {name: secret}\nspec: {}\n")
    (repo / "workloads" / "demo" / "linked.yaml").symlink_to(secret)
    run = easel("-C", str(repo), "validate")
    assert run.code == 1 and "Traceback" not in run.text, run.text
    assert re.search(r"^workloads/demo/linked\.yaml: error\[E106\]", run.err, re.M), run.text  # a file, no line


def test_unplaceable_gpu_ask_says_why_for_every_cluster(repo: Path):
    build(repo, gpu_repo(gpus=8))  # no device has 8 GPUs
    run = easel("-C", str(repo), "validate")
    assert_error(run, "E601", f"{WORKLOAD}:8:")
    notes = [line for line in run.err.splitlines() if line.startswith("  note:")]
    assert len(notes) == 3, run.text
    assert any(": gpu-a: a replica needs 8 × NVIDIA-L40S on one device" in n for n in notes), run.text
    assert any(": gpu-b: a replica needs 8 × NVIDIA-A100-SXM4-80GB on one device" in n for n in notes), run.text
    assert any(f"{CLUSTER}:" in n and ": local: no GPUs on ready devices" in n for n in notes), run.text


def test_too_many_gpus_names_the_workload_file(repo: Path):
    build(repo, gpu_repo(gpus=2, policy="    maxGPUsPerWorkload: 1\n"))
    run = easel("-C", str(repo), "validate")
    assert run.code == 1 and "error[E703]" in run.text, run.text
    assert re.search(rf"{re.escape(WORKLOAD)}:\d+:", run.text), run.text


def test_template_syntax_error_is_reported_once(repo: Path):
    build(repo, component_definition('"{{ parameters.greeting "'))
    run = easel("-C", str(repo), "validate")
    assert_error(run, "E210", "profiles/definitions.yaml:15:")
    assert "E302" not in run.text and error_count(run) == 1, run.text


def test_errors_are_reported_together_sorted_by_file_and_line(repo: Path):
    build(repo, {
        **edit(ENV, ("strategy: workload", "strategy: namespace")),  # read before clusters/, sorted after
        **edit(CLUSTER, ("labels: {tier: dev}", "labels: {tier: dev, gpu: true}")),
        **edit(WORKLOAD, ("{name: hello,", "{name: helo,")),
    })
    first = easel("-C", str(repo), "validate")
    second = easel("-C", str(repo), "validate")
    assert first.code == second.code == 1
    assert first.text == second.text
    reported = re.findall(r"^(\S+?):(\d+):\d+: error\[(E\d+)\]", first.err, re.M)
    assert reported == [(CLUSTER, "6", "E205"), (ENV, "18", "E206"), (WORKLOAD, "9", "E302")], first.text
    assert "easel: 3 errors" in first.err


def test_json_format_lists_every_error(repo: Path):
    build(repo, {
        **edit(CLUSTER, ("labels: {tier: dev}", "labels: {tier: dev, gpu: true}")),
        **edit(WORKLOAD, ("{name: hello,", "{name: helo,")),
    })
    run = easel("-C", str(repo), "validate", "--format", "json")
    assert run.code == 1 and "Traceback" not in run.text, run.text
    report = json.loads(run.out)
    assert (report["kind"], report["ok"], report["errors"], report["summary"]) == ("ValidationReport", False, 2, None)
    found = report["diagnostics"]
    assert isinstance(found, list) and len(found) == 3
    for item in found:
        assert {"code", "file", "line", "column", "message", "hint"} <= set(item), item
        assert isinstance(item["line"], int) and isinstance(item["column"], int) and item["message"]
    # the scaffold's placeholder repoURL (W111) is listed too, in its place among the errors
    assert [(d["code"], d["file"], d["line"]) for d in found] == [("E205", CLUSTER, 6), ("W111", "easel.yaml", 10),
                                                                  ("E302", WORKLOAD, 9)]
    assert found[2]["hint"] == "did you mean 'hello'?"


def test_github_format_prints_annotations(repo: Path):
    build(repo, {
        **edit(CLUSTER, ("labels: {tier: dev}", "labels: {tier: dev, gpu: true}")),
        **edit(WORKLOAD, ("{name: hello,", "{name: helo,")),
    })
    run = easel("-C", str(repo), "validate", "--format", "github")
    assert run.code == 1 and "Traceback" not in run.text, run.text
    annotations = [line for line in run.out.splitlines() if line.startswith("::")]
    assert len(annotations) == 3, run.text
    assert annotations[0].startswith(f"::error file={CLUSTER},line=6,"), annotations
    assert annotations[1].startswith("::warning file=easel.yaml,line=10,"), annotations  # the placeholder repoURL
    assert annotations[2].startswith(f"::error file={WORKLOAD},line=9,"), annotations
    assert "E302" in annotations[2] and "did you mean 'hello'" in annotations[2]


# Breaks found by different stages: reading, checking references, placing, and rendering (two environments
# sharing the `demo` namespace on one cluster with different isolation: found only while rendering).
SHARED_NAMESPACE = {
    **edit(ENV, ("strategy: workload", "strategy: project")),
    "environments/dev-strict.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Environment
        metadata: {name: dev-strict}
        spec:
          projects: [demo]
          placement: {clusterSelector: {matchLabels: {tier: dev}}}
          namespace: {strategy: project, isolation: strict}
        """,
    "workloads/demo/hello-strict.yaml": (INIT_REPO / WORKLOAD).read_text().replace("name: hello\n",
                                                                                 "name: hello-strict\n")
                                                                        .replace("environment: dev",
                                                                                 "environment: dev-strict"),
}
BREAKS = {
    "yaml": (edit(WORKLOAD, ("  environment: dev\n", "  environment: dev: x\n")), "E101"),
    "reference": (edit(WORKLOAD, ("{name: hello,", "{name: helo,")), "E302"),
    "placement": (edit(CLUSTER, ("labels: {tier: dev}", "labels: {tier: prod}")), "E601"),
    "render": (SHARED_NAMESPACE, "E801"),
}


@pytest.mark.parametrize("stage", BREAKS)
def test_failed_compile_leaves_output_untouched(repo: Path, stage: str):
    assert easel("-C", str(repo), "compile").code == 0
    before = tree(repo / "output")
    assert before
    files, code = BREAKS[stage]
    build(repo, files)
    run = easel("-C", str(repo), "compile")
    assert run.code == 1 and "Traceback" not in run.text, run.text
    assert f"error[{code}]" in run.text, run.text
    assert tree(repo / "output") == before
    # nothing but output/, easel.lock and easel's own cache (its lock and journal) is written
    assert sorted(p.name for p in repo.iterdir()) == [".easel-cache", "clusters", "easel.lock", "easel.yaml",
                                                      "environments", "output", "profiles", "workloads"]
    # no journal left behind: the lock, and the cache's entries (cache.py)
    assert {p.name for p in (repo / ".easel-cache").iterdir()} <= {".gitignore", "lock", "documents.json",
                                                                   "runs.json", "manifest.json"}
