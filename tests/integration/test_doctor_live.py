"""``netexplorer doctor`` on the live lab: each check made to fire for real.

Every fault is made on throwaway objects (``nxt-<hex>`` networks, containers,
veths) and undone in ``finally``. Host-wide kernel settings (ip_forward,
bridge-nf-call-iptables) are flipped only for the few milliseconds the sysctl
collector reads /proc/sys, while the other sources are read as usual. A FORWARD
DROP policy and Docker chains in both backends are made in a scratch netns, with
the doctor run inside it (the Docker API answers there too).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from integration import groundtruth as gt
from netexplorer.collect.snapshot import collect_snapshot
from netexplorer.collect.sysctl_source import SysctlData, collect_sysctls, sysctl_path
from netexplorer.doctor import Finding, diagnose
from netexplorer.model import Snapshot

pytestmark = pytest.mark.integration


def doctor_cli(*args: str, netns: str | None = None) -> tuple[int, str, str]:
    argv = [sys.executable, "-m", "netexplorer", "doctor", *args]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    proc = subprocess.run(
        argv, capture_output=True, text=True, cwd=gt.REPO, timeout=120, check=False
    )
    return proc.returncode, proc.stdout, proc.stderr


def findings(snap: Snapshot, check: str) -> list[Finding]:
    return [f for f in diagnose(snap) if f.check == check]


def iptables(*args: str) -> None:
    """The iptables command dockerd uses (the lab keeps the alternative in step)."""
    gt.run(f"iptables-{gt.active_iptables_mode()}", *args)


@contextmanager
def sysctl_flipped(name: str, value: str) -> Iterator[Callable[[], SysctlData]]:
    """A sysctl collector that reads /proc/sys with ``name`` = ``value`` set just then."""
    path = sysctl_path(name)

    def read() -> SysctlData:
        old = path.read_text().strip()
        path.write_text(value)
        try:
            return collect_sysctls()
        finally:
            path.write_text(old)

    yield read
    assert path.exists()


@pytest.fixture
def net_with_member(lab: str) -> Iterator[tuple[str, str, str]]:
    """(network, bridge, container) - a bridge network, one container publishing a port."""
    tag = uuid.uuid4().hex[:8]
    net, name = f"nxt-{tag}", f"nxt-{tag}-c"
    port = random.randint(20000, 29999)
    try:
        gt.run("docker", "network", "create", "--label", gt.THROWAWAY_LABEL, net)
        gt.create_container(name, (net,), ["-p", f"127.0.0.1:{port}:80"])
        yield net, gt.bridge_ifname(net), name
    finally:
        gt.remove_container(name)
        gt.run("docker", "network", "rm", net, check=False)


def ct_key(snap: Snapshot, name: str) -> str:
    return next(c.key for c in snap.containers if c.name == name)


# ------------------------------------------------------------------ healthy
def test_doctor_is_silent_on_the_healthy_lab(lab: str) -> None:
    code, out, err = doctor_cli()
    assert (code, out) == (0, ""), err
    code, out, err = doctor_cli("--json")
    doc = json.loads(out)
    assert code == 0 and doc["healthy"] is True and doc["findings"] == []


# ------------------------------------------------------------------ sysctls
def test_ip_forward_off(lab: str) -> None:
    with sysctl_flipped("net.ipv4.ip_forward", "0") as read:
        snap = collect_snapshot(sysctl=read)
    assert gt.run("sysctl", "-n", "net.ipv4.ip_forward").strip() == "1"  # restored
    assert snap.sysctls["net.ipv4.ip_forward"] == "0"
    (f,) = findings(snap, "ip-forward")
    assert f.subject == "net.ipv4.ip_forward" and "sysctl -w net.ipv4.ip_forward=1" in f.fix
    assert {"br:docker0", ct_key(snap, "test1"), "br:" + gt.bridge_ifname("nxlab")} <= set(
        f.evidence
    )


def test_br_netfilter_off_with_icc_false(lab: str) -> None:
    tag = uuid.uuid4().hex[:8]
    net, name = f"nxt-{tag}", f"nxt-{tag}-c"
    try:
        gt.run(
            "docker", "network", "create", "-o", "com.docker.network.bridge.enable_icc=false", net
        )
        gt.create_container(name, (net,))
        br = gt.bridge_ifname(net)
        with sysctl_flipped("net.bridge.bridge-nf-call-iptables", "0") as read:
            snap = collect_snapshot(sysctl=read)
        assert gt.run("sysctl", "-n", "net.bridge.bridge-nf-call-iptables").strip() == "1"
        (f,) = [f for f in findings(snap, "br-netfilter") if f.subject == f"ipv4/{br}"]
        drop = next(r for r in snap.rules if r.text == f"-A FORWARD -i {br} -o {br} -j DROP")
        assert {drop.key, f"br:{br}", ct_key(snap, name)} <= set(f.evidence)
        assert "enable_icc=false" in f.title and "bridge-nf-call-iptables=1" in f.fix
        # with the setting on, nothing to say
        assert not [f for f in findings(collect_snapshot(), "br-netfilter") if br in f.subject]
    finally:
        gt.remove_container(name)
        gt.run("docker", "network", "rm", net, check=False)


# ------------------------------------------------------------------ rules
def test_masquerade_missing(net_with_member: tuple[str, str, str]) -> None:
    net, br, name = net_with_member
    subnet = gt.network_inspect(net)["IPAM"]["Config"][0]["Subnet"]
    rule = ["-t", "nat", "POSTROUTING", "-s", subnet, "!", "-o", br, "-j", "MASQUERADE"]
    iptables(rule[0], rule[1], "-D", *rule[2:])
    try:
        snap = collect_snapshot()
    finally:
        iptables(rule[0], rule[1], "-A", *rule[2:])
    (f,) = [f for f in findings(snap, "masquerade") if subnet in f.subject]
    assert f"-s {subnet} ! -o {br} -j MASQUERADE" in f.fix
    assert {f"br:{br}", ct_key(snap, name)} <= set(f.evidence)
    assert not [f for f in findings(collect_snapshot(), "masquerade") if subnet in f.subject]


def test_published_port_without_dnat(net_with_member: tuple[str, str, str]) -> None:
    net, _br, name = net_with_member
    nat = gt.iptables_save(gt.active_iptables_mode(), "nat").splitlines()
    ip = gt.container_ips(name)[net]
    (line,) = [r for r in nat if r.endswith(f"--to-destination {ip}:80")]
    args = line.split()[1:]  # "DOCKER -d 127.0.0.1/32 ! -i br-... -p tcp ..."
    iptables("-t", "nat", "-D", *args)
    try:
        snap = collect_snapshot()
    finally:
        iptables("-t", "nat", "-A", *args)
    (f,) = [f for f in findings(snap, "dnat") if f.subject.startswith(name)]
    key = ct_key(snap, name)
    assert key in f.evidence and f"--to-destination {ip}:80" in f.fix
    assert f"docker restart {name}" in f.fix
    assert not [f for f in findings(collect_snapshot(), "dnat") if f.subject.startswith(name)]


# ------------------------------------------------------------------ links
def test_veth_down_then_up(net_with_member: tuple[str, str, str]) -> None:
    _net, br, name = net_with_member
    veth = gt.host_veth_of(name)["ifname"]
    gt.run("ip", "link", "set", veth, "down")
    try:
        snap = collect_snapshot()
    finally:
        gt.run("ip", "link", "set", veth, "up")
    (f,) = [f for f in findings(snap, "port-down") if f.subject == veth]
    assert f.fix == f"ip link set {veth} up"
    ifindex = gt.host_link(veth)["ifindex"]
    assert {f"if:{ifindex}", f"br:{br}", ct_key(snap, name)} <= set(f.evidence)
    assert not [f for f in findings(collect_snapshot(), "port-down") if f.subject == veth]


def test_container_whose_veth_is_gone(net_with_member: tuple[str, str, str]) -> None:
    _net, br, name = net_with_member
    veth = gt.host_veth_of(name)["ifname"]
    gt.run("ip", "link", "del", veth)  # the container is removed by the fixture
    snap = collect_snapshot()
    (f,) = [f for f in findings(snap, "veth-missing") if name in f.title]
    assert {ct_key(snap, name), f"br:{br}"} <= set(f.evidence)
    assert f"docker restart {name}" in f.fix


def test_container_sharing_a_stopped_containers_netns(lab: str) -> None:
    tag = uuid.uuid4().hex[:8]
    owner, sharer = f"nxt-{tag}-o", f"nxt-{tag}-s"
    try:
        gt.create_container(owner)
        gt.create_container(sharer, (f"container:{owner}",))
        assert not [f for f in findings(collect_snapshot(), "netns-owner") if f.subject == sharer]
        gt.run("docker", "stop", "-t", "0", owner)
        snap = collect_snapshot()
        (f,) = [f for f in findings(snap, "netns-owner") if f.subject == sharer]
        assert set(f.evidence) == {ct_key(snap, sharer), ct_key(snap, owner)}
        assert f"docker start {owner}" in f.fix
    finally:
        gt.remove_container(sharer)
        gt.remove_container(owner)


@pytest.mark.parametrize("driver", ["macvlan", pytest.param("ipvlan", marks=pytest.mark.kernel)])
def test_macvlan_or_ipvlan_parent_down(driver: str, lab: str) -> None:
    if driver == "ipvlan" and gt.kernel_lacks_link_kind("ipvlan"):
        gt.skip_no_kernel_driver("ipvlan")
    tag = uuid.uuid4().hex[:8]
    parent, net, name = f"nxt-{tag[:6]}p0", f"nxt-{tag}-{driver[:2]}", f"nxt-{tag}-c"
    try:
        gt.run("ip", "link", "add", parent, "type", "veth", "peer", "name", f"nxt-{tag[:6]}p1")
        gt.run("ip", "link", "set", parent, "up")
        gt.run("docker", "network", "create", "-d", driver, "-o", f"parent={parent}", net)
        gt.create_container(name, (net,))
        assert not [f for f in findings(collect_snapshot(), "parent") if f.subject == net]
        gt.run("ip", "link", "set", parent, "down")
        snap = collect_snapshot()
        (f,) = [f for f in findings(snap, "parent") if f.subject == net]
        assert f.fix == f"ip link set {parent} up"
        assert {f"if:{gt.host_link(parent)['ifindex']}", ct_key(snap, name)} <= set(f.evidence)
    finally:
        gt.remove_container(name)
        gt.run("docker", "network", "rm", net, check=False)
        gt.run("ip", "link", "del", parent, check=False)


# ------------------------------------------------------------------ scratch netns
SCRATCH_NFT = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -o docker0 -j DOCKER
-A DOCKER-USER -j RETURN
COMMIT
"""
#: a stale set in the other backend: Docker's chains, naming no bridge of today
SCRATCH_STALE = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.31.254.0/24 ! -o br-0123456789ab -j MASQUERADE
-A DOCKER -i br-0123456789ab -j RETURN
COMMIT
"""


@pytest.fixture
def scratch(lab: str) -> Iterator[str]:
    """A netns with a bridge named docker0, forwarding on, nothing else."""
    name = f"nxt-dr-{uuid.uuid4().hex[:8]}"
    gt.run("ip", "netns", "add", name)
    try:
        gt.netns_exec(name, "ip", "link", "set", "lo", "up")
        gt.netns_exec(name, "ip", "link", "add", "docker0", "type", "bridge")
        gt.netns_exec(name, "ip", "link", "set", "docker0", "up")
        gt.netns_exec(name, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        yield name
    finally:
        gt.run("ip", "netns", "del", name, check=False)


def test_forward_drop_and_stale_rules_in_the_other_backend(scratch: str) -> None:
    gt.run("ip", "netns", "exec", scratch, "iptables-nft-restore", stdin=SCRATCH_NFT)
    gt.run("ip", "netns", "exec", scratch, "iptables-legacy-restore", stdin=SCRATCH_STALE)
    code, out, err = doctor_cli("--json", netns=scratch)
    assert code == 3, err
    doc: dict[str, Any] = json.loads(out)
    by_check: dict[str, list[dict[str, Any]]] = {}
    for f in doc["findings"]:
        by_check.setdefault(f["check"], []).append(f)
    (drop,) = [f for f in by_check["forward-drop"] if f["subject"].endswith("/docker0")]
    assert drop["subject"] == "iptables-nft/ipv4/docker0"
    assert "-I DOCKER-USER -i docker0 ! -o docker0 -j ACCEPT" in drop["fix"]
    assert "RELATED,ESTABLISHED" in drop["fix"]
    kinds = {e["kind"] + " " + e["label"] for e in drop["evidence"]}
    assert {"bridge docker0", "network bridge", "container test1", "container test2"} <= kinds
    (both,) = by_check["both-backends"]
    assert "iptables-legacy holds stale ones" in both["title"]
    stale = {e["label"] for e in both["evidence"]}
    assert stale == {
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        "-A DOCKER -i br-0123456789ab -j RETURN",
    }
    assert "iptables-legacy -t $t -F" in both["fix"]
    # the text form says the same, in words
    code, text, _ = doctor_cli(netns=scratch)
    assert code == 3 and "[forward-drop]" in text and "[both-backends]" in text


def test_doctor_on_a_snapshot_file(tmp_path: Path, lab: str) -> None:
    """A snapshot written on the lab diagnoses the same as the live host."""
    out = tmp_path / "snap.json"
    subprocess.run(
        [sys.executable, "-m", "netexplorer", "snapshot", "--json", "-o", str(out)],
        check=True,
        cwd=gt.REPO,
        env={**os.environ},
        timeout=60,
    )
    code, text, err = doctor_cli("--snapshot", str(out))
    assert (code, text) == (0, ""), err
