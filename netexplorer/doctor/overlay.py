"""Swarm overlay checks: the vxlan in an overlay namespace down, an MTU the tunnel
cannot carry, the swarm's UDP ports dropped by the host firewall, a peer node
missing from the vxlan's forwarding database, an encrypted overlay without IPsec
with a peer node or with ESP dropped. They read the overlay wiring of
:mod:`netexplorer.overlay` (``corr.overlay``) and the host's INPUT rules."""

from __future__ import annotations

import ipaddress

from netexplorer.correlate import Correlation, parse_network
from netexplorer.doctor import ERROR, WARNING, Finding
from netexplorer.doctor.common import iptables_command
from netexplorer.doctor.tables import Tables
from netexplorer.ipsec import rule_vni
from netexplorer.model import Rule, Snapshot
from netexplorer.overlay import VXLAN_OVERHEAD, OverlayNet

#: UDP ports a swarm node must receive: VXLAN data path, memberlist gossip
SWARM_UDP_PORTS = {4789: "VXLAN data path", 7946: "gossip (peers and their MACs)"}
DROPS = frozenset({"DROP", "REJECT"})
#: how iptables-save names IP protocol 50
ESP_PROTOCOLS = frozenset({"esp", "50"})


def _nets(corr: Correlation) -> list[OverlayNet]:
    return sorted(corr.overlay.networks.values(), key=lambda o: o.network.name)


def _nsenter(o: OverlayNet) -> str:
    path = (
        o.namespace.path
        if o.namespace is not None
        else f"/var/run/docker/netns/1-{o.network.id[:10]}"
    )
    return f"nsenter --net={path}"


