"""The live data layer on recorded data: debounce, counter deltas, conntrack, events."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netexplorer.collect.conntrack_source import parse_conntrack
from netexplorer.collect.netlink_source import plain_from_json
from netexplorer.collect.snapshot import SOURCE_NAMES, Collectors
from netexplorer.correlate import correlate
from netexplorer.live.debounce import HOLD, QUIET, SETTLED, Debouncer
from netexplorer.live.deltas import counter_deltas, fill_deltas, without_deltas
from netexplorer.live.docker_events import describe_event
from netexplorer.live.events import Event, EventKind
from netexplorer.live.feed import LiveFeed, removed_by, sources_for, touched_by
from netexplorer.live.netlink_events import describe_messages
from netexplorer.model import Container, Endpoint, Rule, Snapshot

RECORDED = Path(__file__).resolve().parents[1] / "recorded" / "live"


def events() -> list[dict[str, Any]]:
    """docker run, network connect nxlab, rm -f: create, connect, start, connect,
    die, disconnect, disconnect, destroy"""
    lines = (RECORDED / "docker-events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def recorded(start: int = 0, stop: int | None = None) -> list[Event]:
    return [describe_event(e) for e in events()[start:stop]]


def netlink(message: int, index: int) -> Event:
    """The kernel's notification of ``message`` (RTM_NEWLINK 16, RTM_DELLINK 17,
    RTM_NEWADDR 20, RTM_DELADDR 21) about interface ``index``, as the watcher reads it."""
    if message in (16, 17):
        body = struct.pack("=BxHiII", 0, 1, index, 0, 0)
    else:
        body = struct.pack("=BBBBI", 2, 24, 0, 0, index)
    [event] = describe_messages(struct.pack("=IHHII", 16 + len(body), message, 0, 0, 0) + body)
    return event


# ------------------------------------------------------------------ debounce
def test_a_recorded_container_lifecycle_becomes_few_triggers() -> None:
    # docker run, network connect and rm -f within ~0.5 s: each burst settles into one
    d = Debouncer(quiet=0.15, max_wait=0.6)
    fired: list[list[Event]] = []
    raw = events()
    t0 = raw[0]["timeNano"] / 1e9
    for ev in raw:
        now = ev["timeNano"] / 1e9 - t0
        due = d.deadline()
        if due is not None and due <= now:
            taken = d.take(due)
            assert taken is not None
            fired.append(taken)
        d.add(describe_event(ev), now)
    last = d.deadline()
    assert last is not None
    assert d.take(last - 0.001) is None  # not yet
    fired.append(d.take(last) or [])
    assert 1 <= len(fired) <= 3 < len(raw)
    flat = [e.text for burst in fired for e in burst]
    assert "docker: container create nxt-rec" in flat
    assert "docker: container destroy nxt-rec" in flat
    assert not d.pending


def test_a_docker_run_fires_once_just_after_its_start() -> None:
    # create and connect hold the burst (a read then would show the container half
    # made); the start completes it: the burst fires SETTLED after it, with all three
    d = Debouncer()
    raw = events()
    t0 = raw[0]["timeNano"] / 1e9
    run = raw[:3]
    kinds = [describe_event(e).kind for e in run]
    assert [(k.object, k.action) for k in kinds if k] == [
        ("container", "create"), ("network", "connect"), ("container", "start"),
    ]  # fmt: skip
    for ev in run:
        now = ev["timeNano"] / 1e9 - t0
        assert d.take(now) is None  # nothing fires between the create and the start
        d.add(describe_event(ev), now)
    started = run[-1]["timeNano"] / 1e9 - t0
    assert d.deadline() == pytest.approx(started + SETTLED)
    assert d.take(started + SETTLED) == [describe_event(e) for e in run]


def test_a_container_created_and_not_started_is_read_after_the_hold() -> None:
    d = Debouncer()
    create, connect = recorded(0, 2)
    d.add(create, 0.0)
    d.add(connect, 0.01)
    assert d.deadline() == pytest.approx(HOLD)
    assert d.take(HOLD - 0.01) is None
    assert d.take(HOLD) is not None


def test_a_removal_fires_just_after_the_destroy() -> None:
    d = Debouncer()
    die, *disconnects, destroy = recorded(4)
    assert [e.kind.action for e in disconnects if e.kind] == ["disconnect", "disconnect"]
    d.add(die, 0.0)
    for disconnect in disconnects:
        d.add(disconnect, 0.1)
    d.add(destroy, 0.11)
    assert d.deadline() == pytest.approx(0.11 + SETTLED)
    # the kernel's notifications that trail it put it off by as little
    d.add(netlink(17, 12), 0.12)
    assert d.deadline() == pytest.approx(0.12 + SETTLED)
    assert d.take(0.12 + SETTLED) is not None
    d.add(netlink(17, 12), 1.0)  # a new burst: the usual pause
    assert d.deadline() == pytest.approx(1.0 + QUIET)


def test_the_sources_read_again_are_those_the_events_may_have_changed() -> None:
    kernel = [netlink(16, 7), netlink(21, 7)]
    create, connect, start, *_ = recorded()
    cid = events()[0]["id"]
    assert sources_for(kernel) == ("netlink",)
    assert sources_for([start, *kernel]) == SOURCE_NAMES
    assert sources_for([Event("refresh (r)")]) == SOURCE_NAMES
    # a container's events and its network connect concern it, by its full id
    assert touched_by([create, connect, start]) == {cid}
    assert touched_by(recorded()) == {cid}
    assert touched_by(kernel) == set()
    assert touched_by([start, Event("refresh (r)")]) is None
    assert touched_by([Event("watching Docker events")]) is None


def reworded(event: Event) -> Event:
    return Event(f"something else entirely: {event.text[::-1]}", event.kind)


def test_the_wording_of_an_event_changes_nothing() -> None:
    # the recorded run, connect and rm -f, and the kernel's notifications, with other
    # text: the same bursts, at the same times, read the same sources
    raw = events()
    t0 = raw[0]["timeNano"] / 1e9
    timeline = [(e["timeNano"] / 1e9 - t0, describe_event(e)) for e in raw]
    timeline += [(0.25, netlink(16, 41)), (0.26, netlink(20, 41)), (0.49, netlink(17, 41))]
    timeline.sort(key=lambda te: te[0])

    def bursts(words: Callable[[Event], Event]) -> list[tuple[float, Any, Any, list[str]]]:
        d, out = Debouncer(), []
        for now, event in [*timeline, (10.0, None)]:
            due = d.deadline()
            if due is not None and due <= now:
                taken = d.take(due) or []
                out.append((due, sources_for(taken), touched_by(taken), [e.text for e in taken]))
            if event is not None:
                d.add(words(event), now)
        return out

    plain, other = bursts(lambda e: e), bursts(reworded)
    assert len(plain) >= 2
    assert [b[:3] for b in other] == [b[:3] for b in plain]
    assert all(o[3] != p[3] for o, p in zip(other, plain, strict=True))
    # and a notice worded like an event is still a notice: everything is read, no pause
    # shortened
    fake = Event("docker: container destroy web")
    assert sources_for([fake]) == SOURCE_NAMES and touched_by([fake]) is None
    d = Debouncer()
    d.add(fake, 0.0)
    assert d.deadline() == pytest.approx(QUIET)


def burst() -> list[tuple[float, Event]]:
    """What both watchers received (record.py burst): docker run, network connect
    nxlab, rm -f, with the kernel's notifications, by arrival time (s)."""
    lines = [json.loads(line) for line in (RECORDED / "burst.jsonl").read_text().splitlines()]
    t0 = lines[0]["at_ns"]
    out: list[tuple[float, Event]] = []
    for doc in lines:
        at = (doc["at_ns"] - t0) / 1e9
        if "docker" in doc:
            out.append((at, describe_event(doc["docker"])))
        else:
            out += [(at, e) for e in describe_messages(bytes.fromhex(doc["netlink"]))]
    return out


