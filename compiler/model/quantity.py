"""Kubernetes resource quantities ("64Gi", "500m", "1.5", 2) as exact fractions: the one quantity parser."""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

# What a quantity is written as: also the `pattern` editors get (ECMA-262 reads it as Python does): ASCII digits
# only, as Kubernetes reads them, with blanks around allowed (easel reads " 64Gi" as 64Gi). A decimal exponent
# is at most 100 (far past any real resource: E is 1e18), so that 1e9999999 is refused, not computed for minutes.
PATTERN = (r"^[ \t\n\r\f\v]*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
           r"(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?0*(?:100|[1-9]?[0-9]))?[ \t\n\r\f\v]*$")
_PATTERN = re.compile(PATTERN)
_SUFFIX = {
    None: Fraction(1),
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}
GI = Fraction(2**30)


def parse(value: str | int | float) -> Fraction:
    """The quantity's value in base units (bytes, cores); raises ValueError when it is not a quantity."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value))
    if not isinstance(value, str):
        raise ValueError(value)
    return _parse_text(value)


@lru_cache(maxsize=4096)  # a fleet repeats a handful of spellings ("80Gi", "512Gi") thousands of times
def _parse_text(value: str) -> Fraction:
    match = _PATTERN.match(value)
    if not match:
        raise ValueError(value)
    number, suffix = match.groups()
    if suffix and suffix not in _SUFFIX:  # a decimal exponent, e.g. 1e3 (but not the binary suffix Ei)
        return Fraction(number) * Fraction(10) ** int(suffix[1:])
    return Fraction(number) * _SUFFIX[suffix]


def is_quantity(value: object) -> bool:
    try:
        parse(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False
    return True


def format_gi(value: Fraction) -> str:
    """Bytes as a short Gi figure for messages and labels: 80, 23.5."""
    gi = value / GI
    if gi.denominator == 1:
        return str(gi.numerator)
    return f"{float(gi):.1f}".rstrip("0").rstrip(".")


def written(value: str | int) -> str:
    """A byte quantity as people write it: in the largest binary unit that divides it exactly (`791674880Ki` as
    `755Gi`, `81920Mi` as `80Gi`, `772690Mi` for `791234560Ki`), unless what was given is shorter (`80G`), and as
    given when it is not a whole number of bytes. Raises ValueError when it is not a quantity."""
    given = str(value).strip()
    amount = parse(value)
    if amount.denominator != 1:
        return given
    text = canonical(amount)
    return given if len(given) < len(text) else text


def canonical(value: Fraction) -> str:
    """A whole quantity written exactly, in the largest binary unit that divides it ("80Gi", "40192Mi"); a
    fractional one is rounded up to a whole number (of bytes: for a minimum, the next one that qualifies)."""
    whole = -(-value.numerator // value.denominator)
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = _SUFFIX[suffix].numerator
        if whole and whole % unit == 0:
            return f"{whole // unit}{suffix}"
    return str(whole)
