#!/usr/bin/env python3
"""The benchmark fleet as a Kapitan project (Kapitan 0.36.x, reclass inventory, jinja2 input type).

    python bench/kapitan_fleet.py OUTDIR --clusters 1000 --workloads 20 [--argocd-half] [--seed 42]
    cd OUTDIR && kapitan compile        # writes compiled/<cluster>/...

Layout, as a Kapitan user would keep this fleet:

    inventory/classes/common.yml              per-cluster files (kustomization.yaml, sources.yaml)
    inventory/classes/workloads/<name>.yml    one class per workload: its release data and one
                                              `kapitan.compile` entry rendering its HelmRelease
    inventory/targets/<cluster>.yml           one target per cluster: its facts and the classes
                                              of the workloads placed on it (here: all of them)
    templates/cluster/*.j2                    rendered once per target
    templates/release/helmrelease.yaml.j2     rendered once per workload per target (input_params)

Kapitan has no version resolution, parameter layers or placement, so this writer does that work
up front (with fleet.py's helpers) and Kapitan only merges the inventory and renders templates:
the comparison is, if anything, generous to Kapitan.
"""

import argparse
import os
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet as fleetgen

# Reclass lists from several classes are concatenated, so each workload class can append its own
# compile entry to parameters.kapitan.compile. input_params tells the shared template which workload.
COMMON_CLASS = {
    "parameters": {
        "gitops": {"interval": "10m", "repoURL": "https://git.example.com/platform/fleet.git"},
        "kapitan": {"compile": [{
            "name": "cluster",
            "input_type": "jinja2",
            "input_paths": ["templates/cluster"],
            "output_path": ".",
            "suffix_remove": True,
        }]},
    },
}

KUSTOMIZATION_J2 = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
{% if inventory.parameters.cluster.engine == 'flux' %}
- sources.yaml
{% endif %}
{% for name in inventory.parameters.workloads | sort %}
- releases/{{ name }}/helmrelease.yaml
{% endfor %}
"""

SOURCES_J2 = """\
{% if inventory.parameters.cluster.engine == 'flux' %}
{% for name, repo in inventory.parameters.repositories | dictsort %}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: {{ name }}
  namespace: flux-system
  labels:
    app.kubernetes.io/managed-by: kapitan
spec:
  interval: {{ inventory.parameters.gitops.interval }}
  url: {{ repo.url }}
{% endfor %}
{% endif %}
"""

# One Flux HelmRelease (or, on argocd clusters, an Argo CD Application) per workload per cluster,
# with the labels, chart reference, interval, values and GPU patch that easel writes.
HELMRELEASE_J2 = """\
{% set w = inventory.parameters.workloads[input_params.workload] %}
{% set c = inventory.parameters.cluster %}
{% set interval = inventory.parameters.gitops.interval %}
{% if c.engine == 'argocd' %}
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {{ w.name }}
  namespace: argocd
{% else %}
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {{ w.name }}
  namespace: {{ w.namespace }}
{% endif %}
  labels:
    app.kubernetes.io/managed-by: kapitan
    easel.dev/project: {{ w.project }}
    easel.dev/workload: {{ w.name }}
    easel.dev/environment: {{ w.environment }}
    easel.dev/profile: {{ w.profile }}
    easel.dev/profile-version: {{ w.profile_version }}
    easel.dev/component: {{ w.component }}
    easel.dev/cluster: {{ c.name }}