def replay(timeline: list[tuple[float, Event]]) -> list[tuple[float, list[Event]]]:
    """The bursts a Debouncer fires on ``timeline``, with when each fired."""
    d, fired = Debouncer(), []
    for now, event in [*timeline, (timeline[-1][0] + 10, None)]:
        due = d.deadline()
        if due is not None and due <= now:
            fired.append((due, d.take(due) or []))
        if event is not None:
            d.add(event, now)
    return fired


def test_a_recorded_run_and_removal_with_the_kernels_notifications() -> None:
    timeline = burst()

    def at(action: str) -> float:
        return next(t for t, e in timeline if e.kind and e.kind.action == action)

    fired = replay(timeline)
    # the run: one read, just after its start (the kernel's new links held by the create)
    first_at, first = fired[0]
    assert first_at == pytest.approx(at("start") + SETTLED)
    assert [e.kind.action for e in first if e.kind and e.kind.source == "docker"] == [
        "create", "connect", "start",
    ]  # fmt: skip
    # the removal: one read, just after the destroy, concerning that container only
    last_at, last = fired[-1]
    assert last_at == pytest.approx(at("destroy") + SETTLED)
    assert {e.kind.action for e in last if e.kind and e.kind.source == "docker"} == {
        "die", "disconnect", "destroy",
    }  # fmt: skip
    cid = next(e.kind.id for _, e in timeline if e.kind and e.kind.action == "create")
    assert touched_by(last) == {cid}
    assert sources_for(last) == SOURCE_NAMES
    assert any(e.kind and (e.kind.object, e.kind.action) == ("link", "del") for e in last)
    # the same, worded otherwise
    again = replay([(t, reworded(e)) for t, e in timeline])
    assert [(t, [e.kind for e in b]) for t, b in again] == [
        (t, [e.kind for e in b]) for t, b in fired
    ]


