"""Paths into YAML data: Helm values, as profiles write them in `traitValues`
(`servingEngineSpec.modelSpec[0].requestGPU`), and where a custom kind keeps its pod templates, as a
ComponentDefinition declares them (`spec.workerGroupSpecs[*].template`: `[*]` is every item of a list or every
value of a mapping)."""

from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(r'\.?([^.\[\]"]+)|\[(\d+|\*)\]|\["([^"]+)"\]')
EVERY = "[*]"  # the step that stands for every item (or value)


def parse(path: str) -> list[str | int]:
    """`a.b[0]["nvidia.com/gpu"]` -> ["a", "b", 0, "nvidia.com/gpu"]."""
    steps: list[str | int] = []
    position = 0
    while position < len(path):
        match = _STEP.match(path, position)
        if not match or (match.group(1) is not None and position > 0 and path[position] != "."):
            raise ValueError(path)
        name, index, quoted = match.groups()
        if index == "*":
            steps.append(EVERY)
        else:
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


def holders(root: Any, path: str) -> list[tuple[dict[str, Any], str]]:
    """Every (mapping, key) the path ends at where the mapping holds the key, in document order: a path with
    `[*]` can end at many places."""
    *steps, last = parse(path)
    nodes = [root]
    for step in steps:
        found = []
        for node in nodes:
            if step == EVERY:
                found += list(node.values()) if isinstance(node, dict) else list(node) if isinstance(node, list) else []
            elif isinstance(step, int):
                found += [node[step]] if isinstance(node, list) and step < len(node) else []
            elif isinstance(node, dict) and step in node:
                found.append(node[step])
        nodes = found
    return [(node, last) for node in nodes if isinstance(node, dict) and isinstance(last, str) and last in node]


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
    if EVERY in steps:
        return f"{path!r} names no one place ([*])"
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


def unknown_step(defaults: Any, path: str) -> str | None:
    """Where a values path leaves what a chart's own values.yaml knows: the first key a non-empty mapping of its
    defaults does not hold (None: the chart knows the path, or leaves that part open: an empty mapping, a list, no
    value)."""
    node = defaults
    for index, step in enumerate(parse(path)):
        if not isinstance(node, dict) or not node or step == EVERY or isinstance(step, int):
            return None
        if step not in node:
            return ".".join(map(str, parse(path)[: index + 1]))
        node = node[step]
    return None
