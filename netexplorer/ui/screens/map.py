"""``m``: the map, the tutorial's figure drawn from the read, sharing the app's selection.

The facts and the drawing come from the data layer (:mod:`netexplorer.map`): the
map is built in a worker thread from each snapshot the app gets, drawn once per
change (snapshot, folding), and this screen only styles the drawing's regions.
Moving onto an item selects it in the whole app (``app.select(key, "map")``);
a selection made in the panes shows here; ``app.show_path(keys)`` marks a
path's items here (the path screen's hook).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Region as Box
from textual.geometry import Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Input, Static
from textual.worker import get_current_worker

from netexplorer.analysis import Analysis
from netexplorer.map.layout import Drawing, default_folded, draw, neighbour, search_rows
from netexplorer.map.model import HostMap, build_map
from netexplorer.model import KIND_NAMES
from netexplorer.overlay_peers import FarEnd
from netexplorer.ui.safe_text import plain
from netexplorer.ui.search import Matches, SearchInput, find, no_match, search_row

if TYPE_CHECKING:
    from netexplorer.ui.app import NetExplorerApp

SELECTED = Style(reverse=True, bold=True)
RELATED = Style(bold=True, underline=True)
ON_PATH = Style(italic=True, underline=True, color="magenta")


class MapView(ScrollView, can_focus=True):
    """The drawing, scrolled; a cursor on one of its regions."""

    BINDINGS = [
        Binding("up", "move(-1, 0)", "Move", show=False),
        Binding("down", "move(1, 0)", show=False),
        Binding("left", "move(0, -1)", show=False),
        Binding("right", "move(0, 1)", show=False),
        Binding("enter", "toggle_fold", "Fold/open network"),
    ]

    def __init__(self) -> None:
        super().__init__(id="map-view")
        self.drawing = Drawing((), ())
        self.cursor: int | None = None
        self.related: frozenset[str] = frozenset()
        self.selected: str | None = None
        self.path: frozenset[str] = frozenset()
        #: row -> [(start, end, key)], for styling a line
        self._by_row: dict[int, list[tuple[int, int, str]]] = {}

    # ------------------------------------------------------------------ content
    def show(self, drawing: Drawing) -> None:
        self.drawing = drawing
        self._by_row = {}
        for r in drawing.regions:
            self._by_row.setdefault(r.row, []).append((r.start, r.end, r.key))
        self.virtual_size = Size(drawing.width + 1, len(drawing.lines))
        self.refresh()

    def mark(self, related: frozenset[str], selected: str | None) -> None:
        self.related, self.selected = related, selected
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = y + scroll_y
        width = self.size.width
        if row >= len(self.drawing.lines):
            return Strip.blank(width, self.rich_style)
        line = self.drawing.lines[row]
        cursor = self.drawing.regions[self.cursor] if self.cursor is not None else None
        segments: list[Segment] = []
        at = 0
        for start, end, key in self._by_row.get(row, ()):
            if start < at:
                continue
            style = self._style(
                key, cursor is not None and cursor.row == row and cursor.start == start
            )
            if style is None:
                continue
            segments.append(Segment(line[at:start]))
            segments.append(Segment(line[start:end], style))
            at = end
        segments.append(Segment(line[at:]))
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width).apply_style(self.rich_style)

    def _style(self, key: str, under_cursor: bool) -> Style | None:
        if under_cursor or key == self.selected:
            return SELECTED
        if key in self.path:
            return ON_PATH
        if key in self.related:
            return RELATED
        return None

    # ------------------------------------------------------------------ cursor
    @property
    def cursor_key(self) -> str | None:
        return self.drawing.regions[self.cursor].key if self.cursor is not None else None

    def place(self, key: str | None, keep_row: int | None = None) -> bool:
        """Put the cursor on ``key``'s first region; else near ``keep_row``. True if on key."""
        regions = self.drawing.regions
        found = next((i for i, r in enumerate(regions) if r.key == key), None)
        if found is None and keep_row is not None and regions:
            found = min(range(len(regions)), key=lambda i: abs(regions[i].row - keep_row))
            self._set_cursor(found)
            return False
        if found is None and regions and self.cursor is None:
            found = 0
        if found is not None:
            self._set_cursor(found)
        return found is not None and regions[found].key == key

    def _set_cursor(self, index: int) -> None:
        self.cursor = index
        r = self.drawing.regions[index]
        self.scroll_to_region(Box(r.start, r.row, r.end - r.start, 1), animate=False)
        self.refresh()

    def action_move(self, down: int, right: int) -> None:
        if self.cursor is None:
            if self.drawing.regions:
                self._set_cursor(0)
                self.screen_map.cursor_moved()
            return
        target = neighbour(self.drawing, self.cursor, down, right)
        if target is not None:
            self._set_cursor(target)
            self.screen_map.cursor_moved()

    def action_toggle_fold(self) -> None:
        self.screen_map.toggle_fold(self.cursor_key)

    @property
    def screen_map(self) -> MapScreen:
        screen = self.screen
        assert isinstance(screen, MapScreen)
        return screen


