"""Paths into Helm values, as profiles write them in `traitValues`: `servingEngineSpec.modelSpec[0].requestGPU`."""

from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(r'\.?([^.\[\]"]+)|\[(\d+)\]|\["([^"]+)"\]')


def parse(path: str) -> list[str | int]:
    """`a.b[0]["nvidia.com/gpu"]` -> ["a", "b", 0, "nvidia.com/gpu"]."""
    steps: list[str | int] = []
    position = 0
    while position < len(path):
        match = _STEP.match(path, position)
        if not match or (match.group(1) is not None and position > 0 and path[position] != "."):
            raise ValueError(path)
        name, index, quoted = match.groups()
        steps.append(int(index) if index is not None else (quoted if quoted is not None else name))
        position = match.end()
    if not steps or path.startswith("."):
        raise ValueError(path)
    return steps


def is_path(text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def get(values: Any, path: str) -> Any:
    """The value at path, or None when there is none."""
    node = values
    for step in parse(path):
        if isinstance(step, int):
            node = node[step] if isinstance(node, list) and step < len(node) else None
        else:
            node = node.get(step) if isinstance(node, dict) else None
        if node is None:
            return None
    return node


def put(values: dict[str, Any], path: str, value: Any) -> str | None:
    """Set value at path inside values (creating mappings on the way); the reason when it cannot."""
    try:
        steps = parse(path)
    except ValueError:
        return f"{path!r} is not a values path"
    node: Any = values
    for index, step in enumerate(steps):
        last = index == len(steps) - 1
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return f"the chart values have no item {step} at {'.'.join(map(str, steps[:index])) or 'the top'}"
            if last:
                node[step] = value
            else:
                node = node[step]
            continue
        if not isinstance(node, dict):
            return f"{'.'.join(map(str, steps[:index]))} in the chart values is not a mapping"
        if last:
            node[step] = value
        else:
            if not isinstance(node.get(step), (dict, list)):
                node[step] = {} if not isinstance(steps[index + 1], int) else node.get(step)
            node = node[step]
    return None
