"""The live feed: the host, re-read when it changes, as a stream of Snapshots.

:meth:`LiveFeed.run` (in a thread of the caller's choosing) collects everything
once, then waits:

* a Docker event or a kernel link/address notification (or :meth:`notify`, e.g.
  the user pressing ``r``) goes into a :class:`~netexplorer.live.debounce.Debouncer`;
  when the burst is due, every source is read again;
* otherwise every ``interval`` seconds only the firewall (rules and counters),
  conntrack (NAT translations) and the sysctls are read - they change without
  events - and the Docker and netlink parts of the last read are reused.

A fresh firewall read gets its rule counter deltas against the previous one
(``live.deltas``); then the parts are assembled into one Snapshot
(``collect.snapshot.assemble``) and ``emit(snapshot, reasons)`` is called. Parts
not read again are shared with the previous Snapshot, not copied: nothing writes
into a read once it is assembled (correlation and the doctor only read it).

When a source fails, what it read last is kept and marked ``stale`` (with the time
it was read) next to the failure, so that a Docker daemon going away does not
empty the screen; the Docker watcher reconnects by itself and its reconnection
triggers a full read. A failing or slow Docker never holds up the firewall polls
for longer than its own timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any

from netexplorer.collect.snapshot import (
    SOURCE_NAMES,
    Collectors,
    Part,
    assemble,
    collect_parts,
    preload_libraries,
)
from netexplorer.live.debounce import MAX_WAIT, QUIET, Debouncer
from netexplorer.live.deltas import fill_deltas, without_deltas
from netexplorer.live.docker_events import DockerEvents
from netexplorer.live.netlink_events import NetlinkEvents
from netexplorer.model import Rule, Snapshot

#: the sources that change without any event and are polled (cheap to read)
POLLED = ("firewall", "conntrack", "sysctl")
DEFAULT_INTERVAL = 2.0
#: how long a feed that emitted a first read made elsewhere waits for it to be shown
SHOWN_WAIT = 2.0
#: how often a waiting feed checks whether it was asked to stop
_STOP_CHECK = 0.25

Emit = Callable[[Snapshot, list[str]], None]
#: parts by source name, and the seconds their read took
FirstParts = tuple[dict[str, Part], float]


class LiveFeed:
    """See the module docstring. Thread-safe: :meth:`notify` and :meth:`stop` from anywhere."""

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL,
        quiet: float = QUIET,
        max_wait: float = MAX_WAIT,
        collectors: Collectors | None = None,
        watch: bool = True,
        clock: Callable[[], float] = time.monotonic,
        first: Callable[[], FirstParts | None] | None = None,
    ) -> None:
        self.interval = max(0.1, interval)
        #: the first read, made elsewhere (``collect.first_read``); None: read here
        self.first = first
        self.collectors = collectors
        self.watch = watch
        self.clock = clock
        self._debounce = Debouncer(quiet, max_wait)
        self._cond = threading.Condition()
        self._stopped = threading.Event()
        self._shown = threading.Event()
        #: the last part read of each source
        self._parts: dict[str, Part] = {}
        #: the rules of the last fresh firewall read (None after a failed one)
        self._last_rules: list[Rule] | None = None
        self._netlink: NetlinkEvents | None = None

    # ---------------------------------------------------------------- control
    def notify(self, reason: str) -> None:
        """Something changed: re-read everything once the burst settles."""
        with self._cond:
            self._debounce.add(reason, self.clock())
            self._cond.notify_all()

    def shown(self) -> None:
        """The first read is on screen: the feed may go on loading (see :meth:`run`)."""
        self._shown.set()

    def stop(self) -> None:
        self._stopped.set()
        self._shown.set()
        with self._cond:
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    # ---------------------------------------------------------------- reading
    def collect(
        self, names: Collection[str] = SOURCE_NAMES, read: FirstParts | None = None
    ) -> Snapshot:
        """Read ``names`` afresh (or take ``read``: parts read elsewhere and how long
        that took), reuse the other sources' last read, assemble."""
        if read is None:
            start = time.perf_counter()
            fresh = collect_parts(names, self.collectors)
        else:
            fresh, seconds = read
            start = time.perf_counter() - seconds
        parts: dict[str, Part] = {}
        for name in SOURCE_NAMES:
            part = fresh.get(name)
            last = self._parts.get(name)
            if part is not None and part.data is not None:
                if name == "firewall":
                    fill_deltas(self._last_rules, part.data.rules)
                    self._last_rules = part.data.rules
                self._parts[name] = part
            elif part is not None and last is not None and last.data is not None:
                # failed now: keep showing the last read, marked stale
                stale = replace(part.source, stale=True, read_at=last.source.read_at)
                part = self._parts[name] = Part(stale, self._shown_again(name, last.data))
            elif part is not None:
                self._parts[name] = part
            elif last is not None:
                part = Part(replace(last.source), self._shown_again(name, last.data))
            if part is not None:
                parts[name] = part
        error = self._netlink.error if self._netlink is not None else None
        return assemble(parts, warnings=[error] if error else [], started=start)

    def _shown_again(self, name: str, data: Any) -> Any:
        """A source's last read, shown again: firewall counters have no delta then."""
        if name != "firewall" or data is None:
            return data
        self._last_rules = None
        return replace(data, rules=without_deltas(data.rules))

    # ---------------------------------------------------------------- the loop
    def run(self, emit: Emit, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Collect, emit, and keep doing so as the host changes, until stopped.

        A first read made elsewhere is emitted before anything is imported here, and
        the libraries and watchers are loaded once it is on screen (:meth:`shown`,
        at most SHOWN_WAIT later), not while the screen is being drawn; the
        watchers, once up, ask for a fresh read (Docker's says it is watching)."""
        first = self.first() if self.first is not None else None
        if first is not None:
            emit(self.collect(SOURCE_NAMES, read=first), ["start"])
            self._shown.wait(SHOWN_WAIT)
        preload_libraries()  # before any watcher thread imports (import-lock deadlocks)
        watchers = self._start_watchers() if self.watch else []
        try:
            if first is None:
                emit(self.collect(SOURCE_NAMES), ["start"])
            next_poll = self.clock() + self.interval
            while not (self.stopped or should_stop()):
                with self._cond:
                    now = self.clock()
                    due = self._debounce.deadline()
                    wake = next_poll if due is None else min(due, next_poll)
                    if wake > now:
                        self._cond.wait(min(wake - now, _STOP_CHECK))
                    now = self.clock()
                    reasons = self._debounce.take(now)
                if self.stopped or should_stop():
                    break
                if reasons:
                    emit(self.collect(SOURCE_NAMES), reasons)
                elif now >= next_poll:
                    emit(self.collect(POLLED), [f"poll every {self.interval:g} s"])
                else:
                    continue
                next_poll = self.clock() + self.interval
        finally:
            for stop in watchers:
                stop()

    def _start_watchers(self) -> list[Callable[[], None]]:
        def docker_state(up: bool, error: str | None) -> None:
            self.notify("docker: watching events" if up else f"docker: {error}")

        docker = DockerEvents(self.notify, docker_state)
        self._netlink = NetlinkEvents(self.notify)
        docker.start()
        self._netlink.start()
        return [docker.stop, self._netlink.stop]
