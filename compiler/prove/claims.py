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

_QUOTED = r"'(?:[^'\\]|\\.)*'" + "|" + r'"(?:[^"\\]|\\.)*"'  # a CEL string literal, either quote
_ATTRIBUTES = r"device\.attributes\[\s*(?:'" + re.escape(DRA_DRIVER) + r"'|\"" + re.escape(DRA_DRIVER) + r"\")\s*\]"
_PRODUCT = re.compile(rf"{_ATTRIBUTES}\.productName\s*(?:==\s*(?P<one>{_QUOTED})|in\s*\[\s*(?P<list>(?:{_QUOTED})"
                      rf"(?:\s*,\s*(?:{_QUOTED}))*)\s*\])", re.DOTALL)
_LITERAL = re.compile(_QUOTED)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
UNREADABLE = "unreadable"  # a selector on the product that the proof cannot read as a set of names


def _unquoted(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 5 else m.group(1), text[1:-1])


def _terms(expression: str) -> list[str] | None:
    """The expression's top-level `&&` terms (outside strings, brackets and parentheses); None when it has a
    top-level `||` or `?` (a choice the proof does not follow)."""
    terms, depth, start, index, quote = [], 0, 0, 0, ""
    while index < len(expression):
        ch = expression[index]
        if quote:
            index += 2 if ch == "\\" else 1
            quote = "" if ch == quote else quote
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and expression.startswith(("||", "?"), index):
            return None
        elif depth == 0 and expression.startswith("&&", index):
            terms.append(expression[start:index])
            start, index = index + 2, index + 1
        index += 1
    return [*terms, expression[start:]]


def admitted(request: dict[str, Any]) -> set[str] | str | None:
    """The product names a claim request's selectors admit (they all hold at once); None when none names the
    product; UNREADABLE when one does in a form the proof cannot read (`||`, `!=`, a function call)."""
    found: set[str] | None = None
    for selector in request.get("selectors") or ():
        expression = str(((selector or {}).get("cel") or {}).get("expression", ""))
        if "productName" not in expression:
            continue
        terms = _terms(expression)
        if terms is None:
            return UNREADABLE
        for term in (t.strip() for t in terms if "productName" in t):
            match = _PRODUCT.fullmatch(term)
            if match is None:
                return UNREADABLE
            names = {_unquoted(match.group("one"))} if match.group("one") else \
                {_unquoted(text) for text in _LITERAL.findall(match.group("list"))}
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
                if isinstance(names, set) and names <= booked:
                    continue
                found = ("any product" if names is None else
                         "products the proof cannot tell (a selector on productName it cannot read)"
                         if names == UNREADABLE else ", ".join(sorted(set(names) - booked)))
                problems.append(where.problem(
                    file, obj, f"spec.spec.devices.requests[{index}].exactly.selectors (productName)",
                    f"easel booked {', '.join(sorted(booked))}; the claims can also be allocated {found}", "E815"))
    return problems
