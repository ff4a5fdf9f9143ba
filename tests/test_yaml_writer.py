"""The YAML writer: every string reads back as the same string in every reader Kubernetes tools use, YAML 1.1
(PyYAML; Go's yaml.v2 through sigs.k8s.io/yaml, which kubectl, Helm, kustomize, Flux and Argo CD read with) and
YAML 1.2 (Go's yaml.v3)."""

from __future__ import annotations

import io

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from compiler.load import yamlio


def _ruamel(version: tuple[int, int]):
    reader = YAML(typ="safe", pure=True)
    reader.version = version
    return lambda text: reader.load(io.StringIO(text))


READERS = {"pyyaml-1.1": yaml.safe_load, "ruamel-1.2": _ruamel((1, 2)), "ruamel-1.1": _ruamel((1, 1))}

# Read as something else by some reader when written plain (y and n by YAML 1.1 and Go's yaml.v2; 0o17 and 1e3
# by YAML 1.2 and Go's yaml.v3; the rest by YAML 1.1).
AMBIGUOUS = ["y", "Y", "n", "N", "yes", "off", "On", "0o17", "0x1F", "1e3", "1E-3", "1_000", "0b101", "017",
             ".inf", "-.Inf", ".nan", "~", "null", "1:30", "190:20:30.15", "2026-12-01", "2026-12-01 10:00:00",
             "<<", "=", "-1", "+2", "3.", ".5", "+inf", "-Infinity", "+nan", "1e1_0", "0x1p-2", "0X1F", "0B11"]


@pytest.mark.parametrize("value", AMBIGUOUS)
def test_strings_another_reader_takes_for_something_else_are_quoted(value):
    text = yamlio.dump({"labels": {value: value}})
    assert f"'{value}': '{value}'" in text or f'"{value}": "{value}"' in text, text
    for name, read in READERS.items():
        assert read(text) == {"labels": {value: value}}, name


@pytest.mark.parametrize("value", ["hello", "nginx:1.25", "1.2.3", "v1", "a b", "us-east-1", "NVIDIA-L4", "10m"])
def test_plain_strings_stay_plain(value):
    assert yamlio.dump({"k": value}) == f"k: {value}\n"


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=12),
                 st.from_regex(r"[-+]?[0-9._:eExXoObB]{1,8}", fullmatch=True),
                 st.sampled_from(AMBIGUOUS)))
def test_every_string_reads_back_as_itself_in_yaml_1_1_and_1_2(value):
    data = {"key": value, value: [value]}
    text = yamlio.dump(data)
    for name, read in READERS.items():
        assert read(text) == data, (name, text)
