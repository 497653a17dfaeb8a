"""A table of model rows on Textual's Line API: rows keyed by model key, link marks.

``sync(rows)`` shows ``rows`` (an ordered mapping of model key to cells); the cursor
stays on the same item and the scroll position is kept. ``mark(related, selected)``
marks rows: a glyph at the left edge (``▶`` the selected item, ``●`` a linked one)
and the row in the style of a component class (bold in the app's stylesheet), so the
marks read without colour.

Only the visible lines are drawn (``render_line``). Each row is drawn once into a
strip of the table's whole width and kept until its cells, its mark or the column
widths change; a new mark drops the strips of the rows whose mark changed and
nothing else, so marking costs the same in a table of 20 rows as of 5,000.

Column widths are measured at ``sync``: the widest cell or label of each column,
at most the column's cap (``caps``); a longer cell ends in a visible ``…``. The
header stays at the top, the glyph column at the left; the rest scrolls both ways.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from netexplorer.ui.pane_rows import same_cells
from netexplorer.ui.safe_text import shortened

SELECTED_GLYPH = "▶"
LINKED_GLYPH = "●"
#: the glyph column: the glyph and a space
GLYPH_WIDTH = 2
#: cells between two columns
GAP = 1

Columns = Sequence[tuple[str, str]]


def fitted(cell: Text, width: int) -> Text:
    """``cell`` exactly ``width`` cells wide: padded as it is justified, or cut with
    a visible ``…`` at its end."""
    length = cell.cell_len
    if length > width:
        return shortened(cell, width)
    if length == width:
        return cell
    pad = " " * (width - length)
    out = cell.copy()
    if cell.justify == "right":
        return Text(pad, end="").append_text(out)
    out.append(pad)
    return out


def _widest(widths: list[int], rows: Sequence[tuple[int, ...]]) -> list[int]:
    """``widths`` widened to each row's cell widths (a row's cells past the last
    column do not count)."""
    columns = list(zip(*rows, strict=False))
    if len(columns) >= len(widths):
        # every row has a cell in every column: one max per column
        return [max(w, *c) for w, c in zip(widths, columns, strict=False)]
    for row in rows:
        widths = [max(w, c) for w, c in zip(widths, row, strict=False)]
    return widths


class RowMessage(Message):
    """About the row ``key`` of ``table``."""

    def __init__(self, table: KeyedTable, key: str) -> None:
        super().__init__()
        self.table = table
        self.key = key

    @property
    def control(self) -> KeyedTable:
        return self.table


class KeyedTable(ScrollView, can_focus=True):
    """Rows keyed by model key; see the module docstring."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "keyed-table--header",
        "keyed-table--cursor",
        "keyed-table--linked",
        "keyed-table--selected",
        "keyed-table--glyph",
    }

    # the tooltip is the line ``?`` shows for the key
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "up", "cursor_up", show=False, tooltip="move up: the row under the cursor is selected"
        ),
        Binding("down", "cursor_down", show=False, tooltip="move down"),
        Binding("pageup", "cursor_page(-1)", show=False, tooltip="a page up"),
        Binding("pagedown", "cursor_page(1)", show=False, tooltip="a page down"),
        Binding("home", "cursor_home", show=False, tooltip="the first row"),
        Binding("end", "cursor_end", show=False, tooltip="the last row"),
        Binding("left", "cursor_left", show=False, tooltip="scroll the pane a column left"),
        Binding("right", "cursor_right", show=False, tooltip="scroll the pane a column right"),
        Binding("enter", "select_cursor", show=False, tooltip="choose the row"),
    ]

    class RowHighlighted(RowMessage):
        """The cursor moved onto the row ``key``."""

    class RowSelected(RowMessage):
        """The row ``key`` was chosen: clicked, or Enter on it."""

    def __init__(
        self,
        columns: Columns,
        caps: Mapping[str, int] | None = None,
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._columns: list[tuple[str, str]] = list(columns)
        self._caps: dict[str, int] = dict(caps or {})
        self._rows: dict[str, Sequence[Text]] = {}
        self._keys: list[str] = []
        self._index: dict[str, int] = {}
        #: row key -> the cell widths of its row
        self._cell_widths: dict[str, tuple[int, ...]] = {}
        self._widths: list[int] = []
        #: each column's widest cell or label, before the caps
        self._natural: list[int] = []
        #: row key -> its row drawn (not under the cursor), the table's whole width
        self._strips: dict[str, Strip] = {}
        self._header: Strip | None = None
        #: the widget's own style (its background and colour), once per style change
        self._plain_style: Style | None = None
        self._related: frozenset[str] = frozenset()
        self._selected: str | None = None
        self._cursor = 0
        #: the row the cursor was last known on; a highlight of another row is a move
        self.last_key: str | None = None
        self._measure()

    # ------------------------------------------------------------------ columns
    @property
    def columns(self) -> list[tuple[str, str]]:
        """(key, label) of the columns shown, in order."""
        return list(self._columns)

    def set_columns(self, columns: Columns, caps: Mapping[str, int] | None = None) -> None:
        """Show ``columns`` (at most ``caps`` cells wide) from now on; the next ``sync``
        fills them."""
        self._columns = list(columns)
        self._caps = dict(caps or {})
        self._rows, self._cell_widths = {}, {}
        self._header = None
        self._measure()
        self.refresh()

    def relabel(self, key: str, label: str) -> None:
        """Give column ``key`` the header ``label``."""
        if (key, label) in self._columns:
            return
        self._columns = [(k, label if k == key else old) for k, old in self._columns]
        self._header = None
        self._measure()
        self.refresh()

    # ------------------------------------------------------------------ queries
    @property
    def keys(self) -> list[str]:
        """Row keys in display order."""
        return self._keys

    @property
    def rows_by_key(self) -> Mapping[str, Sequence[Text]]:
        """Row key -> cells, in display order; a new mapping after every ``sync``."""
        return self._rows

    def cells(self, key: str) -> Sequence[Text]:
        return self._rows.get(key, [])

    def get_row_index(self, key: str) -> int:
        return self._index[key]

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def cursor_key(self) -> str | None:
        return self._keys[self._cursor] if self._keys else None

    def marked(self) -> list[str]:
        """Keys of the marked rows, in display order."""
        index = self._index
        return sorted((k for k in self._related if k in index), key=index.__getitem__)

    # ------------------------------------------------------------------ updates
    def sync(self, rows: Mapping[str, Sequence[Text]]) -> None:
        """Show exactly ``rows`` (in their order); only rows whose cells differ are
        drawn again: when the rows' order and the column widths stay, only their
        lines are repainted."""
        cursor, at = self.cursor_key, self._cursor
        before, widths, strips = self._rows, self._cell_widths, self._strips
        self._rows = dict(rows)
        changed: list[str] = []
        # the widths of the rows that came or changed; a row that held a column's
        # width and went or got narrower there: every row is measured again
        grown: list[tuple[int, ...]] = []
        narrower = False
        natural = self._natural
        for key in before.keys() - self._rows.keys():
            strips.pop(key, None)
            old_widths = widths.pop(key, None)
            if old_widths is not None:
                narrower = narrower or any(map(int.__eq__, old_widths, natural))
        for key, cells in self._rows.items():
            old = before.get(key)
            if old is cells:
                continue
            if old is None or not same_cells(old, cells):
                strips.pop(key, None)
                new_widths = tuple(c.cell_len for c in cells)
                old_widths = widths.get(key)
                widths[key] = new_widths
                grown.append(new_widths)
                changed.append(key)
                if old_widths is not None and not narrower:
                    narrower = any(
                        o == n and w < o
                        for o, w, n in zip(old_widths, new_widths, natural, strict=False)
                    )
            else:
                self._rows[key] = old
        keys = list(self._rows)
        moved = keys != self._keys
        if moved:
            self._keys = keys
            self._index = {key: n for n, key in enumerate(keys)}
        if not narrower:
            natural = _widest(natural, grown)
        if self._measure(None if narrower else natural) or moved:
            self.refresh()
        else:
            top, height = self._visible_rows()
            for key in changed:
                row = self._index[key]
                if top <= row < top + height:
                    self.refresh_line(row + 1)
        if cursor is not None and cursor in self._index:
            # the cursor's row stays where it was on the screen: rows that came or
            # went above it scroll the table along
            self._cursor = self._index[cursor]
            if self._cursor != at and self.scroll_y:
                self.scroll_to(y=self.scroll_y + self._cursor - at, animate=False)
        else:
            self._cursor = min(self._cursor, max(0, len(keys) - 1))

    def _measure(self, natural: list[int] | None = None) -> bool:
        """Column widths (``natural``: each column's widest cell or label, measured
        here when not given; then capped) and the virtual size; every strip (and the
        header) goes when the widths change. True if the widths or the virtual size
        changed: every line is to be drawn again then."""
        if natural is None:
            labels = [Text(label).cell_len for _, label in self._columns]
            natural = _widest(labels, list(self._cell_widths.values()))
        self._natural = natural
        caps = [self._caps.get(key) for key, _ in self._columns]
        widths = [min(w, cap) if cap else w for w, cap in zip(natural, caps, strict=True)]
        changed = widths != self._widths
        if changed:
            self._widths = widths
            self._strips = {}
            self._header = None
        total = GLYPH_WIDTH + sum(widths) + GAP * max(0, len(widths) - 1)
        size = Size(total, len(self._rows) + 1)
        if size != self.virtual_size:
            self.virtual_size = size
            changed = True
        return changed

    def mark(self, related: frozenset[str], selected: str | None) -> None:
        changed = (self._related ^ related) | {self._selected, selected}
        self._related = related
        self._selected = selected
        top, height = self._visible_rows()
        for key in changed:
            if key is None:
                continue
            self._strips.pop(key, None)
            row = self._index.get(key)
            if row is not None and top <= row < top + height:
                self.refresh_line(row + 1)

    def move_to(self, key: str, *, scroll: bool = True) -> None:
        """Put the cursor on ``key``: a move by the program, so not a user's selection."""
        if key not in self._index:
            return
        self.last_key = key
        self._move(self._index[key], scroll=scroll)

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
        top, height = self._visible_rows()
        rows = [self._index[k] for k in marked]
        if not any(top <= r < top + height for r in rows):
            self.scroll_to(y=max(0, rows[0] - 1), animate=False)

    # ------------------------------------------------------------------ the cursor
    def _visible_rows(self) -> tuple[int, int]:
        """The first row on screen and how many rows fit under the header."""
        return int(self.scroll_y), max(1, self.scrollable_content_region.height - 1)

    def _move(self, row: int, *, scroll: bool = True) -> None:
        if not self._keys:
            return
        row = max(0, min(row, len(self._keys) - 1))
        if row != self._cursor:
            self.refresh_line(self._cursor + 1)
            self._cursor = row
            self.refresh_line(row + 1)
        if scroll:
            top, height = self._visible_rows()
            if row < top:
                self.scroll_to(y=row, animate=False)
            elif row >= top + height:
                self.scroll_to(y=row - height + 1, animate=False)
        self.post_message(self.RowHighlighted(self, self._keys[row]))

    def action_cursor_up(self) -> None:
        self._move(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._move(self._cursor + 1)

    def action_cursor_page(self, pages: int) -> None:
        self._move(self._cursor + pages * self._visible_rows()[1])

    def action_cursor_home(self) -> None:
        self._move(0)

    def action_cursor_end(self) -> None:
        self._move(len(self._keys) - 1)

    def _column_starts(self) -> list[int]:
        starts, x = [], 0
        for width in self._widths:
            starts.append(x)
            x += width + GAP
        return starts

    def action_cursor_left(self) -> None:
        """Scroll so that the column before the first one shown starts the view."""
        before = [x for x in self._column_starts() if x < int(self.scroll_x)]
        self.scroll_to(x=before[-1] if before else 0, animate=False)

    def action_cursor_right(self) -> None:
        after = [x for x in self._column_starts() if x > int(self.scroll_x)]
        if after:
            self.scroll_to(x=after[0], animate=False)

    def action_select_cursor(self) -> None:
        if self._keys:
            self.post_message(self.RowSelected(self, self._keys[self._cursor]))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        row = int(self.scroll_y) + offset.y - 1
        if 0 <= row < len(self._keys):
            self._move(row, scroll=False)
            self.post_message(self.RowSelected(self, self._keys[row]))

    def on_focus(self) -> None:
        self.refresh_line(self._cursor + 1)

    def on_blur(self) -> None:
        self.refresh_line(self._cursor + 1)

    def notify_style_update(self) -> None:
        """A theme or a pseudo-class (focus) changed: every line is drawn again."""
        super().notify_style_update()
        self._strips = {}
        self._header = None
        self._plain_style = None

    @property
    def plain_style(self) -> Style:
        """The widget's style (``rich_style`` walks every ancestor: kept)."""
        if self._plain_style is None:
            self._plain_style = self.rich_style
        return self._plain_style

    # ------------------------------------------------------------------ drawing
    def _line(self, cells: Sequence[Text], style: Style, glyph: str, glyph_style: Style) -> Strip:
        """One row (or the header) across the table's whole width."""
        console = self.app.console
        segments = [Segment(glyph, glyph_style), Segment(" " * (GLYPH_WIDTH - len(glyph)))]
        gap = Segment(" " * GAP)
        for n, (cell, width) in enumerate(zip(cells, self._widths, strict=False)):
            if n:
                segments.append(gap)
            segments.extend(fitted(cell, width).render(console))
        strip = Strip(segments).apply_style(style)
        return strip.extend_cell_length(self.virtual_size.width, style)

    def _row_line(self, row: int) -> Strip:
        key = self._keys[row]
        under_cursor = row == self._cursor
        strip = None if under_cursor else self._strips.get(key)
        if strip is not None:
            return strip
        names: list[str] = []
        glyph = " "
        if key == self._selected:
            names, glyph = ["keyed-table--selected"], SELECTED_GLYPH
        elif key in self._related:
            names, glyph = ["keyed-table--linked"], LINKED_GLYPH
        if under_cursor:
            names.append("keyed-table--cursor")
        style = self.plain_style
        for name in names:
            style += self.get_component_rich_style(name, partial=True)
        glyph_style = style
        if glyph != " ":
            glyph_style += self.get_component_rich_style("keyed-table--glyph", partial=True)
        strip = self._line(self._rows[key], style, glyph, glyph_style)
        if not under_cursor:
            self._strips[key] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.plain_style
        if y == 0:
            if self._header is None:
                style = base + self.get_component_rich_style("keyed-table--header", partial=True)
                labels = [Text(label, end="") for _, label in self._columns]
                self._header = self._line(labels, style, " ", style)
            line = self._header
        else:
            row = int(self.scroll_y) + y - 1
            if row >= len(self._keys):
                return Strip.blank(width, base)
            line = self._row_line(row)
        glyphs = line.crop(0, GLYPH_WIDTH)
        x = int(self.scroll_x) + GLYPH_WIDTH
        rest = line.crop_extend(x, x + width - GLYPH_WIDTH, base)
        return Strip.join([glyphs, rest])
