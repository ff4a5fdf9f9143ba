"""Templates print only data, and nest only so deep (issue 27): a method, a type, a range, a generator or one of
Jinja's own objects is an error naming the template, its line and the expression, never its repr (which holds a
memory address, different on every run); nesting past a documented limit is a clean E210 at its line, before
Python's recursion limit could decide."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import copy_init_repo, easel, easel_process, tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.definitions.template_data import MAX_BLOCKS, MAX_BRACKETS, MAX_CHAIN

HELLO = "profiles/hello/1.0.0.yaml"
DEFINITION = "profiles/probe.yaml"
PROBE = """\
apiVersion: easel.dev/v1alpha1
kind: ComponentDefinition
metadata: {{name: probe}}
spec:
  parameters: {{type: object, properties: {{size: {{type: integer}}, name: {{type: string}}}}}}
  template: |
    - apiVersion: v1
      kind: ConfigMap
      metadata: {{name: {{{{ component.instance }}}}-probe}}
      data:
        value: |
          {expression}
"""
PROBE_LINE = 12  # the line of probe.yaml that holds the expression
ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")


def probe_repo(root: Path, expression: str) -> Path:
    repo = copy_init_repo(root)
    (repo / DEFINITION).write_text(PROBE.format(expression=expression))
    profile = repo / HELLO
    profile.write_text(profile.read_text().replace(
        "  components:\n", "  components:\n    - name: probe\n      type: probe\n"
        "      properties: {size: 3, name: '{{ params.message }}'}\n", 1))
    return repo


def outputs(repo: Path) -> dict[str, bytes]:
    return tree(repo / "output") if (repo / "output").exists() else {}


NOT_DATA = {
    "a bound method": ("{{ params.items }}", "a function or method"),
    "a string's method": ("{{ params.name.upper }}", "a function or method"),
    "a range": ("{{ range(3) }}", "a range"),
    "a type": ("{{ dict }}", "a type"),
    "the template itself": ("{{ self }}", "a TemplateReference"),
    "a loop's method": ("{% for i in [1] %}{{ loop.cycle }}{% endfor %}", "a function or method"),
    "a macro": ("{% macro m() %}x{% endmacro %}{{ m }}", "a function or method"),
    "a mapping's view": ("{{ params.items() }}", "a dict_items"),
    "a generator, through map": ("{{ [1, 2]|map('abs') }}", "a generator"),
    "a method in a list": ("{{ [1, params.items] }}", "a function or method"),
    "a method as text": ("{{ params.items|string }}", "a function or method"),
    "a method joined by ~": ("{{ 'a' ~ params.items }}", "a function or method"),
    "a method formatted by %": ("{{ '%s' % params.items }}", "a function or method"),
    "a method formatted by format": ("{{ '{}'.format(params.items) }}", "a function or method"),
    "a method through the format filter": ("{{ '%s'|format(params.items) }}", "a function or method"),
    "a method joined by join": ("{{ [params.items]|join(',') }}", "a function or method"),
    "a method through pprint": ("{{ params.items|pprint }}", "a function or method"),
    "a method through toyaml": ("{{ params.items|toyaml }}", "a function or method"),
    "a set, in an order of its own": ("{{ (params.keys() - ['size'])|list }}", "a set, whose order changes"),
    "a method set, then printed": ("{% set x = params.keys %}{{ x|upper }}", "a function or method"),
}


@pytest.mark.parametrize("case", sorted(NOT_DATA))
def test_a_value_that_is_not_data_is_an_error_naming_template_line_and_expression(case, tmp_path):
    expression, what = NOT_DATA[case]
    repo = probe_repo(tmp_path / "repo", expression)
    run = easel("compile", cwd=repo)
    assert run.code == 1 and "E999" not in run.text and "Traceback" not in run.text, run.text
    [line] = [line for line in run.err.splitlines() if "error[E405]" in line]
    assert line.startswith(f"{DEFINITION}:{PROBE_LINE}:"), run.err
    assert "component definition 'probe'" in line and f"gives {what}" in line, line
    printed = next(tag for tag in re.findall(r"\{\{.*?\}\}", expression))
    assert f"`{printed}`" in line, line
    assert not ADDRESS.search(run.text) and "<" not in line, run.text
    assert outputs(repo) == {}


def test_a_placeholder_in_properties_that_is_not_data_is_refused_too(tmp_path):
    repo = copy_init_repo(tmp_path / "repo")
    profile = repo / HELLO
    profile.write_text(profile.read_text().replace('"{{ params.message }}"', '"say {{ params.message.split }}"'))
    run = easel("compile", cwd=repo)
    assert run.code == 1 and "error[E405]" in run.err and "`{{ params.message.split }}` gives a function" in run.err
    assert not ADDRESS.search(run.text), run.text


def test_data_still_prints_as_before(tmp_path):
    expression = ("{{ range(3)|list }} {{ range(3)|join('-') }} {{ params|dictsort }} {{ params.name ~ 1 }} "
                  "{{ '%s=%d' % ('a', 2) }} {{ '{}!'.format(params.size) }} {{ [1, 2]|map('abs')|list }} "
                  "{{ {'k': [1, none, true]}|tojson }} {{ params.name|upper }}")
    repo = probe_repo(tmp_path / "repo", expression)
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text
    text = next(v for k, v in outputs(repo).items() if k.endswith("probe/objects.yaml")).decode()
    assert ("[0, 1, 2] 0-1-2 [('name', 'hello, world'), ('size', 3)] hello, world1 a=2 3! [1, 2] "
            '{"k": [1, null, true]} HELLO, WORLD') in text, text


def test_random_is_not_a_filter(tmp_path):
    repo = probe_repo(tmp_path / "repo", "{{ [1, 2, 3]|random }}")
    run = easel("compile", cwd=repo)
    assert run.code == 1 and "error[E210]" in run.err and "No filter named 'random'" in run.err, run.err


DEEP = {
    "parentheses": ("{{ " + "(" * 100 + "1" + ")" * 100 + " }}", f"brackets nested more than {MAX_BRACKETS}"),
    "lists": ("{{ " + "[" * 3000 + "]" * 3000 + " }}", f"brackets nested more than {MAX_BRACKETS}"),
    "a chain of filters": ("{{ 1" + "|abs" * 2000 + " }}", f"more than {MAX_CHAIN} filters and operators"),
    "a chain of attributes": ("{{ params" + ".size" * 500 + " }}", f"more than {MAX_CHAIN} filters and operators"),
    "a chain of additions": ("{{ 1" + " + 1" * 1000 + " }}", f"more than {MAX_CHAIN} filters and operators"),
    "not, not, not": ("{{ " + "not " * 1000 + "1 }}", f"more than {MAX_CHAIN} filters and operators"),
    "nested ifs": ("{% if 1 %}" * 100 + "x" + "{% endif %}" * 100, f"blocks nested more than {MAX_BLOCKS}"),
    "nested loops": ("{% for i in [1] %}" * 25 + "x" + "{% endfor %}" * 25, f"blocks nested more than {MAX_BLOCKS}"),
}


@pytest.mark.parametrize("case", sorted(DEEP))
def test_nesting_past_a_limit_is_a_clean_error_at_its_line(case, tmp_path):
    expression, words = DEEP[case]
    repo = probe_repo(tmp_path / "repo", expression)
    run = easel("compile", cwd=repo)
    assert run.code == 1 and "E999" not in run.text and "Recursion" not in run.text, run.text[:2000]
    [line] = [line for line in run.err.splitlines() if "error[E210]" in line]
    assert line.startswith(f"{DEFINITION}:{PROBE_LINE}:") and "template nested too deeply" in line, line
    assert words in line, line


def test_nesting_at_the_limits_renders(tmp_path):
    inner = "(" * MAX_BRACKETS + "1" + " + 1" * (MAX_CHAIN - 1) + ")" * MAX_BRACKETS
    expression = "{% if 1 %}" * MAX_BLOCKS + "{{ " + inner + " }}" + "{% endif %}" * MAX_BLOCKS
    repo = probe_repo(tmp_path / "repo", expression)
    run = easel("compile", cwd=repo)
    assert run.code == 0, run.text[:2000]
    text = next(v for k, v in outputs(repo).items() if k.endswith("probe/objects.yaml")).decode()
    assert f"value: |\n    {MAX_CHAIN}\n" in text, text


# Random expressions over what a definition's template sees: names, attributes, and a few callables.
NAMES = ["params", "params.size", "params.name", "parameters", "properties", "workload", "workload.name",
         "namespace", "component", "component.instance", "self", "dict", "range", "namespace", "lipsum",
         "params.items", "params.name.upper", "params.keys", "workload.values", "component.get", "joiner"]
CALLS = ["range(2)", "dict(a=1)", "params.items()", "params.keys()", "params.name.split(',')", "namespace()",
         "params.get('size')", "[1, 2]|map('abs')", "params|dictsort", "params.name.upper()",
         "params.keys() - ['size']", "params.values()|list"]
SUFFIXES = ["", "|string", "|list", "|join(',')", "|length", "|upper", "|tojson", "|pprint", "|first", "|toyaml",
            " ~ 'x'", "|default(1)", "|reverse", "|map('string')|list"]
EXPRESSIONS = st.builds(lambda base, suffix, wrap: wrap.format(base + suffix),
                        st.sampled_from(NAMES + CALLS), st.sampled_from(SUFFIXES),
                        st.sampled_from(["{{{{ {} }}}}", "{{{{ [{}] }}}}", "{{{{ '%s' % ({},) }}}}",
                                         "{{% set v = {} %}}{{{{ v }}}}", "{{{{ '{{}}'.format({}) }}}}"]))


def _compile_twice(root: Path, expression: str) -> tuple[tuple, tuple]:
    results = []
    for name in ("a", "b"):
        repo = probe_repo(root / name, expression)
        run = easel("compile", cwd=repo)
        results.append((run.code, run.text.replace(str(repo), "REPO"), outputs(repo)))
    return results[0], results[1]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expression=EXPRESSIONS)
def test_random_expressions_print_no_address_and_the_same_bytes_every_run(expression, tmp_path_factory):
    first, second = _compile_twice(tmp_path_factory.mktemp("probe"), expression)
    code, text, files = first
    assert code in (0, 1) and "E999" not in text, (expression, text)
    assert not ADDRESS.search(text) and not any(ADDRESS.search(v.decode()) for v in files.values()), expression
    assert first == second, expression


@pytest.mark.parametrize("expression", ["{{ params|dictsort }} {{ params.keys()|list }} {{ params|toyaml }}",
                                        "{{ params.items }} {{ range(3) }}"])
def test_a_rendering_is_the_same_in_another_process_with_another_hash_seed(expression, tmp_path):
    repo_here = probe_repo(tmp_path / "here", expression)
    here = easel("compile", cwd=repo_here)
    repo_there = probe_repo(tmp_path / "there", expression)
    there = easel_process("--no-cache", "compile", cwd=repo_there, env={"PYTHONHASHSEED": "12345"})
    assert here.code == there.code, (here.text, there.text)
    assert here.err.replace(str(repo_here), "") == there.err.replace(str(repo_there), ""), there.err
    assert outputs(repo_here) == outputs(repo_there)
    assert not ADDRESS.search(there.text)
