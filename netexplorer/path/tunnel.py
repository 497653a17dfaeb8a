"""The path through a swarm overlay network and into the routing mesh.

An overlay container's eth0 is one end of a veth whose other end is a port of
``br0`` in the network's namespace (``1-<id>``), not on the host. br0 reaches a
local peer directly; for a remote one Docker has put a neighbour entry on the
vxlan device (the peer's address -> its MAC) and an FDB entry (that MAC -> the
peer node's underlay address, the VTEP). The vxlan device encapsulates the frame
in UDP to the VTEP's port 4789, and that UDP packet is sent from the host's own
namespace (where the device was made), so it crosses the host's routing and
netfilter like any packet the host sends. The reply comes back the same way:
a UDP packet to port 4789 arriving on the underlay, then vxlan -> br0 -> veth.

When the VTEP is one of the other hosts being explored (the walk's ``others``), the
path goes on there: the UDP packet arrives on that host's underlay interface
through its PREROUTING and INPUT, its vxlan device for the same network
decapsulates it (same VNI), and its br0 delivers it by the veth to the container
holding the address. The reply starts in that container, crosses its host the
same way back, and enters this one. The far hops name that host's items by far
keys and say which host they are on. Without that host's read, the path stops at
the tunnel and says so.

``ingress_sbox`` (the routing mesh's entry) holds an address on
``docker_gwbridge``; what Docker's DOCKER-INGRESS DNAT sends there is balanced by
IPVS inside that namespace: with its rules and IPVS table read, the path goes on
through it to a task (:mod:`netexplorer.path.mesh`); a read without them ends there.

The functions here extend :class:`netexplorer.path.engine._Walk`; they read the
overlay view of the correlation and never the host.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import TYPE_CHECKING

from netexplorer.ipsec import arrives_by_ipsec, esp_with, rule_vni
from netexplorer.model import DockerNamespace, Interface
from netexplorer.overlay import OverlayNet, OverlayPort, Vtep
from netexplorer.overlay_peers import HostRead, far_key, host_holding
from netexplorer.path.mesh import through_mesh
from netexplorer.path.packet_state import IPAddress, NfPacket
from netexplorer.path.result import Hop
from netexplorer.path.routing import RouteDecision

if TYPE_CHECKING:
    from netexplorer.model import Container, Endpoint
    from netexplorer.path.engine import _Walk

#: what a walk that left through a tunnel keeps for its reply: the overlay, the
#: source's veth port on br0, the VTEP, the source container
Tunnel = tuple[OverlayNet, Interface, str, "Container"]

#: where a path through a tunnel landed on another host: that host, its container
FarLanding = tuple[HostRead, "Container"]

#: the source port given to the encapsulating UDP packet (the kernel hashes the
#: inner flow into its range)
TUNNEL_SOURCE_PORT = 40000


def _ns_name(o: OverlayNet) -> str:
    return o.namespace.name if o.namespace is not None else "its namespace"


def _br(o: OverlayNet) -> str:
    return f"{o.bridge.name if o.bridge is not None else 'br0'} in {_ns_name(o)}"


def _addresses(iface: Interface) -> set[str]:
    return {a.address for a in iface.addresses}


def _local_port(walk: _Walk, o: OverlayNet, address: str) -> OverlayPort | None:
    """The port on br0 whose other end holds ``address`` (a container's endpoint on
    this network, or a Docker namespace's interface such as lb_<id>'s)."""
    spaces = {ns.key: ns for ns in walk.host.read.namespaces}
    for p in o.ports:
        if p.owner_key is None:
            continue
        ct = _container(walk, p.owner_key)
        if ct is not None:
            if any(address in (ep.ipv4, ep.ipv6) for ep in ct.endpoints):
                return p
            continue
        ns = spaces.get(p.owner_key)
        if ns is not None and any(address in _addresses(i) for i in ns.interfaces):
            return p
    return None


def _container(walk: _Walk, key: str | None) -> Container | None:
    """The container of an overlay port's owner key (``ct:<id>``)."""
    if key is None or not key.startswith("ct:"):
        return None
    return walk.corr.containers_by_id.get(key.removeprefix("ct:"))


