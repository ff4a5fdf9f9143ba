"""The layout keeps the pipeline visible: one folder per stage, imports that run down the stage order that
docs/architecture.md declares, no import cycle (imports under TYPE_CHECKING and inside functions count too), pure
stages that neither read files nor reach the runtime, and modules and functions of a size one can read."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "compiler"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Stages that compute values from values: no file, process, cache or progress code reaches them.
PURE = ("model", "kube", "schemas", "definitions", "record", "validate", "decide", "plan", "render", "prove",
        "hydrate")
IO_MODULES = {"yaml", "ruamel", "pygit2", "pathlib", "os", "shutil", "tempfile", "subprocess", "click", "fcntl",
              "multiprocessing", "io"}


@dataclass(frozen=True)
class Module:
    name: str  # compiler.decide.place
    path: Path

    @property
    def stage(self) -> str:
        """The stage folder (or top-level module) it belongs to; "" for the package's own __init__."""
        parts = self.name.split(".")
        return parts[1] if len(parts) > 1 else ""


@cache
def modules() -> dict[str, Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = Module(name, path)
    return found


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.name.split(".")
    if module.path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


@cache
def imports(name: str) -> frozenset[str]:
    """Every compiler module this one imports, wherever the import statement stands."""
    module = modules()[name]
    known = modules()
    found: set[str] = set()
    for node in ast.walk(ast.parse(module.path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            # `from compiler.model import gpu` imports the module compiler.model.gpu; `import Model` the package
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in known and target != name:
                found.add(target)
    return frozenset(found)


def external_imports(module: Module) -> set[str]:
    tree = ast.parse(module.path.read_text(encoding="utf-8"))
    found = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    found |= {n.module.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module}
    return found


def declared_order() -> list[str]:
    """The stages in the order docs/architecture.md gives them (the block after "## The order rule")."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## The order rule", 1)[1]
    block = re.search(r"```text\n(.*?)```", section, re.S)
    assert block, "docs/architecture.md: the order rule has no ```text block"
    return [line.split()[0] for line in block.group(1).splitlines() if line.strip()]


def test_every_stage_folder_is_declared_and_every_declared_stage_exists():
    order = declared_order()
    on_disk = {m.stage for m in modules().values()} - {"", "__main__"}
    assert sorted(on_disk) == sorted(order)
    assert len(order) == len(set(order))


def test_no_import_cycle():
    graph = {name: imports(name) for name in modules()}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


def test_imports_run_down_the_stage_order():
    rank = {stage: i for i, stage in enumerate(declared_order())}
    rank[""] = -1  # compiler/__init__.py: the version, importable by all
    against = []
    for name, module in modules().items():
        if module.stage == "__main__":
            continue
        for target in imports(name):
            stage = modules()[target].stage
            if rank[stage] > rank[module.stage]:
                against.append(f"{name} ({module.stage}) imports {target} ({stage})")
    assert against == []


def test_the_pure_stages_neither_do_io_nor_reach_the_runtime():
    found = []
    for name, module in modules().items():
        if module.stage not in PURE:
            continue
        io = external_imports(module) & IO_MODULES
        runtime = {t for t in imports(name) if modules()[t].stage == "runtime"}
        if io or runtime:
            found.append(f"{name}: {sorted(io | runtime)}")
    assert found == []


def test_the_runtime_knows_nothing_of_the_stages():
    allowed = {"", "diagnostics", "runtime"}
    found = [f"{name} imports {t}" for name, m in modules().items() if m.stage == "runtime"
             for t in imports(name) if modules()[t].stage not in allowed]
    assert found == []


def test_modules_are_short_enough_to_read():
    long = {m.name: n for m in modules().values()
            if (n := len(m.path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_functions_are_short_enough_to_read():
    long = {}
    for module in modules().values():
        for node in ast.walk(ast.parse(module.path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                size = (node.end_lineno or node.lineno) - first + 1
                if size > MAX_FUNCTION_LINES:
                    long[f"{module.name}.{node.name}"] = size
    assert long == {}


MODULE_MENTION = re.compile(r"(?<![\w./-])((?:[a-z_]+/)*[a-z_]+\.py)\b")


def _exists(mention: str) -> bool:
    """A mention names a module when some file under compiler/ (or the tests, for tests/...) ends with it."""
    if mention.startswith("tests/"):
        return (ROOT / mention).exists()
    return any(str(path.relative_to(ROOT)).endswith(("/" + mention, mention)) and
               (str(path.relative_to(ROOT)) == mention or str(path.relative_to(ROOT)).endswith("/" + mention))
               for path in PACKAGE.rglob("*.py"))


def test_no_docstring_comment_or_map_names_a_module_that_is_gone():
    gone = []
    for module in modules().values():
        for number, line in enumerate(module.path.read_text(encoding="utf-8").splitlines(), start=1):
            gone += [f"{module.path.relative_to(ROOT)}:{number}: {m}" for m in MODULE_MENTION.findall(line)
                     if not _exists(m)]
    for number, line in enumerate(ARCHITECTURE.read_text(encoding="utf-8").splitlines(), start=1):
        gone += [f"docs/architecture.md:{number}: {m}" for m in MODULE_MENTION.findall(line) if not _exists(m)]
    assert gone == []


def test_packaging_follows_the_folders():
    """A non-editable install (CI's) gets every module and data file: packages are found, not listed, and every
    file beside the modules is declared as data of the package that reads it."""
    import tomllib

    from setuptools import find_packages

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert "packages" not in config or "find" in config["packages"], "list no packages by hand"
    found = set(find_packages(str(ROOT), include=config["packages"]["find"]["include"]))
    folders = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("*.py")}
    assert folders <= found
    declared = {path for pkg, patterns in config["package-data"].items() for pattern in patterns
                for path in (ROOT / pkg.replace(".", "/")).glob(pattern) if path.is_file()}
    beside = {path for path in PACKAGE.rglob("*")
              if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts}
    assert sorted(str(p.relative_to(ROOT)) for p in beside - declared) == []
