"""The suite's one set of builders of config-repository inputs: YAML documents (`docs`), clusters and their
devices (`cluster`, `cluster_file`, `gpu_device`), and copies of this repository's own example
(`copy_example`, `repository_files`, `example_files`). Text only: nothing here compiles."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = "apiVersion: easel.dev/v1alpha1\n"

# The example's inputs at the repository root (output/ is what compiling them writes).
EXAMPLE_INPUTS = ("easel.yaml", "easel.lock", "profiles", "environments", "clusters", "workloads", "charts")
INPUT_FOLDERS = ("profiles", "environments", "clusters", "workloads")


def docs(*documents: str) -> str:
    """YAML documents given without the apiVersion line, joined into one file."""
    return "---\n".join(HEADER + textwrap.dedent(d).strip() + "\n" for d in documents)


# --- clusters ---------------------------------------------------------------------------------------------------

def cluster(name: str = "c", labels: str | None = None, *, k8s: str | None = "1.30.1", source: str = "byoc",
            spec: str = "", devices: Sequence[str] | None = None) -> str:
    """One Cluster document (with its apiVersion line): a BYOC cluster of Kubernetes k8s by default.
    labels: a YAML flow mapping (`{tier: dev}`), or no labels field; spec: more fields of its spec, as YAML
    lines (`gitops: {engine: argocd}`); devices: YAML flow mappings of its devices (see gpu_device), listed as
    `devices: []` when empty and left out when None."""
    metadata = f"{{name: {name}, labels: {labels}}}" if labels is not None else f"{{name: {name}}}"
    lines = ["kind: Cluster", f"metadata: {metadata}", "spec:", f"  source: {source}"]
    if k8s is not None:
        lines.append(f'  kubernetesVersion: "{k8s}"')
    lines += ["  " + line for line in textwrap.dedent(spec).strip().splitlines()]
    if devices is not None:
        lines += [f"  devices: [{', '.join(devices)}]"] if not devices else \
            ["  devices:", *(f"    - {device}" for device in devices)]
    return HEADER + "\n".join(lines) + "\n"


def cluster_file(name: str = "c", labels: str | None = None, **fields) -> dict[str, str]:
    """The file clusters/<name>.yaml of one cluster (the arguments of `cluster`)."""
    return {f"clusters/{name}.yaml": cluster(name, labels, **fields)}


def gpu_device(name: str, product: str = "A", count: int = 4, memory: str = "80Gi", state: str | None = "ready",
               arch: str | None = "amd64") -> str:
    """A device of `count` GPUs of one product, as a YAML flow mapping for `cluster(devices=...)`."""
    facts = (f"arch: {arch}, " if arch else "") + f"gpus: [{{product: {product}, memory: {memory}, count: {count}}}]"
    return f"{{name: {name}, " + (f"state: {state}, " if state else "") + f"facts: {{{facts}}}}}"


def gpu_cluster(name: str = "c", labels: str = "{}", crds: str = "[]") -> dict[str, str]:
    """A BYOC cluster with one device of eight A GPUs (80Gi): room for the GPU scenarios. crds: the API groups
    of the CRDs it already has."""
    return cluster_file(name, labels, spec=f"crds: {crds}",
                        devices=[gpu_device(f"{name}-gpu", count=8, state=None, arch=None)])


def byoc_cluster(name: str = "c", engine: str = "flux") -> dict[str, str]:
    """A BYOC cluster with no devices, synced by the given GitOps engine."""
    return cluster_file(name, spec=f"gitops: {{engine: {engine}}}")


# --- this repository's example ----------------------------------------------------------------------------------

def copy_example(target: Path, *, lock: bool = True, output: bool = False) -> Path:
    """A copy of the example config repository at the root of this repository, in target: its inputs, with
    easel.lock unless lock is false, and with the committed output/ when output is true."""
    target.mkdir(parents=True, exist_ok=True)
    for name in (*EXAMPLE_INPUTS, *(("output",) if output else ())):
        if name == "easel.lock" and not lock:
            continue
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, target / name)
    return target


def repository_files(root: Path, *, lock: bool = False) -> dict[str, str]:
    """A config repository's inputs as files in memory: the YAML files of its input folders, its charts (archives
    and in-house chart folders) and easel.yaml (and easel.lock when lock is true)."""
    files = {p.relative_to(root).as_posix(): p.read_text() for folder in INPUT_FOLDERS
             for p in sorted((root / folder).rglob("*.yaml"))}
    files |= {p.relative_to(root).as_posix(): (p.read_bytes() if p.suffix == ".tgz" else p.read_text())
              for p in sorted((root / "charts").rglob("*")) if p.is_file()}
    for name in ("easel.yaml", *(("easel.lock",) if lock else ())):
        files[name] = (root / name).read_text()
    return files


def example_files(*, lock: bool = True) -> dict[str, str]:
    """The example's inputs as files in memory."""
    return repository_files(ROOT, lock=lock)
