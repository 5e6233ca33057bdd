"""The shape of the package, checked: imports go one way, and every error has one base.

Layers (docs/ARCHITECTURE.md): the entry points (the CLI) may import features and the base;
features (scan, tags, label, train, ...) may import each other without cycles, and the base;
the base (model, audio, store, taxonomy, config, ...) imports nothing of ours above it. Every
``import`` of a ``tagger`` module counts, at module level or inside a function (a lazy import
is still a dependency), read from the source with ``ast``, so the test needs nothing installed.
"""

from __future__ import annotations

import ast
import builtins
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tagger"

# name prefix -> layer; a module belongs to the longest prefix that matches its dotted name.
# A new top-level module or package must be placed here (the test fails until it is).
LAYERS: dict[str, tuple[str, ...]] = {
    "entry": ("tagger", "tagger.__main__", "tagger.cli"),
    "features": (
        # scan() sits on the engines, which drive the pipeline's stages: pipeline.run is a
        # component of its own, so pipeline -> engines would be a cycle the test reports.
        "tagger.pipeline.run", "tagger.engines", "tagger.pipeline",
        "tagger.prune", "tagger.query", "tagger.track_titles", "tagger.export", "tagger.show",
        "tagger.plot", "tagger.tags", "tagger.label",
        "tagger.train", "tagger.realdev", "tagger.clip_scoring",
    ),
    "base": (
        "tagger.model", "tagger.audio", "tagger.store", "tagger.taxonomy",
        "tagger.printable", "tagger.config", "tagger.real_recordings", "tagger.errors",
        "tagger.lazy", "tagger.palette",
    ),
}
ORDER = ("entry", "features", "base")  # a layer may import its own and the ones after it

# Edges that break a rule today, each with the reason it stays and the way out. An exception
# that no longer occurs fails the test, so this list only shrinks.
EXCEPTIONS: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the package: .py files in folders that are packages (not data folders)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        folders = path.relative_to(PACKAGE).parents
        if all((PACKAGE / folder / "__init__.py").is_file() for folder in folders):
            found[_module_name(path)] = path
    return found


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    def owner(name: str) -> str | None:  # the module a dotted name lives in
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    if isinstance(node, ast.Import):
        return {m for a in node.names if a.name.split(".")[0] == "tagger"
                for m in [owner(a.name)] if m}
    if not isinstance(node, ast.ImportFrom):
        return set()
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "tagger":
        return set()
    out = set()
    for alias in node.names:  # ``from tagger.tags import payload`` imports the submodule
        sub = f"{target}.{alias.name}"
        found = sub if sub in known else owner(target)
        if found:
            out.add(found)
    return out


def import_graph() -> dict[str, set[str]]:
    """module -> the tagger modules it imports anywhere in its source."""
    found = modules()
    known = set(found)
    graph = {}
    for name, path in found.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in ast.walk(tree):
            edges |= _imported(node, name, path.name == "__init__.py", known)
        graph[name] = edges - {name}
    return graph


def component(module: str) -> str:
    """The layer entry a module belongs to (its longest matching prefix)."""
    best = ""
    for prefixes in LAYERS.values():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best = prefix
    return best


def layer(module: str) -> str:
    comp = component(module)
    return next(name for name, prefixes in LAYERS.items() if comp in prefixes)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                members.append(top)
                if top == node:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    full = import_graph()
    for (src, dst), _reason in EXCEPTIONS.items():
        assert dst in full.get(src, set()), f"exception {src} -> {dst} no longer occurs: remove it"
        full[src] = full[src] - {dst}
    return full


def test_every_module_has_a_layer(graph: dict[str, set[str]]) -> None:
    assert len(graph) > 100  # the walk found the package
    assert [m for m in graph if not component(m)] == []


def test_imports_only_go_down(graph: dict[str, set[str]]) -> None:
    upward = [f"{src} ({layer(src)}) imports {dst} ({layer(dst)})"
              for src, targets in sorted(graph.items()) for dst in sorted(targets)
              if ORDER.index(layer(dst)) < ORDER.index(layer(src))]
    assert upward == []


def test_no_cycles_between_modules(graph: dict[str, set[str]]) -> None:
    assert _cycles(graph) == []


def test_no_cycles_between_components(graph: dict[str, set[str]]) -> None:
    between: dict[str, set[str]] = {}
    for src, targets in graph.items():
        between.setdefault(component(src), set()).update(
            component(dst) for dst in targets if component(dst) != component(src))
    assert _cycles(between) == []


AUDIO_LIBRARIES = {"soundfile", "av", "audioread", "librosa"}


def test_only_tagger_audio_reads_audio() -> None:
    """One audio loader (issue 13): every other module decodes through tagger.audio, so a file
    sounds the same to the scan, the plot, the label page and training."""
    readers = set()
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                used = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                used = {(node.module or "").split(".")[0]}
            else:
                continue
            if used & AUDIO_LIBRARIES:
                readers.add(name)
    assert readers and all(m.startswith("tagger.audio.") for m in readers), sorted(readers)