def _vtep(o: OverlayNet, mac: str) -> Vtep | None:
    return next((v for v in o.vteps if mac in v.macs), None)


def _remote_mac(o: OverlayNet, address: str) -> str | None:
    """The MAC Docker's neighbour entry on the vxlan device gives ``address``."""
    if o.namespace is None or o.vxlan is None:
        return None
    vxlan = o.vxlan.ifindex
    return next(
        (n.mac for n in o.namespace.neighbours if n.ip == address and n.ifindex == vxlan), None
    )


def overlay_out(
    walk: _Walk,
    ct: Container,
    ep: Endpoint,
    dec: RouteDecision,
    o: OverlayNet,
    port: Interface,
) -> None:
    """From ``ct``'s interface on the overlay ``o`` (its veth ``port`` on br0) on."""
    inside = dec.dev or "eth"
    walk.add(
        Hop(
            "veth",
            f"{inside}@if{port.ifindex} of {ct.name} -> veth pair -> "
            f"{port.name}@if{port.link_ifindex} on {_br(o)} (overlay {o.network.name})",
            keys=(ep.key, port.key),
        )
    )
    br_keys = tuple(k for k in (o.bridge.key if o.bridge else None, o.network.key) if k)
    nexthop = str(dec.gateway or walk.pkt.dst)
    local = _local_port(walk, o, nexthop)
    if local is not None:
        walk.add(
            Hop(
                "bridge",
                f"{_br(o)}: bridged (L2) from {port.name} to {local.port.name} "
                f"({local.owner_name or '?'})",
                keys=(*br_keys, local.port.key),
            )
        )
        return _deliver_local(walk, o, local, (o, port, "", ct))
    mac = _remote_mac(o, nexthop)
    if mac is None:
        walk.add(
            Hop(
                "drop",
                f"{_br(o)}: no local port has {nexthop} and the vxlan device has no "
                "neighbour entry for it (Docker makes one per container on another node)",
                keys=br_keys,
                verdict="dropped",
            )
        )
        return walk.end(
            "dropped", f"nothing on overlay {o.network.name}, here or on a peer node, is {nexthop}"
        )
    sent = _to_vtep(walk, o, nexthop, mac, br_keys)
    if sent is None:
        return None
    vtep, udp, under = sent
    assert o.vxlan is not None
    vx_keys = (o.vxlan.key,)
    node = f" (node {vtep.node})" if vtep.node else ""
    walk.tunnel = (o, port, vtep.ip, ct)
    there = host_holding(vtep.ip, walk.others)
    if there is not None:
        return _into_far(walk, o, nexthop, mac, under.pkt.src, udp, there)
    walk.add(
        Hop(
            "deliver",
            f"to {vtep.ip}{node}: its vxlan (VNI {o.vni}) decapsulates and delivers "
            f"to {nexthop} ({mac}); not followed there: that node's read is not open",
            keys=vx_keys,
            verdict="delivered",
        )
    )
    walk.landed = "tunnel"
    walk.end(
        "delivered",
        f"through the VXLAN tunnel (VNI {o.vni}) to {vtep.ip}{node}, "
        f"which holds {nexthop} on {o.network.name}; the path stops at the tunnel: "
        f"{vtep.ip}'s read is not open (open that host too to follow it to its container)",
    )