def test_a_burst_is_a_removal_when_all_its_docker_events_remove_containers() -> None:
    fired = [b for _, b in replay(burst())]
    cid = next(e.kind.id for b in fired for e in b if e.kind and e.kind.action == "create")
    assert removed_by(fired[-1]) == {cid}  # rm -f: die, disconnects, destroy, del links
    assert [removed_by(b) for b in fired[:-1]] == [None] * (len(fired) - 1)
    die, *disconnects, destroy = recorded(4)
    other_cid = events()[0]["id"]  # the other recording's container
    assert removed_by([destroy]) == removed_by([die, *disconnects, destroy]) == {other_cid}
    assert removed_by([die, *disconnects]) is None  # docker stop: the container stays
    assert removed_by([destroy, Event("refresh (r)")]) is None
    assert removed_by([netlink(17, 4)]) is None
    other = EventKind("docker", "container", "die", "f" * 64)
    assert removed_by([destroy, Event("docker: container die x", other)]) is None
    start = recorded(2, 3)[0]
    assert removed_by([start, destroy]) is None


def test_a_steady_trickle_cannot_postpone_collection_forever() -> None:
    d = Debouncer(quiet=0.15, max_wait=0.6)
    fired_at = None
    for n in range(100):
        now = n * 0.1  # an event every 100 ms, never quiet for 150 ms
        if d.take(now) is not None:
            fired_at = now
            break
        d.add(netlink(16, 7), now)
    assert fired_at is not None and fired_at <= 0.6 + 0.1


def test_reasons_are_kept_once_in_order() -> None:
    d = Debouncer(quiet=0.1, max_wait=1)
    for reason in ("a", "b", "a", "c"):
        d.add(Event(reason), 0.0)
    assert d.take(0.05) is None
    assert d.take(0.1) == [Event("a"), Event("b"), Event("c")]
    assert d.take(10) is None


# ------------------------------------------------------------------ deltas
def rule(text: str, packets: int, rid: str | None = None) -> Rule:
    return Rule(
        "iptables-nft", "ipv4", "nat", "POSTROUTING", 1, text, packets=packets,
        bytes=packets * 84, id=rid or text,
    )  # fmt: skip


