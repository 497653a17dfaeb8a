"""netexplorer uses Textual's public API only: no private attribute, name or module.

Read from the source (AST), not by running it:

* ``x._name`` where ``x`` is not ``self``/``cls`` (another object's private part);
* ``self._name`` / ``cls._name`` (read, written or defined in the class body) in a
  class deriving from a Textual class, when ``_name`` is one of the Textual bases'
  own private attributes (its class dict, or ``self._name`` in its source): using
  it reaches into Textual, defining it overwrites Textual's;
* an import of a name starting with ``_`` from textual, or of a private module
  (``textual._animator``).

The old KeyedTable (a DataTable subclass that cleared DataTable's render caches)
is the case the checker was written against: ``test_the_checker_finds_*`` keeps
it able to fail.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "netexplorer"


#: names with a leading underscore that are documented public API (the stdlib's
#: ``os._exit``, a namedtuple's methods)
PUBLIC_UNDERSCORED = frozenset({"os._exit", "_replace", "_asdict", "_fields", "_make"})


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@functools.cache
def _textual_privates(cls: type) -> frozenset[str]:
    """Private attribute names a Textual class defines: its class dict and every
    ``self._name`` in its own source."""
    names = {n for n in vars(cls) if _private(n)}
    try:
        tree = ast.parse(inspect.getsource(cls))
    except (OSError, TypeError):
        return frozenset(names)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and _private(node.attr)
        ):
            names.add(node.attr)
    return frozenset(names)


def _is_textual(cls: type) -> bool:
    return cls.__module__.split(".")[0] == "textual"


class _Module:
    """What a module's names are: imported objects and its own classes' bases."""

    def __init__(self, tree: ast.Module) -> None:
        self.imported: dict[str, object] = {}
        self.classes: dict[str, ast.ClassDef] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    self.imported[alias.asname or alias.name] = (node.module, alias.name)
            elif isinstance(node, ast.ClassDef):
                self.classes[node.name] = node

    def resolve(self, base: ast.expr) -> object | None:
        if isinstance(base, ast.Subscript):  # DataTable[object]
            base = base.value
        if isinstance(base, ast.Attribute):  # KeyedTable.Something: not a base here
            return None
        if not isinstance(base, ast.Name):
            return None
        found = self.imported.get(base.id)
        if isinstance(found, tuple):
            module, name = found
            try:
                return getattr(importlib.import_module(module), name, None)
            except ImportError:
                return None
        return self.classes.get(base.id)

    def textual_bases(self, cls: ast.ClassDef, seen: frozenset[str] = frozenset()) -> list[type]:
        """The Textual classes in ``cls``' ancestry."""
        out: list[type] = []
        for base in cls.bases:
            found = self.resolve(base)
            if isinstance(found, ast.ClassDef) and found.name not in seen:
                out += self.textual_bases(found, seen | {cls.name})
            elif isinstance(found, type):
                out += [c for c in found.__mro__ if _is_textual(c)]
        return out


def problems(source: str, path: str = "<source>") -> list[str]:
    """Every use of a private Textual attribute, name or module in ``source``."""
    tree = ast.parse(source)
    module = _Module(tree)
    out: list[str] = []

    def say(node: ast.AST, what: str) -> None:
        out.append(f"{path}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "textual":
                continue
            if any(_private(p) for p in parts):
                say(node, f"import from the private module {node.module}")
            for alias in node.names:
                if _private(alias.name):
                    say(node, f"import of the private name {alias.name} from {node.module}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "textual" and any(_private(p) for p in parts):
                    say(node, f"import of the private module {alias.name}")
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            public = node.attr in PUBLIC_UNDERSCORED or ast.unparse(node) in PUBLIC_UNDERSCORED
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")) and not public:
                say(node, f"{ast.unparse(node)}: another object's private attribute")

    for cls in module.classes.values():
        bases = module.textual_bases(cls)
        if not bases:
            continue
        theirs = frozenset().union(*(_textual_privates(b) for b in bases))
        for node in ast.walk(cls):
            name = None
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls")
            ):
                name = node.attr
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node in cls.body:
                name = node.name
            elif isinstance(node, ast.Assign) and node in cls.body:
                name = next((t.id for t in node.targets if isinstance(t, ast.Name)), None)
            if name is not None and name in theirs:
                owner = next(b.__name__ for b in bases if name in _textual_privates(b))
                say(node, f"{cls.name} uses {name}, a private attribute of textual's {owner}")
    return out


def test_netexplorer_uses_no_private_textual_attribute() -> None:
    found = [
        problem
        for path in sorted(PACKAGE.rglob("*.py"))
        for problem in problems(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not found, "\n".join(found)


OLD_KEYED_TABLE = """
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey


class KeyedTable(DataTable[object]):
    def restyle(self, key: str) -> None:
        data = self._data[RowKey(key)]
        self._row_renderable_cache.discard((self._update_count, 0))
        self._clear_caches()


class WithJump(KeyedTable):
    def again(self) -> None:
        self._line_cache.clear()
"""


def test_the_checker_finds_the_old_keyed_tables_reaching_into_datatable() -> None:
    found = "\n".join(problems(OLD_KEYED_TABLE))
    for name in ("_data", "_row_renderable_cache", "_update_count", "_clear_caches"):
        assert f"KeyedTable uses {name}, a private attribute of textual's DataTable" in found
    assert "WithJump uses _line_cache" in found  # through a project base class


def test_the_checker_finds_private_names_modules_and_other_objects_parts() -> None:
    source = (
        "from textual._animator import EasingFunction\n"
        "from textual.app import _something\n"
        "import textual._compositor\n"
        "def f(app):\n"
        "    app.screen._on_timer_update()\n"
    )
    found = "\n".join(problems(source))
    assert "private module textual._animator" in found
    assert "private name _something" in found
    assert "private module textual._compositor" in found
    assert "app.screen._on_timer_update: another object's private attribute" in found


def test_the_checker_lets_a_class_keep_its_own_private_state() -> None:
    source = (
        "from textual.widget import Widget\n"
        "class Mine(Widget):\n"
        "    def __init__(self) -> None:\n"
        "        super().__init__()\n"
        "        self._mine_only = 1\n"
    )
    assert problems(source) == []
