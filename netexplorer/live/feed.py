"""The live feed: the host, re-read when it changes, as a stream of Snapshots.

:meth:`LiveFeed.run` (in a thread of the caller's choosing) collects everything
once, then waits:

* a Docker event or a kernel link/address notification (:meth:`observe`, an
  :class:`~netexplorer.live.events.Event`), or a notice (:meth:`notify`, e.g. the
  user pressing ``r``) goes into a :class:`~netexplorer.live.debounce.Debouncer`;
  when the burst is due, the sources its events may have changed are read again,
  by their kind (:func:`sources_for`: a kernel notification, netlink; a Docker
  event or a notice, every source; an event read reuses what no event concerns,
  see :meth:`LiveFeed.collect`; a burst that only removed containers takes them
  out of the last Docker read instead of asking Docker, :meth:`LiveFeed.removal`);
* otherwise every ``interval`` seconds only the firewall (rules and counters),
  conntrack (NAT translations) and the sysctls are read - they change without
  events - and the Docker and netlink parts of the last read are reused; where
  that Docker read has a swarm routing mesh, the firewall poll reads its
  netfilter tables and IPVS tables again too, inside its namespaces (a new Docker
  part: the last one with them, ``collect.snapshot.mesh_poll``). A poll that
  falls due while a burst is pending waits for it and is read with it.

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
from collections.abc import Callable, Collection, Mapping
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
from netexplorer.live.deltas import fill_deltas, fill_mesh_deltas, without_deltas
from netexplorer.live.docker_events import DockerEvents
from netexplorer.live.events import CONTAINER, DOCKER, NETLINK, NETWORK, Event, Origin
from netexplorer.live.netlink_events import NetlinkEvents
from netexplorer.model import Container, NetnsView, Rule, Snapshot

#: the sources that change without any event and are polled (cheap to read)
POLLED = ("firewall", "conntrack", "sysctl")
#: what an event may have changed, by its source (:attr:`Event.kind`): Docker's
#: containers and networks come with veths and bridges (netlink), Docker's own
#: rules (published ports, a network's NAT) and their NAT translations; the polled
#: sources are read with them (a read of them all puts the next poll off); a kernel
#: notification is a link or address
CHANGED_BY: dict[Origin, tuple[str, ...]] = {DOCKER: SOURCE_NAMES, NETLINK: ("netlink",)}
DEFAULT_INTERVAL = 2.0
#: how long a feed that emitted a first read made elsewhere waits for it to be shown
SHOWN_WAIT = 2.0
#: how often a waiting feed checks whether it was asked to stop
_STOP_CHECK = 0.25

Emit = Callable[[Snapshot, list[str]], None]
#: parts by source name, and the seconds their read took
FirstParts = tuple[dict[str, Part], float]


def sources_for(events: Collection[Event]) -> tuple[str, ...]:
    """The sources to read again for a burst of these events; every source when one
    of them is a notice (no kind)."""
    names: set[str] = set()
    for event in events:
        names.update(SOURCE_NAMES if event.kind is None else CHANGED_BY[event.kind.source])
    return tuple(n for n in SOURCE_NAMES if n in names)


def touched_by(events: Collection[Event]) -> set[str] | None:
    """The full ids of the containers the events concern (a container's own events,
    a network connect or disconnect); None when one of them is a notice (then
    nothing read before is reused)."""
    if any(e.kind is None for e in events):
        return None
    return {e.kind.container_id for e in events if e.kind is not None} - {""}


#: Docker's (object, action) of the events a container's removal makes (``docker rm
#: -f``: it dies, leaves its networks, is destroyed)
REMOVAL = frozenset({(CONTAINER, "die"), (NETWORK, "disconnect"), (CONTAINER, "destroy")})
#: the label of a swarm task's container (its removal changes the overlay's peers)
SWARM_TASK_LABEL = "com.docker.swarm.task.id"


def removed_by(events: Collection[Event]) -> set[str] | None:
    """The full ids of the containers a burst of events removed, when removing them
    is all its Docker events did (each a die, a network disconnect or the destroy of
    a container destroyed in this burst; the kernel's notifications may come with
    them); None otherwise (or for a notice)."""
    if any(e.kind is None for e in events):
        return None
    docker = [e.kind for e in events if e.kind is not None and e.kind.source == DOCKER]
    destroyed = {k.id for k in docker if (k.object, k.action) == (CONTAINER, "destroy")}
    if not destroyed or any(
        (k.object, k.action) not in REMOVAL or k.container_id not in destroyed for k in docker
    ):
        return None
    return destroyed


def _addresses(ct: Container) -> set[str]:
    return {a for ep in ct.endpoints for a in (ep.ipv4, ep.ipv6) if a}


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
        """A notice (``r``, a watcher's state): read everything again once the burst
        settles; ``reason`` is shown, never interpreted."""
        self.observe(Event(reason))

    def observe(self, event: Event) -> None:
        """An event: re-read what it may have changed once the burst settles."""
        with self._cond:
            self._debounce.add(event, self.clock())
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
        self,
        names: Collection[str] = SOURCE_NAMES,
        read: FirstParts | None = None,
        touched: Collection[str] | None = None,
        made: Mapping[str, Part] | None = None,
    ) -> Snapshot:
        """Read ``names`` afresh (or take ``read``: parts read elsewhere and how long
        that took), take ``made`` (parts made here from the last read, see
        :meth:`removal`) as read, reuse the other sources' last read, assemble.

        With ``touched`` (the full ids of the containers the events concern), Docker is
        read again but the inside of each running container they do not name, whose init
        process is the same as in the last read, is taken from that read
        (:meth:`_reusing`): only an event changes a container's own namespace (a
        network connect names it; a restart is a new process). Without it (``r``, a
        reconnection, the first read), everything is read."""
        if read is None:
            start = time.perf_counter()
            collectors = self.collectors if touched is None else self._reusing(touched)
            # Docker's read, made or the last one: a firewall poll reads its mesh again
            docker = (made or {}).get("docker") or self._parts.get("docker")
            fresh = {**(made or {}), **(collect_parts(names, collectors, docker) if names else {})}
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
                elif name == "docker" and part is not last:
                    fill_mesh_deltas(last.data if last is not None else None, part.data)
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

    def removal(self, removed: Collection[str]) -> tuple[tuple[str, ...], dict[str, Part]] | None:
        """What a burst that only removed the containers ``removed`` (full ids,
        :func:`removed_by`) changed, without asking Docker: the sources to read again
        and the Docker part, the last read without those containers. Netlink is read
        (their veths and bridge ports are gone); the firewall too when one of them
        published a port or a rule names one of its addresses (Docker's rules for it
        go with it), conntrack when a NAT flow names one. None (read as for any
        event) when the last Docker read is not a good one or does not hold them
        all, or one of them was on an overlay network or a swarm task: their removal
        changes Docker's own namespaces and the overlay's peers."""
        last = self._parts.get("docker")
        if last is None or last.data is None or last.source.stale or not removed:
            return None
        gone = [ct for ct in last.data.containers if ct.id in removed]
        overlays = {n.id for n in last.data.networks if n.driver == "overlay"}
        if len(gone) != len(set(removed)) or any(
            SWARM_TASK_LABEL in ct.labels or any(ep.network_id in overlays for ep in ct.endpoints)
            for ct in gone
        ):
            return None
        addresses = set().union(*(_addresses(ct) for ct in gone))
        names = {"netlink"}
        firewall = self._parts.get("firewall")
        if (
            firewall is None
            or firewall.data is None
            or any(ct.published_ports for ct in gone)
            or any(a in rule.text for rule in firewall.data.rules for a in addresses)
        ):
            names.add("firewall")
        conntrack = self._parts.get("conntrack")
        if (
            conntrack is None
            or conntrack.data is None
            or any(
                addresses & {f.orig_src, f.orig_dst, f.reply_src, f.reply_dst}
                for f in conntrack.data.flows
            )
        ):
            names.add("conntrack")
        kept = [ct for ct in last.data.containers if ct.id not in removed]
        docker = Part(replace(last.source), replace(last.data, containers=kept))
        return tuple(n for n in SOURCE_NAMES if n in names), {"docker": docker}

    def _reusing(self, touched: Collection[str]) -> Collectors | None:
        """The collectors, with each running container's netns id and inside taken
        from the last Docker read when its init pid is the same and the events do not
        concern it."""
        last = self._parts.get("docker")
        if last is None or last.data is None or last.source.stale:
            return self.collectors
        same = [ct for ct in last.data.containers if ct.pid and ct.id not in touched]
        views = {ct.pid: ct.inside for ct in same if ct.inside and ct.inside.error is None}
        ids = {ct.pid: ct.netnsid for ct in same if ct.netnsid is not None}
        if not views and not ids:
            return self.collectors
        c = (self.collectors or Collectors()).resolved()
        netnsids, ahead, insides = c.netnsids, c.views_ahead, c.netns_views
        assert netnsids is not None and insides is not None

        def known_netnsids(pids: list[int]) -> dict[int, int | None]:
            rest = [p for p in pids if p not in ids]
            return {**(netnsids(rest) if rest else {}), **{p: ids[p] for p in pids if p in ids}}

        def known_ahead(pids: list[int]) -> Mapping[int, NetnsView]:
            rest = [p for p in pids if p not in views]
            found = ahead(rest) if ahead is not None and rest else {}
            return {**found, **{p: views[p] for p in pids if p in views}}

        def known_insides(
            pids: Mapping[str, int], names: Mapping[str, str]
        ) -> tuple[Mapping[str, NetnsView], list[str]]:
            rest = {cid: pid for cid, pid in pids.items() if pid not in views}
            found, warnings = insides(rest, names) if rest else ({}, [])
            known = {cid: views[pid] for cid, pid in pids.items() if pid in views}
            return {**found, **known}, warnings

        return replace(
            c,
            netnsids=known_netnsids,
            views_ahead=known_ahead if ahead is not None else None,
            netns_views=known_insides,
        )

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
                    # a pending burst takes a poll that falls due with it
                    wake = next_poll if due is None else due
                    if wake > now:
                        self._cond.wait(min(wake - now, _STOP_CHECK))
                    now = self.clock()
                    events = self._debounce.take(now)
                    pending = self._debounce.pending
                if self.stopped or should_stop():
                    break
                poll = now >= next_poll
                removed = removed_by(events) if events else None
                removal = self.removal(removed) if removed else None
                if events and removal is not None:
                    # a removal is shown first; a poll due with it follows at once
                    emit(self.collect(removal[0], made=removal[1]), [e.text for e in events])
                    poll = False
                elif events:
                    names = {*sources_for(events), *(POLLED if poll else ())}
                    ordered = [n for n in SOURCE_NAMES if n in names]
                    snapshot = self.collect(ordered, touched=touched_by(events))
                    emit(snapshot, [e.text for e in events])
                    poll = all(n in names for n in POLLED)
                elif poll and not pending:
                    emit(self.collect(POLLED), [f"poll every {self.interval:g} s"])
                else:
                    continue
                if poll:
                    next_poll = self.clock() + self.interval
        finally:
            for stop in watchers:
                stop()

    def _start_watchers(self) -> list[Callable[[], None]]:
        def docker_state(up: bool, error: str | None) -> None:
            # a reconnection may have missed events: every source is read again
            self.notify("watching Docker events" if up else f"docker: {error}")

        docker = DockerEvents(self.observe, docker_state)
        self._netlink = NetlinkEvents(self.observe)
        docker.start()
        self._netlink.start()
        return [docker.stop, self._netlink.stop]