def test_deltas_by_rule_id_not_position() -> None:
    before = [rule("masq", 10), rule("dnat", 5)]
    after = [rule("new", 3), rule("masq", 12), rule("dnat", 5)]  # one inserted above
    deltas = counter_deltas(before, after)
    assert deltas["masq"].packets == 2 and deltas["masq"].bytes == 168
    assert deltas["dnat"].packets == 0
    assert "new" not in deltas


def test_zeroed_counters_have_no_delta() -> None:
    assert counter_deltas([rule("masq", 10)], [rule("masq", 1)]) == {}


def test_fill_deltas_fills_a_fresh_read_and_a_read_shown_again_has_none() -> None:
    prev = [rule("masq", 10)]
    cur = [rule("masq", 11), rule("other", 4)]
    fill_deltas(prev, cur)
    assert [(r.delta_packets, r.delta_bytes) for r in cur] == [(1, 84), (None, None)]
    again = without_deltas(cur)
    assert [r.delta_packets for r in again] == [None, None]
    assert cur[0].delta_packets == 1  # the read it was copied from is untouched
    assert again[1] is cur[1]  # nothing to clear: not copied
    fill_deltas(None, cur)
    assert cur[0].delta_packets is None


# ------------------------------------------------------------------ conntrack
def recorded_flows() -> list[Any]:
    messages = plain_from_json(json.loads((RECORDED / "conntrack.json").read_text()))
    return parse_conntrack(messages).flows


def test_only_nated_entries_become_flows() -> None:
    flows = recorded_flows()
    assert len(flows) == 2  # the ping and the published port; DNS and IGMP untouched
    icmp = next(f for f in flows if f.proto == "icmp")
    assert (icmp.nat, icmp.orig_src, icmp.orig_dst) == ("snat", "172.17.0.2", "203.0.113.1")
    assert (icmp.reply_src, icmp.reply_dst) == ("203.0.113.1", "198.51.100.1")
    assert icmp.orig_dport is None and icmp.orig_sport == 85  # the echo id
    tcp = next(f for f in flows if f.proto == "tcp")
    assert tcp.nat == "dnat" and tcp.state == "TIME_WAIT" and "ASSURED" in tcp.flags
    assert (tcp.orig_dst, tcp.orig_dport) == ("198.51.100.1", 8080)
    assert (tcp.reply_src, tcp.reply_sport) == ("172.17.0.4", 80)


def test_correlation_hands_flows_to_their_containers() -> None:
    def ct(name: str, ip: str) -> Container:
        c = Container(name, name, "busybox", "running", "bridge")
        c.endpoints = [Endpoint(name, name, "bridge", "n", ipv4=ip)]
        return c

    snap = Snapshot(containers=[ct("test1", "172.17.0.2"), ct("web", "172.17.0.4")])
    snap.conntrack = recorded_flows()
    corr = correlate(snap)
    test1, web = snap.containers
    assert [f.proto for f in corr.flows(test1)] == ["icmp"]  # SNAT: by original source
    assert [f.proto for f in corr.flows(web)] == ["tcp"]  # DNAT: by reply source


# ------------------------------------------------------------------ event names
def test_events_are_named_for_the_reader() -> None:
    named = recorded()
    assert named[0].text == "docker: container create nxt-rec"
    assert named[1].text.startswith("docker: network connect bridge (")
    raw = events()
    assert named[0].kind is not None and named[0].kind.id == raw[0]["id"]
    assert named[1].kind is not None and named[1].kind.container == raw[0]["id"]
    assert named[1].kind.id == raw[1]["Actor"]["ID"]  # the network's


