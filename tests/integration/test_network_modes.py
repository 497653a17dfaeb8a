"""Every Docker network mode on the live lab, checked against Docker and the kernel.

One module-scoped set of throwaway objects (all named ``nxt-<hex>...``, removed in
``finally``): a user-defined bridge with a custom bridge name and
``enable_icc=false``, an ``--internal`` network, an IPv6 network, a macvlan network
and two ipvlan networks (l2, l3), each on a veth pair made for it (Docker wants a
parent per network; this kernel has no dummy driver and a veth is as good a
parent), and containers on them: one on three networks, one ``container:`` sharing
its namespace, one ``host``, one ``none``, one internal, one macvlan, two ipvlan.

Where the kernel has no ipvlan driver (this project's sandbox), the ipvlan networks
are not made and their tests skip; ``scripts/kernel-vm test`` runs them on Debian's
own kernel (tests/conftest.py).

Ground truth: ``docker inspect``, ``ip -j link``, ``bridge -j link``,
``/sys/class/net/*/iflink`` inside the containers, ``iptables-save``.
"""

from __future__ import annotations

import ipaddress
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from integration import groundtruth as gt
from netexplorer.collect.snapshot import collect_snapshot
from netexplorer.correlate import Correlation, correlate
from netexplorer.doctor import diagnose
from netexplorer.model import Container, Endpoint, Snapshot

pytestmark = pytest.mark.integration


#: role -> (driver, mode option or None, subnet); each gets its own parent veth
CHILD_NETWORKS = {
    "macvlan": ("macvlan", None, "10.99.77.0/24"),
    "ipvlan": ("ipvlan", None, "10.99.78.0/24"),
    "ipvlan-l3": ("ipvlan", "l3", "10.99.79.0/24"),
}


@dataclass
class Modes:
    tag: str
    parents: dict[str, str] = field(default_factory=dict)  # role -> parent (host veth end)
    nets: dict[str, str] = field(default_factory=dict)  # role -> network name
    cts: dict[str, str] = field(default_factory=dict)  # role -> container name
    v6_subnet: str = ""
    icc_bridge: str = ""
    ipvlan: bool = True  # the kernel has the ipvlan driver

    @property
    def parent(self) -> str:
        return self.parents["macvlan"]


def _net(name: str, *args: str) -> str:
    gt.run("docker", "network", "create", "--label", gt.THROWAWAY_LABEL, *args, name)
    return name


@pytest.fixture(scope="module")
def modes(lab: str) -> Iterator[Modes]:
    tag = uuid.uuid4().hex[:6]
    m = Modes(tag=tag, icc_bridge=f"nxt-{tag}ic", ipvlan=not gt.kernel_lacks_link_kind("ipvlan"))
    m.v6_subnet = f"fd00:6e78:{int(tag[:4], 16):x}::/64"
    children = {r: v for r, v in CHILD_NETWORKS.items() if m.ipvlan or v[0] != "ipvlan"}
    try:
        for i, role in enumerate(children):
            parent = m.parents[role] = f"nxt-{tag}p{i}"
            gt.run("ip", "link", "add", parent, "type", "veth", "peer", "name", f"nxt-{tag}q{i}")
            gt.run("ip", "link", "set", parent, "up")
            gt.run("ip", "link", "set", f"nxt-{tag}q{i}", "up")
        m.nets["icc"] = _net(
            f"nxt-{tag}-icc",
            "-o",
            "com.docker.network.bridge.enable_icc=false",
            "-o",
            f"com.docker.network.bridge.name={m.icc_bridge}",
        )
        m.nets["internal"] = _net(f"nxt-{tag}-int", "--internal")
        m.nets["v6"] = _net(f"nxt-{tag}-v6", "--ipv6", "--subnet", m.v6_subnet)
        for role, (driver, mode, subnet) in children.items():
            opts = ["-o", f"{driver}_mode={mode}"] if mode else []
            m.nets[role] = _net(
                f"nxt-{tag}-{role}",
                "-d",
                driver,
                "-o",
                f"parent={m.parents[role]}",
                *opts,
                "--subnet",
                subnet,
            )
        names = {role: f"nxt-{tag}-{role}" for role in ("multi", "shared", "host", "none")}
        names |= {"internal": f"nxt-{tag}-int1"}
        names |= {role: f"nxt-{tag}-{role}1" for role in children}
        m.cts = names
        gt.create_container(names["multi"], (m.nets["icc"], m.nets["v6"], "bridge"))
        gt.create_container(names["shared"], (f"container:{names['multi']}",))
        gt.create_container(names["host"], ("host",))
        gt.create_container(names["none"], ("none",))
        gt.create_container(names["internal"], (m.nets["internal"],))
        for role in children:
            gt.create_container(names[role], (m.nets[role],))
        yield m
    finally:
        for name in m.cts.values():
            gt.remove_container(name)
        for net in m.nets.values():
            gt.run("docker", "network", "rm", net, check=False)
        for parent in m.parents.values():
            gt.run("ip", "link", "del", parent, check=False)


