"""Remote hosts for real: a throwaway sshd on 127.0.0.1 (benchmarks/sshd.py) with keys
made for the test, the system ssh client, and ``netexplorer agent`` on the far side.

The remote read of the lab is compared with the local read; live events, a dropped
connection (sshd and its sessions killed, then started again), a wrong key,
netexplorer missing from the remote PATH, a sudo that wants a password and an
unreachable host are each produced for real and must be said in words.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from benchmarks.sshd import ThrowawaySshd, free_port
from integration import groundtruth as gt
from integration.test_live import MASQ_DEFAULT, container, live, shown, table, until
from netexplorer.model import Snapshot
from netexplorer.remote.feed import SSH_SOURCE, RemoteFeed
from netexplorer.remote.target import parse_target
from netexplorer.ui.app import NetExplorerApp, create_app
from netexplorer.ui.banner import Banner
from netexplorer.ui.hosts import HostsPane


@pytest.fixture(scope="module")
def sshd(lab: str) -> Iterator[ThrowawaySshd]:
    server = ThrowawaySshd()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def ssh_env(sshd: ThrowawaySshd, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The app and the CLI reach the throwaway sshd with the authorized key."""
    env = sshd.env("good")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@contextlib.contextmanager
def made_user(prefix: str, sudo_rule: str) -> Iterator[str]:
    """A user with a plain /bin/sh (no rc file puts anything in its PATH), no password
    and ``USER ALL=(root) {sudo_rule}`` in sudoers; removed afterwards."""
    user = f"{prefix}{uuid.uuid4().hex[:8]}"
    sudoers = Path("/etc/sudoers.d") / user
    subprocess.run(["useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", user], check=True)
    try:
        subprocess.run(["usermod", "-p", "*", user], check=True)  # not locked, no password
        sudoers.write_text(f"{user} ALL=(root) {sudo_rule}\n")
        sudoers.chmod(0o440)
        yield user
    finally:
        sudoers.unlink(missing_ok=True)
        subprocess.run(["userdel", user], check=False)


@pytest.fixture(scope="module")
def test_user() -> Iterator[str]:
    """A user without netexplorer in its PATH, whose sudo rule needs a password."""
    with made_user("nxr", "ALL") as user:
        yield user


def cli(*args: str, ssh: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netexplorer", *args],
        capture_output=True,
        text=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("NETEXPLORER_")}, **ssh},
        cwd=gt.REPO,
        timeout=90,
        check=False,
    )


