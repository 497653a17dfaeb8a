"""What every pane shares: a titled box that is focused by number; a table of model rows."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable

from netexplorer.correlate import Links
from netexplorer.model import Snapshot
from netexplorer.ui.keyed_table import KeyedTable
from netexplorer.ui.messages import PaneFocused, Selected
from netexplorer.ui.search import SearchRow, search_row

Rows = dict[str, list[Text]]


class Pane(Vertical):
    """A box with a numbered title; subclasses fill it."""

    pane_id = ""
    number = 0
    title = ""
    #: the tab label in the narrow layout
    short = ""

    def __init__(self) -> None:
        super().__init__(id=self.pane_id, classes="pane")

    def on_mount(self) -> None:
        self.border_title = self.heading()

    def heading(self) -> str:
        return f"{self.number} {self.title}"

    def show_snapshot(self, snapshot: Snapshot, links: Links) -> None:
        """Render ``snapshot``; called with every new one."""

    def mark(self, related: frozenset[str], selected: str | None) -> None:
        """Mark the rows of ``related``; ``selected`` is the item they relate to."""

    def focus_pane(self) -> None:
        self.focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.post_message(PaneFocused(self.pane_id))


class KeyedTableWithJump(KeyedTable):
    BINDINGS = [
        Binding("enter", "app.jump", "Jump to linked", show=False),
        Binding("space", "app.select_here", "Select row", show=False),
    ]


class TablePane(Pane):
    """A pane showing one KeyedTable of model items."""

    #: (column key, label) after the mark column
    columns: Sequence[tuple[str, str]] = ()
    #: the collectors (``Source.name``) whose data the rows show: when one of them
    #: failed in the live view, the rows are its last read and the pane says so
    sources: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.table = KeyedTableWithJump(self.columns, id=f"{self.pane_id}-table")
        self._snapshot: Snapshot | None = None
        self._links: Links | None = None
        self._search_rows: object = None
        self._search_texts: list[SearchRow] = []

    def compose(self) -> ComposeResult:
        yield self.table

    def rows(self, snapshot: Snapshot, links: Links) -> Rows:
        raise NotImplementedError

    def show_snapshot(self, snapshot: Snapshot, links: Links) -> None:
        self._snapshot, self._links = snapshot, links
        self.table.sync(self.rows(snapshot, links))
        stale = self.stale_sources()
        self.set_class(bool(stale), "-stale")
        self.border_title = self.heading() + (
            f" · stale: {', '.join(stale)} failed, last read shown" if stale else ""
        )

    def stale_sources(self) -> list[str]:
        """Names of this pane's sources whose last read is shown because they failed."""
        if self._snapshot is None:
            return []
        found = (self._snapshot.source(name) for name in self.sources)
        return [s.name for s in found if s is not None and s.stale]

    def mark(self, related: frozenset[str], selected: str | None) -> None:
        self.table.mark(related, selected)
        if not self.table.has_focus:
            self.table.reveal_marks()
        self.border_subtitle = self._mark_count()

    def _mark_count(self) -> str:
        n = len(self.table.marked())
        return f"{n} linked" if n else ""

    def focus_pane(self) -> None:
        self.table.focus()

    def search_texts(self) -> list[SearchRow]:
        """Every row as search compares it, in display order.

        Kept until the table's rows are replaced (every ``sync`` makes new ones):
        rebuilding and folding them took ~100 ms of each search at 5,000 rules.
        """
        rows = self.table.rows_by_key
        if self._search_rows is not rows:
            self._search_texts = [
                search_row(k, [c.plain for c in cells]) for k, cells in rows.items()
            ]
            self._search_rows = rows
        return self._search_texts

    @on(DataTable.RowHighlighted)
    def _cursor_moved(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value
        if key is not None and self.table.cursor_moved_to(key) and self.table.has_focus:
            self.post_message(Selected(self.pane_id, key))

    @on(DataTable.RowSelected)
    def _row_clicked(self, event: DataTable.RowSelected) -> None:
        event.stop()