@pytest.fixture(scope="module")
def snap_links(modes: Modes) -> tuple[Snapshot, Correlation]:
    snap = collect_snapshot()
    return snap, correlate(snap)


def ct(snap: Snapshot, name: str) -> Container:
    return next(c for c in snap.containers if c.name == name)


def ep(snap: Snapshot, name: str, network: str) -> Endpoint:
    return next(e for e in ct(snap, name).endpoints if e.network == network)


def test_multi_homed_container_has_the_kernels_veth_on_each_bridge(
    modes: Modes, snap_links: tuple[Snapshot, Correlation]
) -> None:
    snap, corr = snap_links
    name = modes.cts["multi"]
    iflinks = gt.ground_truth_iflink(name)  # eth0, eth1, eth2 -> host veth ifindex
    links = gt.host_links()
    ports = gt.bridge_ports()
    c = ct(snap, name)
    assert {e.network for e in c.endpoints} == {modes.nets["icc"], modes.nets["v6"], "bridge"}
    assert sorted(corr.wiring(e).host_ifindex for e in c.endpoints) == sorted(iflinks.values())  # type: ignore[type-var]
    for e in c.endpoints:
        veth = links[corr.wiring(e).host_ifindex]  # type: ignore[index]
        assert corr.wiring(e).host_veth == veth["ifname"]
        assert ports[veth["ifname"]] == corr.wiring(e).bridge == gt.bridge_ifname(e.network)
        assert e.ipv4 == gt.container_ips(name)[e.network]
    # the custom bridge name is the bridge the kernel has the port on
    assert corr.wiring(ep(snap, name, modes.nets["icc"])).bridge == modes.icc_bridge


def test_container_sharing_a_netns_is_shown_with_its_owner(
    modes: Modes, snap_links: tuple[Snapshot, Correlation]
) -> None:
    snap, corr = snap_links
    links = corr.links
    owner, shared = ct(snap, modes.cts["multi"]), ct(snap, modes.cts["shared"])
    inspect = gt.docker_inspect(modes.cts["shared"])
    assert shared.network_mode == inspect["HostConfig"]["NetworkMode"] == f"container:{owner.id}"
    assert shared.netns_owner == owner.id
    assert shared.endpoints == []
    # one namespace: the same interfaces inside, so the same host veths
    assert gt.ground_truth_iflink(modes.cts["shared"]) == gt.ground_truth_iflink(owner.name)
    related = links.related(shared.key)
    assert owner.key in related
    for e in owner.endpoints:
        assert {
            e.key,
            f"if:{corr.wiring(e).host_ifindex}",
            f"br:{corr.wiring(e).bridge}",
        } <= related
    assert shared.key in links.related(owner.key)
    assert not [w for w in [*snap.warnings, *corr.warnings] if modes.cts["shared"] in w]


def test_host_and_none_containers_have_no_veth_and_no_warning(
    modes: Modes, snap_links: tuple[Snapshot, Correlation]
) -> None:
    snap, corr = snap_links
    links = corr.links
    for role, net in (("host", "host"), ("none", "none")):
        c = ct(snap, modes.cts[role])
        assert c.network_mode == net == gt.docker_inspect(c.name)["HostConfig"]["NetworkMode"]
        assert [
            (e.network, e.ipv4, corr.wiring(e).host_veth, corr.wiring(e).bridge)
            for e in c.endpoints
        ] == [(net, None, None, None)]
        docker_net = next(n for n in snap.networks if n.name == net)
        assert docker_net.key in links.related(c.key)
        assert not [w for w in [*snap.warnings, *corr.warnings] if c.name in w]


