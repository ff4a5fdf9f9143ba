"""Unit tests where the logic is intricate: versions, parameter layers, quantities, patches, names, templates,
the atomic writer."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from builders import cluster_file, docs
from scenario import codes, compile_files

from compiler import write
from compiler.definitions import templating
from compiler.diagnostics import Diagnostics
from compiler.kube import merge as smp
from compiler.kube import names
from compiler.model import quantity, versions

# --- versions --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("wanted, expected", [
    ("1.2.0", "1.2.0"), ("^1.2", "1.4.1"), ("~1.3", "1.3.2"), (">=1.2 <2", "1.4.1"), ("1.x", "1.4.1"),
    ("*", "2.0.0"), ("^2", "2.0.0"), ("^3", None), ("<1.2.0", None),
    (">=1.2, <2", "1.4.1"), (">=1.3,<1.4 || ^2", "2.0.0"), (">= 1.2.0, < 1.4.0", "1.3.2"),  # Helm's commas
])
def test_highest_version_within_a_range(wanted, expected):
    available = ["1.2.0", "1.3.0", "1.3.2", "1.4.1", "2.0.0", "2.1.0-rc.1"]
    assert versions.highest(available, wanted) == expected


def test_highest_version_within_two_ranges():
    assert versions.highest(["1.2.0", "1.3.0", "1.9.0", "2.0.0"], "^1.2", "<1.5") == "1.3.0"


@pytest.mark.parametrize("text, ok", [("1.2.0", True), ("^1.2", True), (">=1.2 <2", True), ("1.x", True),
                                      ("*", True), ("", False), ("bogus!", False), (">=", False),
                                      (">=1.2, <2", True), (",", False)])
def test_range_syntax(text, ok):
    assert versions.is_range(text) is ok


@pytest.mark.parametrize("text, normal", [("1.30.5", "1.30.5"), ("v1.29.4+k3s1", "1.29.4"), ("1.28", "1.28.0"),
                                          ("v1.30.2-eks-1234", "1.30.2"), ("latest", None)])
def test_kubernetes_versions_are_read_leniently(text, normal):
    assert versions.kubernetes_version(text) == normal


# --- parameter layers ------------------------------------------------------------------------------------

def _layers(settings="", project="", environment="", workload="", declared="") -> dict[str, str]:
    declared = declared or """
    a: {type: string, default: profile}
    b: {type: string, default: profile}
    c: {type: string, default: profile}
    d: {type: string, default: profile}
    n: {type: integer, minimum: 1, default: 1}"""
    return {
        "easel.yaml": f"apiVersion: easel.dev/v1alpha1\nkind: Settings\nspec:\n  parameters: {{{settings}}}\n",
        "environments/env.yaml": docs(f"""
kind: Project
metadata: {{name: team}}
spec: {{parameters: {{{project}}}}}
""", f"""
kind: Environment
metadata: {{name: dev}}
spec:
  projects: [team]
  defaults: {{parameters: {{{environment}}}}}
"""),
        "profiles/p.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: p}}
spec:
  version: 1.0.0
  parameters:{declared}
  components:
    - name: c
      type: manifests
      properties:
        objects: [{{apiVersion: v1, kind: ConfigMap, metadata: {{name: x}}, data: {{a: "{{{{ params.a }}}}"}}}}]
"""),
        **cluster_file("c", k8s="1.30.0"),
        "workloads/w.yaml": docs(f"""
kind: Workload
metadata: {{name: w}}
spec: {{project: team, environment: dev, profile: {{name: p}}, parameters: {{{workload}}}}}
"""),
    }


def test_each_layer_overrides_the_one_below_and_says_so():
    result = compile_files(_layers(settings="b: system, c: system, d: system, other: ignored",
                                   project="c: project, d: project", environment="d: environment",
                                   workload="n: 3"))
    assert codes(result) == []
    parameters = next(iter(result.resolutions.workloads.values())).parameters
    assert {k: (p.value, p.layer) for k, p in parameters.items()} == {
        "a": ("profile", "profile"), "b": ("system", "easel.yaml"), "c": ("project", "project"),
        "d": ("environment", "environment"), "n": (3, "workload")}


