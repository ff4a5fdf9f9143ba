"""The CEL expressions of a DRA claim: what a device published by NVIDIA's DRA driver must satisfy to serve a
`gpu` ask. Written by the `gpu` trait and by pinning; read back by the proof (prove/claims.py)."""

from __future__ import annotations

from compiler.model import quantity
from compiler.model.gpu import DRA_DRIVER, GpuAsk


def cel_literal(text: str) -> str:
    """A CEL string literal: single-quoted; backslashes, quotes and control characters escaped."""
    def escaped(ch: str) -> str:
        if ch in "\\'":
            return "\\" + ch
        return f"\\u{ord(ch):04x}" if ord(ch) < 0x20 or ord(ch) == 0x7f else ch
    return "'" + "".join(escaped(ch) for ch in text) + "'"


def cel_selectors(ask: GpuAsk, product_names: dict[str, str]) -> tuple[str, ...]:
    """The CEL expressions a device must satisfy to serve the ask: the products asked (as the driver names them
    in its `productName` attribute: product_names maps each GPU Feature Discovery spelling to it), the MIG
    profile, the minimum memory of a whole GPU. A MIG instance's memory is its profile's (placement checked it),
    so no memory expression is written for one: the driver publishes a little less (40192Mi for 3g.40gb)."""
    attributes = f"device.attributes[{cel_literal(DRA_DRIVER)}]"
    found = []
    if ask.products:
        names = [cel_literal(product_names.get(p, p)) for p in ask.products]
        found.append(f"{attributes}.productName == {names[0]}" if len(names) == 1
                     else f"{attributes}.productName in [{', '.join(names)}]")
    if ask.mode.startswith("mig-") and ask.mig_profile:
        found.append(f"{attributes}.profile == {cel_literal(ask.mig_profile)}")
    elif ask.min_memory is not None:
        found.append(f"device.capacity[{cel_literal(DRA_DRIVER)}].memory.compareTo("
                     f"quantity({cel_literal(quantity.canonical(ask.min_memory))})) >= 0")
    return tuple(found)