class MapSearch(SearchInput):
    BINDINGS = [Binding("escape", "screen.close_search", "Close search")]

    def __init__(self) -> None:
        super().__init__(placeholder="search the map: a container, veth, bridge…", id="map-search")


class MapScreen(Screen[None]):
    """The map of the app's current snapshot; Esc or m goes back to the panes."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("m", "app.pop_screen", "Back", show=False),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("n", "next_match", "Next match", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="map-screen")
        self.hmap: HostMap | None = None
        self.folded: frozenset[str] = frozenset()
        #: buses folded or opened by hand, kept across snapshots
        self._touched: dict[str, bool] = {}
        self._matches: Matches[str] = Matches()
        #: the buses to open to show an item (a search match, a pane's selection)
        self._opens: dict[str, tuple[str, ...]] = {}
        self.note = ""

    @property
    def nx(self) -> NetExplorerApp:
        from netexplorer.ui.app import NetExplorerApp

        assert isinstance(self.app, NetExplorerApp)
        return self.app

    @property
    def view(self) -> MapView:
        return self.query_one(MapView)

    def compose(self) -> ComposeResult:
        yield Static(id="map-title")
        yield MapView()
        yield Static(id="map-status")
        yield MapSearch()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(MapSearch).display = False
        self.query_one("#map-title", Static).update(
            Text(" map · ↑↓←→ move · Enter fold/open a network · / search · Esc back", end="")
        )
        self.view.focus()
        self.view.path = self.nx.path_keys
        if self.nx.analysis is not None:
            self.show_snapshot(self.nx.analysis)

    # ------------------------------------------------------------------ data
    def show_snapshot(self, result: Analysis) -> None:
        """A new read: build its map in a worker, then draw it here (with several
        hosts, its tunnels going on into the other hosts' reads)."""
        far = self.nx.joined.ends
        self.run_worker(
            lambda: self._build(result, far),
            name="map",
            group="map",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def _build(self, result: Analysis, far: Mapping[str, Sequence[FarEnd]]) -> None:
        hmap = build_map(result.read, result.correlation, far)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._built, hmap)

    def _built(self, hmap: HostMap) -> None:
        first = self.hmap is None
        labels = self.hmap.labels if self.hmap is not None else {}
        self.hmap = hmap
        start = default_folded(hmap)
        keys = {b.key for b in hmap.buses}
        self.folded = frozenset(k for k in keys if self._touched.get(k, k in start))
        self._opens = {key: buses for key, _, buses in search_rows(hmap)}
        if first and self.nx.selected is not None:
            self._open_for(self.nx.selected)
        self.redraw(keep=True, first=first, labels=labels)

    def _open_for(self, key: str) -> bool:
        """Open the folded networks ``key`` is drawn in; True if there were any."""
        closed = [b for b in self._opens.get(key, ()) if b in self.folded]
        for b in closed:
            self._touched[b] = False
        self.folded = self.folded - set(closed)
        return bool(closed)

    def redraw(
        self, keep: bool = False, first: bool = False, labels: dict[str, str] | None = None
    ) -> None:
        """Draw the map again; ``keep``: a new read (``labels``: the previous one's
        names), the cursor stays on its item or, if gone, near its row."""
        if self.hmap is None:
            return
        view = self.view
        old_key = view.cursor_key
        old_row = view.drawing.regions[view.cursor].row if view.cursor is not None else None
        view.show(draw(self.hmap, self.folded))
        view.cursor = None
        want = self.nx.selected if first else old_key
        if want is None or not view.place(want, None if first else old_row):
            if first:
                related = next(
                    (r.key for r in view.drawing.regions if r.key in self.nx.related), None
                )
                view.place(related)
            elif want is not None and keep:
                label = (labels or {}).get(want) or self.hmap.labels.get(want, want)
                self.note = f"{plain(label)} is not on the map any more"
        view.mark(self.nx.related, self.nx.selected)
        self.show_status()

    def mark(self, related: frozenset[str], selected: str | None) -> None:
        """The app's selection changed (here or in a pane)."""
        view = self.view
        shown = selected is None or view.cursor_key == selected or view.place(selected)
        if not shown and selected is not None and self._open_for(selected):
            self.redraw()  # its network was folded: opened to show it
            view.place(selected)
        view.mark(related, selected)
        self.show_status()

    def show_path(self, keys: frozenset[str]) -> None:
        """Mark the items of a path (``app.show_path`` calls it); empty clears it."""
        self.view.path = keys
        self.view.refresh()

    # ------------------------------------------------------------------ keys
    def cursor_moved(self) -> None:
        self.note = ""
        key = self.view.cursor_key
        if key is not None:
            self.nx.select(key, "map")
            self.show_status()

    def toggle_fold(self, key: str | None) -> None:
        if self.hmap is None or key is None or self.hmap.bus(key) is None:
            self.note = "Enter folds or opens a network: move onto its header first"
            self.show_status()
            return
        fold = key not in self.folded
        self._touched[key] = fold
        self.folded = self.folded | {key} if fold else self.folded - {key}
        self.redraw()
        self.view.place(key)

    def action_search(self) -> None:
        self.query_one(MapSearch).open()

    def action_close_search(self) -> None:
        self.query_one(MapSearch).display = False
        self.view.focus()

    @on(Input.Submitted, "#map-search")
    def _search(self, event: Input.Submitted) -> None:
        self.action_close_search()
        if self.hmap is None:
            return
        rows = search_rows(self.hmap)
        candidates = [("map", [search_row(key, texts) for key, texts, _ in rows])]
        self._matches = Matches(
            list(dict.fromkeys(key for _, key in find(event.value, candidates)))
        )
        if not self._matches:
            self.note = no_match(event.value)
            self.show_status()
            return
        self.action_next_match()

    def action_next_match(self) -> None:
        key = self._matches.next()
        if key is None:
            return
        if self._open_for(key):
            self.redraw()
        if self.view.place(key):
            self.nx.select(key, "map")
        self.note = self._matches.note()
        self.show_status()

    def show_status(self) -> None:
        text = Text(end="", no_wrap=True, overflow="ellipsis")
        key = self.nx.selected
        if key is not None:
            kind = KIND_NAMES.get(key.split(":", 1)[0], "item")
            label = self.hmap.labels.get(key, key) if self.hmap else key
            text.append("▶ ", style="bold")
            text.append(f"{kind} {plain(label)}")
            shown = {r.key for r in self.view.drawing.regions}
            linked = len((self.nx.related & shown) - {key})
            if linked:
                text.append(f"  ● {linked} linked on the map", style="bold")
        if self.hmap is not None and self.folded:
            text.append(f"  · {len(self.folded)} networks folded")
        if self.note:
            text.append(f"  {self.note}", style="italic")
        self.query_one("#map-status", Static).update(text)
