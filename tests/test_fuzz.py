"""Fuzzing: mutated copies of the init scaffold and of the example (raw-text and structural mutations: types,
tags, keys, aliases, unicode, control characters, sizes) compile to exit 0 or a clean exit 1, never an internal
error, in bounded time. A small fixed budget runs in the suite; EASEL_FUZZ=N runs N examples of each."""

from __future__ import annotations

import os
import time

import yaml
from builders import repository_files
from conftest import INIT_REPO, ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.load.source import MemorySource
from compiler.pipeline import Request, compile_repository

BUDGET = int(os.environ.get("EASEL_FUZZ", "40"))
BASES = {"init": repository_files(INIT_REPO), "example": repository_files(ROOT)}
ODD = ["", "~", "null", "true", "no", "0o17", "1e3", ".inf", "-.nan", "9" * 60, "'", "\"", "{", "[", "]", "}",
       "&a", "*a", "!!float x", "!!binary x", "!!python/object:os.system", "<<: *a", "\t", "\x00", "\x1b[31m",
       "\u202e", "é", "🚀", "a\nb", "- x", "? x", ": x", "%YAML 1.1", "---", "...", "{{ params }}",
       "{{ range(9) }}", "{% for x in y %}", "'a' * 999999", "../../etc/passwd", "x" * 300]


@st.composite
def mutated(draw):
    base = dict(BASES[draw(st.sampled_from(sorted(BASES)))])
    path = draw(st.sampled_from(sorted(base)))
    text = base[path]
    how = draw(st.sampled_from(["insert", "replace-line", "structural", "truncate"]))
    if how == "insert":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(ODD) | st.text(max_size=12)) + text[at:]
    elif how == "replace-line":
        lines = text.splitlines()
        index = draw(st.integers(0, len(lines) - 1))
        indent = lines[index][:len(lines[index]) - len(lines[index].lstrip())]
        lines[index] = indent + draw(st.sampled_from(ODD)) + ": " + draw(st.sampled_from(ODD))
        text = "\n".join(lines)
    elif how == "truncate":
        text = text[:draw(st.integers(0, len(text)))]
    else:
        documents = list(yaml.safe_load_all(text))
        values = [None, 0, -1, 2**70, 1.5, True, "", "x", [], {}, [1, "a"], {"a": {"b": [None]}}]

        def walk(node, depth=0):
            if isinstance(node, dict) and node:
                key = draw(st.sampled_from(sorted(node, key=str)))
                if depth > 1 and draw(st.booleans()):
                    node[key] = draw(st.sampled_from(values))
                else:
                    walk(node[key], depth + 1)
            elif isinstance(node, list) and node:
                walk(node[draw(st.integers(0, len(node) - 1))], depth + 1)
        for document in documents:
            walk(document)
        text = yaml.safe_dump_all(documents, sort_keys=False)
    base[path] = text
    return base


@settings(max_examples=BUDGET, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=not os.environ.get("EASEL_FUZZ"))  # the suite: the same examples every run
@given(files=mutated())
def test_a_mutated_repository_compiles_or_fails_cleanly(files):
    started = time.monotonic()
    result = compile_repository(MemorySource(files), Request())
    assert time.monotonic() - started < 20, "a compile took unbounded time"
    internal = [d.text for d in result.diagnostics if d.code == "E999"]
    assert not internal, internal
    for diagnostic in result.diagnostics:
        assert diagnostic.code and diagnostic.message
