"""netlink_source against the live host, checked with `ip`, `bridge` and `docker exec`.

Run as root with the lab up. Throwaway links and namespaces made here are all named
``nxnl-*`` and removed in the fixtures' ``finally``; nothing else on the host is changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from netlink_views import model_view, truth_from_ip

from netexplorer.collect.errors import SourceError
from netexplorer.collect.netlink_source import NetlinkData, collect_netlink, netnsids_for_pids

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ helpers
def require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("netlink integration tests must run as root (sudo pytest -m integration)")


def run(*argv: str | bytes, check: bool = True) -> str:
    proc = subprocess.run(argv, capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{argv!r} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode("utf-8", "surrogateescape")


def ip_json(*args: str) -> Any:
    return json.loads(run("ip", "-j", *args) or "[]")


def bridge_json() -> Any:
    return json.loads(run("bridge", "-j", "link") or "[]")


def _shape(ip_link: list[Any]) -> list[tuple[str, ...]]:
    keys = ("ifindex", "ifname", "operstate", "flags", "master", "mtu", "address")
    return [tuple(str(link.get(k)) for k in keys) for link in ip_link]


def consistent_read() -> tuple[NetlinkData, list[Any], list[Any], list[Any]]:
    """collect_netlink() bracketed by `ip` reads that agree (the lab may be changing)."""
    for _ in range(10):
        before = ip_json("-d", "link", "show")
        data = collect_netlink()
        ip_addr = ip_json("addr")
        bridge = bridge_json()
        after = ip_json("-d", "link", "show")
        if _shape(before) == _shape(after):
            return data, after, ip_addr, bridge
        time.sleep(0.5)
    pytest.fail("host links kept changing during 10 reads")


def assert_matches_ip(data: NetlinkData, ip_link: list[Any], ip_addr: list[Any], br: Any) -> None:
    with_mac = {link["ifindex"] for link in ip_link if "address" in link}
    got = model_view(data, with_mac)
    want = truth_from_ip(ip_link, ip_addr, br)
    assert sorted(got) == sorted(want)
    for ifindex, row in want.items():
        assert got[ifindex] == row, f"ifindex {ifindex}"


def netns_of(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


def start_in_netns(netns: str) -> subprocess.Popen[bytes]:
    """`ip netns exec NETNS sleep 60`, returned once the process is in that netns."""
    proc = subprocess.Popen(["ip", "netns", "exec", netns, "sleep", "60"])
    own = netns_of(os.getpid())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            comm = Path(f"/proc/{proc.pid}/comm").read_text().strip()
            if netns_of(proc.pid) != own and comm == "sleep":
                return proc
        except OSError:
            pass
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"process never entered netns {netns}")


def listed_nsids() -> dict[str, int]:
    """`ip netns list-id`: the ids the kernel has assigned, by netns name."""
    return {e["name"]: e["nsid"] for e in ip_json("netns", "list-id") if "name" in e}


# ------------------------------------------------------------------ throwaway topology
@dataclass
class Throwaway:
    netns: str  # holds the peer of port_up
    idle_netns: str  # no veth into it: the kernel has no id for it
    bridge: str
    port_up: str
    port_down: str
    odd: bytes  # a bridge whose name is not UTF-8
    sleeper: int  # pid inside netns
    idle_sleeper: int  # pid inside idle_netns


@pytest.fixture
def throwaway() -> Iterator[Throwaway]:
    require_root()
    tag = f"{os.getpid() % 10000:04d}"
    t = Throwaway(
        netns=f"nxnl-x{tag}",
        idle_netns=f"nxnl-i{tag}",
        bridge=f"nxnl-b{tag}",
        port_up=f"nxnl-u{tag}",
        port_down=f"nxnl-d{tag}",
        odd=b'nxnl-\xff"<' + tag.encode(),
        sleeper=0,
        idle_sleeper=0,
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        run("ip", "netns", "add", t.netns)
        run("ip", "netns", "add", t.idle_netns)
        run("ip", "link", "add", t.bridge, "type", "bridge")
        peer_in_netns = ("peer", "name", "eth0", "netns", t.netns)
        run("ip", "link", "add", t.port_up, "type", "veth", *peer_in_netns)
        run("ip", "link", "add", t.port_down, "type", "veth", "peer", "name", f"{t.port_down}p")
        run("ip", "link", "add", t.odd, "type", "bridge")
        for port in (t.port_up, t.port_down):
            run("ip", "link", "set", port, "master", t.bridge)
        run("ip", "link", "set", t.bridge, "up")
        run("ip", "link", "set", t.port_up, "up")
        run("ip", "-n", t.netns, "link", "set", "eth0", "up")
        run("ip", "addr", "add", "198.51.100.1/24", "dev", t.bridge)
        procs.append(start_in_netns(t.netns))
        procs.append(start_in_netns(t.idle_netns))
        t.sleeper, t.idle_sleeper = procs[0].pid, procs[1].pid
        yield t
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        for link in (t.bridge, t.port_up, t.port_down, t.odd):
            run("ip", "link", "del", link, check=False)
        for netns in (t.netns, t.idle_netns):
            run("ip", "netns", "del", netns, check=False)
        left = [n for n in ip_json("link", "show") if n["ifname"].endswith(tag)]
        assert not left, f"throwaway links left behind: {left}"


def _wait_port_state(port: str, state: str) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if any(p["ifname"] == port and p["state"] == state for p in bridge_json()):
            return
        time.sleep(0.05)
    raise AssertionError(f"{port} never reached {state}: {bridge_json()}")


# ------------------------------------------------------------------ tests
def test_every_host_link_matches_ip_and_bridge(throwaway: Throwaway) -> None:
    data, ip_link, ip_addr, br = consistent_read()
    assert_matches_ip(data, ip_link, ip_addr, br)
    assert data.warnings == []
    assert [i.ifindex for i in data.interfaces] == sorted(i.ifindex for i in data.interfaces)
    assert [b.name for b in data.bridges] == sorted(b.name for b in data.bridges)


def test_throwaway_bridge_ports_stp_and_netnsid(throwaway: Throwaway) -> None:
    t = throwaway
    _wait_port_state(t.port_up, "forwarding")
    data, ip_link, ip_addr, br = consistent_read()
    assert_matches_ip(data, ip_link, ip_addr, br)
    by_name = {i.name: i for i in data.interfaces}
    bridge = next(b for b in data.bridges if b.name == t.bridge)
    assert bridge.stp is False
    assert [(p.name, p.state) for p in bridge.ports] == [
        (t.port_up, "forwarding"),
        (t.port_down, "disabled"),
    ]
    assert [p.ifindex for p in bridge.ports] == sorted(p.ifindex for p in bridge.ports)
    assert by_name[t.port_up].master == t.bridge
    assert by_name[t.port_up].master_ifindex == bridge.ifindex
    assert [a.cidr for a in by_name[t.bridge].addresses if a.family == "inet"] == [
        "198.51.100.1/24"
    ]
    # the literal, non-UTF-8 name
    assert os.fsdecode(t.odd) in by_name
    # peer in the same netns: index of the peer, no netnsid
    down = by_name[t.port_down]
    assert down.link_ifindex == by_name[f"{t.port_down}p"].ifindex
    assert down.link_netnsid is None

    # the peer's netns as the host sees it == the netns of a process living there
    up = by_name[t.port_up]
    assert up.link_netnsid is not None
    ids = netnsids_for_pids([t.sleeper, t.idle_sleeper, t.sleeper])
    assert ids == {t.sleeper: up.link_netnsid, t.idle_sleeper: None}
    assert listed_nsids()[t.netns] == up.link_netnsid
    # read-only: asking did not give the idle netns an id
    assert t.idle_netns not in listed_nsids()

    # STP on, port re-enabled: listening (forward delay 15 s)
    run("ip", "link", "set", t.bridge, "type", "bridge", "stp_state", "1")
    run("ip", "link", "set", t.port_up, "down")
    run("ip", "link", "set", t.port_up, "up")
    _wait_port_state(t.port_up, "listening")
    data, ip_link, ip_addr, br = consistent_read()
    assert_matches_ip(data, ip_link, ip_addr, br)
    bridge = next(b for b in data.bridges if b.name == t.bridge)
    assert bridge.stp is True
    assert [p.state for p in bridge.ports] == ["listening", "disabled"]


def test_docker_containers_netnsid_matches_their_host_veth() -> None:
    require_root()
    import docker

    client = docker.from_env()
    try:
        containers = [c for c in client.containers.list() if c.attrs["State"].get("Pid")]
    finally:
        client.close()
    if not containers:
        pytest.fail("no running container: is the lab up (scripts/lab up)?")
    pids = {c.name: int(c.attrs["State"]["Pid"]) for c in containers}
    got = netnsids_for_pids(pids.values())
    data = collect_netlink()
    by_index = {i.ifindex: i for i in data.interfaces}
    ip_link = {link["ifindex"]: link for link in ip_json("-d", "link", "show")}
    checked = []
    for c in containers:
        proc = subprocess.run(
            ["docker", "exec", c.name, "cat", "/sys/class/net/eth0/iflink"],
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            continue  # no eth0 (network none/host) or no cat in the image
        host_ifindex = int(proc.stdout)
        truth = ip_link[host_ifindex]
        assert truth["linkinfo"]["info_kind"] == "veth"
        assert got[pids[c.name]] is not None
        assert got[pids[c.name]] == truth["link_netnsid"], c.name
        assert by_index[host_ifindex].link_netnsid == truth["link_netnsid"], c.name
        checked.append(c.name)
    assert checked, "no container had an eth0 to check"


def test_not_root_is_refused_in_words(throwaway: Throwaway) -> None:
    """As nobody, a root process's netns cannot be opened: SourceError says sudo."""
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            result: dict[str, Any] = {"links": len(collect_netlink().interfaces)}
            try:
                result["ids"] = netnsids_for_pids([throwaway.sleeper])
            except SourceError as err:
                result["error"] = str(err)
            os.write(write_fd, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        raw = pipe.read()
    os.waitpid(child, 0)
    result = json.loads(raw)
    assert result["links"] > 0  # links and addresses need no privilege
    assert "error" in result, result
    assert "sudo" in result["error"] and "/proc/<pid>/ns/net" in result["error"]


def test_no_asyncio_noise_on_stderr(throwaway: Throwaway) -> None:
    """Sockets closed, no pending-task or ResourceWarning noise, also under asyncio."""
    code = (
        "import asyncio, sys\n"
        "from netexplorer.collect.netlink_source import collect_netlink, netnsids_for_pids\n"
        f"pids = [{throwaway.sleeper}, {throwaway.idle_sleeper}, 4000000]\n"
        "collect_netlink(); netnsids_for_pids(pids)\n"
        "async def main():\n"
        "    return collect_netlink(), netnsids_for_pids(pids)\n"
        "data, ids = asyncio.run(main())\n"
        "print(len(data.interfaces), ids[pids[0]] is not None)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-X", "dev", "-c", code], capture_output=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b""
    assert proc.stdout.decode().split()[1] == "True"


def test_right_with_200_container_like_veths() -> None:
    """200 veth pairs, peers in 200 namespaces (like 200 containers): every one is matched.

    Correctness at scale only; speed is measured by the benchmarks, not asserted here.
    """
    require_root()
    tag = f"{os.getpid() % 1000:03d}"
    count = 200
    bridge = f"nxnl-pb{tag}"
    setup = [f"link add {bridge} type bridge"]
    for n in range(count):
        setup += [
            f"netns add nxnl-p{tag}-{n}",
            f"link add nxnl-p{tag}v{n} type veth peer name eth0 netns nxnl-p{tag}-{n}",
            f"link set nxnl-p{tag}v{n} master {bridge}",
        ]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run(["ip", "-force", "-batch", "-"], input="\n".join(setup).encode(), check=True)
        data = collect_netlink()
        ours = [i for i in data.interfaces if i.name.startswith(f"nxnl-p{tag}v")]
        assert len(ours) == count
        assert all(i.link_netnsid is not None for i in ours)
        bridge_row = next(b for b in data.bridges if b.name == bridge)
        assert len(bridge_row.ports) == count

        # one process per namespace, like one init per container
        procs.extend(
            subprocess.Popen(["ip", "netns", "exec", f"nxnl-p{tag}-{n}", "sleep", "60"])
            for n in range(count)
        )
        own = netns_of(os.getpid())
        deadline = time.monotonic() + 20
        while any(netns_of(p.pid) == own for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        ids = netnsids_for_pids(p.pid for p in procs)
        by_name = {i.name: i for i in ours}
        assert [ids[p.pid] for p in procs] == [
            by_name[f"nxnl-p{tag}v{n}"].link_netnsid for n in range(count)
        ]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        teardown = [f"link del {bridge}"]
        for n in range(count):
            teardown += [f"link del nxnl-p{tag}v{n}", f"netns del nxnl-p{tag}-{n}"]
        subprocess.run(
            ["ip", "-force", "-batch", "-"], input="\n".join(teardown).encode(), check=False
        )
        left = [n for n in ip_json("link", "show") if n["ifname"].startswith(f"nxnl-p{tag}")]
        assert not left, f"throwaway links left behind: {left}"