def check_overlay_vxlan(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """An overlay namespace whose vxlan (or br0) is down or missing."""
    out: list[Finding] = []
    for o in _nets(corr):
        if o.namespace is None or o.namespace.error:
            continue  # no container of this network here: Docker made no namespace
        net = o.network
        evidence = [net.key, o.namespace.key]
        if o.vxlan is None:
            out.append(
                Finding(
                    "overlay-vxlan",
                    net.name,
                    f"overlay {net.name}: no vxlan device in namespace {o.namespace.name}",
                    "Without its vxlan the overlay bridge br0 reaches no other node: "
                    "containers here can talk only to each other.",
                    f"docker network disconnect/connect the containers of {net.name}, or "
                    "systemctl restart docker (Docker re-creates the namespace)",
                    evidence,
                )
            )
            continue
        dev = o.vxlan
        if "UP" in dev.flags:
            continue
        out.append(
            Finding(
                "overlay-vxlan",
                net.name,
                f"overlay {net.name}: {dev.name} (VNI {o.vni}) is down in {o.namespace.name}",
                f"{dev.name} is administratively down, so no frame of {net.name} "
                "enters or leaves the VXLAN tunnel: containers on other nodes are "
                "unreachable.",
                f"{_nsenter(o)} ip link set {dev.name} up",
                [*evidence, dev.key],
            )
        )
    return out


def check_overlay_mtu(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """The overlay MTU plus VXLAN's 50 bytes is more than the underlay's MTU."""
    out: list[Finding] = []
    for o in _nets(corr):
        if o.vxlan is None or o.underlay is None or o.mtu is None or o.underlay.mtu is None:
            continue
        need = o.mtu + VXLAN_OVERHEAD
        if need <= o.underlay.mtu:
            continue
        net = o.network
        out.append(
            Finding(
                "overlay-mtu",
                net.name,
                f"overlay {net.name}: MTU {o.mtu} + {VXLAN_OVERHEAD} > {o.underlay.name} MTU "
                f"{o.underlay.mtu}",
                f"A full-size frame of {net.name} ({o.mtu} bytes) becomes {need} bytes with "
                f"VXLAN's headers, more than {o.underlay.name} carries: large packets "
                "between nodes are dropped (small ones such as ping pass, so the network "
                "looks fine until a transfer stalls).",
                f"ip link set {o.underlay.name} mtu {need}\n"
                f"or re-create the network with --opt com.docker.network.driver.mtu="
                f"{o.underlay.mtu - VXLAN_OVERHEAD}",
                [net.key, o.vxlan.key, o.underlay.key],
            )
        )
    return out


def _drops_udp_port(r: Rule, port: int) -> bool:
    if r.target not in DROPS:
        return False
    if rule_vni(r) is not None:
        # Docker's drop of one encrypted overlay's plaintext VXLAN (u32 on its VNI):
        # not the port; overlay-ipsec tells when that network's traffic hits it
        return False
    if r.protocol is not None and (r.protocol_negated or r.protocol not in ("udp", "17")):
        return False
    if r.dport is None:
        return True
    lo, _, hi = r.dport.partition(":")
    try:
        inside = int(lo or 0) <= port <= int(hi or lo or 65535)
    except ValueError:
        return False
    return inside


def _accepts_udp_port(r: Rule, port: int) -> bool:
    if r.target != "ACCEPT" or r.matches or r.source or r.in_interface:
        return False
    if r.protocol not in (None, "udp", "17") or r.protocol_negated:
        return False
    return r.dport is None or r.dport == str(port)


def _admits_peer(r: Rule, peers: list[str]) -> bool:
    """Does the rule's source condition take packets from one of ``peers``?"""
    net = parse_network(r.source)
    if net is None:
        return True
    hit = any(ipaddress.ip_address(p) in net for p in peers if p)
    return hit != r.source_negated


def check_overlay_ports(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """UDP 4789 or 7946 dropped in the host's INPUT path (any iptables backend)."""
    nets = [o for o in _nets(corr) if o.namespace is not None]
    if snap.swarm is None or not nets:
        return []
    peers = sorted(
        {p.ip for o in nets for p in o.network.peers if p.ip and p.ip != snap.swarm.node_addr}
    )
    tables = Tables(snap)
    backends = sorted({r.backend for r in snap.rules if r.backend.startswith("iptables-")})
    out: list[Finding] = []
    for port, role in SWARM_UDP_PORTS.items():
        for backend in backends:
            blocker: Rule | None = None
            for r in tables.reachable(backend, "ipv4", "filter", "INPUT"):
                if _accepts_udp_port(r, port):
                    break
                if _drops_udp_port(r, port) and (not peers or _admits_peer(r, peers)):
                    blocker = r
                    break
            policy = tables.policy(backend, "ipv4", "filter", "INPUT")
            if blocker is None and policy != "DROP":
                continue
            if blocker is None and any(
                _accepts_udp_port(r, port)
                for r in tables.reachable(backend, "ipv4", "filter", "INPUT")
            ):
                continue
            cmd = iptables_command(backend, "ipv4")
            what = f"rule {blocker.text!r}" if blocker is not None else "the INPUT policy DROP"
            out.append(
                Finding(
                    "overlay-ports",
                    f"{backend}:udp/{port}",
                    f"UDP {port} ({role}) is dropped on input by {what} ({backend})",
                    f"Swarm nodes exchange the overlay's {role} on UDP {port}"
                    + (f" (peers: {', '.join(peers)})" if peers else "")
                    + ": with it dropped, containers on different nodes cannot reach each "
                    "other" + (" and peers are not learned" if port == 7946 else "") + ".",
                    f"{cmd} -I INPUT -p udp --dport {port} -j ACCEPT",
                    [o.network.key for o in nets] + ([blocker.key] if blocker is not None else []),
                    ERROR,
                )
            )
    return out


def check_overlay_fdb(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """A peer node of an overlay network missing from its vxlan's FDB."""
    out: list[Finding] = []
    for o in _nets(corr):
        if o.vxlan is None:
            continue
        missing = o.missing_peers()
        if not missing:
            continue
        net = o.network
        names = {p.ip: p.name for p in net.peers}
        who = ", ".join(f"{ip} ({names[ip]})" if names.get(ip) else ip for ip in missing)
        out.append(
            Finding(
                "overlay-fdb",
                net.name,
                f"overlay {net.name}: no FDB entry of {o.vxlan.name} names peer {who}",
                f"Docker lists {who} as a node of {net.name}, but the vxlan's forwarding "
                "database sends nothing there: containers on that node are unreachable "
                "from here. Docker writes these entries from what gossip (UDP/TCP 7946) "
                "tells it.",
                f"{_nsenter(o)} bridge fdb show dev {o.vxlan.name}\n"
                "check that 7946/udp+tcp and 4789/udp pass between the nodes, then "
                "systemctl restart docker on the node that misses the peer",
                [net.key, o.vxlan.key],
                WARNING,
            )
        )
    return out


def _vni_rules(snap: Snapshot, vni: int | None) -> list[Rule]:
    """The host's rules matching ``vni`` in the VXLAN header (Docker's mark and
    plaintext-drop rules of an encrypted overlay)."""
    if vni is None:
        return []
    return [r for r in snap.rules if r.netns is None and rule_vni(r) == vni]


def _drops_esp(r: Rule) -> bool:
    return (
        r.target in DROPS
        and r.protocol in ESP_PROTOCOLS
        and not r.protocol_negated
        and not r.matches
        and not r.dport
    )


def check_overlay_ipsec(snap: Snapshot, corr: Correlation) -> list[Finding]:
    """An encrypted overlay with a peer node in its FDB but no ESP state each way with
    that peer's underlay address; the host firewall dropping ESP while an encrypted
    overlay has peers."""
    encrypted = [o for o in _nets(corr) if o.network.encrypted and o.vxlan is not None]
    if not encrypted or not snap.xfrm_read:
        return []
    out: list[Finding] = []
    esp = [s for s in snap.xfrm_states if s.proto == "esp"]
    for o in encrypted:
        net, vni = o.network, o.vni
        rules = _vni_rules(snap, vni)
        drop = next((r for r in rules if r.chain == "INPUT" and r.target == "DROP"), None)
        for vtep in o.vteps:
            to = any(s.dst == vtep.ip for s in esp)
            back = any(s.src == vtep.ip for s in esp)
            if to and back:
                continue
            node = f"node {vtep.node} ({vtep.ip})" if vtep.node else vtep.ip
            missing = "either way" if not (to or back) else ("to it" if not to else "from it")
            by = (
                f"Docker's INPUT rule for plaintext VXLAN (VNI {vni}): {drop.text}"
                if drop is not None
                else f"Docker's INPUT rule for plaintext VXLAN (VNI {vni})"
            )
            out.append(
                Finding(
                    "overlay-ipsec",
                    f"{net.name}:{vtep.ip}",
                    f"encrypted overlay {net.name}: no IPsec SA {missing} with {node}; "
                    "its traffic is dropped",
                    f"{net.name} is encrypted (--opt encrypted): Docker marks its VXLAN "
                    f"(VNI {vni}) for ESP and drops it on input unless it came through "
                    f"IPsec. The host holds no ESP state {missing} with {vtep.ip}, so "
                    f"traffic to {node} on {net.name} is not encrypted and is dropped by "
                    f"{by}. The kernel lacks ESP (esp4, CONFIG_INET_ESP, with "
                    "rfc4106(gcm(aes))) or the key exchange between the nodes failed.",
                    "modprobe esp4 (or boot a kernel with CONFIG_INET_ESP and "
                    "CONFIG_CRYPTO_GCM) on both nodes, then systemctl restart docker; "
                    "check with: ip xfrm state (an ESP state each way with "
                    f"{vtep.ip})\nor re-create {net.name} without --opt encrypted",
                    [net.key, o.vxlan.key, *(r.key for r in rules)] if o.vxlan else [net.key],
                    ERROR,
                )
            )
    peers = sorted({v.ip for o in encrypted for v in o.vteps})
    if not peers:
        return out
    tables = Tables(snap)
    backends = sorted({r.backend for r in snap.rules if r.backend.startswith("iptables-")})
    for backend in backends:
        for r in tables.reachable(backend, "ipv4", "filter", "INPUT"):
            if r.target == "ACCEPT" and r.protocol in ESP_PROTOCOLS and not r.protocol_negated:
                break
            if _drops_esp(r) and _admits_peer(r, peers):
                cmd = iptables_command(backend, "ipv4")
                names = ", ".join(o.network.name for o in encrypted)
                out.append(
                    Finding(
                        "overlay-ipsec",
                        f"{backend}:esp",
                        f"ESP (IP protocol 50) is dropped on input by rule {r.text!r} ({backend})",
                        f"The encrypted overlays ({names}) carry their VXLAN inside ESP "
                        f"between the nodes (peers: {', '.join(peers)}): with ESP dropped "
                        "on input, nothing from the other nodes arrives on them.",
                        f"{cmd} -I INPUT -p esp -j ACCEPT",
                        [*(o.network.key for o in encrypted), r.key],
                        ERROR,
                    )
                )
                break
    return out
