"""Namespace isolation that serves AI workloads: `isolation: strict` admits ingress from the namespace itself and
from `allowFrom`, never blocks egress by itself (egress is its own setting), warns about what it cuts off, and
Pod Security admission labels go on the namespaces easel creates."""

from __future__ import annotations

import yaml
from builders import gpu_cluster
from scenario import TEAM_IN_DEV, codes, compile_files, one_component_app

WEB = """    - name: web
      type: webservice
      properties: {image: registry.example.com/web:1, port: 8080, runAsUser: 1000}
      traits:
        - {type: ingress, properties: {host: web.example.com}}"""


def _files(namespace: str) -> dict[str, str]:
    files = {**TEAM_IN_DEV, **gpu_cluster(), **one_component_app(WEB)}
    files["environments/env.yaml"] = files["environments/env.yaml"].replace(
        'spec: {projects: ["*"]}', f'spec: {{projects: ["*"], namespace: {namespace}}}')
    return files


def _namespace(result) -> dict[str, dict]:
    return {d["kind"] + "/" + d["metadata"]["name"]: d
            for d in yaml.safe_load_all(result.files["clusters/c/namespaces/team-w.yaml"])}


def test_strict_isolation_admits_the_namespace_and_allow_from_and_leaves_egress_open():
    result = compile_files(_files("{isolation: strict, allowFrom: [ingress-nginx, monitoring]}"))
    assert codes(result) == [] and not [d for d in result.diagnostics if d.code == "W105"]
    objects = _namespace(result)
    policy = objects["NetworkPolicy/easel-isolation"]["spec"]
    assert policy["policyTypes"] == ["Ingress"]  # the finding: it denied all egress but DNS
    assert policy["ingress"] == [{"from": [
        {"podSelector": {}},
        {"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In",
                                                     "values": ["ingress-nginx", "monitoring"]}]}}]}]
    assert "NetworkPolicy/easel-egress" not in objects


def test_strict_isolation_without_allow_from_warns_about_what_it_cuts_off():
    result = compile_files(_files("{isolation: strict}"))
    assert codes(result) == []
    [warning] = [d for d in result.diagnostics if d.code == "W105"]
    assert "Ingress 'w-web' of component 'web': under strict isolation the ingress controller cannot reach the " \
           "workload's pods" in warning.text
    assert "allowFrom" in warning.hint and warning.location.file == "environments/env.yaml"


def test_restricted_egress_allows_dns_the_namespace_and_what_the_environment_lists():
    result = compile_files(_files("{egress: restricted, egressAllow: {cidrs: [10.0.0.0/8], namespaces: [minio]}}"))
    assert codes(result) == []
    egress = _namespace(result)["NetworkPolicy/easel-egress"]["spec"]
    assert egress["policyTypes"] == ["Egress"]
    rules = egress["egress"]
    assert rules[0] == {"to": [{"podSelector": {}}]}
    assert rules[1]["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert rules[2]["to"][0]["namespaceSelector"]["matchExpressions"][0]["values"] == ["minio"]
    assert rules[3] == {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}
    assert "NetworkPolicy/easel-isolation" not in _namespace(result)


def test_pod_security_admission_labels_on_the_namespace_only():
    result = compile_files(_files("{podSecurity: restricted, quota: {pods: '10'}}"))
    objects = _namespace(result)
    labels = objects["Namespace/team-w"]["metadata"]["labels"]
    assert {k: v for k, v in labels.items() if k.startswith("pod-security")} == {
        "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted"}
    assert not any(k.startswith("pod-security") for k in objects["ResourceQuota/easel-quota"]["metadata"]["labels"])
    per_mode = compile_files(_files("{podSecurity: {enforce: baseline, warn: restricted}}"))
    labels = _namespace(per_mode)["Namespace/team-w"]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline" and "pod-security.kubernetes.io/audit" \
        not in labels
    bad = compile_files(_files("{podSecurity: strict}"))
    assert codes(bad) == ["E206"]
    assert any("expected 'privileged' or 'baseline' or 'restricted'" in d.message for d in bad.diagnostics)
