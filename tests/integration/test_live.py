"""The live app on the lab: it follows containers, counters, NAT and the Docker daemon.

Each test drives the real app (live source: Docker events, netlink events, the
firewall/conntrack poll) with Pilot and changes the host with the standard tools
(docker run/rm/exec). The 2 s deadlines are the issue's functional requirement
("appears within 2 s"); timings are otherwise the benchmark's business.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from integration import groundtruth as gt
from netexplorer.model import Container, Rule
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


def shown(app: NetExplorerApp, name: str) -> bool:
    """The container's row, its veth and its bridge port are all on screen."""
    ct = container(app, name)
    if ct is None or ct.key not in table(app, "containers").table.keys:
        return False
    veths = [f"if:{ep.host_ifindex}" for ep in ct.endpoints if ep.host_ifindex]
    return bool(veths) and all(
        v in table(app, "interfaces").table.keys and v in table(app, "bridges").table.keys
        for v in veths
    )


async def live_app(pilot: Pilot[Any]) -> NetExplorerApp:
    app = pilot.app
    assert isinstance(app, NetExplorerApp)
    assert await until(pilot, lambda: container(app, "test1"), 15), "no first snapshot"
    return app


async def test_a_container_appears_and_goes_within_2s_with_its_veth_and_port(
    lab: str, throwaway: Callable[..., str]
) -> None:
    app = create_app()
    async with app.run_test(size=WIDE) as pilot:
        await live_app(pilot)
        name = throwaway()
        t0 = time.monotonic()
        assert await until(pilot, lambda: shown(app, name), DEADLINE), f"{name} not shown"
        appeared = time.monotonic() - t0
        ct = container(app, name)
        assert ct is not None
        veth = f"if:{ct.endpoints[0].host_ifindex}"
        assert gt.host_veth_of(name)["ifindex"] == ct.endpoints[0].host_ifindex
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
    async with app.run_test(size=WIDE) as pilot:
        await live_app(pilot)
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
    async with app.run_test(size=WIDE) as pilot:
        await live_app(pilot)
        test1 = container(app, "test1")
        assert test1 is not None and masquerade(app) is not None
        before = {id(f) for f in test1.conntrack}
        known = {(f.orig_sport, f.reply_dst) for f in test1.conntrack}
        # a new flow: busybox ping's echo id is its pid, so every exec is a new flow
        safe_ping_from_test1()

        def counted() -> Rule | None:
            rule = masquerade(app)
            return rule if rule is not None and (rule.delta_packets or 0) >= 1 else None

        rule = await until(pilot, counted, 5)
        assert rule is not None, "MASQUERADE delta never rose"
        rules = table(app, "rules").table
        assert rules.cells(rule.key)[0].plain == f"+{rule.delta_packets}"

        def new_flow() -> Any:
            ct = container(app, "test1")
            flows = ct.conntrack if ct else []
            return next(
                (
                    f
                    for f in flows
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
class SocketProxy:
    """A Unix socket forwarding to the Docker socket: a daemon we may stop and start.

    Stopping it closes every connection (the event stream breaks, as when dockerd
    stops) and refuses new ones; starting it again is the daemon coming back. The
    real dockerd, shared with other users of this host, is never touched.
    """

    def __init__(self, path: Path, target: str = "/var/run/docker.sock") -> None:
        self.path, self.target = path, target
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        with suppress(FileNotFoundError):
            self.path.unlink()
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(self.path))
        server.listen(16)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            with suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        with self._lock:
            for conn in self._conns:
                with suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()
        with suppress(FileNotFoundError):
            self.path.unlink()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.target)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def docker_proxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SocketProxy]:
    proxy = SocketProxy(tmp_path / "docker.sock")
    proxy.start()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{proxy.path}")
    try:
        yield proxy
    finally:
        proxy.stop()


async def test_daemon_going_away_shows_a_stale_banner_and_recovers(
    lab: str, docker_proxy: SocketProxy
) -> None:
    clock = [1000.0]
    app = create_app(interval=1.0, clock=lambda: clock[0])
    async with app.run_test(size=WIDE) as pilot:
        await live_app(pilot)
        banner = app.query_one(Banner)
        assert not banner.display
        read_at = app.snapshot.source("docker").read_at  # type: ignore[union-attr]
        docker_proxy.stop()  # the daemon stops answering

        def stale() -> bool:
            src = app.snapshot.source("docker") if app.snapshot else None
            return src is not None and src.stale

        assert await until(pilot, stale, 10), "the stream break was not noticed"
        clock[0] = read_at + 42
        await pilot.pause(1.2)  # the banner's age ticks once a second
        text = str(banner.render())
        assert banner.display and "No Docker daemon answers" in text
        assert "STALE - showing what was read 42 s ago" in text
        assert container(app, "test1") is not None  # still shown, marked stale
        assert "Traceback" not in app.export_screenshot()

        docker_proxy.start()  # the daemon is back: the watcher reconnects by itself

        def recovered() -> bool:
            src = app.snapshot.source("docker") if app.snapshot else None
            return src is not None and src.ok and not src.stale

        assert await until(pilot, recovered, 10), "did not reconnect"
        await pilot.pause()
        assert container(app, "test1") is not None and not banner.display
        assert os.environ["DOCKER_HOST"].endswith("docker.sock")
