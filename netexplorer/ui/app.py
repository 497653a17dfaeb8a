"""The Textual app: panes of one snapshot, cross-linked by ``Links.related``.

Data flows one way. A worker thread runs the snapshot source (the live feed, a
file), analyses each read (``netexplorer.analysis.analyse``: correlation, the
doctor, the cross-link index), makes the table panes' rows from it (``prepare``)
and posts ``SnapshotReady(analysis, rows)``; the app hands them to every pane,
which gives its table only the rows that changed. A cursor move in the
focused pane posts ``Selected(key)``; the app asks ``links.related(key)`` once and
every pane marks those rows.
"""

from __future__ import annotations

import gc
import itertools
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.geometry import Size
from textual.widgets import Footer, Input, Tab, Tabs
from textual.worker import get_current_worker

from netexplorer.analysis import Analyser, Analysis, analyse
from netexplorer.correlate import Links
from netexplorer.doctor import Finding
from netexplorer.model import KIND_NAMES, Rule, Snapshot
from netexplorer.model import Container as DockerContainer
from netexplorer.naming import copy_text
from netexplorer.overlay_peers import HostRead, Joined, join
from netexplorer.remote.target import LOCAL_NAME, Target
from netexplorer.snapshot_io import SnapshotFileError
from netexplorer.ui.banner import Banner, problems, problems_text
from netexplorer.ui.hosts import HostsPane, HostView
from netexplorer.ui.keyed_table import KeyedTable
from netexplorer.ui.layout import fit_columns, fit_heights, is_full, is_wide
from netexplorer.ui.messages import CollectFailed, HostState, PaneFocused, Selected, SnapshotReady
from netexplorer.ui.pane_rows import PaneRows
from netexplorer.ui.panes.base import KeyedTableWithJump, Pane, TablePane
from netexplorer.ui.panes.bridges import BridgesPane
from netexplorer.ui.panes.containers import ContainersPane
from netexplorer.ui.panes.details import DetailsPane
from netexplorer.ui.panes.interfaces import InterfacesPane
from netexplorer.ui.panes.rules import RulesPane
from netexplorer.ui.quiet_static import QuietStatic
from netexplorer.ui.safe_text import plain
from netexplorer.ui.screens.doctor import DoctorScreen
from netexplorer.ui.screens.help import HelpScreen, TextScreen
from netexplorer.ui.search import Matches, SearchBar, find, no_match
from netexplorer.ui.sources import (
    NamedSource,
    SnapshotSource,
    live_source,
    pick_source,
    remote_source,
)

if TYPE_CHECKING:
    # the feeds and the map are imported when first used (a file needs no feed)
    from netexplorer.live.feed import FirstParts, LiveFeed
    from netexplorer.remote.feed import RemoteFeed
    from netexplorer.ui.screens.map import MapScreen


class PaneTabs(Tabs, can_focus=False):
    """Tabs naming the panes; shown in the narrow layout only."""


class NetExplorerApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "netexplorer"
    #: ctrl+p: the command palette, with Textual's themes (and keys, screenshots)
    ENABLE_COMMAND_PALETTE = True

    # the tooltip is the line ``?`` shows for the key
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="quit"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this help"),
        # priority: handled by the app as the key arrives, before the keys behind
        # it are forwarded, so that a burst like "/test1<Enter>" lands in the bar
        Binding(
            "slash",
            "search",
            "Search",
            key_display="/",
            priority=True,
            tooltip="search: type a name, Enter selects the first match across panes",
        ),
        Binding(
            "g", "jump", "Jump linked", tooltip="jump to the next item linked to the selection"
        ),
        Binding("b", "back_to_selected", "Back", show=False, tooltip="back to the selected item"),
        Binding("n", "next_match", "Next match", show=False, tooltip="next match of the search"),
        Binding("z", "zoom", "Zoom", tooltip="zoom the focused pane to the whole screen, and back"),
        Binding(
            "y",
            "copy",
            "Copy",
            tooltip="copy the item under the cursor (container id, address, interface "
            "name, rule text) to the clipboard, over SSH and tmux too (OSC 52)",
        ),
        Binding("t", "cycle_table", "Table", tooltip="rules pane: next table (nat, filter, ...)"),
        Binding(
            "f",
            "toggle_rule_text",
            "Rule text",
            show=False,
            tooltip="rules pane: each rule's full text (iptables-save or nft) or its summary",
        ),
        Binding("r", "refresh", "Refresh", tooltip="read the host again (or re-read the file)"),
        Binding("w", "problems", "Warnings", show=False, tooltip="all warnings and errors"),
        Binding(
            "d",
            "doctor",
            "Doctor",
            show=False,
            tooltip="doctor: what breaks container networking; Enter marks a finding's evidence",
        ),
        Binding(
            "tab",
            "cycle_pane(1)",
            "Next pane",
            show=False,
            priority=True,
            tooltip="next pane",
        ),
        Binding(
            "shift+tab",
            "cycle_pane(-1)",
            "Previous pane",
            show=False,
            priority=True,
            tooltip="previous pane",
        ),
        Binding(
            "1",
            "focus_pane('containers')",
            "Panes",
            key_display="1-5",
            tooltip="focus Containers",
        ),
        Binding("2", "focus_pane('interfaces')", show=False, tooltip="focus Host interfaces"),
        Binding("3", "focus_pane('bridges')", show=False, tooltip="focus Bridge ports"),
        Binding("4", "focus_pane('rules')", show=False, tooltip="focus Rules"),
        Binding("5", "focus_pane('details')", show=False, tooltip="focus Details"),
        Binding("0", "focus_hosts", show=False, tooltip="several hosts: focus the hosts pane"),
        Binding(
            "left_square_bracket",
            "switch_host(-1)",
            show=False,
            key_display="[",
            tooltip="several hosts: the previous host (each keeps its selection)",
        ),
        Binding(
            "right_square_bracket",
            "switch_host(1)",
            show=False,
            key_display="]",
            tooltip="several hosts: the next host",
        ),
        Binding(
            "m",
            "map",
            "Map",
            show=False,
            tooltip="map: networks, veths and NAT drawn; arrows move, Enter folds a "
            "network, Esc back",
        ),
        Binding(
            "p",
            "path",
            "Path",
            show=False,
            tooltip="path: a packet from the selected container to a destination you name, "
            "hop by hop; each hop selects what it crosses",
        ),
    ]

    def __init__(
        self,
        source: NamedSource,
        interval: float = 2.0,
        clock: Callable[[], float] = time.time,
        first_read: Callable[[], FirstParts | None] | None = None,
        hosts: Sequence[NamedSource] = (),
    ) -> None:
        super().__init__()
        #: every host explored (one unless several remote hosts were given) and the
        #: one shown; ``source``, ``feed``, ``analysis``, ``selected`` … are the shown
        #: host's, the others' wait in their HostView
        self.views = [HostView(s) for s in hosts] or [HostView(source)]
        self.current = 0
        self.source = self.views[0].source
        self.feeds: list[LiveFeed | RemoteFeed | None] = [None] * len(self.views)
        #: live source: the first read, made while the app started (collect.first_read)
        self.first_read = first_read
        #: live source: how often firewall rules, counters and conntrack are polled
        self.interval = interval
        #: wall clock for the age of stale data (tests inject one)
        self.clock = clock
        #: the live feed, while the live source runs (None for files and callables)
        self.feed: LiveFeed | RemoteFeed | None = None
        #: the current read and what was derived from it
        self.analysis: Analysis | None = None
        self.snapshot: Snapshot | None = None
        self.links: Links | None = None
        self.failure: str | None = None
        self.selected: str | None = None
        #: the doctor's findings on the current snapshot (linked as doc:<id>)
        self.findings: list[Finding] = []
        self.selected_pane: str | None = None
        self.related: frozenset[str] = frozenset()
        #: the items of the path last traced (marked on the map; see show_path)
        self.path_keys: frozenset[str] = frozenset()
        self.active_pane = "containers"
        self._grid_rows = ""
        self._grid_columns = ""
        #: ``z``: the focused pane alone on the screen
        self.zoomed = False
        self._jumps: list[tuple[str, str]] = []
        self._jump_at = -1
        self._matches: Matches[tuple[str, str]] = Matches()
        self.table_panes: list[TablePane] = [
            ContainersPane(),
            InterfacesPane(),
            BridgesPane(),
            RulesPane(),
        ]
        self.details = DetailsPane()
        #: several hosts: the shown host's read joined to the others' (its tunnels'
        #: far ends); ``analysis`` and ``links`` hold its links
        self.joined = Joined()
        #: host -> the newest read posted and not yet shown (see ``post_ready``)
        self._pending: dict[int, SnapshotReady] = {}
        self._pending_lock = threading.Lock()

    # ------------------------------------------------------------------ layout
    @property
    def panes(self) -> list[Pane]:
        return [*self.table_panes, self.details]

    def pane(self, pane_id: str) -> Pane:
        return next(p for p in self.panes if p.pane_id == pane_id)

    def compose(self) -> ComposeResult:
        yield QuietStatic(id="topbar")
        yield Banner(id="banner")
        yield HostsPane()
        with Vertical(id="body"):
            tabs = [Tab(f"{p.number} {p.short}", id=f"tab-{p.pane_id}") for p in self.panes]
            yield PaneTabs(*tabs, id="tabs")
            with Container(id="panes"):
                yield from self.panes
        yield QuietStatic(id="status")
        yield SearchBar()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Banner).display = False
        self.query_one(SearchBar).display = False
        hosts = self.query_one(HostsPane)
        hosts.display = len(self.views) > 1
        self.call_after_refresh(hosts.show_hosts, self.views, self.current)
        self._apply_layout()
        self._show_topbar(collecting=True)
        self.table_panes[0].focus_pane()
        if self.source.live:
            self._start_live()
        else:
            self.action_refresh()

    def on_unmount(self) -> None:
        for feed in self.feeds:
            if feed is not None:
                feed.stop()

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size)

    def _apply_layout(self, size: Size | None = None) -> None:
        """All panes at once when the terminal is large enough, else one with tabs;
        the zoomed pane alone. Every column from 200x60, and in a zoomed pane."""
        width, height = size or self.size
        wide = is_wide(width, height) and not self.zoomed
        body = self.query_one("#body")
        body.set_class(wide, "-wide")
        body.set_class(not wide, "-narrow")
        body.set_class(self.zoomed, "-zoom")
        full = is_full(width, height)
        body.set_class(wide and full, "-full")
        self._arrange(wide and full)
        for p in self.table_panes:
            zoomed = self.zoomed and p.pane_id == self.active_pane
            p.set_full(full or zoomed, whole=zoomed)
        self._show_active_pane()
        self.call_after_refresh(self._fit_rows)

    #: the wide layout's rows of panes, left to right: usual, and from 200x60
    ROWS = (("containers", "interfaces"), ("bridges", "rules"))
    FULL_ROWS = (("containers", "rules"), ("interfaces", "bridges"))

    def _rows_of_panes(self) -> tuple[tuple[str, str], tuple[str, str]]:
        return self.FULL_ROWS if self.query_one("#body").has_class("-full") else self.ROWS

    def _arrange(self, full: bool) -> None:
        """Put the panes in the grid's order of the layout (``ROWS`` or ``FULL_ROWS``);
        from 200x60 the columns are fitted to content (``_fit_columns``), else the
        stylesheet's columns and spans apply."""
        panes = self.query_one("#panes")
        order = [pid for row in (self.FULL_ROWS if full else self.ROWS) for pid in row]
        for before, after in itertools.pairwise(order):
            panes.move_child(self.pane(after), after=self.pane(before))
        if not full:
            self._grid_columns = ""
            panes.styles.clear_rule("grid_columns")
            for pid in order:
                self.pane(pid).styles.clear_rule("column_span")

    def _fit_columns(self) -> None:
        """From 200x60: each row split where its panes' content needs (layout.fit_columns)."""
        panes = self.query_one("#panes")
        if not self.query_one("#body").has_class("-full") or not panes.size.width:
            return

        def need(pid: str) -> int:
            pane = next(p for p in self.table_panes if p.pane_id == pid)
            region = pane.table.scrollable_content_region.width
            chrome = pane.outer_size.width - region if region else 4
            return pane.table.virtual_size.width + chrome

        (tl, tr), (bl, br) = self.FULL_ROWS
        columns, top_left_wide = fit_columns(
            panes.size.width, (need(tl), need(tr)), (need(bl), need(br))
        )
        spans = {tl: 2, tr: 1, bl: 1, br: 2} if top_left_wide else {tl: 1, tr: 2, bl: 2, br: 1}
        for pid, span in spans.items():
            if self.pane(pid).styles.column_span != span:
                self.pane(pid).styles.column_span = span
        if columns != self._grid_columns:
            self._grid_columns = columns
            panes.styles.grid_columns = columns

    def _fit_rows(self) -> None:
        """Wide layout: each row of panes as tall as its longest pane needs (bounded)."""
        panes = self.query_one("#panes")
        if not self.query_one("#body").has_class("-wide") or not panes.size.height:
            return
        self._fit_columns()
        ids = {p.pane_id: len(p.table.keys) for p in self.table_panes}
        (tl, tr), (bl, br) = self._rows_of_panes()
        top, bottom = max(ids[tl], ids[tr]), max(ids[bl], ids[br])
        heights = fit_heights(panes.size.height, top, bottom)
        wanted = " ".join(str(h) for h in heights)
        if wanted != self._grid_rows:
            self._grid_rows = wanted
            panes.styles.grid_rows = wanted
            for p in self.table_panes:
                self.call_after_refresh(p.table.reveal_marks)

    def action_zoom(self) -> None:
        """``z``: the focused pane alone on the screen, with every column; again: back."""
        if len(self.screen_stack) > 1:
            return
        self.zoomed = not self.zoomed
        self._grid_rows = ""
        self._apply_layout()
        self.call_after_refresh(self.pane(self.active_pane).focus_pane)

    def _show_active_pane(self) -> None:
        if self.zoomed:
            for table_pane in self.table_panes:
                zoomed = table_pane.pane_id == self.active_pane
                table_pane.set_full(zoomed or is_full(*self.size), whole=zoomed)
        for p in self.panes:
            p.set_class(p.pane_id == self.active_pane, "-active")
        self.query_one(PaneTabs).active = f"tab-{self.active_pane}"
        active = self.pane(self.active_pane)
        if isinstance(active, TablePane):
            # a pane hidden (narrow layout) when the marks were set could not scroll
            # to them then: do it once it has a size
            self.call_after_refresh(active.table.reveal_marks)

    # ------------------------------------------------------------------ data
    def action_refresh(self) -> None:
        self._show_topbar(collecting=True)
        if self.feed is not None:
            self.feed.notify("refresh (r)")
            return
        self.run_worker(
            self._produce,
            name="collect",
            group="collect",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def _produce(self) -> None:
        """Worker thread: run the source, analyse, post the result. Never raises."""
        try:
            result = analyse(self.source.produce())
            rows = self.prepare(result)
        except SnapshotFileError as exc:
            self.post_message(CollectFailed(f"{exc}. Fix the file, then press r."))
        except Exception as exc:
            self.post_message(
                CollectFailed(
                    f"collecting failed: {type(exc).__name__}: {exc}. This is a bug in "
                    "netexplorer; press r to try again, and run 'netexplorer snapshot "
                    "--json' to see the traceback."
                )
            )
        else:
            self.post_ready(SnapshotReady(result, rows=rows))

    def post_ready(self, message: SnapshotReady) -> None:
        """Any thread: hand a new read to the UI. Reads that come faster than the UI
        shows them are not queued: the one not yet shown is replaced by the newer
        (``_latest``), so at most one waits and the UI never shows a superseded read."""
        with self._pending_lock:
            queued = message.host in self._pending
            self._pending[message.host] = message
        if not queued:
            self.post_message(message)

    def _latest(self, message: SnapshotReady) -> SnapshotReady:
        """The newest read of ``message``'s host (``message``, or one posted after it)."""
        with self._pending_lock:
            return self._pending.pop(message.host, message)

    def prepare(self, result: Analysis) -> dict[str, PaneRows]:
        """Worker thread: every table pane's rows for ``result`` (``TablePane.prepare``)."""
        return {p.pane_id: p.prepare(result) for p in self.table_panes}

    def _start_live(self) -> None:
        """Live sources: a feed per host (the local LiveFeed, or a RemoteFeed over ssh)
        in a worker thread posts each analysed read. All hosts connect at once."""
        for n, view in enumerate(self.views):
            self.feeds[n] = self._make_feed(n, view.source)
            self.run_worker(
                partial(self._run_live, n),
                name=f"live-{n}",
                group=f"live-{n}",
                thread=True,
                exit_on_error=False,
            )
        self.feed = self.feeds[self.current]
        self.set_interval(1.0, self._age_stale)

    def _make_feed(self, host: int, source: NamedSource) -> LiveFeed | RemoteFeed:
        from netexplorer.live.feed import LiveFeed
        from netexplorer.remote.feed import RemoteFeed

        if source.target is None:
            return LiveFeed(interval=self.interval, first=self.first_read)

        def on_state(state: str, detail: str) -> None:
            self.post_message(HostState(host, state, detail))

        return RemoteFeed(source.target, self.interval, source.sudo, on_state=on_state)

    def _run_live(self, host: int = 0) -> None:
        """Worker thread: run the feed until the app ends. Never raises."""
        feed, worker = self.feeds[host], get_current_worker()
        assert feed is not None
        analyser = Analyser()

        def emit(snapshot: Snapshot, reasons: list[str]) -> None:
            result = analyser(snapshot)
            self.post_ready(SnapshotReady(result, host, self.prepare(result)))

        try:
            feed.run(emit, lambda: worker.is_cancelled)
        except Exception as exc:
            self.post_message(
                CollectFailed(
                    f"the live view stopped: {type(exc).__name__}: {exc}. This is a bug in "
                    "netexplorer; restart it, or use 'netexplorer snapshot --json'.",
                    host,
                )
            )

    def _age_stale(self) -> None:
        """Once a second: a stale source's age grows on the banner."""
        if self.snapshot is not None and any(s.stale for s in self.snapshot.sources):
            self.query_one(Banner).show_problems(self.snapshot, self.failure, self.clock())

    @on(SnapshotReady)
    def _snapshot_ready(self, message: SnapshotReady) -> None:
        message = self._latest(message)
        view = self.views[message.host]
        view.analysis, view.failure = message.analysis, None
        if message.host != self.current:
            if self._join_hosts():
                self._rejoined()
            return
        gone = self._selected_row()
        self._join_hosts()
        result = self.analysis
        assert result is not None
        self.snapshot, self.failure = result.read, None
        self.findings = list(result.findings)
        rows = message.rows or {}
        for p in self.table_panes:
            p.show_snapshot(result, rows.get(p.pane_id))
        self.call_after_refresh(self._fit_rows)
        self.call_after_refresh(self.start_up_over)
        if self.feed is not None:  # it waits for its first read to be on screen
            self.call_after_refresh(self.feed.shown)
        if (shown := self.map_screen()) is not None:
            shown.show_snapshot(result)
        self.query_one(Banner).show_problems(self.snapshot, None, self.clock())
        self._show_topbar()
        if gone is not None and self._reselect(*gone):
            return
        if self.selected is None:
            focused = self._focused_table_pane()
            key = focused.table.cursor_key if focused else None
            if focused is not None and key is not None:
                self.select(key, focused.pane_id)
                return
        if self.selected is not None:
            self._apply_marks()
        self.details.show_item(self.details.key, self.analysis)

    def _selected_row(self) -> tuple[TablePane, int, str] | None:
        """The selection's pane, row and label, to find a place for it if it goes."""
        ids = {p.pane_id for p in self.table_panes}
        pane = self.pane(self.selected_pane) if self.selected_pane in ids else None
        if self.selected is None or not isinstance(pane, TablePane):
            return None
        keys = pane.table.keys
        if self.selected not in keys:
            return None
        label = self.links.labels.get(self.selected, self.selected) if self.links else ""
        return pane, keys.index(self.selected), label

    def _reselect(self, pane: TablePane, row: int, label: str) -> bool:
        """The selected item vanished: select the row now at its place, say it is gone."""
        keys = pane.table.keys
        if self.selected in keys:
            return False
        note = f"{plain(label)} is gone (removed at refresh)"
        if not keys:
            self.selected = None
            self.details.show_item(None, self.analysis, note)
            return True
        key = keys[min(row, len(keys) - 1)]
        pane.table.move_to(key, scroll=False)
        self.select(key, pane.pane_id)
        self.details.show_item(key, self.analysis, note)
        self._show_status(note)
        return True

    @staticmethod
    def start_up_over() -> None:
        """A first read is on screen (or failed): if start-up turned the cycle
        collector off (``cli.cmd_app``), what exists now (the read, its analysis,
        the screen) is frozen out of its sight (``gc.freeze``: it lives on, and full
        passes over it would otherwise stall later keypresses) and it is on again."""
        if not gc.isenabled():
            gc.freeze()
            gc.enable()

    @on(CollectFailed)
    def _collect_failed(self, message: CollectFailed) -> None:
        self.start_up_over()
        self.views[message.host].failure = message.reason
        if message.host != self.current:
            return
        self.failure = message.reason
        self.query_one(Banner).show_problems(self.snapshot, self.failure, self.clock())
        self._show_topbar()

    @on(HostState)
    def _host_state(self, message: HostState) -> None:
        view = self.views[message.host]
        view.state, view.detail = message.state, message.detail
        if len(self.views) > 1:
            self.query_one(HostsPane).show_hosts(self.views, self.current)

    # ------------------------------------------------------------------ hosts
    def other_reads(self) -> list[HostRead]:
        """The latest read of every host but the shown one (those read so far)."""
        return [
            HostRead(v.source.name, v.analysis.read, v.analysis.correlation)
            for n, v in enumerate(self.views)
            if n != self.current and v.analysis is not None
        ]

    def _join_hosts(self) -> bool:
        """The shown host's read joined to the other hosts' (overlay_peers.join): its
        tunnels' far ends for the details and the map, and ``analysis``/``links``
        with the far items linked in, so one selection reaches across. True when the
        far ends changed."""
        view = self.views[self.current]
        base = view.analysis
        others = self.other_reads() if base is not None else []
        joined = Joined()
        if base is not None and others:
            joined = join(HostRead(view.source.name, base.read, base.correlation), others)
        changed = joined.ends != self.joined.ends
        self.joined = joined
        self.analysis = base
        if base is not None and joined.pairs:
            self.analysis = replace(base, links=joined.links(base.links))
        self.links = self.analysis.links if self.analysis is not None else None
        self.details.far = joined.ends
        return changed

    def _rejoined(self) -> None:
        """Another host's read changed where the shown host's tunnels lead: marks, map
        and details again."""
        if self.selected is not None:
            self._apply_marks()
        if (shown := self.map_screen()) is not None and self.analysis is not None:
            shown.show_snapshot(self.analysis)
        self.details.show_item(self.details.key, self.analysis)

    def action_focus_hosts(self) -> None:
        if len(self.views) > 1:
            self.query_one(HostsPane).focus()

    def action_switch_host(self, step: int) -> None:
        if len(self.views) > 1 and len(self.screen_stack) == 1:
            self.switch_host((self.current + step) % len(self.views))

    @on(HostsPane.RowSelected, "#hosts")
    def _host_chosen(self, event: HostsPane.RowSelected) -> None:
        self.switch_host(int(str(event.row_key.value)))

    def switch_host(self, host: int) -> None:
        """Show host ``host``; the host left keeps its selection for when it comes back."""
        if host == self.current:
            return
        left = self.views[self.current]
        left.selected, left.selected_pane = self.selected, self.selected_pane
        self.current = host
        view = self.views[host]
        self.source, self.feed, self.failure = view.source, self.feeds[host], view.failure
        self.selected = self.selected_pane = None
        self._jumps, self._matches = [], Matches()
        self._join_hosts()
        result = self.analysis if self.analysis is not None else analyse(Snapshot())
        self.snapshot = self.analysis.read if self.analysis is not None else None
        self.findings = list(result.findings)
        # the tables' own cursor moves while they refill are not the user's selection:
        # no table has the focus meanwhile (only a focused table posts Selected)
        focused = self.focused
        self.screen.set_focus(None)
        for p in self.table_panes:
            p.show_snapshot(result)
        self.call_after_refresh(self._fit_rows)
        self.query_one(Banner).show_problems(self.snapshot, self.failure, self.clock())
        self.query_one(HostsPane).show_hosts(self.views, self.current)
        self._show_topbar()
        pane = self.pane(view.selected_pane) if view.selected_pane else None
        if isinstance(pane, TablePane) and view.selected in pane.table.keys:
            assert view.selected is not None
            pane.table.move_to(view.selected)
            self.select(view.selected, pane.pane_id)
        else:
            self.details.show_item(None, self.analysis)
            self._show_status()
        if focused is not None:
            self.call_after_refresh(focused.focus)

    def _show_topbar(self, collecting: bool = False) -> None:
        text = Text(end="", no_wrap=True, overflow="ellipsis")
        text.append(" netexplorer ", style="bold reverse")
        text.append(f" {plain(self.source.name)}")
        if self.findings:
            n = len(self.findings)
            text.append(f" · doctor: {n} problem{'s' if n > 1 else ''} (d)", style="bold")
        snap = self.snapshot
        if snap is not None:
            text.append(f" · host {plain(snap.host)}")
            text.append(
                f" · {len(snap.containers)} containers · {len(snap.interfaces)} interfaces"
                f" · {len(snap.bridges)} bridges · {len(snap.rules)} rules"
            )
            if snap.collect_seconds:
                text.append(f" · collected in {snap.collect_seconds:.2f} s")
        if collecting:
            text.append(" · collecting…", style="italic")
        # one line across the screen: its size never changes, so no layout
        self.query_one("#topbar", QuietStatic).show(text, layout=False)

    # ------------------------------------------------------------------ selection
    @on(Selected)
    def _selected(self, message: Selected) -> None:
        self.select(message.key, message.pane_id)

    def select(self, key: str, pane_id: str) -> None:
        if key == self.selected and pane_id == self.selected_pane:
            return
        self.selected, self.selected_pane = key, pane_id
        self._jumps, self._jump_at = [], -1
        if pane_id == "path":
            self.reveal(key)
        self._apply_marks()
        self.details.show_item(key, self.analysis)

    def _apply_marks(self) -> None:
        if self.links is None or self.selected is None:
            return
        self.related = self.links.related(self.selected)
        for p in self.table_panes:
            p.mark(self.related, self.selected)
        if (shown := self.map_screen()) is not None:
            shown.mark(self.related, self.selected)
        self._show_status()

    def _show_status(self, note: str = "") -> None:
        text = Text(end="", no_wrap=True, overflow="ellipsis")
        if self.selected is not None and self.links is not None:
            kind = KIND_NAMES.get(self.links.kind(self.selected), "item")
            text.append("▶ ", style="bold")
            text.append(f"{kind} {plain(self.links.labels.get(self.selected, self.selected))}")
            linked = [
                (p.title, len([k for k in p.table.marked() if k != self.selected]))
                for p in self.table_panes
            ]
            counts = [f"{title} {n}" for title, n in linked if n]
            if counts:
                text.append("  ● ", style="bold")
                text.append(" · ".join(counts))
        if note:
            text.append(f"  {note}", style="italic")
        # one line across the screen: its size never changes, so no layout
        self.query_one("#status", QuietStatic).show(text, layout=False)
        for p in self.table_panes:
            n = len(p.table.marked())
            label = f"{p.number} {p.short}" + (f" ●{n}" if n else "")
            tab = self.query_one(f"#tab-{p.pane_id}", Tab)
            if tab.label_text != label:
                tab.label = label

    def _focused_table_pane(self) -> TablePane | None:
        return next((p for p in self.table_panes if p.table.has_focus), None)

    def action_select_here(self) -> None:
        pane = self._focused_table_pane()
        if pane is not None and pane.table.cursor_key is not None:
            self.select(pane.table.cursor_key, pane.pane_id)

    # ------------------------------------------------------------------ moving around
    @on(PaneFocused)
    def _pane_focused(self, message: PaneFocused) -> None:
        if message.pane_id != self.active_pane:
            self.active_pane = message.pane_id
            self._show_active_pane()

    def action_focus_pane(self, pane_id: str) -> None:
        self.active_pane = pane_id
        self._show_active_pane()
        self.call_after_refresh(self.pane(pane_id).focus_pane)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Tab and shift+Tab cycle the panes; over an open screen (a prompt, a page)
        they keep their usual meaning there: the next or previous field."""
        return not (action == "cycle_pane" and len(self.screen_stack) > 1)

    def action_cycle_pane(self, step: int) -> None:
        ids = [p.pane_id for p in self.panes]
        at = ids.index(self.active_pane) if self.active_pane in ids else 0
        self.action_focus_pane(ids[(at + step) % len(ids)])

    @on(Tabs.TabActivated, "#tabs")
    def _tab_clicked(self, event: Tabs.TabActivated) -> None:
        pane_id = (event.tab.id or "").removeprefix("tab-")
        if pane_id and pane_id != self.active_pane:
            self.action_focus_pane(pane_id)

    def _go(self, pane_id: str, key: str) -> None:
        pane = self.pane(pane_id)
        assert isinstance(pane, TablePane)
        self.active_pane = pane_id
        self._show_active_pane()
        pane.table.move_to(key)
        self.call_after_refresh(pane.focus_pane)

    def jump_targets(self) -> list[tuple[str, str]]:
        """Linked rows to visit: panes after the selection's first, its own pane last."""
        ids = [p.pane_id for p in self.table_panes]
        start = ids.index(self.selected_pane) + 1 if self.selected_pane in ids else 0
        order = ids[start:] + ids[:start]
        return [
            (pane_id, key)
            for pane_id in order
            for key in self.pane(pane_id).table.marked()  # type: ignore[attr-defined]
            if not (pane_id == self.selected_pane and key == self.selected)
        ]

    def action_jump(self) -> None:
        if self.selected is None or self.links is None:
            return
        if not self._jumps:
            self._jumps, self._jump_at = self.jump_targets(), -1
        if not self._jumps:
            self._show_status("nothing linked is shown")
            return
        self._jump_at = (self._jump_at + 1) % len(self._jumps)
        pane_id, key = self._jumps[self._jump_at]
        self._go(pane_id, key)
        self.details.show_item(key, self.analysis)
        label = plain(self.links.labels.get(key, key))
        title = self.pane(pane_id).title
        self._show_status(f"jump {self._jump_at + 1}/{len(self._jumps)}: {title}: {label}")

    def action_back_to_selected(self) -> None:
        if self.selected is not None and self.selected_pane is not None:
            self._go(self.selected_pane, self.selected)
            self.details.show_item(self.selected, self.analysis)
            self._jump_at = -1
            self._show_status()

    def action_cycle_table(self) -> None:
        rules = self.pane("rules")
        assert isinstance(rules, RulesPane)
        rules.cycle_table()
        self._jumps = []
        self._show_status()
        self.call_after_refresh(self._fit_rows)

    def action_toggle_rule_text(self) -> None:
        rules = self.pane("rules")
        assert isinstance(rules, RulesPane)
        full = rules.toggle_full_text()
        self._show_status("rules: full text" if full else "rules: summaries (f: full text)")

    def action_copy(self) -> None:
        """``y``: the item under the cursor (else the selection) to the clipboard (OSC 52)."""
        focused = self._focused_table_pane()
        key = focused.table.cursor_key if focused else None
        key = key or self.details.key or self.selected
        if key is None or self.analysis is None:
            self._show_status("nothing to copy")
            return
        items = self.analysis.items.get(key, ())
        text = next((t for t in map(copy_text, items) if t), None)
        if text is None:
            self._show_status("nothing to copy for this item")
            return
        self.copy_to_clipboard(text)
        self._show_status(f"copied: {plain(text)}")

    # ------------------------------------------------------------------ search
    def action_search(self) -> None:
        if (shown := self.map_screen()) is not None and shown is self.screen:
            shown.action_search()  # the map searches what it draws
            return
        if self.query_one(SearchBar).open():
            # fold the rows for search while the query is typed, not after Enter
            self.call_after_refresh(self._prepare_search)

    def _prepare_search(self) -> None:
        for pane in self.table_panes:
            pane.search_texts()

    def action_close_search(self) -> None:
        self.query_one(SearchBar).display = False
        self.action_focus_pane(self.active_pane)

    @on(Input.Submitted, "#search")
    def _search(self, event: Input.Submitted) -> None:
        self.query_one(SearchBar).display = False
        candidates = [(p.pane_id, p.search_texts()) for p in self.table_panes]
        self._matches = Matches(find(event.value, candidates))
        if not self._matches:
            self.action_focus_pane(self.active_pane)
            self._show_status(no_match(event.value))
            return
        self.action_next_match()

    def action_next_match(self) -> None:
        found = self._matches.next()
        if found is None:
            return
        pane_id, key = found
        self._go(pane_id, key)
        self.select(key, pane_id)
        if note := self._matches.note():
            self._show_status(note)

    # ------------------------------------------------------------------ screens
    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_help()))

    def key_help(self) -> list[tuple[str, str]]:
        """(key, what it does) of every binding: the app's, then a table pane's (its
        own before the table's it overrides)."""
        entries: list[tuple[str, str]] = []
        table = [*KeyedTableWithJump.BINDINGS, *KeyedTable.BINDINGS]
        for group in (self.BINDINGS, table):
            seen: set[str] = set()
            for binding in group:
                assert isinstance(binding, Binding)
                if binding.key in seen:
                    continue
                seen.add(binding.key)
                key = self.get_key_display(replace(binding, key_display=None))
                entries.append((key, binding.tooltip or binding.description.lower()))
        palette = Binding(self.COMMAND_PALETTE_BINDING, "")
        entries.append((self.get_key_display(palette), "command palette: themes, keys"))
        return entries

    def action_doctor(self) -> None:
        def chosen(key: str | None) -> None:
            if key is not None:
                self.select(key, "doctor")

        self.push_screen(DoctorScreen(self.findings, self.links), chosen)

    def map_screen(self) -> MapScreen | None:
        """The map, if it is open (it follows snapshots and the selection). The map's
        module (the map and the path engine under it) is imported when the map is
        first opened, not at start-up: no map is open before."""
        screens = sys.modules.get("netexplorer.ui.screens.map")
        if screens is None:
            return None
        return next((s for s in self.screen_stack if isinstance(s, screens.MapScreen)), None)

    def show_path(self, keys: frozenset[str]) -> None:
        """Mark a traced path's items (model keys) on the map, now and when it opens."""
        self.path_keys = keys
        if (shown := self.map_screen()) is not None:
            shown.show_path(keys)

    def action_map(self) -> None:
        from netexplorer.ui.screens.map import MapScreen

        if self.map_screen() is None:
            self.push_screen(MapScreen())

    def selected_container(self) -> DockerContainer | None:
        """The selected container, or the container of a selected endpoint."""
        if self.selected is None or self.analysis is None:
            return None
        for item in self.analysis.items.get(self.selected, ()):
            if isinstance(item, DockerContainer):
                return item
            container_id = getattr(item, "container_id", None)
            if container_id is not None:
                return self.analysis.correlation.containers_by_id.get(container_id)
        return None

    def action_path(self) -> None:
        """Ask for a destination, then show the path from the selected container to it."""
        from netexplorer.path.names import destination_names, task_names
        from netexplorer.ui.screens.path import DestinationScreen, PathAsked, PathScreen

        ct = self.selected_container()
        if ct is None or self.snapshot is None:
            self._show_status("p: select a container first; the path starts from it")
            return
        name = ct.name

        def chosen(asked: PathAsked | None) -> None:
            if asked is not None:
                self.push_screen(PathScreen(name, asked.destination, asked.task))

        tasks = task_names(self.analysis.correlation.mesh) if self.analysis is not None else []
        self.push_screen(DestinationScreen(name, destination_names(self.snapshot), tasks), chosen)

    def reveal(self, key: str) -> None:
        """Make the rules pane show the table of a selected rule (it shows one at a time)."""
        if self.analysis is None:
            return
        rules = self.pane("rules")
        assert isinstance(rules, RulesPane)
        for item in self.analysis.items.get(key, ()):
            if isinstance(item, Rule) and item.table != rules.table_name:
                rules.table_name = item.table
                if self.analysis is not None:
                    rules.show_snapshot(self.analysis)

    def go_to_selected(self) -> None:
        """Put the cursor on the selected item in the first pane that shows it."""
        key = self.selected
        if key is None:
            return
        for p in self.table_panes:
            if key in p.table.keys:
                self._go(p.pane_id, key)
                return

    def action_problems(self) -> None:
        items = problems(self.snapshot, self.failure)
        body = problems_text(items) if items else Text("No warnings or errors.")
        self.push_screen(TextScreen("Warnings and errors", body))


def create_app(
    snapshot: str | Path | None = None,
    demo: bool = False,
    interval: float = 2.0,
    source: SnapshotSource | None = None,
    clock: Callable[[], float] = time.time,
    first_read: Callable[[], FirstParts | None] | None = None,
    hosts: Sequence[Target | None] = (),
    remote_sudo: bool = False,
) -> NetExplorerApp:
    """The app over the live host, a snapshot file, the demo, or ``source`` (a callable).

    A file (``snapshot`` or the demo) is read here once so that a bad one raises
    ``SnapshotFileError`` (naming the file and the problem) before the screen opens.
    ``hosts``: several hosts, None standing for this host (followed live, named
    ``local``) among the remote ones.
    """
    if hosts:
        remotes = [
            remote_source(t, remote_sudo) if t is not None else live_source(LOCAL_NAME)
            for t in hosts
        ]
        return NetExplorerApp(remotes[0], interval=interval, clock=clock, hosts=remotes)
    return NetExplorerApp(
        pick_source(snapshot, demo, source), interval=interval, clock=clock, first_read=first_read
    )
