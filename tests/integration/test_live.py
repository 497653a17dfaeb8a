"""The live app on the lab: it follows containers, counters, NAT and the Docker daemon.

Each test drives the real app (live source: Docker events, netlink events, the
firewall/conntrack poll) with Pilot and changes the host with the standard tools
(docker run/rm/exec), and stops and starts the real dockerd with scripts/lab.
The 2 s deadlines are the issue's functional requirement ("appears within 2 s");
timings are otherwise the benchmark's business.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from textual.pilot import Pilot

from integration import groundtruth as gt
from netexplorer.collect.snapshot import collect_snapshot
from netexplorer.doctor import diagnose
from netexplorer.live.feed import POLLED, LiveFeed
from netexplorer.model import Container, Endpoint, Rule, Snapshot
from netexplorer.snapshot_io import snapshot_to_dict
from netexplorer.ui.app import NetExplorerApp, create_app
from netexplorer.ui.banner import Banner
from netexplorer.ui.panes.base import TablePane

WIDE = (160, 45)
MASQ_DEFAULT = "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"
DEADLINE = 2.0  # the issue: a container appears/goes within 2 s


async def until(pilot: Pilot[Any], check: Callable[[], Any], timeout: float) -> Any:
    """Let the app run until ``check()`` is truthy; return it (None on timeout)."""
    end = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > end:
            return result
        await pilot.pause(0.05)


def table(app: NetExplorerApp, pane_id: str) -> TablePane:
    pane = app.pane(pane_id)
    assert isinstance(pane, TablePane)
    return pane


def container(app: NetExplorerApp, name: str) -> Container | None:
    snap = app.snapshot
    return next((c for c in snap.containers if c.name == name), None) if snap else None


def host_ifindex(app: NetExplorerApp, ep: Endpoint) -> int | None:
    """The host veth ifindex correlation found for ``ep`` in the read shown."""
    return app.analysis.correlation.wiring(ep).host_ifindex if app.analysis else None


def flows(app: NetExplorerApp, ct: Container | None) -> tuple[Any, ...]:
    return app.analysis.correlation.flows(ct) if app.analysis and ct else ()


def shown(app: NetExplorerApp, name: str) -> bool:
    """The container's row, its veth and its bridge port are all on screen."""
    ct = container(app, name)
    if ct is None or ct.key not in table(app, "containers").table.keys:
        return False
    veths = [f"if:{host_ifindex(app, ep)}" for ep in ct.endpoints if host_ifindex(app, ep)]
    return bool(veths) and all(
        v in table(app, "interfaces").table.keys and v in table(app, "bridges").table.keys
        for v in veths
    )


@asynccontextmanager
async def live(app: NetExplorerApp) -> AsyncIterator[Pilot[Any]]:
    """``app`` running at :data:`WIDE`, once its first read shows test1."""
    async with app.run_test(size=WIDE) as pilot:
        assert await until(pilot, lambda: container(app, "test1"), 15), "no first snapshot"
        yield pilot


async def test_a_container_appears_and_goes_within_2s_with_its_veth_and_port(
    lab: str, throwaway: Callable[..., str]
) -> None:
    app = create_app()
    async with live(app) as pilot:
        name = throwaway()
        t0 = time.monotonic()
        assert await until(pilot, lambda: shown(app, name), DEADLINE), f"{name} not shown"
        appeared = time.monotonic() - t0
        ct = container(app, name)
        assert ct is not None
        veth = f"if:{host_ifindex(app, ct.endpoints[0])}"
        assert gt.host_veth_of(name)["ifindex"] == host_ifindex(app, ct.endpoints[0])
        gt.remove_container(name)
        t0 = time.monotonic()
        assert await until(
            pilot,
            lambda: (
                container(app, name) is None
                and veth not in table(app, "interfaces").table.keys
                and veth not in table(app, "bridges").table.keys
            ),
            DEADLINE,
        ), f"{name} still shown"
        print(f"appeared {appeared:.2f} s after docker run returned, "
              f"gone {time.monotonic() - t0:.2f} s after docker rm -f")  # fmt: skip