def stable(doc: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without timings, host metadata, live connections and counters."""
    strip = ("collect_seconds", "sources", "conntrack", "host")
    counters = ("packets", "bytes", "delta_packets", "delta_bytes")
    out = {k: v for k, v in doc.items() if k not in strip}
    out["containers"] = [{**c, "conntrack": []} for c in doc["containers"]]
    for key in ("rules", "chains"):
        out[key] = [{k: v for k, v in r.items() if k not in counters} for r in doc[key]]
    return out


def moving_names(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """Names and ids of the containers (and their host veths) that differ between two
    local snapshots: what other work on the shared lab started or removed meanwhile."""
    seen = [{c["name"]: c for c in doc["containers"]} for doc in (before, after)]
    names: set[str] = set()
    for name in set(seen[0]) | set(seen[1]):
        one, two = (s.get(name) for s in seen)
        if one is None or two is None or stable_container(one) != stable_container(two):
            for ct in (c for c in (one, two) if c is not None):
                names |= {ct["name"], ct["id"]}
                names |= {e["host_veth"] for e in ct["endpoints"] if e.get("host_veth")}
    return names


def stable_container(ct: dict[str, Any]) -> dict[str, Any]:
    return {**ct, "conntrack": []}


def without(doc: Any, names: set[str]) -> Any:
    """``doc`` without the list items (at any depth) that mention one of ``names``."""
    if isinstance(doc, dict):
        return {k: without(v, names) for k, v in doc.items()}
    if isinstance(doc, list):
        kept = [x for x in doc if not (isinstance(x, dict) and mentions(x, names))]
        return [without(x, names) for x in kept]
    return doc


def mentions(item: dict[str, Any], names: set[str]) -> bool:
    text = json.dumps(item)
    return any(f'"{n}"' in text for n in names)


def test_remote_snapshot_equals_the_local_one(sshd: ThrowawaySshd, ssh_env: dict[str, str]) -> None:
    """Compared where the host held still: containers that other work on the shared
    lab started or removed between a local read before and one after the remote read
    are left out, with whatever names them (on an idle lab, nothing is)."""
    before = cli("snapshot", "--json", ssh=ssh_env)
    remote = cli("snapshot", "--json", "--host", sshd.url(), ssh=ssh_env)
    assert remote.returncode == 0, remote.stderr
    local = cli("snapshot", "--json", ssh=ssh_env)
    assert local.returncode == 0, local.stderr
    moving = moving_names(json.loads(before.stdout), json.loads(local.stdout))
    assert all(n.startswith(("nx", "veth")) or len(n) == 64 for n in moving), moving
    rdoc, ldoc = (without(json.loads(p.stdout), moving) for p in (remote, local))
    assert len(ldoc["containers"]) > len(moving) // 2
    endpoints = {(c["name"], e["network"]): e for c in ldoc["containers"] for e in c["endpoints"]}
    assert endpoints
    assert {
        (c["name"], e["network"]): e for c in rdoc["containers"] for e in c["endpoints"]
    } == endpoints
    assert endpoints[("test1", "bridge")]["host_veth"] == gt.host_veth_of("test1")["ifname"]
    assert stable(rdoc) == stable(ldoc)
    assert [s["name"] for s in rdoc["sources"]] == [s["name"] for s in ldoc["sources"]]
    assert all(s["ok"] for s in rdoc["sources"])


def test_docker_host_and_the_docker_context_are_honoured(
    sshd: ThrowawaySshd, ssh_env: dict[str, str], tmp_path: Path
) -> None:
    """As the Docker CLI does: DOCKER_HOST, else the current context (made by the real
    ``docker context`` in a private DOCKER_CONFIG). A closed port proves which host
    was read: its words name it."""
    closed = f"ssh://root@127.0.0.1:{free_port()}"
    config = {"DOCKER_CONFIG": str(tmp_path)}
    for name, url in (("nx-good", sshd.url()), ("nx-closed", closed)):
        made = subprocess.run(
            ["docker", "context", "create", name, "--docker", f"host={url}"],
            env={**os.environ, **config},
            capture_output=True,
            text=True,
            check=False,
        )
        assert made.returncode == 0, made.stderr
    for how, url in (("DOCKER_HOST", sshd.url()), ("DOCKER_HOST", closed), ("context", "")):
        env = {**ssh_env, "DOCKER_HOST": url} if how == "DOCKER_HOST" else ssh_env
        proc = cli("snapshot", ssh={**env, **config, "DOCKER_CONTEXT": "nx-good"})
        assert proc.returncode == (5 if url == closed else 0), proc.stderr
        if url == closed:
            assert f"{closed[6:]}: unreachable" in proc.stderr
        else:
            assert "test1" in proc.stdout and "docker0" in proc.stdout
    for name, code in (("nx-closed", 5), ("nx-good", 0)):
        used = subprocess.run(
            ["docker", "context", "use", name],
            env={**os.environ, **config},
            capture_output=True,
            check=False,
        )
        assert used.returncode == 0, used.stderr
        assert json.loads((tmp_path / "config.json").read_text())["currentContext"] == name
        proc = cli("snapshot", ssh={**ssh_env, **config})
        assert proc.returncode == code, proc.stderr
        assert ("unreachable" in proc.stderr) == (code == 5)


def without_counters(doc: Any) -> Any:
    """A JSON document without packet and byte counters (they move between two reads)."""
    if isinstance(doc, dict):
        return {
            k: without_counters(v)
            for k, v in doc.items()
            if k not in ("packets", "bytes", "delta_packets", "delta_bytes")
        }
    if isinstance(doc, list):
        return [without_counters(v) for v in doc]
    if isinstance(doc, str):
        return re.sub(r" · \d+ pkts$", "", doc)  # a NAT rule's label on the map
    return doc


def remote_and_local(sshd: ThrowawaySshd, ssh_env: dict[str, str], *args: str) -> tuple[Any, Any]:
    """``netexplorer ARGS`` over ssh and here, as JSON without counters, from a moment
    the host held still (a local read before and after the remote one agree: other
    work on the shared lab starts and stops containers)."""
    for _ in range(4):
        before = cli(*args, ssh=ssh_env)
        remote = cli(*args, "--host", sshd.url(), ssh=ssh_env)
        after = cli(*args, ssh=ssh_env)
        assert remote.returncode == after.returncode, remote.stderr + after.stderr
        docs = [without_counters(json.loads(p.stdout)) for p in (before, remote, after)]
        if docs[0] == docs[2]:
            return docs[1], docs[2]
    pytest.fail("the host kept changing while it was read")


def steady_part(doc: dict[str, Any], moving: set[str]) -> dict[str, Any]:
    """A map without the nodes in ``moving`` and their edges."""
    return {
        **doc,
        "nodes": [n for n in doc["nodes"] if n["id"] not in moving],
        "edges": [e for e in doc["edges"] if not {e["from"], e["to"]} & moving],
    }


def test_map_over_ssh_equals_the_local_map(sshd: ThrowawaySshd, ssh_env: dict[str, str]) -> None:
    """Compared where the host held still: containers that other work on the shared
    lab started or removed between a local read before and one after the remote read
    are left out (on an idle lab, nothing is)."""
    args = ("map", "--format", "json")
    before, remote, after = (
        without_counters(json.loads(cli(*args, *h, ssh=ssh_env).stdout))
        for h in ((), ("--host", sshd.url()), ())
    )
    changed = [n for n in before["nodes"] if n not in after["nodes"]]
    changed += [n for n in after["nodes"] if n not in before["nodes"]]
    moving = {n["id"] for n in changed}
    assert all(n["kind"] == "container" and "nx" in n["label"] for n in changed), changed
    assert len(moving) < len(after["nodes"]) // 4
    local = steady_part(after, moving)
    kinds = {n["kind"] for n in local["nodes"]}
    assert {"container", "network", "nat", "internet"} <= kinds
    test1 = next(n for n in local["nodes"] if n["label"].startswith("test1\n"))
    veth = gt.host_veth_of("test1")["ifname"]
    assert any(e["from"] == test1["id"] and e["label"] == veth for e in local["edges"])
    assert steady_part(remote, moving) == local


def test_path_over_ssh_equals_the_local_path(sshd: ThrowawaySshd, ssh_env: dict[str, str]) -> None:
    remote, local = remote_and_local(sshd, ssh_env, "path", "test1", "internet", "--json")
    assert local["packet"]["src"] == gt.container_ips("test1")["bridge"]
    assert any(gt.host_veth_of("test1")["ifname"] in h["title"] for h in local["hops"])
    assert remote == local
    tcp = ("path", "test1", "web", "--proto", "tcp", "--port", "80", "--json")
    remote, local = remote_and_local(sshd, ssh_env, *tcp)
    assert local["hops"][-1]["kind"] == "deliver"
    assert remote == local


def test_wrong_key_is_authentication_refused(sshd: ThrowawaySshd) -> None:
    proc = cli("snapshot", "--host", sshd.url(), ssh=sshd.env("stranger"))
    assert proc.returncode == 5
    assert "authentication refused" in proc.stderr and "never asks for a password" in proc.stderr


def test_netexplorer_missing_from_the_remote_path_gives_the_install_command(
    sshd: ThrowawaySshd, test_user: str
) -> None:
    for sudo in ([], ["--remote-sudo"]):
        proc = cli("snapshot", "--host", sshd.url(test_user), *sudo, ssh=sshd.env("bare"))
        assert proc.returncode == 5, proc.stderr
        assert "netexplorer is not installed there" in proc.stderr
        assert "'pip install netexplorer'" in proc.stderr


def test_unreachable_host_and_doctor_over_several_hosts(
    sshd: ThrowawaySshd, ssh_env: dict[str, str]
) -> None:
    closed = f"ssh://root@127.0.0.1:{free_port()}"
    proc = cli("doctor", "--host", sshd.url(), "--host", closed, ssh=ssh_env)
    assert proc.returncode == 5  # the worst: one host could not be read
    assert f"== root@127.0.0.1:{sshd.port}" in proc.stdout
    assert "unreachable" in proc.stderr and "Connection refused" in proc.stderr
    alone = cli("doctor", "--json", "--host", sshd.url(), ssh=ssh_env)
    assert alone.returncode in (0, 3), alone.stderr  # the lab's own findings, if any
    both = cli("doctor", "--json", "--host", sshd.url(), "--host", closed, ssh=ssh_env)
    hosts = json.loads(both.stdout)["hosts"]
    assert [h["exit"] for h in hosts] == [alone.returncode, 5]
    assert hosts[0]["findings"] == json.loads(alone.stdout)["findings"]


def test_sudo_asking_for_a_password_is_said(
    sshd: ThrowawaySshd, ssh_env: dict[str, str], test_user: str
) -> None:
    url = sshd.url(test_user)
    proc = cli("snapshot", "--host", url, "--remote-sudo", ssh=ssh_env)
    assert proc.returncode == 5, proc.stderr
    assert "sudo asks for a password there" in proc.stderr


def test_root_with_remote_sudo_reads_the_lab(sshd: ThrowawaySshd, ssh_env: dict[str, str]) -> None:
    proc = cli("snapshot", "--host", sshd.url(), "--remote-sudo", ssh=ssh_env)
    assert proc.returncode == 0, proc.stderr
    assert "test1" in proc.stdout


# ------------------------------------------------------------------ live, over ssh
def run_feed(feed: RemoteFeed) -> tuple[queue.Queue[tuple[Snapshot, list[str]]], threading.Thread]:
    reads: queue.Queue[tuple[Snapshot, list[str]]] = queue.Queue()
    thread = threading.Thread(target=feed.run, args=(lambda s, r: reads.put((s, r)),))
    thread.start()
    return reads, thread


def next_read(
    reads: queue.Queue[tuple[Snapshot, list[str]]],
    check: Callable[[Snapshot], bool],
    timeout: float = 20,
) -> Snapshot:
    import time

    end = time.monotonic() + timeout
    while True:
        snap, _ = reads.get(timeout=max(0.01, end - time.monotonic()))
        if check(snap):
            return snap


def names(snap: Snapshot) -> set[str]:
    return {c.name for c in snap.containers}


def running(snap: Snapshot) -> set[str]:
    return {c.name for c in snap.containers if c.state == "running"}


def test_live_events_arrive_over_ssh(
    sshd: ThrowawaySshd, ssh_env: dict[str, str], throwaway: Callable[..., str]
) -> None:
    feed = RemoteFeed(parse_target(sshd.url()), interval=2.0)
    reads, thread = run_feed(feed)
    try:
        next_read(reads, lambda s: "test1" in names(s))
        name = throwaway()
        snap = next_read(reads, lambda s: name in running(s))
        ct = next(c for c in snap.containers if c.name == name)
        assert ct.endpoints[0].ipv4 == gt.container_ips(name).get("bridge")
        gt.remove_container(name)
        next_read(reads, lambda s: name not in names(s))
    finally:
        feed.stop()
        thread.join(10)
    assert not thread.is_alive()


def test_connection_dropped_mid_session_is_stale_then_reconnects(
    sshd: ThrowawaySshd, ssh_env: dict[str, str]
) -> None:
    feed = RemoteFeed(parse_target(sshd.url()), interval=1.0, backoff=(0.5, 1.0))
    reads, thread = run_feed(feed)
    try:
        first = next_read(reads, lambda s: "test1" in names(s))
        sshd.stop()
        stale = next_read(reads, lambda s: s.source(SSH_SOURCE) is not None)
        ssh = stale.source(SSH_SOURCE)
        assert ssh is not None and not ssh.ok and ssh.stale
        assert "connection was lost" in (ssh.error or "")
        assert all(s.stale for s in stale.sources)
        assert names(stale) == names(first)  # the last read stays
        failed = next_read(reads, lambda s: "unreachable" in str(s.sources[0].error))
        assert names(failed) == names(first) and "reconnecting in" in str(failed.sources[0].error)
        sshd.start()
        again = next_read(reads, lambda s: s.source(SSH_SOURCE) is None)
        assert "test1" in names(again) and not any(s.stale for s in again.sources)
    finally:
        feed.stop()
        thread.join(10)
        if sshd.proc is None:
            sshd.start()


# ------------------------------------------------------------------ the app, over ssh
async def select_row(pilot: Pilot[Any], key: str, name: str) -> None:
    """Select a container as the user does: ``/`` and its name."""
    app = pilot.app
    assert isinstance(app, NetExplorerApp)
    await pilot.press("1", "slash", *name, "enter")
    assert await until(pilot, lambda: app.selected == key, 10), app.selected
    assert table(app, "containers").table.cursor_key == key


async def test_app_over_ssh_cross_links_follows_and_survives_a_drop(
    sshd: ThrowawaySshd, ssh_env: dict[str, str], throwaway: Callable[..., str]
) -> None:
    app = create_app(hosts=[parse_target(sshd.url())], interval=1.0)
    async with live(app) as pilot:
        assert str(app.query_one("#topbar").render()).count(f"ssh root@127.0.0.1:{sshd.port}")
        # cross-links: test1 lights up its veth, its port and docker0's MASQUERADE
        test1 = container(app, "test1")
        assert test1 is not None and app.links is not None
        await select_row(pilot, test1.key, "test1")
        assert app.analysis is not None
        veth = f"if:{app.analysis.correlation.wiring(test1.endpoints[0]).host_ifindex}"
        assert veth in table(app, "interfaces").table.marked()
        assert veth in table(app, "bridges").table.marked()
        masq = [r.key for r in app.snapshot.rules if r.text == MASQ_DEFAULT]  # type: ignore[union-attr]
        assert masq and set(masq) & set(table(app, "rules").table.marked())
        # live: a container started on the host appears with its veth and port
        name = throwaway()
        assert await until(pilot, lambda: shown(app, name), 20), f"{name} not shown"
        # the connection drops: banner, stale panes, the last read kept
        sshd.stop()
        banner = app.query_one(Banner)
        assert await until(pilot, lambda: "connection was lost" in str(banner.render()), 20)
        assert banner.display and container(app, name) is not None
        assert "stale" in str(table(app, "containers").border_title)
        assert app.selected == test1.key
        sshd.start()
        assert await until(pilot, lambda: not banner.display, 30), str(banner.render())
        assert app.selected == test1.key and container(app, "test1") is not None
        assert "stale" not in str(table(app, "containers").border_title)


async def test_app_with_two_hosts_keeps_each_selection(
    sshd: ThrowawaySshd, ssh_env: dict[str, str]
) -> None:
    closed = f"ssh://root@127.0.0.1:{free_port()}"
    hosts = [parse_target(sshd.url()), parse_target(closed)]
    app = create_app(hosts=hosts, interval=2.0)
    async with live(app) as pilot:
        pane = app.query_one(HostsPane)
        assert pane.display
        assert await until(pilot, lambda: app.views[1].state == "failed", 20)
        assert app.views[0].state == "connected"
        assert "unreachable" in app.views[1].detail
        rows = [str(pane.get_row_at(n)[2]) + str(pane.get_row_at(n)[3]) for n in range(2)]
        assert "connected" in rows[0] and "failed" in rows[1] and "unreachable" in rows[1]
        test1 = container(app, "test1")
        assert test1 is not None
        await select_row(pilot, test1.key, "test1")
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert app.current == 1 and app.selected is None and not app.snapshot.containers  # type: ignore[union-attr]
        assert "unreachable" in str(app.query_one(Banner).render())
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert app.current == 0 and app.selected == test1.key
        assert table(app, "containers").table.cursor_key == test1.key
