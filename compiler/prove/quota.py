"""Pods their namespace's quota admits. A ResourceQuota on a compute resource (`requests.cpu`, `limits.memory`,
`cpu`, ...) makes admission refuse every pod whose containers do not each set that resource (Kubernetes'
documented rule), and easel writes no LimitRange to fill defaults in: what easel booked would never run. So every
container of every pod template in the namespace, charts' included, must set what the quota constrains, or the
compile fails naming the pod and the field (E821). A request is satisfied by a limit alone: Kubernetes defaults
a container's request to its limit.
"""

from __future__ import annotations

from typing import Any

from compiler.kube import podtemplates
from compiler.kube.api import mapping

# the resources whose quota admission requires every container to state (extended resources, GPUs among them,
# are required only of the pods that ask for them)
COMPUTE = ("cpu", "memory", "ephemeral-storage")


def constrained(quota: dict[str, str]) -> list[tuple[str, str, str]]:
    """(quota key, part, resource) of each compute resource the quota constrains: `limits.memory` wants
    limits, `requests.cpu` and plain `cpu` want requests."""
    found = []
    for key in sorted(quota):
        part, _, resource = key.partition(".") if key.startswith(("limits.", "requests.")) else ("requests", "", key)
        if resource in COMPUTE:
            found.append((key, part, resource))
    return found


def unmet(obj: dict[str, Any], quota: dict[str, str], declared: Any = ()
          ) -> list[tuple[str, str]]:
    """(field, why) of every container of the object's pod templates that sets nothing the quota requires."""
    wanted = constrained(quota)
    if not wanted:
        return []
    found = []
    for template in podtemplates.templates(obj, declared):
        spec = mapping(template.template.get("spec"))
        for list_name in ("initContainers", "containers"):
            for container in spec.get(list_name) or ():
                if not isinstance(container, dict):
                    continue
                resources = mapping(container.get("resources"))
                for key, part, resource in wanted:
                    if not _sets(resources, part, resource):
                        why = (f"the namespace's quota constrains {key}, and admission refuses a pod whose containers "
                               "do not each set it")
                        found.append((f"container {container.get('name')!r} resources.{part}[{resource!r}]", why))
    return found


def _sets(resources: dict[str, Any], part: str, resource: str) -> bool:
    limits, requests = mapping(resources.get("limits")), mapping(resources.get("requests"))
    return resource in limits if part == "limits" else (resource in requests or resource in limits)