def test_a_lock_stops_every_higher_layer():
    result = compile_files(_layers(project="a: {value: fixed, locked: true}", workload="a: mine"))
    assert codes(result) == ["E403"]
    problem = next(d for d in result.diagnostics if d.code == "E403")
    assert "locked by the project layer" in problem.message
    assert problem.notes[0].location.file == "environments/env.yaml"


def test_a_lock_in_a_layer_that_nobody_overrides_is_fine():
    result = compile_files(_layers(settings="a: {value: fixed, locked: true}"))
    assert codes(result) == []
    assert next(iter(result.resolutions.workloads.values())).parameters["a"].value == "fixed"
    assert next(iter(result.resolutions.workloads.values())).parameters["a"].locked


def test_lower_layers_may_set_parameters_a_profile_does_not_declare_but_a_workload_may_not():
    assert codes(compile_files(_layers(project="unrelated: 1"))) == []
    assert codes(compile_files(_layers(workload="unrelated: 1"))) == ["E401"]


def test_a_parameter_without_any_value_is_an_error():
    result = compile_files(_layers(declared="\n    a: {type: string}"))
    assert codes(result) == ["E402"]


def test_values_are_checked_against_the_declared_schema():
    assert codes(compile_files(_layers(workload="n: 0"))) == ["E404"]
    assert codes(compile_files(_layers(environment="n: many"))) == ["E404"]


def test_a_lone_placeholder_keeps_its_type_and_others_become_text():
    variables = {"params": {"gpus": 2, "model": "llama"}}
    assert templating.render_value({"a": "{{ params.gpus }}", "b": "x-{{ params.gpus }}",
                                    "c": ["{{ params.model }}"]}, variables) == {"a": 2, "b": "x-2", "c": ["llama"]}


@pytest.mark.parametrize("template, code", [
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "E406"),
    ("{{ self.__init__.__globals__ }}", "E406"),
    ("{{ params.__class__ }}", "E405"),
    ("{{ 'x' * 100000000 }}", "E406"),
    ("{{ 2 ** 100000 }}", "E406"),
    ("{% include '/etc/passwd' %}", "E405"),
    ("{{ nothing }}", "E405"),
    ("{{ unclosed", "E210"),
])
def test_templates_are_sandboxed(template, code):
    with pytest.raises(templating.TemplateProblem) as problem:
        templating.render_string(template, {"params": {}})
    assert problem.value.code == code


# --- quantities, names, patches ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [("64Gi", 64 * 2**30), ("500m", Fraction(1, 2)), ("1.5", Fraction(3, 2)),
                                         (2, 2), ("1e3", 1000), ("1k", 1000), ("24Gi", 24 * 2**30),
                                         ("1Ei", 2**60), ("0.5Ei", 2**59), ("1E", 10**18), ("1E3", 1000),
                                         ("1e100", 10**100), ("1e-100", Fraction(1, 10**100))])
def test_quantities(text, value):
    assert quantity.parse(text) == value


# a decimal exponent past 100 is refused, not computed (1e9999999 took seconds; a longer one, minutes)
@pytest.mark.parametrize("text", ["lots", "1.2.3", "Gi", "", "1 Gi", True, "1e101", "1e9999999", "1e-99999999999"])
def test_not_quantities(text):
    assert not quantity.is_quantity(text)


def test_long_names_are_shortened_deterministically():
    long = "a-very-long-workload-name-that-goes-on-and-on-and-on-forever"
    short = names.shorten(long + "-server", 53)
    assert len(short) == 53
    assert short == names.shorten(long + "-server", 53)
    assert short != names.shorten(long + "-gateway", 53)
    assert names.shorten("short", 53) == "short"