def _to_vtep(
    walk: _Walk, o: OverlayNet, nexthop: str, mac: str, br_keys: tuple[str, ...]
) -> tuple[Vtep, int, _Walk] | None:
    """br0 -> the vxlan device by ``nexthop``'s neighbour entry (``mac``), the FDB's
    VTEP for it, and the encapsulating UDP packet across the host's routing and
    firewall: the VTEP, the UDP port and that packet's walk; None (``walk`` ended)
    when there is no VTEP or the host stops the UDP packet."""
    assert o.vxlan is not None
    vx_keys = (o.vxlan.key,)
    walk.add(
        Hop(
            "bridge",
            f"{_br(o)}: {nexthop} is {mac} (neighbour entry on {o.vxlan.name}): "
            f"to the port {o.vxlan.name}",
            keys=(*br_keys, *vx_keys),
        )
    )
    vtep = _vtep(o, mac)
    if vtep is None:
        walk.add(
            Hop(
                "drop",
                f"{o.vxlan.name}: no FDB entry names a VTEP for {mac}",
                keys=vx_keys,
                verdict="dropped",
            )
        )
        walk.end(
            "dropped",
            f"{o.vxlan.name} of overlay {o.network.name} has no FDB entry for {mac} "
            f"({nexthop}): the tunnel has no far end for it",
        )
        return None
    udp = o.vxlan.vxlan.port if o.vxlan.vxlan is not None else 4789
    node = f" (node {vtep.node})" if vtep.node else ""
    walk.add(
        Hop(
            "tunnel",
            f"{o.vxlan.name}: VNI {o.vni}, FDB {mac} -> VTEP {vtep.ip}{node}: "
            f"encapsulated in UDP to {vtep.ip}:{udp}" + _esp_words(walk, o, vtep.ip),
            keys=vx_keys,
        )
    )
    under = _underlay_walk(walk, ipaddress.ip_address(vtep.ip), udp, vni=o.vni)
    under.host_send()
    if not _carried(walk, under, f"to {vtep.ip}:{udp}"):
        return None
    return vtep, udp, under


def mesh_to_remote(walk: _Walk, o: OverlayNet, port: OverlayPort, address: str) -> bool:
    """The routing mesh's packet on ``o``'s br0 (from ingress_sbox's ``port``) for a
    real server on another node: through the tunnel to that node. False when the
    vxlan has no neighbour entry for ``address`` (no other node holds it)."""
    mac = _remote_mac(o, address)
    if mac is None:
        return False
    br_keys = tuple(k for k in (o.bridge.key if o.bridge else None, o.network.key) if k)
    sent = _to_vtep(walk, o, address, mac, br_keys)
    if sent is None:
        return True
    vtep, _, _ = sent
    assert o.vxlan is not None
    node = f" (node {vtep.node})" if vtep.node else ""
    walk.add(
        Hop(
            "deliver",
            f"to {vtep.ip}{node}: its vxlan (VNI {o.vni}) decapsulates and delivers to "
            f"{address} ({mac}), the task there; not followed there",
            keys=(o.vxlan.key,),
            verdict="delivered",
        )
    )
    walk.landed = "mesh-tunnel"
    walk.end(
        "delivered",
        f"through the routing mesh and the VXLAN tunnel (VNI {o.vni}) to {vtep.ip}{node}, "
        f"which holds the task {address} on {o.network.name}; the path stops at the tunnel "
        "(the task's own rules on that node are not followed)",
    )
    return True


