"""What the commands that report print: explain, status, diff and rollout status, built from the decision
record and the plans as plain data (the JSON forms), with text forms made from the same data."""

from __future__ import annotations

from typing import Any

from compiler.schemas.blocks import API_VERSION


def envelope(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """A report as `--format json` prints it: a versioned kind, as Kubernetes objects are, so that tools can tell
    what they read and refuse what they do not know (docs/reference/output.md describes each kind's fields)."""
    return {"apiVersion": API_VERSION, "kind": kind, **body}