def test_strategic_merge_applies_to_every_container_and_follows_kubernetes_merge_keys():
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {
        "containers": [{"name": "a", "resources": {"limits": {"memory": "1Gi"}},
                        "ports": [{"containerPort": 80, "name": "http"}]}, {"name": "b"}],
        "tolerations": [{"key": "x", "operator": "Exists"}]}}}}
    gpu = {"spec": {"template": {"spec": {
        "containers": [{"name": "*", "resources": {"limits": {"nvidia.com/gpu": 1}}}],
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]}}}}
    placement = {"spec": {"template": {"spec": {"tolerations": [{"key": "spot", "operator": "Exists"}],
                                                "containers": [{"name": "a", "ports": [{"containerPort": 9090}]}]}}}}
    patch = smp.combine(gpu, placement, "apps/v1", "Deployment")
    merged = smp.apply(deployment, patch)["spec"]["template"]["spec"]
    assert merged["containers"][1] == {"name": "b", "resources": {"limits": {"nvidia.com/gpu": 1}}}
    assert merged["containers"][0]["resources"] == {"limits": {"memory": "1Gi", "nvidia.com/gpu": 1}}
    # ports merge by containerPort, the patch's first (as kustomize does); tolerations: the traits' add up, and
    # replace the object's
    assert merged["containers"][0]["ports"] == [{"containerPort": 9090}, {"containerPort": 80, "name": "http"}]
    assert [t["key"] for t in merged["tolerations"]] == ["nvidia.com/gpu", "spot"]
    assert deployment["spec"]["template"]["spec"]["containers"][1] == {"name": "b"}  # input untouched
    # a kind Kubernetes does not know merges maps and replaces lists, as kustomize without a schema
    custom = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "spec": {"items": [1, 2], "a": {"b": 1}}}
    assert smp.apply(custom, {"spec": {"items": [3], "a": {"c": 2}}})["spec"] == {"items": [3], "a": {"b": 1, "c": 2}}


# --- the writer --------------------------------------------------------------------------------------------

def test_a_write_that_fails_midway_leaves_the_previous_output(tmp_path, monkeypatch):
    out = tmp_path / "output"
    assert write.write(out, {"clusters/a/kustomization.yaml": "old\n", "clusters/a/x.yaml": "x\n"}, Diagnostics())
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real_open = open
    calls = {"n": 0}

    def failing_open(path, *args, **kwargs):
        if ".easel-staging-" in str(path):
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError(28, "No space left on device", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", failing_open)
    diagnostics = Diagnostics()
    result = write.write(out, {"clusters/a/kustomization.yaml": "new\n", "clusters/b/y.yaml": "y\n",
                               "clusters/c/z.yaml": "z\n"}, diagnostics)
    assert result is None
    assert [d.code for d in diagnostics] == ["E802"]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not list(out.glob(".easel-staging-*"))


def test_the_writer_refuses_paths_that_leave_the_output(tmp_path):
    diagnostics = Diagnostics()
    assert write.write(tmp_path / "out", {"../escape.yaml": "x"}, diagnostics) is None
    assert not (tmp_path / "escape.yaml").exists()
    assert [d.code for d in diagnostics] == ["E802"]


def test_the_writer_removes_what_is_no_longer_produced(tmp_path):
    out = tmp_path / "output"
    write.write(out, {"clusters/a/k.yaml": "a", "clusters/b/k.yaml": "b"}, Diagnostics())
    changes = write.write(out, {"clusters/a/k.yaml": "a"}, Diagnostics())
    assert changes.removed == ["clusters/b/k.yaml"] and changes.unchanged == 1
    assert not (out / "clusters/b").exists()
    assert Path(out / "clusters/a/k.yaml").read_text() == "a"


# --- images ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("image, full", [
    ("nginx", "docker.io/library/nginx"), ("docker.io/nginx:1.25", "docker.io/library/nginx:1.25"),
    ("index.docker.io/library/nginx", "docker.io/library/nginx"), ("library/nginx", "docker.io/library/nginx"),
    ("ghcr.io/a/b:1", "ghcr.io/a/b:1"), ("localhost:5000/x@sha256:" + "a" * 64, "localhost:5000/x@sha256:" + "a" * 64),
])
def test_images_are_named_as_the_container_runtime_names_them(image, full):
    from compiler.kube import images

    assert images.normalized(image) == full
    assert images.allowed(image, (full.rsplit("/", 1)[0],))
    assert images.rewrite(image, "mirror.example.com") == "mirror.example.com/" + full.split("/", 1)[1]


def test_nginx_and_docker_io_nginx_are_one_image_for_policy_and_mirrors():
    from compiler.kube import images

    assert images.allowed("docker.io/nginx", ("docker.io/library",)) and images.allowed("nginx", ("docker.io",))
    assert images.rewrite("docker.io/nginx", "m.local") == images.rewrite("nginx", "m.local") == "m.local/library/nginx"
    assert images.normalized("Not A Valid Ref") == "docker.io/library/Not A Valid Ref"  # read plainly, not a crash