def test_the_walk_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    known = {"tagger.a", "tagger.b", "tagger.b.c", "tagger.d"}
    tree = ast.parse("def f():\n    from tagger.b import c\n    import tagger.d.x\n"
                     "from . import a\n")
    found: set[str] = set()
    for node in ast.walk(tree):
        found |= _imported(node, "tagger.e", False, known)
    assert found == {"tagger.a", "tagger.b.c", "tagger.d"}


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_segmenter_does_not_load_the_database_layer() -> None:
    loaded = _loaded_after("import tagger.pipeline.segments")
    assert "tagger.pipeline.segments" in loaded
    assert not {"sqlite_utils", "sqlite3", "tagger.store.db"} & loaded


def test_the_package_and_the_engines_import_without_torch() -> None:
    """``tagger`` exports its API lazily and the engines load torch only to run: ``tagger
    --help`` and a re-scan of an unchanged library stay fast."""
    loaded = _loaded_after("import tagger, tagger.engines, tagger.pipeline.run; tagger.__all__")
    assert {"tagger", "tagger.engines", "tagger.engines.ray_engine"} <= loaded
    assert not {"torch", "numpy", "ray", "sqlite_utils"} & loaded


def test_tag_fields_load_without_the_writer_loop_or_the_store() -> None:
    loaded = _loaded_after("import tagger.tags.fields")
    assert "tagger.tags.fields" in loaded
    assert not {"tagger.tags.apply", "tagger.store", "tagger.store.db", "sqlite_utils"} & loaded


def _base_names(node: ast.ClassDef) -> list[str]:
    """``class A(B, mod.C)`` -> ["B", "C"]: the last part of each base's dotted name."""
    return [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases]


def exception_classes() -> dict[str, tuple[str, list[str]]]:
    """Every class in the package that is an exception: name -> (where, base names).

    Read from the source (no imports: instant, and nothing optional needs to be installed). A
    class is an exception when a base is a built-in exception or another exception class of
    ours, looked up by name (the test fails if two of our exception classes share one).
    """
    classes: list[tuple[str, str, list[str]]] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                classes.append((node.name, f"{path.relative_to(PACKAGE.parent)}:{node.lineno}",
                                _base_names(node)))
    bases_of: dict[str, list[list[str]]] = {}
    for name, _, bases in classes:
        bases_of.setdefault(name, []).append(bases)

    def is_exception(name: str) -> bool:
        builtin = getattr(builtins, name, None)
        if isinstance(builtin, type) and issubclass(builtin, BaseException):
            return True
        return any(is_exception(b) for bases in bases_of.get(name, []) for b in bases)

    found: dict[str, tuple[str, list[str]]] = {}
    for name, where, bases in classes:
        if any(is_exception(b) for b in bases):
            assert name not in found, f"two exception classes named {name}: {where}, {found[name][0]}"
            found[name] = (where, bases)
    return found


def test_every_exception_class_derives_from_tagger_error() -> None:
    found = exception_classes()
    assert {"StoreError", "DecodeError", "TagError", "ModelNotFoundError"} <= set(found)

    def derives(name: str) -> bool:
        return name == "TaggerError" or any(derives(b) for b in found.get(name, ("", []))[1])

    assert sorted(f"{name} ({where})" for name, (where, _) in found.items()
                  if not derives(name)) == []
    from tagger.errors import TaggerError  # the same, at run time, for a few of them
    from tagger.model.registry import ModelNotFoundError
    from tagger.plot import AudioUnavailableError
    from tagger.store import StoreDamagedError

    assert issubclass(StoreDamagedError, TaggerError)
    assert issubclass(ModelNotFoundError, TaggerError) and issubclass(ModelNotFoundError, LookupError)
    assert issubclass(AudioUnavailableError, TaggerError) and issubclass(AudioUnavailableError, OSError)


# What running SQL looks like in the source: the store's connection (``store.conn``), a cursor's
# or connection's ``execute*``, or a connection of one's own (``sqlite3.connect``).
_SQL_ATTRIBUTES = {"conn", "execute", "executemany", "executescript"}


def sql_uses(source: str) -> int:
    """How many places in ``source`` run SQL (or reach for the connection that would)."""
    uses = 0
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and (
                node.attr in _SQL_ATTRIBUTES
                or (node.attr == "connect" and isinstance(node.value, ast.Name)
                    and node.value.id == "sqlite3")):
            uses += 1
    return uses


def test_the_sql_counter_sees_connections_and_cursors() -> None:
    assert sql_uses("store.conn.execute('SELECT 1')") == 2
    assert sql_uses("c = sqlite3.connect(p)\nc.executemany(q, rows)\ncur.executescript(s)") == 3
    assert sql_uses("pool.submit(job)\nimport sqlite3\nexcept_ = sqlite3.Error") == 0


def test_sql_stays_in_the_store() -> None:
    """Every SQL statement lives in tagger/store/ (issue 13); the rest calls its functions."""
    found = {}
    for name, path in modules().items():
        if name == "tagger.store" or name.startswith("tagger.store."):
            continue
        uses = sql_uses(path.read_text(encoding="utf-8"))
        if uses:
            found[name] = uses
    assert found == {}, f"SQL outside tagger/store/ (uses per module): {found}"