def far_hops(hops: list[Hop], host: str) -> list[Hop]:
    """``hops`` walked on host ``host``, as this host's path shows them: the host
    named in each title, every key a far key."""

    def far(keys: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(far_key(host, k) for k in keys)

    return [
        replace(
            h,
            title=f"on {host}: {h.title}",
            keys=far(h.keys),
            rule=far_key(host, h.rule) if h.rule is not None else None,
            trail=far(h.trail),
        )
        for h in hops
    ]


def _into_far(
    walk: _Walk,
    o: OverlayNet,
    nexthop: str,
    mac: str,
    outer_src: IPAddress,
    udp: int,
    there: HostRead,
) -> None:
    """The encapsulated packet arrives on host ``there`` (its read is open): its
    underlay, PREROUTING and INPUT, its vxlan of the same network, br0, the veth to
    the container holding ``nexthop``."""
    from netexplorer.path.engine import _Conntrack, _host_of, _Walk

    assert walk.tunnel is not None
    vtep = walk.tunnel[2]
    name = there.name
    pkt = NfPacket(
        family=outer_src.version,
        proto="udp",
        src=outer_src,
        dst=ipaddress.ip_address(vtep),
        sport=TUNNEL_SOURCE_PORT,
        dport=udp,
        vni=o.vni,
        ipsec=arrives_by_ipsec(o.network, there.read, str(outer_src)),
    )
    far = _Walk(_host_of(there.read), there.correlation, pkt, _Conntrack())

    def stop(verdict: str, sentence: str) -> None:
        walk.hops.extend(far_hops(far.hops, name))
        walk.end(verdict, f"on {name}: {sentence}")

    iface = next((i for i in there.read.interfaces if vtep in _addresses(i)), None)
    if iface is None:
        return stop("uncertain", f"no interface of {name} holds {vtep} in its read")
    far.add(
        Hop(
            "egress",
            f"arrives encapsulated from {outer_src} on {iface.name} (UDP to port {udp})",
            keys=(iface.key,),
        )
    )
    far.host_receive(iface.name)
    if far.verdict != "delivered":
        why = _plaintext_drop(far, o, str(outer_src))
        return stop(far.verdict or "uncertain", f"the tunnel's UDP packet: {far.sentence}{why}")
    _to_vxlan_port(far, vtep, udp)
    far.pkt = walk.pkt  # the inner packet, from here on
    far_o = there.correlation.overlay.networks.get(o.network.id)
    if far_o is None or far_o.vxlan is None:
        what = "namespace" if far_o is None or far_o.namespace is None else "vxlan device"
        far.add(
            Hop(
                "uncertain",
                f"no {what} of overlay {o.network.name} in the read: where its UDP "
                f"port {udp} leads is not known",
                verdict="uncertain",
            )
        )
        return stop("uncertain", f"overlay {o.network.name}'s {what} was not read there")
    vx_keys = (far_o.vxlan.key,)
    if far_o.vni != o.vni:
        far.add(
            Hop(
                "drop",
                f"{far_o.vxlan.name} in {_ns_name(far_o)}: VNI {far_o.vni}, not {o.vni}",
                keys=vx_keys,
                verdict="dropped",
            )
        )
        return stop("dropped", f"its vxlan has VNI {far_o.vni}; the tunnel sends VNI {o.vni}")
    far.add(
        Hop(
            "tunnel",
            f"{far_o.vxlan.name} in {_ns_name(far_o)}: VNI {o.vni} decapsulated, to {_br(far_o)}",
            keys=vx_keys,
        )
    )
    local = _local_port(far, far_o, nexthop)
    br_keys = tuple(k for k in (far_o.bridge.key if far_o.bridge else None,) if k)
    target = _container(far, local.owner_key) if local is not None else None
    macs = {
        (ep.mac or "").lower()
        for ep in (target.endpoints if target is not None else ())
        if ep.network_id == o.network.id
    }
    if local is None or (target is not None and mac.lower() not in macs):
        why = (
            f"no port's far end has {nexthop}"
            if local is None
            else f"{nexthop} is {', '.join(sorted(macs))} here, not {mac} as the neighbour "
            "entry on the sending node says"
        )
        far.add(Hop("drop", f"{_br(far_o)}: {why}", keys=br_keys, verdict="dropped"))
        return stop("dropped", f"{_br(far_o)}: {why}")
    far.add(
        Hop(
            "bridge",
            f"{_br(far_o)}: {mac} is on {local.port.name} ({local.owner_name or '?'})",
            keys=(*br_keys, local.port.key),
        )
    )
    _deliver_local(far, far_o, local, (far_o, local.port, "", walk.tunnel[3]))
    walk.hops.extend(far_hops(far.hops, name))
    if target is None:
        return walk.end("delivered", f"on {name}: {far.sentence}")
    walk.landed, walk.far = "far", (there, target)
    walk.end(
        "delivered",
        f"through the VXLAN tunnel (VNI {o.vni}) to {vtep} = {name}: its "
        f"{far_o.vxlan.name}, {_br(far_o)}, {local.port.name}, to {target.name} ({nexthop})",
    )


def _to_vxlan_port(under: _Walk, address: str, udp: int) -> None:
    """The encapsulating UDP packet went through the host's INPUT to ``address``: its
    last hop names the port as the vxlan device's (the way on, not the packet's end)."""
    if under.hops and under.hops[-1].kind == "deliver":
        under.hops[-1] = replace(
            under.hops[-1],
            kind="tunnel",
            title=f"to the host ({address}): UDP port {udp} is the vxlan device's",
            verdict=None,
        )


def far_reply(back: _Walk, fwd: _Walk) -> None:
    """The reply of a packet delivered on another host through the tunnel: from that
    container out through its host's tunnel, then into this host (overlay_reply)."""
    from netexplorer.path.engine import _Conntrack, _host_of, _Walk
    from netexplorer.path.places import container_namespace, netns_owner

    assert fwd.far is not None
    there, ct = fwd.far
    far = _Walk(_host_of(there.read), there.correlation, back.pkt, _Conntrack(), reply=True)
    owner = netns_owner(there.read, ct)
    far.from_container(owner, container_namespace(owner, there.correlation))
    hops = far.hops
    if far.verdict == "delivered" and far.landed == "tunnel":
        hops = hops[:-1]  # its "decapsulated there" hop: here, followed below
    back.hops.extend(far_hops(hops, there.name))
    if far.verdict != "delivered" or far.landed != "tunnel":
        return back.end(far.verdict or "uncertain", f"on {there.name}: {far.sentence}")
    overlay_reply(back, fwd)


def _carried(walk: _Walk, under: _Walk, what: str, o: OverlayNet | None = None) -> bool:
    """The encapsulating packet's hops joined to ``walk``; False (and ``walk`` ended
    with its verdict) when the host's routing or firewall stops it."""
    walk.hops.extend(under.hops)
    if under.verdict == "delivered":
        return True
    why = _plaintext_drop(under, o, str(under.pkt.src)) if o is not None else ""
    walk.end(
        under.verdict or "uncertain",
        f"the tunnel's UDP packet {what}: {under.sentence}{why}",
        under.rule,
    )
    return False


def _esp_words(walk: _Walk, o: OverlayNet, vtep: str) -> str:
    """What IPsec does to an encrypted overlay's VXLAN to ``vtep`` (Docker marks it
    0xd0c4e3; the xfrm policy for the mark sends it through the ESP state)."""
    if not o.network.encrypted:
        return ""
    esp = esp_with(walk.host.read, vtep, inbound=False)
    if esp is None:
        return "; encrypted network: ESP (IPsec) if an SA exists (IPsec states not read)"
    if esp:
        return f"; encrypted network: marked 0xd0c4e3, sent in ESP (IPsec) to {vtep}"
    return (
        f"; encrypted network, but no ESP state to {vtep}: it leaves in plaintext, "
        f"which {vtep} drops (Docker's INPUT rule for plaintext VXLAN of VNI {o.vni})"
    )


def _plaintext_drop(under: _Walk, o: OverlayNet, sender: str) -> str:
    """Why Docker's INPUT rule dropped an encrypted overlay's VXLAN, when it did."""
    rule = under.rule
    if rule is None or not o.network.encrypted or rule_vni(rule) != o.vni:
        return ""
    return (
        f" (encrypted overlay {o.network.name}: plaintext VXLAN of VNI {o.vni} is dropped "
        f"unless it came through IPsec, and there is no ESP state from {sender}: the "
        "kernel lacks ESP (esp4) or the key exchange failed)"
    )


def _underlay_walk(
    walk: _Walk,
    dst: IPAddress,
    udp: int,
    reply: bool = False,
    vni: int | None = None,
    ipsec: bool | None = None,
) -> _Walk:
    from netexplorer.path.engine import _Conntrack, _Walk

    unspecified = ipaddress.ip_address("0.0.0.0" if dst.version == 4 else "::")
    pkt = NfPacket(
        family=dst.version,
        proto="udp",
        src=unspecified,
        dst=dst,
        sport=TUNNEL_SOURCE_PORT,
        dport=udp,
        vni=vni,
        ipsec=ipsec,
    )
    return _Walk(walk.host, walk.corr, pkt, _Conntrack(), reply=reply)


def _deliver_local(walk: _Walk, o: OverlayNet, local: OverlayPort, source: Tunnel) -> None:
    ct = _container(walk, local.owner_key)
    who = local.owner_name or "?"
    walk.add(
        Hop(
            "veth",
            f"{local.port.name}@if{local.port.link_ifindex} -> veth pair -> its end in {who}",
            keys=tuple(k for k in (local.port.key, local.owner_key) if k),
        )
    )
    walk.add(
        Hop(
            "deliver",
            f"delivered to {who} ({walk.pkt.dst}) on overlay {o.network.name}",
            keys=tuple(k for k in (local.owner_key,) if k),
            verdict="delivered",
        )
    )
    if ct is not None:
        walk.landed, walk.landed_in = "container", ct
    else:
        walk.landed, walk.tunnel = "overlay", source
    walk.end("delivered", f"delivered to {who} on overlay {o.network.name}")


def overlay_reply(back: _Walk, fwd: _Walk) -> None:
    """The reply of a packet that left through the tunnel: UDP to this host's port
    4789 from the VTEP, through the host's PREROUTING and INPUT, then the vxlan
    device, br0 and the veth to the container."""
    if fwd.tunnel is None:
        return back.end("uncertain", "the reply's way back through the overlay is not known")
    o, port, vtep, src = fwd.tunnel
    if not vtep:
        back.add(
            Hop(
                "bridge",
                f"{_br(o)}: the reply bridged (L2) back to {port.name}",
                keys=tuple(k for k in (o.bridge.key if o.bridge else None,) if k),
            )
        )
        return _into(back, o, port, src, f"delivered to {src.name} on overlay {o.network.name}")
    udp = o.vxlan.vxlan.port if o.vxlan is not None and o.vxlan.vxlan is not None else 4789
    ipsec = arrives_by_ipsec(o.network, back.host.read, vtep)
    under = _underlay_walk(back, ipaddress.ip_address(vtep), udp, True, o.vni, ipsec)
    under.pkt = under.pkt.at(src=ipaddress.ip_address(vtep), dst=_local_address(back, o, vtep))
    if o.underlay is None:
        return back.end("uncertain", f"the interface that carries the tunnel to {vtep} is unknown")
    back.add(
        Hop(
            "egress",
            f"the reply arrives encapsulated from {vtep} on {o.underlay.name} (UDP to port {udp})",
            keys=(o.underlay.key,),
        )
    )
    under.host_receive(o.underlay.name)
    if under.verdict == "delivered":
        _to_vxlan_port(under, str(under.pkt.dst), udp)
    if not _carried(back, under, f"from {vtep}", o):
        return None
    vx = o.vxlan
    back.add(
        Hop(
            "tunnel",
            f"{vx.name if vx else 'vxlan'} in {_ns_name(o)}: VNI {o.vni} decapsulated, to {_br(o)}",
            keys=(vx.key,) if vx else (),
        )
    )
    _into(back, o, port, src, f"delivered to {src.name} through the tunnel from {vtep}")


def _into(walk: _Walk, o: OverlayNet, port: Interface, ct: Container, sentence: str) -> None:
    """br0's port ``port`` -> its veth's other end in ``ct``: delivered."""
    walk.add(
        Hop(
            "veth",
            f"{_br(o)}: to {port.name}@if{port.link_ifindex} -> veth pair -> {ct.name}",
            keys=(port.key, ct.key),
        )
    )
    walk.add(
        Hop(
            "deliver",
            f"delivered to {ct.name} ({walk.pkt.dst})",
            keys=(ct.key,),
            verdict="delivered",
        )
    )
    walk.end("delivered", sentence)


def _local_address(walk: _Walk, o: OverlayNet, vtep: str) -> IPAddress:
    """This node's underlay address (the swarm's, else the route's source to ``vtep``)."""
    if o.local_addr:
        return ipaddress.ip_address(o.local_addr)
    if o.underlay is not None and o.underlay.addresses:
        return ipaddress.ip_address(o.underlay.addresses[0].address)
    return ipaddress.ip_address(vtep)


def ingress_sbox_hops(walk: _Walk, bridge: str, address: IPAddress) -> bool:
    """A packet on ``bridge`` for ``address``, when that is ingress_sbox's (or another
    Docker namespace's) leg: it goes there, then through the routing mesh when the
    namespace's rules and IPVS table were read, else the path ends at IPVS with
    what is missing. False when no Docker namespace has it."""
    found = _namespace_with(walk.host.read.namespaces, str(address))
    if found is None:
        return False
    ns, iface = found
    port = _bridge_port_to(walk, bridge, ns)
    walk.add(
        Hop(
            "bridge",
            f"{bridge}: to {ns.name}'s port {port.name if port else '?'}",
            keys=tuple(k for k in (f"br:{bridge}", port.key if port else None) if k),
        )
    )
    walk.add(
        Hop(
            "veth",
            f"{port.name if port else '?'} -> veth pair -> {iface.name} of {ns.name} ({address})",
            keys=(iface.key, ns.key),
        )
    )
    if ns.ipvs is not None and ns.chains:
        through_mesh(walk, ns, iface, port, bridge)
        return True
    if ns.ipvs is None:
        title = (
            f"IPVS load balancing in {ns.name}: not present on this kernel "
            "(no /proc/net/ip_vs there: the ip_vs module is missing), so the routing "
            "mesh cannot pass the packet to a task"
        )
        sentence = f"{ns.name} has no IPVS on this kernel: the routing mesh ends there"
    else:
        title = (
            f"IPVS load balancing in {ns.name}: not readable by netexplorer without the "
            "namespace's netfilter rules (the mark that picks the service), which this "
            "read lacks; the task it picks is not followed"
        )
        sentence = (
            f"{ns.name} balances with IPVS, but its netfilter rules are not in this read "
            "(made by an older netexplorer, or the namespace could not be entered); the fix: "
            "read the host again, as root, with this netexplorer"
        )
    walk.add(Hop("uncertain", title, keys=(ns.key,), verdict="uncertain"))
    walk.end("uncertain", sentence)
    return True


def _namespace_with(
    spaces: list[DockerNamespace], address: str
) -> tuple[DockerNamespace, Interface] | None:
    for ns in spaces:
        for iface in ns.interfaces:
            if address in _addresses(iface):
                return ns, iface
    return None


def _bridge_port_to(walk: _Walk, bridge: str, ns: DockerNamespace) -> Interface | None:
    """The host veth on ``bridge`` whose other end is in ``ns`` (each end names the
    other's ifindex)."""
    for iface in walk.host.read.interfaces:
        if iface.kind != "veth" or iface.link_ifindex is None or iface.master != bridge:
            continue
        peer = next((i for i in ns.interfaces if i.ifindex == iface.link_ifindex), None)
        if peer is not None and peer.link_ifindex == iface.ifindex:
            return iface
    return None