@pytest.mark.parametrize(
    "role",
    [
        "macvlan",
        pytest.param("ipvlan", marks=pytest.mark.kernel),
        pytest.param("ipvlan-l3", marks=pytest.mark.kernel),
    ],
)
def test_macvlan_and_ipvlan_endpoints_are_linked_to_their_parent_interface(
    role: str, modes: Modes, snap_links: tuple[Snapshot, Correlation]
) -> None:
    driver, mode, _ = CHILD_NETWORKS[role]
    if driver == "ipvlan" and not modes.ipvlan:
        gt.skip_no_kernel_driver("ipvlan")
    snap, corr = snap_links
    links = corr.links
    name, network = modes.cts[role], modes.nets[role]
    e = ep(snap, name, network)
    parent = gt.host_link(modes.parents[role])
    assert corr.wiring(e).parent == modes.parents[role]
    assert corr.wiring(e).parent_ifindex == parent["ifindex"]
    # the kernel's own answers: the child's iflink is its parent's ifindex, and it
    # is a link of that kind and mode inside the container's netns
    assert list(gt.ground_truth_iflink(name).values()) == [parent["ifindex"]]
    child = gt.container_link(name)
    info = child["linkinfo"]
    assert info["info_kind"] == driver
    assert info["info_data"]["mode"] == (mode or {"macvlan": "bridge", "ipvlan": "l2"}[driver])
    if driver == "ipvlan":
        # an ipvlan child sends with its parent's MAC; Docker reports none
        assert gt.docker_inspect(name)["NetworkSettings"]["Networks"][network]["MacAddress"] == ""
        assert corr.wiring(e).mac == child["address"] == parent["address"]
    else:
        assert corr.wiring(e).mac == child["address"] != parent["address"]
    assert corr.wiring(e).host_veth is None and corr.wiring(e).bridge is None
    assert e.ipv4 == gt.container_ips(name)[network]
    assert f"if:{parent['ifindex']}" in links.related(e.key)
    assert e.key in links.related(f"if:{parent['ifindex']}")
    net = next(n for n in snap.networks if n.name == network)
    assert net.driver == driver and net.parent == modes.parents[role]
    assert net.child_mode == info["info_data"]["mode"]
    assert net.key in links.related(f"if:{parent['ifindex']}")
    assert not [w for w in [*snap.warnings, *corr.warnings] if name in w]


def _rule(snap: Snapshot, text: str) -> Any:
    backend = "iptables-" + gt.active_iptables_mode()
    return next(
        r for r in snap.rules if r.text == text and r.backend == backend and r.family == "ipv4"
    )


def test_internal_network_isolation_rules_link_to_its_bridge_and_members(
    modes: Modes, snap_links: tuple[Snapshot, Correlation]
) -> None:
    snap, corr = snap_links
    links = corr.links
    net = gt.network_inspect(modes.nets["internal"])
    assert net["Internal"] is True
    br = gt.bridge_ifname(modes.nets["internal"])
    subnet = net["IPAM"]["Config"][0]["Subnet"]
    saved = gt.iptables_save(gt.active_iptables_mode(), "filter")
    texts = [
        f"-A DOCKER-ISOLATION-STAGE-1 ! -s {subnet} -o {br} -j DROP",
        f"-A DOCKER-ISOLATION-STAGE-1 ! -d {subnet} -i {br} -j DROP",
    ]
    member = ct(snap, modes.cts["internal"])
    for text in texts:
        assert text in saved.splitlines()
        rule = _rule(snap, text)
        assert list(corr.rule_bridges[rule.id]) == [br]
        assert list(corr.rule_containers[rule.id]) == [member.name]
        assert {f"br:{br}", member.key, member.endpoints[0].key} <= links.related(rule.key)
    # no MASQUERADE for an internal network
    assert f"-s {subnet} ! -o {br} -j MASQUERADE" not in gt.iptables_save(
        gt.active_iptables_mode(), "nat"
    )


def test_icc_false_drop_rule_links_to_its_bridge_and_members(
    modes: Modes, snap_links: tuple[Snapshot, Correlation]
) -> None:
    snap, corr = snap_links
    links = corr.links
    br = modes.icc_bridge
    text = f"-A FORWARD -i {br} -o {br} -j DROP"
    assert text in gt.iptables_save(gt.active_iptables_mode(), "filter").splitlines()
    rule = _rule(snap, text)
    member = ct(snap, modes.cts["multi"])
    assert list(corr.rule_bridges[rule.id]) == [br]
    assert list(corr.rule_containers[rule.id]) == [member.name]
    e = ep(snap, member.name, modes.nets["icc"])
    assert {f"br:{br}", e.key, member.key, f"if:{corr.wiring(e).host_ifindex}"} <= links.related(
        rule.key
    )
    net = next(n for n in snap.networks if n.name == modes.nets["icc"])
    assert net.icc is False and net.bridge == br


def test_ipv6_endpoint_address_matches_docker_and_the_bridge(
    modes: Modes, snap_links: tuple[Snapshot, Correlation]
) -> None:
    snap, corr = snap_links
    name = modes.cts["multi"]
    e = ep(snap, name, modes.nets["v6"])
    truth = gt.docker_inspect(name)["NetworkSettings"]["Networks"][modes.nets["v6"]]
    assert e.ipv6 == truth["GlobalIPv6Address"] and e.ipv6
    assert e.ipv6_prefixlen == truth["GlobalIPv6PrefixLen"] == 64
    assert ipaddress.ip_address(e.ipv6) in ipaddress.ip_network(modes.v6_subnet)
    net = next(n for n in snap.networks if n.name == modes.nets["v6"])
    assert net.enable_ipv6 and modes.v6_subnet in net.subnets
    bridge = next(i for i in snap.interfaces if i.name == corr.wiring(e).bridge)
    gw = truth["IPv6Gateway"]
    assert any(a.family == "inet6" and a.address == gw for a in bridge.addresses)


