"""A DataTable whose rows are model keys, updated by difference, with link marks.

``sync(rows)`` makes the table show ``rows`` (an ordered mapping of model key to
cells) by removing, adding and updating only what changed, then restoring the
order; the cursor stays on the same item and the scroll position is kept.
``mark(related, selected)`` marks rows: a glyph column (``▶`` the selected item,
``●`` a linked one) and bold cells, so the marks read without colour; only the rows
whose mark changes are touched, so a selection costs the same in a table of 20
rows as of 5,000.

A mark never changes a cell's width, so it is applied without DataTable's
``update_cell``: that bumps the table's update counter, which every render cache
is keyed on, so one marked row made all visible rows of every table be rendered
again through Rich (and the row offsets of 5,000 rows be rebuilt). Instead the
cells are replaced in place and only the cache entries of the re-marked rows are
dropped (:meth:`KeyedTable._restyle_rows`; DataTable internals of textual 8.2.8,
which the project pins).

Column widths grow when a wider cell arrives and never shrink on an update: the
DataTable re-measures a whole column for every narrower cell it is told to fit
(O(rows) each), which made marking rows of a 5,000-rule table take seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

SELECTED_GLYPH = "▶"
LINKED_GLYPH = "●"
MARK_COLUMN = "mark"


@dataclass(frozen=True, slots=True)
class Marker:
    """The first cell of a row: its mark glyph, and its place in the wanted order."""

    glyph: str
    order: int

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(self.glyph, style="bold reverse" if self.glyph.strip() else "", end="")

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, 1)


def _same(a: object, b: object) -> bool:
    if isinstance(a, Text) and isinstance(b, Text):
        return (a.plain, str(a.style), a.spans) == (b.plain, str(b.style), b.spans)
    return a == b


def _emphasised(cell: Text) -> Text:
    out = cell.copy()
    out.stylize("bold")
    return out


class KeyedTable(DataTable[object]):
    """Rows keyed by model key; see the module docstring."""

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._column_spec = list(columns)
        self._base: dict[str, list[Text]] = {}
        #: row key -> its place in the wanted order
        self._order: dict[str, int] = {}
        self._shown: dict[str, list[object]] = {}
        self._related: frozenset[str] = frozenset()
        self._selected: str | None = None
        #: the row the cursor was last known on; a highlight of another row is a move
        self.last_key: str | None = None

    def on_mount(self) -> None:
        self.add_column(" ", key=MARK_COLUMN, width=1)
        for key, label in self._column_spec:
            self.add_column(label, key=key)

    def set_columns(self, columns: Sequence[tuple[str, str]]) -> None:
        """Show ``columns`` from now on; the next ``sync`` fills them."""
        self._column_spec = list(columns)
        if not self.is_mounted:
            return
        self.clear(columns=True)
        self._shown = {}
        self.on_mount()

    def relabel(self, key: str, label: str) -> None:
        """Give column ``key`` the header ``label`` (now, or when mounted)."""
        self._column_spec = [(k, label if k == key else old) for k, old in self._column_spec]
        column = self.columns.get(ColumnKey(key))
        if column is None or column.label.plain == label:
            return
        column.label = Text(label)
        column.content_width = max(column.content_width, column.label.cell_len)
        self._clear_caches()
        self.refresh()

    # ------------------------------------------------------------------ queries
    @property
    def keys(self) -> list[str]:
        """Row keys in display order."""
        return list(self._base)

    @property
    def cursor_key(self) -> str | None:
        if not self._shown or not self.is_valid_row_index(self.cursor_row):
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    @property
    def rows_by_key(self) -> Mapping[str, list[Text]]:
        """Row key -> cells, in display order; a new mapping after every ``sync``."""
        return self._base

    def cells(self, key: str) -> list[Text]:
        return self._base.get(key, [])

    def marked(self) -> list[str]:
        """Keys of the marked rows, in display order."""
        order = self._order
        return sorted((k for k in self._related if k in order), key=order.__getitem__)

    # ------------------------------------------------------------------ updates
    def sync(self, rows: Mapping[str, Sequence[Text]]) -> None:
        """Show exactly ``rows`` (in their order), changing only what differs."""
        cursor = self.cursor_key
        self._base = {key: list(cells) for key, cells in rows.items()}
        self._order = {key: order for order, key in enumerate(self._base)}
        self._apply_rows()
        if cursor is not None and cursor in self._base:
            self.move_to(cursor, scroll=False)

    def mark(self, related: frozenset[str], selected: str | None) -> None:
        changed = (self._related ^ related) | {self._selected, selected}
        self._related = related
        self._selected = selected
        self._restyle_rows(
            {
                key: self._wanted(key, self._order[key])
                for key in changed
                if key is not None and key in self._shown
            }
        )

    def move_to(self, key: str, *, scroll: bool = True) -> None:
        """Put the cursor on ``key``: a move by the program, so not a user's selection."""
        if key not in self._shown:
            return
        self.last_key = key
        self.move_cursor(row=self.get_row_index(key), scroll=scroll)

    def cursor_moved_to(self, key: str) -> bool:
        """Note a highlighted row; True if that is a move to another row (the user's)."""
        moved = key != self.last_key
        self.last_key = key
        return moved

    def reveal_marks(self) -> None:
        """Scroll so that the first marked row is visible, if none is."""
        marked = self.marked()
        if not marked:
            return
        top = int(self.scroll_y)
        bottom = top + max(1, self.scrollable_content_region.height - 1)
        rows = [self.get_row_index(k) for k in marked]
        if not any(top <= r < bottom for r in rows):
            self.scroll_to(y=max(0, rows[0] - 1), animate=False)

    def _wanted(self, key: str, order: int) -> list[object]:
        cells = self._base[key]
        if key == self._selected:
            glyph = SELECTED_GLYPH
        elif key in self._related:
            glyph = LINKED_GLYPH
        else:
            return [Marker(" ", order), *cells]
        return [Marker(glyph, order), *(_emphasised(c) for c in cells)]

    def _columns(self) -> list[str]:
        return [MARK_COLUMN, *(k for k, _ in self._column_spec)]

    def _restyle_rows(self, wanted: Mapping[str, list[object]]) -> None:
        """Show ``wanted`` (key -> the same texts, marked or not): the cells are
        replaced in place and only these rows' cached renderings are dropped."""
        columns = [ColumnKey(c) for c in self._columns()]
        row_keys: set[RowKey] = set()
        lines: set[int] = set()
        # rows are one line high (add_row's default): a row's line is its index
        # below the header
        header = self.header_height if self.show_header else 0
        for key, cells in wanted.items():
            row_key = RowKey(key)
            data = self._data[row_key]
            for column, cell in zip(columns, cells, strict=False):
                data[column] = cell
            self._shown[key] = cells
            index = self._row_locations.get(row_key)
            if index is not None:
                row_keys.add(row_key)
                lines.add(index + header)
                self._row_renderable_cache.discard((self._update_count, index))
        if not row_keys:
            return
        # LRUCache is not iterable: its keys() are
        rendered_cells = self._cell_render_cache
        for cell_key in [k for k in rendered_cells.keys() if k[0] in row_keys]:  # noqa: SIM118
            rendered_cells.discard(cell_key)
        rendered = self._row_render_cache
        for row_line in [k for k in rendered.keys() if k[0] in row_keys]:  # noqa: SIM118
            rendered.discard(row_line)
        for line_key in [k for k in self._line_cache.keys() if k[0] in lines]:  # noqa: SIM118
            self._line_cache.discard(line_key)
        self.refresh()

    def _update_row(self, key: str, wanted: list[object], columns: list[str]) -> None:
        for column, old, new in zip(columns, self._shown[key], wanted, strict=False):
            if _same(old, new):
                continue
            if isinstance(new, Text) and isinstance(old, Text) and new.plain == old.plain:
                grow = False  # restyled (marked or unmarked): same width
            elif isinstance(new, Text):
                grow = new.cell_len > self.columns[ColumnKey(column)].content_width
            else:
                grow = not isinstance(new, Marker)
            self.update_cell(key, column, new, update_width=grow)
        self._shown[key] = wanted

    def _apply_rows(self) -> None:
        for key in [k for k in self._shown if k not in self._base]:
            self.remove_row(key)
            del self._shown[key]
        columns = self._columns()
        for order, key in enumerate(self._base):
            wanted = self._wanted(key, order)
            if key not in self._shown:
                self.add_row(*wanted, key=key)
                self._shown[key] = wanted
            else:
                self._update_row(key, wanted, columns)
        if [r.key.value for r in self.ordered_rows] != list(self._base):
            self.sort(MARK_COLUMN, key=lambda marker: marker.order)
