"""Messages of the one-way data flow: worker -> app -> panes, pane cursor -> app.

    worker thread   --SnapshotReady(analysis, rows)-->   app  --show_snapshot-->  panes
    pane cursor     --Selected(key)-->                   app  --mark(related)-->  panes

A worker analyses each new read (``netexplorer.analysis.analyse``: correlation, the
doctor, the cross-link index), makes every table pane's rows from it
(``netexplorer.ui.pane_rows``) and posts both; the UI thread only applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.message import Message

from netexplorer.analysis import Analysis
from netexplorer.ui.pane_rows import PaneRows


@dataclass
class SnapshotReady(Message):
    """A read and everything derived from it, to show (``analyse(read)``)."""

    analysis: Analysis
    #: which host's (index in the app's hosts; 0 when there is one)
    host: int = 0
    #: pane id -> its rows, made by the worker (None: the panes make them)
    rows: Mapping[str, PaneRows] | None = None


@dataclass
class CollectFailed(Message):
    """Producing a snapshot raised; ``reason`` is a sentence for the banner."""

    reason: str
    host: int = 0


@dataclass
class HostState(Message):
    """Host ``host``'s connection changed: connecting, connected, stale or failed."""

    host: int
    state: str
    detail: str


@dataclass
class Selected(Message):
    """The user moved the cursor of pane ``pane_id`` onto the item ``key``.

    Moves made by the program (a jump to a linked item, keeping the cursor on its
    item across a refresh) do not post it: they do not change the selection.
    """

    pane_id: str
    key: str


@dataclass
class PaneFocused(Message):
    """Pane ``pane_id`` got the focus (keyboard or mouse)."""

    pane_id: str