@pytest.fixture
def ipv6_rules(modes: Modes) -> Iterator[tuple[str, list[str]]]:
    """An unhooked ip6tables chain in both backends naming the IPv6 endpoint.

    Docker 20.10 writes no ip6tables rules without ``--experimental --ip6tables``
    (a daemon restart); a chain nothing jumps to changes no packet's fate.
    """
    chain = f"NXT6-{modes.tag}"
    backends = ("nft", "legacy")
    snap = collect_snapshot()
    corr = correlate(snap)
    addr = ep(snap, modes.cts["multi"], modes.nets["v6"]).ipv6
    bridge = corr.wiring(ep(snap, modes.cts["multi"], modes.nets["v6"])).bridge
    assert addr and bridge
    texts = [f"-A {chain} -d {addr}/128 -p tcp -m tcp --dport 80 -j ACCEPT"]
    texts.append(f"-A {chain} -s {modes.v6_subnet} -o {bridge} -j ACCEPT")
    try:
        for b in backends:
            gt.run(f"ip6tables-{b}", "-N", chain)
            for t in texts:
                gt.run(f"ip6tables-{b}", *t.split())
        yield chain, texts
    finally:
        for b in backends:
            subprocess.run([f"ip6tables-{b}", "-F", chain], capture_output=True, check=False)
            subprocess.run([f"ip6tables-{b}", "-X", chain], capture_output=True, check=False)


def test_ipv6_rules_of_both_backends_link_to_the_ipv6_endpoint(
    modes: Modes, ipv6_rules: tuple[str, list[str]]
) -> None:
    chain, texts = ipv6_rules
    snap = collect_snapshot()
    corr = correlate(snap)
    links = corr.links
    e = ep(snap, modes.cts["multi"], modes.nets["v6"])
    for backend in ("iptables-nft", "iptables-legacy"):
        saved = gt.iptables_save(backend.removeprefix("iptables-"), "filter", "ipv6")
        rules = [r for r in snap.rules if r.chain == chain and r.backend == backend]
        assert [r.text for r in rules] == texts
        assert all(t in saved.splitlines() for t in texts)
        assert all(r.family == "ipv6" for r in rules)
        one, subnet = rules
        assert list(corr.rule_containers[one.id]) == [modes.cts["multi"]]
        assert one.id in corr.wiring(e).rules and e.key in links.related(one.key)
        assert list(corr.rule_bridges[subnet.id]) == [corr.wiring(e).bridge]
        assert e.key in links.related(subnet.key)


def test_docker_nat66_masquerade_links_to_the_ipv6_endpoint(
    modes: Modes, snap_links: tuple[Snapshot, Correlation]
) -> None:
    """The lab's dockerd runs with --ip6tables: Docker itself writes the IPv6
    network's MASQUERADE (NAT66) into ip6tables' nat table; it concerns the IPv6
    endpoints on that bridge and no IPv4 one."""
    snap, corr = snap_links
    links = corr.links
    e = ep(snap, modes.cts["multi"], modes.nets["v6"])
    text = f"-A POSTROUTING -s {modes.v6_subnet} ! -o {corr.wiring(e).bridge} -j MASQUERADE"
    mode = gt.active_iptables_mode()
    assert text in gt.iptables_save(mode, "nat", "ipv6").splitlines()
    rule = next(
        r for r in snap.rules
        if r.text == text and r.family == "ipv6" and r.backend == f"iptables-{mode}"
    )  # fmt: skip
    assert rule.table == "nat" and rule.target == "MASQUERADE"
    assert list(corr.rule_containers[rule.id]) == [modes.cts["multi"]]
    assert rule.id in corr.wiring(e).rules and e.key in links.related(rule.key)
    v4_bridge = ep(snap, modes.cts["multi"], "bridge")
    assert rule.id not in corr.wiring(v4_bridge).rules


@pytest.mark.kernel  # also run in scripts/kernel-vm's VM, where the ipvlan networks exist
def test_doctor_is_silent_with_every_mode_up(
    modes: Modes, snap_links: tuple[Snapshot, Correlation]
) -> None:
    snap, corr = snap_links
    assert modes.ipvlan == (not gt.kernel_lacks_link_kind("ipvlan"))
    assert [(f.check, f.subject, f.title) for f in diagnose(snap, corr)] == []
