"""``/`` search: rank rows of every pane against a typed name; the bar that asks for it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from textual.binding import Binding
from textual.widgets import Input

from netexplorer.ui.safe_text import plain

_TREE = "├└─ "


@dataclass(frozen=True, slots=True)
class SearchRow:
    """A row as search compares it: its cells folded once, not at every search."""

    key: str
    #: the plain texts of its cells, tree glyphs stripped, casefolded
    cells: tuple[str, ...]
    #: the cells joined by newlines: one substring test rules out most rows
    joined: str


def search_row(key: str, texts: Sequence[str]) -> SearchRow:
    cells = tuple(t.lstrip(_TREE).casefold() for t in texts)
    return SearchRow(key, cells, "\n".join(cells))


#: (pane id, its rows in display order) in pane order
Candidates = Sequence[tuple[str, Sequence[SearchRow]]]


def _rank(query: str, row: SearchRow) -> int | None:
    """0: a cell is the query; 1: a cell starts with it; 2: it occurs in a cell."""
    if query not in row.joined:  # then in no cell
        return None
    cells = row.cells
    if any(c == query or c.split("@", 1)[0] == query for c in cells):
        return 0
    if any(c.startswith(query) for c in cells):
        return 1
    if any(query in c for c in cells):
        return 2
    return None


def find(query: str, candidates: Candidates) -> list[tuple[str, str]]:
    """Matches as (pane id, row key): exact before prefix before substring, then pane order."""
    q = query.strip().casefold()
    if not q:
        return []
    found: list[tuple[int, int, int, str, str]] = []
    for pane_no, (pane_id, rows) in enumerate(candidates):
        for row_no, row in enumerate(rows):
            rank = _rank(q, row)
            if rank is not None:
                found.append((rank, pane_no, row_no, pane_id, row.key))
    return [(pane_id, key) for *_, pane_id, key in sorted(found)]


T = TypeVar("T")


class Matches(Generic[T]):
    """A search's matches, visited in turn (``n``)."""

    def __init__(self, found: Sequence[T] = ()) -> None:
        self.found = list(found)
        self.at = -1

    def __bool__(self) -> bool:
        return bool(self.found)

    def next(self) -> T | None:
        """The next match (after the last, the first again); None when there is none."""
        if not self.found:
            return None
        self.at = (self.at + 1) % len(self.found)
        return self.found[self.at]

    def note(self) -> str:
        """``match 2/5 (n: next)`` when there are several, else nothing."""
        n = len(self.found)
        return f"match {self.at + 1}/{n} (n: next)" if n > 1 else ""


def no_match(query: str) -> str:
    """What the status line says when a search found nothing."""
    return f"no match for '{plain(query)}'"


class SearchInput(Input):
    """A one-line input shown by ``/``; Enter searches, Escape closes."""

    def open(self) -> bool:
        """Show the input empty and focused; False if it had the focus already (then
        ``/`` is typed into it: a search for 172.17.0.0/16)."""
        if self.app.focused is self:
            self.insert_text_at_cursor("/")
            return False
        self.value = ""
        self.display = True
        # focus now, not after the next refresh (Widget.focus defers): keys typed
        # in one burst after "/" (a fast typist, a paste, tmux send-keys) must
        # reach the input, not the bindings behind it
        self.app.screen.set_focus(self)
        return True


class SearchBar(SearchInput):
    """The panes' search: every pane's rows."""

    BINDINGS = [Binding("escape", "app.close_search", "Close search")]

    def __init__(self) -> None:
        super().__init__(placeholder="search: a container, interface, bridge or rule…", id="search")
