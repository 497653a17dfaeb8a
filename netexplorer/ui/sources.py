"""Where snapshots come from: the live host, a file, or the demo recorded from the lab.

A source is a plain callable returning a Snapshot; it runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from netexplorer.model import Snapshot
from netexplorer.remote.target import Target
from netexplorer.snapshot_io import load_snapshot

SnapshotSource = Callable[[], Snapshot]

DEMO_FILE = "lab-snapshot.json"


def demo_path() -> Path:
    """The lab snapshot shipped in the package (netexplorer/demo/)."""
    return Path(str(resources.files("netexplorer.demo").joinpath(DEMO_FILE)))


@dataclass(frozen=True)
class NamedSource:
    """A source and how the top bar names it."""

    produce: SnapshotSource
    name: str
    #: the live host: the app follows it with a LiveFeed instead of calling ``produce``
    live: bool = False
    #: a remote host: the app follows it with a RemoteFeed (ssh, ``netexplorer agent``)
    target: Target | None = None
    #: run the remote collector under ``sudo -n``
    sudo: bool = False


def live_source(name: str = "live") -> NamedSource:
    def collect() -> Snapshot:
        from netexplorer.collect.snapshot import collect_snapshot

        return collect_snapshot()

    return NamedSource(collect, name, live=True)


def remote_source(target: Target, sudo: bool = False) -> NamedSource:
    def once() -> Snapshot:
        from netexplorer.remote.feed import read_once

        return read_once(target, sudo)

    return NamedSource(once, f"ssh {target.label}", live=True, target=target, sudo=sudo)


def file_source(path: str | Path, name: str | None = None) -> NamedSource:
    """Reads ``path`` at once (raising SnapshotFileError if unusable), again on refresh.

    The first produce hands over that first read instead of parsing the file twice.
    """
    first = [load_snapshot(path)]

    def produce() -> Snapshot:
        return first.pop() if first else load_snapshot(path)

    return NamedSource(produce, name or f"file {Path(path).name}")


def pick_source(
    snapshot: str | Path | None, demo: bool, source: SnapshotSource | None
) -> NamedSource:
    if source is not None:
        return NamedSource(source, "snapshot")
    if demo:
        return file_source(demo_path(), "demo: recorded lab")
    if snapshot is not None:
        return file_source(snapshot)
    return live_source()
