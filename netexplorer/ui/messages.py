"""Messages of the one-way data flow: worker -> app -> panes, pane cursor -> app.

    worker thread   --SnapshotReady(snapshot, links)-->  app  --show_snapshot-->  panes
    pane cursor     --Selected(key)-->                   app  --mark(related)-->  panes

Anything that produces a Snapshot (the collector worker today; a timer or an
event watcher later) only has to post ``SnapshotReady`` to the app.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from netexplorer.correlate import Links
from netexplorer.model import Snapshot


@dataclass
class SnapshotReady(Message):
    """A correlated snapshot to show (``links = correlate(snapshot)``)."""

    snapshot: Snapshot
    links: Links


@dataclass
class CollectFailed(Message):
    """Producing a snapshot raised; ``reason`` is a sentence for the banner."""

    reason: str


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
