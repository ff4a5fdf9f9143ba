"""Two objects one cluster's engine would apply under one name (group, kind, namespace, name) are refused (E801):
the engine would apply both to one object, and the last applied wins on every sync. Names that differ in the input
meet in the output when names run together, so the proof compares what each component applies and the engine's
own objects (Flux layers, Argo CD Applications per component and per workload)."""

from __future__ import annotations

import pytest
from builders import byoc_cluster, docs
from scenario import TEAM_IN_DEV, compile_files


def _workload(project: str, name: str, component: str, config: str = "cfg") -> dict[str, str]:
    return {f"profiles/p-{project}-{name}.yaml": docs(f"""
kind: WorkloadProfile
metadata: {{name: p-{project}-{name}}}
spec:
  version: 1.0.0
  components:
    - name: {component}
      type: manifests
      properties: {{objects: [{{apiVersion: v1, kind: ConfigMap, metadata: {{name: {config}}}, data: {{a: b}}}}]}}
"""), f"workloads/{project}-{name}.yaml": docs(f"""
kind: Workload
metadata: {{name: {name}}}
spec: {{project: {project}, environment: dev, profile: {{name: p-{project}-{name}}}}}
""")}


PROJECTS = {"environments/projects.yaml": docs("kind: Project\nmetadata: {name: apps}\nspec: {}",
                                               "kind: Project\nmetadata: {name: x}\nspec: {}")}


def _clashes(result) -> list[str]:
    return [d.message for d in result.diagnostics if d.code == "E801"]


def test_argo_cd_applications_whose_names_run_together_are_refused():
    """Project `apps`, workload `x`, component `y`, and project `x`'s workload `y`: both Applications would be
    c-apps-x-y (the second one the Application that holds workload x/y's components)."""
    result = compile_files({**TEAM_IN_DEV, **PROJECTS, **_workload("apps", "x", "y"), **_workload("x", "y", "z"),
                            **byoc_cluster("c", "argocd")})
    [message] = _clashes(result)
    assert "Application 'c-apps-x-y'" in message and "component 'y' of apps/x" in message, message


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_two_workloads_writing_one_object_in_a_shared_namespace_are_refused(engine):
    env = {"environments/env.yaml": TEAM_IN_DEV["environments/env.yaml"].replace(
        'spec: {projects: ["*"]}', 'spec: {projects: ["*"], namespace: {strategy: project}}')}
    result = compile_files({**TEAM_IN_DEV, **env, **_workload("team", "a", "web"), **_workload("team", "b", "api"),
                            **byoc_cluster("c", engine)})
    [message] = _clashes(result)
    assert "ConfigMap 'cfg' (core) in namespace 'team' is also applied by component 'web' of team/a" in message


@pytest.mark.parametrize("engine", ["flux", "argocd"])
def test_objects_of_one_name_in_namespaces_of_their_own_do_not_clash(engine):
    result = compile_files({**TEAM_IN_DEV, **_workload("team", "a", "web"), **_workload("team", "b", "api"),
                            **byoc_cluster("c", engine)})
    assert _clashes(result) == [] and result.files is not None