async def test_selection_survives_refreshes_and_a_vanished_one_moves_on(
    lab: str, throwaway: Callable[..., str]
) -> None:
    app = create_app()
    async with live(app) as pilot:
        containers = table(app, "containers").table
        test1 = container(app, "test1")
        assert test1 is not None
        await pilot.press("1")
        while containers.cursor_key != test1.key:
            await pilot.press("down")
        await pilot.pause()
        assert app.selected == test1.key
        # where the selected row is on the screen (rows above it may come and go)
        on_screen = containers.cursor_row - containers.scroll_y
        name = throwaway()  # a refresh (rows added)
        assert await until(pilot, lambda: shown(app, name), DEADLINE)
        assert app.selected == test1.key and containers.cursor_key == test1.key
        await pilot.pause()
        if containers.max_scroll_y > 0:  # room to keep it where it was
            assert containers.cursor_row - containers.scroll_y == on_screen
        top = containers.scroll_y
        assert top <= containers.cursor_row < top + containers.scrollable_content_region.height
        # now select the throwaway container and remove it
        ct = container(app, name)
        assert ct is not None
        while containers.cursor_key != ct.key:
            await pilot.press("down" if containers.get_row_index(ct.key) > containers.cursor_row
                              else "up")  # fmt: skip
        await pilot.pause()
        assert app.selected == ct.key
        row = containers.cursor_row
        gt.remove_container(name)
        assert await until(pilot, lambda: container(app, name) is None, DEADLINE)
        await pilot.pause()
        assert app.selected is not None and app.selected != ct.key
        assert containers.cursor_key == app.selected
        assert containers.cursor_row == min(row, len(containers.keys) - 1)
        assert app.details.note == f"{name} is gone (removed at refresh)"
        assert f"{name} is gone" in str(app.details.body.render())


COUNTERS = ("packets", "bytes", "delta_packets", "delta_bytes")


def comparable(snap: Snapshot) -> dict[str, Any]:
    """The read and its correlation as JSON, without what moves by itself between two
    reads (timings, rule counters, NAT flows)."""
    doc = snapshot_to_dict(snap)
    for key in ("sources", "collect_seconds", "conntrack"):
        doc.pop(key)
    for ct in doc["containers"]:
        ct.pop("conntrack")
    for item in (*doc["rules"], *doc["chains"]):
        for key in COUNTERS:
            item.pop(key, None)
    return doc


def test_a_removal_is_read_without_docker_and_equals_a_fresh_read(
    lab: str, throwaway: Callable[..., str]
) -> None:
    """docker rm -f: the live feed drops the container from its last Docker read,
    reads netlink (and the firewall for a container that published a port), and the
    read it emits equals a fresh full read of the host."""
    both = throwaway("nxlab", "bridge")
    published = throwaway(extra_args=["-p", "127.0.0.1:18093:80"])
    feed = LiveFeed(interval=3600)
    reads: queue.Queue[tuple[Snapshot, list[str]]] = queue.Queue()
    thread = threading.Thread(target=feed.run, args=(lambda s, r: reads.put((s, r)),))
    thread.start()
    try:
        last, _ = reads.get(timeout=15)
        while True:  # the watchers' own first read, and whatever trails it
            try:
                last, _ = reads.get(timeout=1.0)
            except queue.Empty:
                break
        for name in (both, published):
            assert container_named(last, name) is not None
            gt.remove_container(name)
            destroyed = f"docker: container destroy {name}"
            end = time.monotonic() + 10
            while True:
                snap, reasons = reads.get(timeout=max(0.1, end - time.monotonic()))
                if destroyed in reasons:
                    break
                last = snap
            fresh = collect_snapshot()
            docker = snap.source("docker")
            assert docker is not None and docker.ok and not docker.stale
            assert docker.read_at == last.source("docker").read_at  # type: ignore[union-attr]
            assert container_named(snap, name) is None
            assert comparable(snap) == comparable(fresh)
            last = snap
    finally:
        feed.stop()
        thread.join(10)
    assert not thread.is_alive()