def test_netlink_messages_are_named_with_their_ifindex() -> None:
    link = struct.pack("=IHHII", 32, 16, 0, 0, 0) + struct.pack("=BxHiII", 0, 1, 42, 0, 0)
    addr = struct.pack("=IHHII", 24, 21, 0, 0, 0) + struct.pack("=BBBBI", 2, 24, 0, 0, 7)
    other = struct.pack("=IHHII", 16, 24, 0, 0, 0)  # a route: ignored
    found = list(describe_messages(link + addr + other))
    assert [e.text for e in found] == ["netlink: new link 42", "netlink: del addr 7"]
    assert [(k.object, k.action, k.id) for k in (e.kind for e in found) if k] == [
        ("link", "new", "42"), ("addr", "del", "7"),
    ]  # fmt: skip


# ------------------------------------------------------------------ the feed
class Fake:
    """Collectors counting their calls; docker can be made to fail."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.docker_down = False
        self.containers = [Container("c1", "test1", "busybox", "running", "bridge")]

    def counted(self, name: str, result: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return result()

        return call

    def collectors(self) -> Collectors:
        from netexplorer.collect.conntrack_source import ConntrackData
        from netexplorer.collect.docker_source import DockerData
        from netexplorer.collect.errors import SourceError
        from netexplorer.collect.firewall import FirewallData
        from netexplorer.collect.netlink_source import NetlinkData

        def docker() -> DockerData:
            if self.docker_down:
                raise SourceError("No Docker daemon answers at unix:///var/run/docker.sock")
            return DockerData(containers=list(self.containers))

        n = self.calls
        return Collectors(
            docker=self.counted("docker", docker),
            netlink=self.counted("netlink", NetlinkData),
            firewall=self.counted(
                "firewall", lambda: FirewallData(rules=[rule("masq", 10 * n["firewall"])])
            ),
            netnsids=lambda pids: {},
            conntrack=self.counted("conntrack", ConntrackData),
        )


def test_a_poll_rereads_only_firewall_and_conntrack_and_computes_deltas() -> None:
    fake = Fake()
    feed = LiveFeed(collectors=fake.collectors(), watch=False)
    first = feed.collect()
    polled = feed.collect(("firewall", "conntrack"))
    assert {k: fake.calls[k] for k in ("docker", "netlink", "firewall", "conntrack")} == {
        "docker": 1,
        "netlink": 1,
        "firewall": 2,
        "conntrack": 2,
    }
    names = [s.name for s in polled.sources]
    assert names[:4] == ["docker", "netlink", "firewall", "conntrack"]
    assert [c.name for c in polled.containers] == ["test1"]
    # the Docker part was not read again: shared with the previous read, not copied
    # (nothing writes into a read once it is assembled)
    assert polled.containers is first.containers
    assert first.rules[0].delta_packets is None
    assert polled.rules[0].delta_packets == 10


def destroy(cid: str) -> Event:
    return Event("docker: container destroy x", EventKind("docker", "container", "destroy", cid))


def test_a_removal_reads_netlink_and_drops_the_containers_from_the_last_docker_read() -> None:
    from netexplorer.model import PublishedPort

    fake = Fake()
    web = Container("c2", "web", "nginx", "running", "bridge")
    web.endpoints = [Endpoint("c2", "web", "bridge", "n0", ipv4="172.17.0.4")]
    web.published_ports = [PublishedPort(80, "tcp", "127.0.0.1", 8080)]
    fake.containers.append(web)
    feed = LiveFeed(collectors=fake.collectors(), watch=False)
    first = feed.collect()
    assert feed.removal({"c9"}) is None  # not in the last read: read as usual
    plan = feed.removal({"c1"})
    assert plan is not None and plan[0] == ("netlink",)
    after = feed.collect(plan[0], made=plan[1])
    assert [c.name for c in after.containers] == ["web"]
    assert after.containers[0] is first.containers[1]  # kept, not copied
    assert after.source("docker") == first.source("docker")
    assert fake.calls["docker"] == 1 and fake.calls["netlink"] == 2
    # a container that published a port: its rules go with it, the firewall is read
    plan = feed.removal({"c2"})
    assert plan is not None and plan[0] == ("netlink", "firewall")
    # a swarm task, or a container on an overlay: read as usual
    web.labels["com.docker.swarm.task.id"] = "t1"
    assert feed.removal({"c2"}) is None
    # a stale Docker read is not one to take from
    fake.docker_down = True
    feed.collect()
    web.labels.clear()
    assert feed.removal({"c2"}) is None


def test_the_loop_reads_a_removal_without_docker_and_a_due_poll_after_it() -> None:
    import threading
    import time

    fake = Fake()
    clock = [0.0]
    feed = LiveFeed(interval=1, collectors=fake.collectors(), watch=False,
                    clock=lambda: clock[0])  # fmt: skip
    got: list[tuple[list[str], dict[str, int], list[str]]] = []
    first, done = threading.Event(), threading.Event()

    def emit(snap: Snapshot, reasons: list[str]) -> None:
        got.append((reasons, dict(fake.calls), [c.name for c in snap.containers]))
        if len(got) == 1:
            feed.observe(destroy("c1"))  # due at 0.03; the poll at 1
            first.set()
        elif len(got) == 3:
            done.set()

    thread = threading.Thread(target=feed.run, args=(emit,), daemon=True)
    thread.start()
    try:
        assert first.wait(10)
        time.sleep(0.3)  # the loop turns meanwhile: the burst is not due yet
        assert len(got) == 1
        clock[0] = 1.5  # both due: the removal, then the poll
        assert done.wait(10)
    finally:
        feed.stop()
        thread.join(10)
    (_, before, names), (reasons, removal, gone), (polled, poll, _) = got[:3]
    assert names == ["test1"] and gone == [] and reasons == ["docker: container destroy x"]
    assert removal == {**before, "netlink": before["netlink"] + 1}
    assert polled == ["poll every 1 s"]
    assert poll == {**removal, "firewall": before["firewall"] + 1,
                    "conntrack": before["conntrack"] + 1}  # fmt: skip


def test_a_failed_docker_keeps_its_last_read_marked_stale() -> None:
    fake = Fake()
    feed = LiveFeed(collectors=fake.collectors(), watch=False)
    good = feed.collect()
    fake.docker_down = True
    down = feed.collect()
    src = down.source("docker")
    assert src is not None and not src.ok and src.stale
    assert src.read_at == good.source("docker").read_at  # type: ignore[union-attr]
    assert "No Docker daemon answers" in (src.error or "")
    assert [c.name for c in down.containers] == ["test1"]
    fake.docker_down = False
    back = feed.collect()
    src = back.source("docker")
    assert src is not None and src.ok and not src.stale


def test_the_loop_collects_on_notify_and_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    fake = Fake()
    feed = LiveFeed(interval=60, quiet=0.01, max_wait=0.05, collectors=fake.collectors(),
                    watch=False)  # fmt: skip
    got: list[list[str]] = []
    done = threading.Event()
    start = recorded(2, 3)[0]

    def emit(snap: Snapshot, reasons: list[str]) -> None:
        got.append(reasons)
        if len(got) == 1:
            feed.observe(start)
            feed.observe(netlink(16, 3))
        else:
            done.set()

    thread = threading.Thread(target=feed.run, args=(emit,))
    thread.start()
    assert done.wait(10)
    feed.stop()
    thread.join(10)
    assert not thread.is_alive()
    assert got[:2] == [["start"], [start.text, "netlink: new link 3"]]


def test_a_netlink_burst_rereads_netlink_only_and_a_due_poll_waits_for_a_burst() -> None:
    import threading
    import time

    fake = Fake()
    clock = [0.0]
    feed = LiveFeed(interval=1, collectors=fake.collectors(), watch=False,
                    clock=lambda: clock[0])  # fmt: skip
    got: list[tuple[list[str], dict[str, int]]] = []
    done = threading.Event()
    second = threading.Event()

    def emit(snap: Snapshot, reasons: list[str]) -> None:
        got.append((reasons, dict(fake.calls)))
        if len(got) == 1:  # the first read; then a kernel notification
            feed.observe(netlink(16, 9))
            clock[0] = 0.2  # its burst is due (quiet 0.15); the poll at 1.2
        elif len(got) == 2:
            clock[0] = 1.1
            feed.observe(netlink(16, 10))  # due at 1.25
            clock[0] = 1.2  # the poll falls due while that burst is pending
            second.set()
        else:
            done.set()

    thread = threading.Thread(target=feed.run, args=(emit,))
    thread.start()
    assert second.wait(10)
    time.sleep(0.3)  # the loop turns meanwhile: no poll is read before the burst
    clock[0] = 1.3
    assert done.wait(10)
    feed.stop()
    thread.join(10)
    first, kernel, both = (calls for _, calls in got[:3])
    assert kernel == {**first, "netlink": first["netlink"] + 1}
    assert got[2][0] == ["netlink: new link 10"]
    assert both == {
        "docker": first["docker"],
        "netlink": first["netlink"] + 2,
        "firewall": first["firewall"] + 1,
        "conntrack": first["conntrack"] + 1,
    }


def test_a_first_read_made_elsewhere_is_emitted_without_reading_again() -> None:
    import threading

    from netexplorer.collect.snapshot import collect_parts

    made = Fake()
    read = collect_parts(collectors=made.collectors())
    fake = Fake()
    feed = LiveFeed(collectors=fake.collectors(), watch=False, first=lambda: (read, 0.25))
    got: list[Snapshot] = []
    done = threading.Event()

    def emit(snap: Snapshot, reasons: list[str]) -> None:
        got.append(snap)
        done.set()

    thread = threading.Thread(target=feed.run, args=(emit,))
    thread.start()
    assert done.wait(10)
    feed.shown()
    feed.stop()
    thread.join(10)
    assert [c.name for c in got[0].containers] == ["test1"]
    assert got[0].collect_seconds >= 0.25  # the read's own time, and the assembly
    assert fake.calls.get("docker", 0) == 0  # nothing read here for the first emit


def test_an_event_read_takes_the_insides_of_containers_it_does_not_name() -> None:
    from netexplorer.collect.docker_source import DockerData
    from netexplorer.collect.netlink_source import NetlinkData
    from netexplorer.model import NetnsView

    pids = {"web": 101, "db": 102}
    asked: list[list[str]] = []
    ids_asked: list[list[int]] = []

    def docker() -> DockerData:
        return DockerData(containers=[
            Container(f"{name}-id-000000", name, "busybox", "running", "bridge", pid=pid)
            for name, pid in pids.items()
        ])  # fmt: skip

    def netns_views(
        by_id: dict[str, int], names: dict[str, str]
    ) -> tuple[dict[str, NetnsView], list[str]]:
        asked.append(sorted(names[cid] for cid in by_id))
        return {cid: NetnsView() for cid in by_id}, []

    def netnsids(wanted: list[int]) -> dict[int, int | None]:
        ids_asked.append(sorted(wanted))
        return dict.fromkeys(wanted, 7)

    collectors = Collectors(docker=docker, netlink=NetlinkData, netnsids=netnsids,
                            netns_views=netns_views)  # fmt: skip
    feed = LiveFeed(collectors=collectors, watch=False)
    first = feed.collect(("docker",))
    assert asked == [["db", "web"]] and ids_asked == [[101, 102]]
    # an event named web (its network connect changes its inside): web is read again
    again = feed.collect(("docker",), touched={"web-id-000000"})
    assert asked[-1] == ["web"] and ids_asked[-1] == [101]
    inside = {ct.name: ct.inside for ct in again.containers}
    assert inside["db"] is next(c.inside for c in first.containers if c.name == "db")
    assert [c.netnsid for c in again.containers] == [7, 7]
    # a restarted container is a new process: read again though not named
    pids["db"] = 202
    feed.collect(("docker",), touched=set())
    assert asked[-1] == ["db"]
    # r (no events named): everything
    feed.collect(("docker",))
    assert asked[-1] == ["db", "web"]
