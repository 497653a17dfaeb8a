"""What every pane shares: a titled box that is focused by number; a table of model rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical

from netexplorer.analysis import Analysis
from netexplorer.model import Snapshot
from netexplorer.ui.keyed_table import KeyedTable
from netexplorer.ui.messages import PaneFocused, Selected
from netexplorer.ui.pane_rows import PaneRows, Rows, make_rows
from netexplorer.ui.search import SearchRow


def _same(now: tuple[object, ...], before: tuple[object, ...] | None) -> bool:
    """Are ``now`` and ``before`` the same inputs: the same lists (by identity) and
    equal settings?"""
    if before is None or len(now) != len(before):
        return False
    return all(
        a is b or (not isinstance(a, list) and a == b) for a, b in zip(now, before, strict=True)
    )


class Pane(Vertical):
    """A box with a numbered title; subclasses fill it."""

    pane_id = ""
    number = 0
    title = ""
    #: the tab label in the narrow layout
    short = ""

    def __init__(self) -> None:
        super().__init__(id=self.pane_id, classes="pane")
        self._title: str | None = None
        self._subtitle: str | None = None

    def on_mount(self) -> None:
        self.show_title(self.heading())

    def show_title(self, title: str) -> None:
        """Set the border title; setting it repaints the whole pane, so only when it
        changed."""
        if title != self._title:
            self.border_title = self._title = title

    def show_subtitle(self, subtitle: str) -> None:
        """Set the border subtitle, only when it changed (see :meth:`show_title`)."""
        if subtitle != self._subtitle:
            self.border_subtitle = self._subtitle = subtitle

    def heading(self) -> str:
        return f"{self.number} {self.title}"

    def show_snapshot(self, result: Analysis) -> None:
        """Render a read and what was derived from it; called with every new one."""

    def mark(self, related: frozenset[str], selected: str | None) -> None:
        """Mark the rows of ``related``; ``selected`` is the item they relate to."""

    def focus_pane(self) -> None:
        self.focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.post_message(PaneFocused(self.pane_id))


class KeyedTableWithJump(KeyedTable):
    # the tooltip is the line ``?`` shows for the key
    BINDINGS = [
        Binding("enter", "app.jump", "Jump to linked", show=False, tooltip="same as g"),
        Binding(
            "space",
            "app.select_here",
            "Select row",
            show=False,
            tooltip="select the row under the cursor (after a jump)",
        ),
    ]


class TablePane(Pane):
    """A pane showing one KeyedTable of model items.

    Compact (the default): the columns not in ``full_only`` first, long host names
    shortened to ``limits`` with a visible ellipsis (the table's caps), the
    ``full_only`` columns after them (reached by scrolling right). Full
    (``set_full``: a large terminal, or the pane zoomed): every column in its
    declared place; whole (the pane zoomed): nothing shortened either. Search looks
    at the full cells either way.
    """

    #: (column key, label)
    columns: Sequence[tuple[str, str]] = ()
    #: columns shown after the others in the compact form, in place when full
    full_only: frozenset[str] = frozenset()
    #: compact form: column key -> at most this many characters (then "…")
    limits: Mapping[str, int] = {}
    #: the collectors (``Source.name``) whose data the rows show: when one of them
    #: failed in the live view, the rows are its last read and the pane says so
    sources: tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        self.full = False
        self.whole = False
        self.table = KeyedTableWithJump(
            self.shown_columns(), self.caps(), id=f"{self.pane_id}-table"
        )
        self._snapshot: Snapshot | None = None
        self._result: Analysis | None = None
        #: the rows last made (by ``prepare``, in whichever thread) and last shown
        self._last_made: PaneRows | None = None
        self._shown_rows: PaneRows | None = None

    def compact_order(self) -> list[int]:
        """Indices of ``columns`` in the compact form's order: ``full_only`` last."""
        keys = [k for k, _ in self.columns]
        first = [n for n, k in enumerate(keys) if k not in self.full_only]
        return first + [n for n, k in enumerate(keys) if k in self.full_only]

    def shown_columns(self) -> list[tuple[str, str]]:
        if self.full:
            return list(self.columns)
        return [self.columns[n] for n in self.compact_order()]

    def caps(self) -> Mapping[str, int]:
        """Column key -> its widest (``limits``), unless the pane is shown whole."""
        return {} if self.whole else self.limits

    def set_full(self, full: bool, *, whole: bool = False) -> None:
        """Every column in place (``full``), and whole names too (``whole``), or
        the compact form."""
        if (full, whole) == (self.full, self.whole):
            return
        self.full, self.whole = full, whole
        cursor = self.table.cursor_key
        self.table.set_columns(self.shown_columns(), self.caps())
        if self._shown_rows is not None:
            self.table.sync(self._shown_form(self._shown_rows))
        if cursor is not None:
            self.table.move_to(cursor)

    @property
    def full_rows(self) -> Rows:
        """The rows shown, with every column and nothing shortened."""
        return self._shown_rows.full if self._shown_rows is not None else {}

    def _shown_form(self, made: PaneRows) -> Rows:
        return made.full if self.full else made.compact

    def compact(self, cells: list[Text]) -> list[Text]:
        """A row in the compact form's column order (the table shortens long names)."""
        return [cells[n] for n in self.compact_order()]

    def compose(self) -> ComposeResult:
        yield self.table

    def rows(self, result: Analysis) -> Rows:
        raise NotImplementedError

    def inputs(self, result: Analysis) -> tuple[object, ...]:
        """What ``rows`` reads: the read's lists (a source not read again is the same
        list object in the next read) and the pane's own settings. Rows are made
        again only when one of them changed."""
        return (result.read,)

    def prepare(self, result: Analysis) -> PaneRows:
        """The rows for ``result`` with the pane's current settings, unchanged rows
        kept from the rows made before (``pane_rows.make_rows``). Pure: run by the
        worker that analysed the read; the UI thread runs it only when a setting
        changed (``t``, ``f``) or no worker made the rows."""
        before = self._last_made
        inputs = self.inputs(result)
        if before is not None and _same(inputs, before.inputs):
            return before
        made = self._last_made = make_rows(inputs, self.rows(result), before, self.compact)
        return made

    def show_snapshot(self, result: Analysis, made: PaneRows | None = None) -> None:
        """Show ``result``: ``made`` are its rows made by the worker (made again here
        if the pane's settings changed since); the table gets them only if they
        differ from the rows shown."""
        self._snapshot, self._result = result.read, result
        if made is None or not _same(self.inputs(result), made.inputs):
            made = self.prepare(result)
        shown = self._shown_rows
        if shown is None or made.full is not shown.full:
            self.table.sync(self._shown_form(made))
        self._shown_rows = made
        stale = self.stale_sources()
        self.set_class(bool(stale), "-stale")
        note = f" · stale: {', '.join(stale)} failed, last read shown" if stale else ""
        self.show_title(self.heading() + note)

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
        self.show_subtitle(self._mark_count())

    def _mark_count(self) -> str:
        n = len(self.table.marked())
        return f"{n} linked" if n else ""

    def focus_pane(self) -> None:
        self.table.focus()

    def search_texts(self) -> Sequence[SearchRow]:
        """Every row shown as search compares it, in display order (made with the rows)."""
        return self._shown_rows.search if self._shown_rows is not None else ()

    @on(KeyedTable.RowHighlighted)
    def _cursor_moved(self, event: KeyedTable.RowHighlighted) -> None:
        event.stop()
        if self.table.cursor_moved_to(event.key) and self.table.has_focus:
            self.post_message(Selected(self.pane_id, event.key))

    @on(KeyedTable.RowSelected)
    def _row_clicked(self, event: KeyedTable.RowSelected) -> None:
        event.stop()