def test_a_poll_without_a_swarm_enters_no_namespace(
    lab: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the lab (no swarm: no ingress_sbox, no task) the firewall poll reads the
    host's tables only: the routing mesh's reader, which enters namespaces and runs
    the save tools there, is never called, and Docker's part is the last one."""
    from netexplorer.collect.firewall import netns_tables

    if os.path.exists("/var/run/docker/netns/ingress_sbox"):
        pytest.skip("the lab's dockerd is in a swarm (scripts/lab swarm up)")
    entered: list[str] = []
    real = netns_tables.read_one
    monkeypatch.setattr(
        netns_tables, "read_one", lambda netns, *a: entered.append(netns) or real(netns, *a)
    )
    feed = LiveFeed(watch=False)
    first = feed.collect()
    polled = feed.collect(POLLED)
    assert first.source("docker") is not None and first.source("docker").ok  # type: ignore[union-attr]
    assert entered == []
    assert polled.containers is first.containers and polled.namespaces is first.namespaces
    assert polled.rules is not first.rules


def container_named(snap: Snapshot, name: str) -> Container | None:
    return next((c for c in snap.containers if c.name == name), None)


def masquerade(app: NetExplorerApp) -> Rule | None:
    snap = app.snapshot
    backend = f"iptables-{gt.active_iptables_mode()}"
    rules = snap.rules if snap else []
    return next((r for r in rules if r.text == MASQ_DEFAULT and r.backend == backend), None)


def safe_ping_from_test1() -> None:
    """One echo to the lab's "internet", only if the route goes into our own netns."""
    route = gt.route_get(gt.INET_ADDR)
    assert route.get("dev") == gt.INET_HOST_IF, f"refusing to ping: {route}"
    gt.run("docker", "exec", "test1", "ping", "-c1", "-W2", gt.INET_ADDR)


async def test_masquerade_counts_and_conntrack_shows_the_snat_address(lab: str) -> None:
    app = create_app(interval=1.0)
    async with live(app) as pilot:
        test1 = container(app, "test1")
        assert test1 is not None and masquerade(app) is not None
        before = {id(f) for f in flows(app, test1)}
        known = {(f.orig_sport, f.reply_dst) for f in flows(app, test1)}
        # a new flow: busybox ping's echo id is its pid, so every exec is a new flow
        safe_ping_from_test1()

        def counted() -> Rule | None:
            rule = masquerade(app)
            return rule if rule is not None and (rule.delta_packets or 0) >= 1 else None

        rule = await until(pilot, counted, 5)
        assert rule is not None, "MASQUERADE delta never rose"
        pane = table(app, "rules")
        delta = [k for k, _ in pane.shown_columns()].index("delta")
        assert pane.table.cells(rule.key)[delta].plain == f"+{rule.delta_packets}"

        def new_flow() -> Any:
            return next(
                (
                    f
                    for f in flows(app, container(app, "test1"))
                    if id(f) not in before
                    and f.proto == "icmp"
                    and f.orig_dst == gt.INET_ADDR
                    and (f.orig_sport, f.reply_dst) not in known
                ),
                None,
            )

        flow = await until(pilot, new_flow, 5)
        assert flow is not None, "no new conntrack entry for the ping"
        assert flow.nat == "snat" and flow.orig_src == "172.17.0.2"
        assert flow.reply_dst == gt.INET_HOST_ADDR == "198.51.100.1"
        ct = container(app, "test1")
        assert ct is not None
        app.select(ct.key, "containers")
        await pilot.pause()
        text = str(app.details.body.render())
        assert "icmp 172.17.0.2 -> 203.0.113.1 leaves as 198.51.100.1 (SNAT)" in text


# ------------------------------------------------------------------ the daemon going away
RECOVERY_DEADLINE = 30.0  # functional: back on its own once dockerd is up again


def docker_source_state(app: NetExplorerApp) -> tuple[bool, bool] | None:
    """(ok, stale) of the Docker source in the snapshot shown, None before the first."""
    src = app.snapshot.source("docker") if app.snapshot else None
    return (src.ok, src.stale) if src is not None else None


def shows_veth(app: NetExplorerApp, name: str, veth: dict[str, Any]) -> bool:
    """``name`` is shown (row, veth, bridge port) with the host veth ``veth`` (ground truth)."""
    ct = container(app, name)
    snap = app.snapshot
    if ct is None or snap is None or not shown(app, name):
        return False
    names = {i.ifindex: i.name for i in snap.interfaces}
    return [host_ifindex(app, ep) for ep in ct.endpoints] == [veth["ifindex"]] and names.get(
        veth["ifindex"]
    ) == veth["ifname"]


async def test_real_dockerd_stop_and_start_is_survived(lab: str) -> None:
    """The live issue's "Done when": the running app survives dockerd stopping and starting.

    The real dockerd is stopped and started with scripts/lab (the one place that
    knows how); a finally brings dockerd and the lab back even if the test fails.
    """
    clock = [1000.0]
    app = create_app(interval=1.0, clock=lambda: clock[0])
    try:
        async with live(app) as pilot:
            assert await until(pilot, lambda: shown(app, "test1") and shown(app, "test2"), 10)
            before = {n: gt.host_veth_of(n) for n in ("test1", "test2")}
            banner = app.query_one(Banner)
            assert not banner.display

            await asyncio.to_thread(gt.lab_command, "dockerd-stop")
            assert not gt.docker_answers()
            down = await until(pilot, lambda: docker_source_state(app) == (False, True), 15)
            assert down, f"the daemon's absence was not noticed: {docker_source_state(app)}"
            read_at = app.snapshot.source("docker").read_at  # type: ignore[union-attr]
            clock[0] = read_at + 42
            await pilot.pause(1.2)  # the banner's age ticks once a second
            text = str(banner.render())
            assert banner.display, "no banner with dockerd stopped"
            assert "No Docker daemon answers at unix:///var/run/docker.sock" in text, text
            assert "start it (systemctl start docker, or dockerd &)" in text, text
            assert "docker: STALE - showing what was read 42 s ago" in text, text
            for name in ("test1", "test2"):  # the last read, still on screen
                ct = container(app, name)
                assert ct is not None and ct.key in table(app, "containers").table.keys
            assert table(app, "containers").has_class("-stale")
            # the kernel took the containers' veths away; Docker's last read still
            # lists them: no warning and no doctor finding out of that mismatch
            gone = {v["ifindex"] for v in before.values()}

            def veths_gone() -> bool:
                snap = app.snapshot
                return snap is not None and not gone & {i.ifindex for i in snap.interfaces}

            assert await until(pilot, veths_gone, 15)
            snap = app.snapshot
            assert snap is not None
            assert app.analysis is not None
            warnings = [*snap.warnings, *app.analysis.correlation.warnings]
            assert not [w for w in warnings if "no host veth found" in w], warnings
            assert app.findings == [] and diagnose(snap) == []
            assert "Traceback" not in app.export_screenshot()

            await asyncio.to_thread(gt.lab_command, "up")  # dockerd and the lab are back
            after = {n: gt.host_veth_of(n) for n in ("test1", "test2")}
            for name in after:  # a restarted container has a new veth pair
                assert after[name]["ifindex"] != before[name]["ifindex"], name

            def recovered() -> bool:
                return (
                    docker_source_state(app) == (True, False)
                    and not banner.display
                    and all(shows_veth(app, n, veth) for n, veth in after.items())
                )

            assert await until(pilot, recovered, RECOVERY_DEADLINE), (
                f"not recovered: docker {docker_source_state(app)}, banner "
                f"{str(banner.render())!r}, truth {after}"
            )
            assert "Traceback" not in app.export_screenshot()
    finally:
        if gt.lab_status()[0] != 0:
            gt.lab_command("up")
