"""The package's layout.

- Grouped by stage, it keeps its former public names: each old module path imports the very module
  object that moved (so attributes, monkeypatching and isinstance checks agree).
- Its imports, read with ``ast`` from every module under src/seqgx: no import cycle, among module-level
  imports nor counting imports inside functions; no import from a later stage into an earlier one
  (genome < model < analysis < report < cli and pipeline; the core modules outside the stage packages
  may be imported by any module but import no cli module); no cli subcommand imports another (only the
  cli package and its ``_`` helpers).
"""

from __future__ import annotations

import ast
import functools
import importlib
from dataclasses import dataclass
from pathlib import Path

import pytest

MOVED = {"seqgx.variants": "seqgx.genome.variants", "seqgx.genes": "seqgx.genome.genes",
         "seqgx.personalize": "seqgx.genome.personalize", "seqgx.models": "seqgx.model.models",
         "seqgx.predict": "seqgx.model.predict", "seqgx.attribution": "seqgx.model.attribution",
         "seqgx.readouts": "seqgx.model.readouts", "seqgx.stats": "seqgx.analysis.stats",
         "seqgx.predixcan": "seqgx.analysis.predixcan", "seqgx.assess": "seqgx.analysis.assess",
         "seqgx.motifs": "seqgx.analysis.motifs"}


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_former_module_names_are_the_moved_modules(old: str, new: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(new)
    package, _, name = old.rpartition(".")
    assert getattr(importlib.import_module(package), name) is importlib.import_module(new)


def test_from_imports_of_former_names_work() -> None:
    from seqgx.motifs import driver_context
    from seqgx.stats import pearson

    from seqgx.genome import Reference, encode
    from seqgx.genome.reference import Reference as moved_reference

    assert Reference is moved_reference and callable(encode) and callable(pearson)
    assert driver_context.__module__ == "seqgx.analysis.motifs.attribution"


def test_unknown_attribute_is_an_attribute_error() -> None:
    import seqgx

    with pytest.raises(AttributeError):
        seqgx.no_such_module  # noqa: B018


# ---------------------------------------------------------------------------------------------------
# Imports between seqgx's modules, read with ast

SRC = Path(__file__).resolve().parents[1] / "src"
#: Stage packages in pipeline order; a module imports only from its own stage or an earlier one.
STAGES = ("seqgx.genome", "seqgx.model", "seqgx.analysis", "seqgx.report")
#: The last stage: the command line and `seqgx run` (which runs the subcommands).
LAST_STAGE = ("seqgx.cli", "seqgx.pipeline", "seqgx.__main__")


@dataclass(frozen=True)
class Import:
    """One import of a seqgx module by another: ``kind`` 'module' (runs when the importer is imported:
    module or class level, also inside if/try there), 'lazy' (inside a function) or 'typing' (under
    ``if TYPE_CHECKING``, never run)."""

    importer: str
    imported: str
    kind: str
    line: int
    package: bool = False  # a package above the module named (its __init__ runs first)


def _module_files() -> dict[str, Path]:
    """Every module under src/seqgx by dotted name (a package by its ``__init__``)."""
    files = {}
    for path in sorted((SRC / "seqgx").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def _moved_modules() -> dict[str, str]:
    """seqgx.__init__._MOVED_MODULES (former flat names -> the modules they are), read without importing."""
    tree = ast.parse((SRC / "seqgx" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_MOVED_MODULES"
                                                for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


MODULES = _module_files()
MOVED_MODULES = _moved_modules()


def _resolve(name: str) -> str | None:
    """The seqgx module a dotted name is (an alias of _MOVED_MODULES resolved, also as a prefix of a
    submodule's name), or None when it is none of seqgx's modules."""
    for old, new in MOVED_MODULES.items():
        if name == old or name.startswith(old + "."):
            name = new + name[len(old):]
            break
    return name if name in MODULES else None


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _targets(importer: str, node: ast.Import | ast.ImportFrom) -> list[tuple[str, bool]]:
    """The seqgx modules one import statement imports: the module named, or for ``from X import y`` the
    submodule X.y where there is one, else X; plus the packages above each that are not the importer's
    own (running a package's ``__init__`` is part of importing its submodule)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = importer if MODULES[importer].name == "__init__.py" else importer.rpartition(".")[0]
            up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*up, *([base] if base else [])])
        for a in node.names:
            sub = _resolve(f"{base}.{a.name}")
            names.append(sub if sub is not None else base)
    found: dict[str, bool] = {}  # module -> it is only a package above a module named
    own = set(_ancestors(importer)) | {importer}
    for n in names:
        target = _resolve(n)
        if target is None:
            continue
        for m in _ancestors(target):
            if m not in own and m != "seqgx":
                found.setdefault(m, True)
        if target != importer:
            found[target] = False
    return list(found.items())


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports_of(name: str) -> list[Import]:
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    out: list[Import] = []

    def visit(node: ast.AST, kind: str) -> None:
        for child in ast.iter_child_nodes(node):
            child_kind = kind
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and kind == "module":
                child_kind = "lazy"
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.body:
                    visit_one(sub, "typing")
                for sub in child.orelse:
                    visit_one(sub, kind)
                continue
            visit_one(child, child_kind)

    def visit_one(node: ast.AST, kind: str) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.extend(Import(name, t, kind, node.lineno, package) for t, package in _targets(name, node))
        visit(node, kind)

    visit(tree, "module")
    return out


@functools.cache
def all_imports() -> tuple[Import, ...]:
    """Every import between seqgx's modules (read when a test first asks, not at collection)."""
    return tuple(i for name in MODULES for i in _imports_of(name))


def _graph(kinds: set[str]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for i in all_imports():
        if i.kind in kinds:
            graph[i.importer].add(i.imported)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph`` (module -> modules it imports): one per strongly connected set of
    two or more modules (or a module importing itself), as the modules of that set, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            members = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                members.append(w)
                if w == v:
                    break
            if len(members) > 1 or v in graph[v]:
                cycles.append(sorted(members))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(cycles)


def stage_of(module: str) -> int | None:
    """A module's stage (0 genome .. 3 report, 4 the cli and pipeline), None for a core module."""
    for rank, package in enumerate((*STAGES, LAST_STAGE)):
        packages = package if isinstance(package, tuple) else (package,)
        if any(module == p or module.startswith(p + ".") for p in packages):
            return rank
    return None


def _is_cli(module: str) -> bool:
    return module == "seqgx.cli" or module.startswith("seqgx.cli.")


def _where(i: Import) -> str:
    return f"{MODULES[i.importer].relative_to(SRC.parent)}:{i.line} ({i.kind}) imports {i.imported}"


def layer_violations() -> list[str]:
    """Imports (of every kind) from a later stage into an earlier one, and core modules importing cli."""
    bad = []
    for i in all_imports():
        if i.package:
            continue
        own, other = stage_of(i.importer), stage_of(i.imported)
        if own is None:
            if _is_cli(i.imported):
                bad.append(_where(i) + ": a core module imports no cli module")
        elif other is not None and other > own:
            bad.append(_where(i) + ": a later stage")
    return bad


def cli_violations() -> list[str]:
    """cli subcommands importing another subcommand (the cli package and its ``_`` helpers are shared)."""
    def shared(m: str) -> bool:
        return m == "seqgx.cli" or m.rpartition(".")[2].startswith("_")

    return [_where(i) + ": one subcommand imports another" for i in all_imports()
            if not i.package and _is_cli(i.importer) and _is_cli(i.imported) and not shared(i.importer)
            and not shared(i.imported)]


def test_the_import_reader_sees_the_package() -> None:
    """A guard against a reader that sees nothing: known imports of each kind are found."""
    found = {(i.importer, i.imported, i.kind) for i in all_imports()}
    assert ("seqgx.model.predict", "seqgx.model.models", "module") in found
    assert ("seqgx.model.predict", "seqgx.genome", "module") in found  # the package runs first
    assert ("seqgx.pipeline", "seqgx.cli", "lazy") in found
    assert _resolve("seqgx.stats") == "seqgx.analysis.stats"
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_level_import_cycle() -> None:
    cycles = import_cycles(_graph({"module"}))
    assert not cycles, f"module-level import cycles: {cycles}"


def test_no_import_cycle_counting_function_level_imports() -> None:
    """Lazy imports (inside functions) do not hide a cycle either: the modules' dependencies form a DAG,
    as the stage order does across stages (type-checking imports are left out: they never run)."""
    cycles = import_cycles(_graph({"module", "lazy"}))
    assert not cycles, f"import cycles counting function-level imports: {cycles}"


def test_no_import_from_a_later_stage() -> None:
    bad = layer_violations()
    assert not bad, "imports against the stage order:\n" + "\n".join(bad)


def test_no_cli_module_imports_another() -> None:
    bad = cli_violations()
    assert not bad, "cli subcommands importing each other:\n" + "\n".join(bad)
