"""The hosts pane: every host being explored, its connection state and why.

Shown when several hosts are open (``--host a --host b``, ``--hosts-file``).
Enter on a row (or ``[`` / ``]`` anywhere) switches the panes to that host; each
host keeps its own selection.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.widgets import DataTable

from netexplorer.analysis import Analysis
from netexplorer.ui.safe_text import safe
from netexplorer.ui.sources import NamedSource


@dataclass
class HostView:
    """What the app keeps of a host while another one is shown."""

    source: NamedSource
    state: str = "connecting"
    detail: str = ""
    #: its last read and what was derived from it
    analysis: Analysis | None = None
    failure: str | None = None
    selected: str | None = None
    selected_pane: str | None = None


STATE_MARK = {"connected": "●", "connecting": "…", "stale": "◌", "failed": "✖"}


class HostsPane(DataTable[object]):
    """One row per host: mark, host, state, details (why it is stale or failed)."""

    def __init__(self) -> None:
        super().__init__(id="hosts", cursor_type="row", zebra_stripes=False)
        self.border_title = "0 Hosts"

    def on_mount(self) -> None:
        self.add_column(" ", key="current", width=1)
        self.add_column("host", key="host")
        self.add_column("state", key="state", width=10)
        self.add_column("why", key="why")

    def show_hosts(self, views: list[HostView], current: int) -> None:
        if len(self.rows) != len(views):
            self.clear()
            for n, view in enumerate(views):
                self.add_row(*self._cells(view, n == current), key=str(n))
            return
        for n, view in enumerate(views):
            cells = self._cells(view, n == current)
            for column, cell in zip(("current", "host", "state", "why"), cells, strict=True):
                self.update_cell(str(n), column, cell)

    @staticmethod
    def _cells(view: HostView, current: bool) -> tuple[object, ...]:
        mark = "▶" if current else " "
        state = f"{STATE_MARK.get(view.state, ' ')} {view.state}"
        why = view.detail if view.state in ("stale", "failed") else ""
        return (safe(mark, empty=" "), safe(view.source.name), safe(state), safe(why, empty=""))