spec:
{% if c.engine == 'argocd' %}
  project: default
  destination:
    server: https://kubernetes.default.svc
    namespace: {{ w.namespace }}
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true]
  source:
    repoURL: {{ inventory.parameters.repositories[w.chart.repository].url }}
    chart: {{ w.chart.name }}
    targetRevision: {{ w.chart.version }}
    helm:
      releaseName: {{ w.name }}
      valuesObject:
        {{ w['values'] | yaml | trim | indent(8) }}
{% else %}
  interval: {{ interval }}
  releaseName: {{ w.name }}
  install:
    createNamespace: true
  chart:
    spec:
      chart: {{ w.chart.name }}
      version: {{ w.chart.version }}
      interval: {{ interval }}
      sourceRef:
        kind: HelmRepository
        name: {{ w.chart.repository }}
        namespace: flux-system
  values:
    {{ w['values'] | yaml | trim | indent(4) }}
{% if w.gpus %}
  postRenderers:
  - kustomize:
      patches:
      - target: {kind: Deployment}
        patch: |
          - op: add
            path: /spec/template/spec/tolerations/-
            value: {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
          - op: add
            path: /spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu
            value: "{{ w.gpus_per_replica }}"
{% endif %}
{% endif %}
"""


def release(model, name, spec, gpus):
    """A workload's resolved release data (what easel works out; written out here for Kapitan).

    gpus is the workload's whole GPU demand (count x replicas); the patch wants the per-replica count.
    """
    pname = spec["profile"]["name"]
    version = fleetgen.resolve_profile(model, pname, spec["profile"]["version"])
    profile = model["profiles"][(pname, version)]
    comp = profile["components"][0]  # every bench profile has exactly one helm-chart component
    props = fleetgen.render_params(comp["properties"], fleetgen.effective_params(profile, spec))
    replicas = 1
    for trait in spec.get("traits", {}).get(comp["name"], []):
        if trait["type"] == "replicas":
            replicas = trait["properties"]["count"]
    env = model["environments"][spec["environment"]]
    ns = spec["project"] if env["namespace"]["strategy"] == "project" else f"{spec['project']}-{name}"
    return {
        "name": name, "project": spec["project"], "environment": spec["environment"],
        "profile": pname, "profile_version": version, "component": comp["name"], "namespace": ns,
        "chart": {"repository": props["repository"], "name": props["chart"], "version": props["version"]},
        "values": props.get("values", {}), "gpus": gpus, "gpus_per_replica": gpus // replicas,
    }


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        if isinstance(data, str):
            f.write(data)
        else:
            yaml.safe_dump(data, f, sort_keys=False, default_flow_style=False)


def write_kapitan_project(model, outdir):
    """Write the fleet model as a Kapitan project in outdir."""
    inv = os.path.join(outdir, "inventory")
    common = dict(COMMON_CLASS)
    common["parameters"] = dict(common["parameters"],
                                repositories={n: {"url": r["url"]} for n, r in model["repositories"].items()})
    write(os.path.join(inv, "classes", "common.yml"), common)
    names = []
    for name, spec, gpus in model["workloads"]:
        names.append(name)
        write(os.path.join(inv, "classes", "workloads", f"{name}.yml"), {"parameters": {
            "workloads": {name: release(model, name, spec, gpus)},
            "kapitan": {"compile": [{
                "name": f"release-{name}",
                "input_type": "jinja2",
                "input_paths": ["templates/release/helmrelease.yaml.j2"],
                "output_path": f"releases/{name}",
                "suffix_remove": True,
                "input_params": {"workload": name},
            }]},
        }})
    default_engine = model["settings"]["gitops"]["engine"]
    for cname, labels, cspec in model["clusters"]:
        write(os.path.join(inv, "targets", f"{cname}.yml"), {
            "classes": ["common"] + [f"workloads.{n}" for n in names],
            "parameters": {
                "kapitan": {"vars": {"target": cname}},
                "cluster": {"name": cname, "labels": labels,
                            "engine": cspec.get("gitops", {}).get("engine", default_engine),
                            "kubernetes_version": cspec["kubernetesVersion"], "devices": cspec["devices"]},
            },
        })
    write(os.path.join(outdir, "templates", "cluster", "kustomization.yaml.j2"), KUSTOMIZATION_J2)
    write(os.path.join(outdir, "templates", "cluster", "sources.yaml.j2"), SOURCES_J2)
    write(os.path.join(outdir, "templates", "release", "helmrelease.yaml.j2"), HELMRELEASE_J2)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    fleetgen.add_fleet_arguments(ap)
    args = ap.parse_args(argv)
    write_kapitan_project(fleetgen.fleet(args.clusters, args.workloads, args.seed, args.argocd_half), args.outdir)
    print(f"wrote a Kapitan project for {args.clusters} x {args.workloads} to {args.outdir}", file=sys.stderr)


if __name__ == "__main__":
    main()
