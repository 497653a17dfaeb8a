"""Checks of how containers are plugged in: port-down (veth, bridge port or bridge),
parent (macvlan/ipvlan parent interface), veth-missing and netns-owner."""

from __future__ import annotations

from netexplorer.correlate import Correlation, Wiring
from netexplorer.doctor import Finding
from netexplorer.doctor.common import RUNNING, bridge_net_keys, running, running_members
from netexplorer.model import (
    Bridge,
    BridgePort,
    Container,
    Endpoint,
    Interface,
    Snapshot,
    bridge_key,
)


def check_ports_down(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """A container's veth, its bridge port or the bridge is down or not forwarding."""
    out: list[Finding] = []
    ifaces = corr.interfaces_by_ifindex
    bridges = {b.name: b for b in snap.bridges}
    ports = {p.ifindex: p for b in snap.bridges for p in b.ports}
    reported: set[str] = set()
    for ct in running(snap):
        for ep in ct.endpoints:
            wiring = corr.wiring(ep)
            if wiring.host_ifindex is None:
                continue
            veth = ifaces.get(wiring.host_ifindex)
            if veth is None:
                continue
            keys = [ct.key, ep.key, veth.key]
            keys += [bridge_key(wiring.bridge)] if wiring.bridge else []
            br = bridges.get(wiring.bridge or "")
            said = _port_problem(ct, ep, veth, wiring, ports.get(veth.ifindex), br)
            if said is not None:
                title, detail, fix = said
                out.append(Finding("port-down", veth.name, title, detail, fix, evidence=keys))
            if br is not None and br.name not in reported and br.operstate != "UP":
                iface = ifaces.get(br.ifindex)
                if iface is not None and "UP" not in iface.flags:
                    reported.add(br.name)
                    out.append(
                        Finding(
                            check="port-down",
                            subject=br.name,
                            title=f"bridge {br.name} ({ep.network}) is down",
                            detail="Every container on this bridge is cut off from the "
                            "host and from each other.",
                            fix=f"ip link set {br.name} up",
                            evidence=[br.key, iface.key, *bridge_net_keys(snap, br.name)],
                        )
                    )
    return out


def _port_problem(
    ct: Container,
    ep: Endpoint,
    veth: Interface,
    wiring: Wiring,
    port: BridgePort | None,
    br: Bridge | None,
) -> tuple[str, str, str] | None:
    """What is down between an endpoint and its bridge (title, detail, fix), if anything."""
    if "UP" not in veth.flags:
        return (
            f"host veth {veth.name} of {ct.name} ({ep.network}) is down",
            "The container's packets stop at the host end of its veth "
            "pair: it reaches nothing on this network, and nothing reaches it.",
            f"ip link set {veth.name} up",
        )
    if veth.operstate == "LOWERLAYERDOWN":
        pid = ct.pid or "<pid>"
        return (
            f"the container end of {veth.name} is down inside {ct.name}",
            f"Interface ifindex {wiring.peer_ifindex} in the container's "
            "network namespace is down, so the veth pair carries nothing.",
            f"nsenter -t {pid} -n ip -o link | grep '^{wiring.peer_ifindex}:'  "
            "# its name, e.g. eth0\n"
            f"nsenter -t {pid} -n ip link set eth0 up",
        )
    if port is not None and port.state != "forwarding":
        return (
            f"bridge port {veth.name} of {ct.name} is {port.state}, not forwarding",
            "The bridge does not pass frames through a port that is not "
            "in the forwarding state"
            + (" (STP is on: it may be blocking a loop)" if br and br.stp else "")
            + ".",
            f"bridge link set dev {veth.name} state 3  # 3 = forwarding",
        )
    return None


def check_parent(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """A macvlan/ipvlan network whose parent interface is missing or down."""
    out: list[Finding] = []
    by_name = corr.interfaces_by_name
    for net in snap.networks:
        if not net.parent:
            continue
        members = running_members(snap, net)
        if not members:
            continue
        iface = by_name.get(net.parent)
        keys = [net.key] + [k for ct, ep in members for k in (ct.key, ep.key)]
        where = f"parent interface {net.parent} of {net.driver} network {net.name}"
        if iface is None:
            title = f"{where} does not exist"
            detail = (
                "The containers' interfaces hang off this host interface; without "
                "it they have no way out."
            )
            fix = (
                f"ip link show {net.parent}  # create or rename it, then: "
                f"docker restart {' '.join(ct.name for ct, _ in members)}"
            )
        elif "UP" not in iface.flags:
            title = f"{where} is down"
            detail = (
                "Every container on this network is cut off: their interfaces "
                "send through the parent."
            )
            fix = f"ip link set {net.parent} up"
            keys = [iface.key, *keys]
        else:
            continue
        out.append(Finding("parent", net.name, title, detail, fix, evidence=keys))
    return out


def check_veth_missing(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """A running container on a bridge network whose host veth is not there."""
    out: list[Finding] = []
    for ct in running(snap):
        for ep in ct.endpoints:
            wiring = corr.wiring(ep)
            bridge = wiring.bridge
            if not bridge or wiring.host_veth or not (ep.ipv4 or ep.ipv6):
                continue
            if wiring.netnsid is None:
                continue  # cannot tell without the container's netns id (not root)
            out.append(
                Finding(
                    check="veth-missing",
                    subject=ep.key,
                    title=f"{ct.name} has no veth on bridge {bridge} (network {ep.network})",
                    detail="Docker says the container is attached, but no host interface "
                    f"on {bridge} leads into its network namespace: the veth pair was "
                    "deleted or moved, so the container is cut off from this network.",
                    fix=f"docker restart {ct.name}\n"
                    f"# or: docker network disconnect {ep.network} {ct.name} && "
                    f"docker network connect {ep.network} {ct.name}",
                    evidence=[ct.key, ep.key, bridge_key(bridge), ep.network_key],
                )
            )
    return out


def check_netns_owner(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """``--network container:<other>`` with the other container gone or stopped."""
    out: list[Finding] = []
    for ct in running(snap):
        if not ct.netns_owner:
            continue
        owner = corr.netns_owner(ct)
        if owner is not None and owner.state in RUNNING:
            continue
        what = f"{owner.name} is {owner.state}" if owner else "it no longer exists"
        out.append(
            Finding(
                check="netns-owner",
                subject=ct.name,
                title=f"{ct.name} shares the network namespace of a container that is not "
                f"running ({what})",
                detail="A container:<other> container has no network of its own; when the "
                "owner stops, Docker removes the owner's interfaces and this one keeps "
                "only loopback.",
                fix=(f"docker start {owner.name} && " if owner else "")
                + f"docker restart {ct.name}",
                evidence=[ct.key] + ([owner.key] if owner else []),
            )
        )
    return out
