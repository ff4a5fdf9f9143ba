"""Under DRA the devices a pod's claim can be allocated are chosen by its claim template's CEL selectors, not by
node labels: a booking of named GPU products must have claims whose selectors admit only those products, by the
names NVIDIA's DRA driver publishes for them on this cluster (its imported ResourceSlices), or the scheduler may
allocate GPUs easel counts as free (E815, as for the device plugin's node selectors)."""

from __future__ import annotations

import re
from typing import Any

from compiler.decide.inventory import ClusterFacts
from compiler.diagnostics import Diagnostic
from compiler.model.gpu import DRA, DRA_DRIVER
from compiler.plan import Booking
from compiler.prove.objects import ComponentObjects

_PRODUCT = re.compile(r"^device\.attributes\[\s*'" + re.escape(DRA_DRIVER) + r"'\s*\]\.productName\s*(==|in)\s*(.*)$",
                      re.DOTALL)
_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")


def _unquoted(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 5 else m.group(1), text)


def admitted(request: dict[str, Any]) -> set[str] | None:
    """The product names a claim request's selectors admit (they all hold at once); None when none names one."""
    found: set[str] | None = None
    for selector in request.get("selectors") or ():
        expression = str(((selector or {}).get("cel") or {}).get("expression", "")).strip()
        match = _PRODUCT.match(expression)
        if match is None:
            continue
        names = {_unquoted(text) for text in _LITERAL.findall(match.group(2))}
        found = names if found is None else found & names
    return found


def _names(facts: ClusterFacts) -> dict[str, str]:
    """GPU product -> the name the DRA driver publishes for it on this cluster."""
    return {f.product: name for device in facts.cluster.devices for f in device.gpus
            if f.product and (name := dict(f.dra).get("productName"))}


def landing_problems(where: Any, built: ComponentObjects, booking: Booking | None,
                     facts: ClusterFacts | None) -> list[Diagnostic]:
    """Claim templates of a booking of named products whose selectors admit other products. where: tree._Where."""
    if booking is None or facts is None:
        return []
    problems = []
    for gpus in booking.gpus:
        if gpus.allocation != DRA or not gpus.products or gpus.claim_template is None:
            continue
        published = _names(facts)
        if any(product not in published for product in gpus.products):
            continue  # a name not known: E605 says so
        booked = {published[product] for product in gpus.products}
        for file, obj in built.objects:
            if obj.get("kind") != "ResourceClaimTemplate" or \
                    (obj.get("metadata") or {}).get("name") != gpus.claim_template:
                continue
            requests = (((obj.get("spec") or {}).get("spec") or {}).get("devices") or {}).get("requests") or ()
            for index, request in enumerate(requests):
                names = admitted((request or {}).get("exactly") or {})
                if names is not None and names <= booked:
                    continue
                found = "any product" if names is None else ", ".join(sorted(names - booked))
                problems.append(where.problem(
                    file, obj, f"spec.spec.devices.requests[{index}].exactly.selectors (productName)",
                    f"easel booked {', '.join(sorted(booked))}; the claims can also be allocated {found}", "E815"))
    return problems
