"""The path through the swarm's ingress routing mesh to a service task, and back.

A port a swarm service publishes reaches ``ingress_sbox`` first: the host's nat
DOCKER-INGRESS chain DNATs it to ingress_sbox's address on docker_gwbridge, and
:func:`netexplorer.path.tunnel.ingress_sbox_hops` brings it over the bridge and
the veth into that namespace. From there (:func:`through_mesh`), with the
namespace's own rules and IPVS table read:

- ingress_sbox's netfilter, walked like the host's (each hop names the deciding
  rule): mangle PREROUTING marks the published port (``MARK --set-xmark 0x100``),
  nat PREROUTING; the address is its own, so INPUT's chains up to IPVS, which
  takes the connection at LOCAL_IN (priority 98) before nat INPUT (100);
- IPVS: the service matched by the packet's mark (firewall-mark services first,
  as the kernel looks them up) or by protocol, address and port, its scheduler
  and its real servers. One real server is followed (the one asked for, else the
  first whose address a container of this read holds, else the first); the hop
  names the others the scheduler may pick. Masq rewrites the destination to it;
- the route to the real server in ingress_sbox, OUTPUT (the nat binding is made)
  and nat POSTROUTING, where ``-m ipvs --ipvs -j SNAT`` gives the packet
  ingress_sbox's address on the ``ingress`` overlay;
- the veth to ``br0`` in the ingress network's namespace, then the task's port
  there (or, for a task on another node, the vxlan's neighbour and FDB entries,
  as any overlay packet);
- the task container's own netfilter: nat PREROUTING redirects the published port
  to the target port, filter INPUT accepts it; delivered.

The reply goes back the same way, each namespace's conntrack undoing its NAT: the
task's REDIRECT, ingress_sbox's SNAT, IPVS giving the reply the address the client
sent to, then the host's MASQUERADE and DNAT. Each namespace has its own
conntrack, so each keeps its own :class:`~netexplorer.path.engine._Conntrack`.

Where the read lacks what a step needs (ingress_sbox's rules, the task's rules, a
real server nobody holds, a service without real servers), the path ends there
with a sentence naming the cause and the fix.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from netexplorer.correlate import Correlation
from netexplorer.ipvs import IpvsDest, IpvsService, parse_ip_vs
from netexplorer.model import Container, DockerNamespace, Interface, Route, Rule, Snapshot
from netexplorer.overlay import OverlayNet, OverlayPort
from netexplorer.path.netfilter import Firewall, local_checker
from netexplorer.path.packet_state import IPAddress, NfPacket
from netexplorer.path.places import (
    INTERNET,
    container_namespace,
    endpoint_with,
    ingress_dnat,
)
from netexplorer.path.result import Hop
from netexplorer.path.routing import MAIN_TABLE, Namespace, derived_routes, lookup

if TYPE_CHECKING:
    from netexplorer.path.engine import _Conntrack, _Host, _Walk


@dataclass
class MeshLeg:
    """What a packet delivered through the mesh leaves for its reply."""

    sbox: DockerNamespace
    sbox_host: _Host
    sbox_ct: _Conntrack
    #: ingress_sbox's leg on the host bridge, the bridge, the host's veth on it
    gw_iface: Interface
    bridge: str
    gw_port: Interface | None
    #: the address and port the packet had arriving in ingress_sbox (IPVS's side)
    vip: tuple[IPAddress, int | None]
    service: IpvsService
    dest: IpvsDest
    overlay: OverlayNet
    #: br0's port to ingress_sbox's eth0, and to the task's interface
    sbox_port: OverlayPort
    sbox_iface: Interface
    task: Container
    task_host: _Host
    task_ct: _Conntrack
    task_iface: str
    task_port: OverlayPort
    #: the host's packet as it left for ingress_sbox (its conntrack flags)
    host_ctstate: frozenset[str]


def _labelled(hops: list[Hop], label: str, key: str) -> list[Hop]:
    """Hops walked inside another namespace, named so: each title says where
    (route hops already do) and a hop without keys selects the namespace."""
    return [
        replace(
            h,
            title=h.title if h.title.startswith("route in ") else f"{label}: {h.title}",
            keys=h.keys or (key,),
        )
        for h in hops
    ]


def _namespace_of(ns: DockerNamespace, gateway: str | None) -> Namespace:
    """ingress_sbox's routing: its routes and policy rules as read inside it; in a
    read made before they were read, its connected routes from its addresses and
    Docker's default route via the bridge (``derived``, which the hops say)."""
    if ns.routes:
        return Namespace(ns.name, tuple(ns.interfaces), tuple(ns.routes), tuple(ns.ip_rules))
    routes: list[Route] = derived_routes(ns.interfaces)
    if gateway is not None:
        dev = next(
            (
                i
                for i in ns.interfaces
                if any(_in_subnet(gateway, a.cidr) for a in i.addresses if a.family == "inet")
            ),
            None,
        )
        if dev is not None:
            routes.append(
                Route(
                    "inet",
                    "default",
                    table=MAIN_TABLE,
                    dev=dev.name,
                    ifindex=dev.ifindex,
                    gateway=gateway,
                )
            )
    return Namespace(ns.name, tuple(ns.interfaces), tuple(routes), (), derived=True)


def _in_subnet(address: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _no_route_words(ns: DockerNamespace, to: IPAddress) -> str:
    """Why ``ns`` has no route to the real server ``to``, and the fix."""
    where = f"{ns.name} has no route to the real server {to}"
    leg = next(
        (
            (i, a)
            for i in ns.interfaces
            for a in i.addresses
            if a.scope == "global" and _in_subnet(str(to), a.cidr)
        ),
        None,
    )
    if leg is None:
        return (
            f"{where}, and no interface of it is on that network (its leg on the ingress "
            "overlay is missing); the fix: `docker network inspect ingress` shows the "
            "network's peers, and restarting dockerd rebuilds ingress_sbox"
        )
    iface, addr = leg
    net = ipaddress.ip_interface(addr.cidr).network
    return (
        f"{where}: the route of its leg {iface.name} ({addr.cidr}) to {net} is gone; the "
        f"fix: `nsenter --net={ns.path} ip route replace {net} dev {iface.name} src "
        f"{addr.address}` puts it back (restarting dockerd rebuilds ingress_sbox)"
    )


def _bridge_gateway(walk: _Walk, bridge: str) -> str | None:
    iface = walk.host.by_name.get(bridge)
    return next((a.address for a in iface.addresses if a.family == "inet"), None) if iface else None


def service_for(services: list[IpvsService], pkt: NfPacket) -> tuple[IpvsService, str] | None:
    """The IPVS service that takes ``pkt``, and how it matched: by firewall mark
    first, then by protocol, address and port (the kernel's order)."""
    mark = pkt.mark or 0
    if mark:
        for s in services:
            if s.fwmark == mark:
                return s, f"by the mark {mark:#x}"
    for s in services:
        if (
            s.fwmark is None
            and s.protocol == pkt.proto.upper()
            and s.address == str(pkt.dst)
            and s.port == pkt.dport
        ):
            return s, f"by {s.protocol} {s.address}:{s.port}"
    return None


def _holder(walk: _Walk, dest: IpvsDest) -> Container | None:
    try:
        found = endpoint_with(walk.corr, ipaddress.ip_address(dest.address))
    except ValueError:
        return None
    return found[0] if found is not None else None


def _dest_words(walk: _Walk, dest: IpvsDest) -> str:
    ct = _holder(walk, dest)
    return (
        f"{dest.address} ({ct.name})" if ct is not None else f"{dest.address} (no container here)"
    )


def choose_dest(walk: _Walk, service: IpvsService) -> IpvsDest | None:
    """The real server to follow: the one ``walk.task`` names (its address, or its
    container's name, a unique prefix of that name, or an id prefix), else the
    first whose address a container of this read holds, else the first. None when
    ``walk.task`` names none of them."""
    if walk.task:
        asked = walk.task
        held = [(d, _holder(walk, d)) for d in service.dests]
        for d, ct in held:
            if asked == d.address or (ct is not None and asked == ct.name):
                return d
        prefixed = [
            d
            for d, ct in held
            if ct is not None
            and (ct.name.startswith(asked) or (len(asked) >= 3 and ct.id.startswith(asked)))
        ]
        return prefixed[0] if len(prefixed) == 1 else None
    local = [d for d in service.dests if _holder(walk, d) is not None]
    return (local or list(service.dests))[0]


def _sbox_port(
    walk: _Walk, ns: DockerNamespace, dev: str | None
) -> tuple[OverlayNet, OverlayPort, Interface] | None:
    """The overlay whose br0 holds the other end of ingress_sbox's interface ``dev``."""
    iface = next((i for i in ns.interfaces if i.name == dev), None)
    if iface is None:
        return None
    for o in walk.corr.overlay.networks.values():
        for p in o.ports:
            if p.owner_key == ns.key and p.port.link_ifindex == iface.ifindex:
                return o, p, iface
    return None


def _task_port(o: OverlayNet, ct: Container) -> OverlayPort | None:
    return next((p for p in o.ports if p.owner_key == ct.key), None)


def _br(o: OverlayNet) -> str:
    where = o.namespace.name if o.namespace is not None else "its namespace"
    return f"{o.bridge.name if o.bridge is not None else 'br0'} in {where}"


def _inside_iface(ct: Container, address: str) -> str:
    if ct.inside is not None:
        for iface in ct.inside.interfaces:
            if any(a.address == address for a in iface.addresses):
                return iface.name
    return "eth0"


def _finish(walk: _Walk, sub: _Walk, label: str, key: str) -> bool:
    """``sub``'s hops (walked in namespace ``label``) joined to ``walk``; False (and
    ``walk`` ended as ``sub`` was) when ``sub`` ended."""
    walk.hops.extend(_labelled(sub.hops, label, key))
    sub.hops.clear()
    if sub.verdict is None:
        return True
    walk.end(sub.verdict, f"in {label}: {sub.sentence}", sub.rule)
    return False


def _stop(
    walk: _Walk, kind: str, verdict: str, title: str, sentence: str, keys: tuple[str, ...]
) -> None:
    """The path ends here: a last hop saying why, and the verdict with its sentence."""
    walk.add(Hop(kind, title, keys=keys, verdict=verdict))
    walk.end(verdict, sentence)


def through_mesh(
    walk: _Walk, ns: DockerNamespace, iface: Interface, port: Interface | None, bridge: str
) -> None:
    """The packet has arrived in ``ns`` (ingress_sbox) on ``iface`` from ``bridge``
    (by the host's veth ``port``): on through the mesh to a task, as the module
    says. ``ns`` has its rules and IPVS table read."""
    from netexplorer.path.engine import _Conntrack, _Host, _Walk

    label, key = ns.name, ns.key
    assert ns.ipvs is not None
    host_ctstate = walk.pkt.ctstate
    sbox_host = _Host.inside(
        walk.host.read,
        _namespace_of(ns, _bridge_gateway(walk, bridge)),
        ns.rules,
        ns.chains,
        {i.name: i for i in ns.interfaces},
    )
    pkt = walk.pkt.at(
        iif=iface.name,
        oif="",
        physin=None,
        physout=None,
        ctstate=frozenset({"NEW"}),
        mark=0,
        ipvs=False,
    )
    sct = _Conntrack(orig_src=pkt.src, orig_dst=pkt.dst, orig_dport=pkt.dport)
    sw = _Walk(sbox_host, walk.corr, pkt, sct, task=walk.task)
    vip = (pkt.dst, pkt.dport)
    if not sw.hook("PREROUTING"):
        _finish(walk, sw, label, key)
        return None
    dec = lookup(sbox_host.ns, sw.pkt.dst, sw.pkt.src, iface.name)
    sw.route_hop(f"route in {label}", dec)
    if dec.type != "local":
        _finish(walk, sw, label, key)
        return _stop(
            walk,
            "uncertain",
            "uncertain",
            f"IPVS in {label}: {sw.pkt.dst} is not {label}'s own address, and IPVS takes "
            "only connections to the namespace's own addresses",
            f"{sw.pkt.dst} is not an address of {label}: the routing mesh does not take it",
            (key,),
        )
    # IPVS takes the connection at LOCAL_IN priority 98: nat INPUT (100) never sees it
    if not sw.hook("INPUT", skip_nat=True):
        _finish(walk, sw, label, key)
        return None
    _finish(walk, sw, label, key)
    services = parse_ip_vs(ns.ipvs)
    found = service_for(services, sw.pkt)
    p = sw.pkt
    if found is None:
        table = "; ".join(s.describe() for s in services) or "no service at all"
        return _stop(
            walk,
            "uncertain",
            "uncertain",
            f"IPVS in {label}: no service takes {p.proto} {p.dst}:{p.dport} with mark "
            f"{p.mark or 0:#x} (its table: {table})",
            f"no IPVS service in {label} takes {p.proto} port {p.dport} (mark {p.mark or 0:#x}): "
            f"no swarm service publishes it on this node; the fix: `docker service ls` shows the "
            "published ports (`docker service update --publish-add` adds one)",
            (key,),
        )
    service, how = found
    if not service.dests:
        return _stop(
            walk,
            "drop",
            "rejected",
            f"IPVS {service.describe()} in {label} (matched {how}): no real server, so IPVS "
            "answers ICMP port unreachable",
            f"IPVS {service.describe()} in {label} has no real server: the service has no "
            "running task; the fix: `docker service ps --no-trunc SERVICE` says why its tasks "
            "do not run",
            (key,),
        )
    dest = choose_dest(walk, service)
    if dest is None:
        choices = ", ".join(_dest_words(walk, d) for d in service.dests)
        return _stop(
            walk,
            "uncertain",
            "uncertain",
            f"IPVS {service.describe()} in {label}: {walk.task} names none (or more than "
            f"one) of its real servers ({choices})",
            f"the task asked for, {walk.task}, names none (or more than one) of the real "
            f"servers of IPVS {service.describe()}: {choices}",
            (key,),
        )
    others = [_dest_words(walk, d) for d in service.dests if d is not dest]
    may = f"; {service.scheduler} may pick instead: {', '.join(others)}" if others else ""
    holder = _holder(walk, dest)
    walk.add(
        Hop(
            "ipvs",
            f"{label}: IPVS {service.describe()} (matched {how}), {len(service.dests)} real "
            f"server(s): followed {_dest_words(walk, dest)}{may}",
            "; ".join(f"{d.describe()}" for d in service.dests),
            (key, *((holder.key,) if holder is not None else ())),
        )
    )
    if dest.forward != "Masq":
        return _stop(
            walk,
            "uncertain",
            "uncertain",
            f"{label}: IPVS forwards to {dest.address} by {dest.forward}, which the path does "
            "not follow (the routing mesh uses Masq)",
            f"IPVS in {label} forwards by {dest.forward}, which netexplorer does not follow",
            (key,),
        )
    to_port = dest.port or p.dport
    to_addr = ipaddress.ip_address(dest.address)
    walk.add(
        Hop(
            "nat",
            f"{label}: IPVS Masq: destination {p.dst}:{p.dport} -> {to_addr}:{to_port}",
            keys=(key,),
        )
    )
    sct.dnat_to = to_addr
    sw.pkt = p.at(dst=to_addr, dport=to_port, ipvs=True, ctstate=p.ctstate | {"DNAT"})
    dec = lookup(sbox_host.ns, to_addr, sw.pkt.src)
    sw.route_hop(f"route in {label}", dec)
    if dec.type != "unicast":
        _finish(walk, sw, label, key)
        return walk.end("no-route", _no_route_words(ns, to_addr))
    sw.pkt = sw.pkt.at(iif="", oif=dec.dev or "")
    # IPVS sends it on through LOCAL_OUT: the nat binding was made in PREROUTING
    if not sw.hook("OUTPUT", skip_nat=True) or not sw.hook("POSTROUTING"):
        _finish(walk, sw, label, key)
        return None
    if sct.pending_snat is not None:
        sw.apply_snat(*sct.pending_snat, dec)
    if not _finish(walk, sw, label, key):
        return None
    walk.pkt = sw.pkt
    leg = _sbox_port(walk, ns, dec.dev)
    if leg is None:
        return _stop(
            walk,
            "uncertain",
            "uncertain",
            f"{label}: its {dec.dev} leads to no overlay port of this read",
            f"where {label}'s {dec.dev} leads is not in the read (no overlay namespace's br0 "
            "holds its veth's other end)",
            (key,),
        )
    o, sbox_port, sbox_iface = leg
    br_keys = tuple(k for k in (o.bridge.key if o.bridge else None, o.network.key) if k)
    walk.add(
        Hop(
            "veth",
            f"{sbox_iface.name}@if{sbox_port.port.ifindex} of {label} -> veth pair -> "
            f"{sbox_port.port.name}@if{sbox_port.port.link_ifindex} on {_br(o)} "
            f"(overlay {o.network.name})",
            keys=(sbox_iface.key, sbox_port.port.key),
        )
    )
    task = holder
    task_port = _task_port(o, task) if task is not None else None
    if task is None or task_port is None:
        from netexplorer.path.tunnel import mesh_to_remote

        if mesh_to_remote(walk, o, sbox_port, str(to_addr)):
            return None
        return _stop(
            walk,
            "drop",
            "dropped",
            f"{_br(o)}: no port here and no neighbour entry for a peer node holds {to_addr}",
            f"IPVS in {label} sends to {to_addr}, which no container on overlay "
            f"{o.network.name} holds, here or on a peer node (a task that is gone); the fix: "
            "`docker service ps SERVICE` and `docker service update --force SERVICE`",
            br_keys,
        )
    walk.add(
        Hop(
            "bridge",
            f"{_br(o)}: bridged (L2) from {sbox_port.port.name} to {task_port.port.name} "
            f"({task.name})",
            keys=(*br_keys, task_port.port.key),
        )
    )
    inside = _inside_iface(task, str(to_addr))
    walk.add(
        Hop(
            "veth",
            f"{task_port.port.name}@if{task_port.port.link_ifindex} -> veth pair -> "
            f"{inside}@if{task_port.port.ifindex} of {task.name}",
            keys=(task_port.port.key, task.key),
        )
    )
    if task.inside is None or not task.inside.chains:
        why = task.inside.error if task.inside is not None and task.inside.error else None
        return _stop(
            walk,
            "uncertain",
            "uncertain",
            f"{task.name}: its netfilter rules were not read, so its redirection of the "
            "published port to the target port is not followed",
            f"the netfilter rules inside {task.name} were not read"
            + (f" ({why})" if why else " (a read without them)")
            + "; the fix: read the host again, as root, with this netexplorer",
            (task.key,),
        )
    tns = container_namespace(task, walk.corr)
    task_host = _Host.inside(walk.host.read, tns, task.inside.rules, task.inside.chains, {})
    tct = _Conntrack(orig_src=walk.pkt.src, orig_dst=walk.pkt.dst, orig_dport=walk.pkt.dport)
    tpkt = walk.pkt.at(iif=inside, oif="", ctstate=frozenset({"NEW"}), mark=0, ipvs=False)
    tw = _Walk(task_host, walk.corr, tpkt, tct, task=walk.task)
    tlabel = task.name
    if not tw.hook("PREROUTING"):
        _finish(walk, tw, tlabel, task.key)
        return None
    tdec = lookup(tns, tw.pkt.dst, tw.pkt.src, inside)
    tw.route_hop(f"route in {tlabel}", tdec, tns, (task.key,))
    if tdec.type != "local":
        _finish(walk, tw, tlabel, task.key)
        return walk.end("uncertain", f"{tw.pkt.dst} is not an address of {tlabel}")
    if not tw.hook("INPUT") or not _finish(walk, tw, tlabel, task.key):
        return None
    final = tw.pkt
    redirect = (
        f" (redirected from port {walk.pkt.dport}: the service's target port)"
        if final.dport != walk.pkt.dport
        else ""
    )
    title = f"delivered to {tlabel} ({final.dst}) port {final.dport}{redirect}"
    walk.add(Hop("deliver", title, keys=(task.key,), verdict="delivered"))
    walk.pkt = final
    walk.landed, walk.landed_in = "mesh", task
    walk.mesh = MeshLeg(
        ns,
        sbox_host,
        sct,
        iface,
        bridge,
        port,
        vip,
        service,
        dest,
        o,
        sbox_port,
        sbox_iface,
        task,
        task_host,
        tct,
        inside,
        task_port,
        host_ctstate,
    )
    walk.end(
        "delivered",
        f"through the routing mesh (IPVS {service.describe()} in {label}) to {tlabel} "
        f"({final.dst}) port {final.dport}",
    )


def mesh_reply(back: _Walk, fwd: _Walk) -> None:
    """The reply of a packet delivered through the mesh: out of the task, over br0
    into ingress_sbox, IPVS giving it the service's address back, out to the
    bridge, then the host (its own conntrack undoes its NAT)."""
    from netexplorer.path.engine import _Walk

    leg = fwd.mesh
    assert leg is not None
    task, tlabel = leg.task, leg.task.name
    o = leg.overlay
    tns = leg.task_host.ns
    pkt = back.pkt.at(iif="", oif=leg.task_iface, mark=0, ipvs=False)
    tr = _Walk(leg.task_host, back.corr, pkt, leg.task_ct, reply=True)
    dec = lookup(tns, pkt.dst, pkt.src)
    tr.route_hop(f"route in {tlabel}", dec, tns, (task.key,))
    if dec.type != "unicast":
        _finish(back, tr, tlabel, task.key)
        return back.end("no-route", f"{tlabel} has no route back to {pkt.dst}")
    if not tr.hook("OUTPUT") or not tr.hook("POSTROUTING"):
        _finish(back, tr, tlabel, task.key)
        return None
    _undo_dnat(tr, "REDIRECT" if leg.task_ct.orig_dst == tr.pkt.src else "DNAT")
    _finish(back, tr, tlabel, task.key)
    br_keys = tuple(k for k in (o.bridge.key if o.bridge else None, o.network.key) if k)
    back.add(
        Hop(
            "veth",
            f"{leg.task_iface}@if{leg.task_port.port.ifindex} of {tlabel} -> veth pair -> "
            f"{leg.task_port.port.name} on {_br(o)}",
            keys=(task.key, leg.task_port.port.key),
        )
    )
    back.add(
        Hop(
            "bridge",
            f"{_br(o)}: bridged (L2) from {leg.task_port.port.name} to "
            f"{leg.sbox_port.port.name} ({leg.sbox.name})",
            keys=(*br_keys, leg.sbox_port.port.key),
        )
    )
    label, key = leg.sbox.name, leg.sbox.key
    back.add(
        Hop(
            "veth",
            f"{leg.sbox_port.port.name} -> veth pair -> {leg.sbox_iface.name} of {label}",
            keys=(leg.sbox_port.port.key, leg.sbox_iface.key),
        )
    )
    sr = _Walk(
        leg.sbox_host,
        back.corr,
        tr.pkt.at(iif=leg.sbox_iface.name, oif="", mark=0, ipvs=True),
        leg.sbox_ct,
        reply=True,
    )
    sr.undo_snat()
    if not sr.hook("PREROUTING"):
        _finish(back, sr, label, key)
        return None
    sdec = lookup(leg.sbox_host.ns, sr.pkt.dst, sr.pkt.src, leg.sbox_iface.name)
    sr.route_hop(f"route in {label}", sdec)
    if sdec.type != "unicast" or sdec.dev != leg.gw_iface.name:
        _finish(back, sr, label, key)
        return back.end(
            "uncertain",
            f"{label} routes the reply to {sr.pkt.dst} by "
            f"{sdec.dev or 'no interface'}, not back by {leg.gw_iface.name}",
        )
    forwarding = leg.sbox.sysctls.get(_forwarding_name(sr.pkt.family))
    if forwarding == "0":
        _finish(back, sr, label, key)
        return _stop(
            back,
            "drop",
            "forwarding-disabled",
            f"{label}: not forwarded ({_forwarding_name(sr.pkt.family)}=0 there), so IPVS "
            "never sees the reply at FORWARD",
            f"{label} does not forward ({_forwarding_name(sr.pkt.family)}=0 in it): the "
            "routing mesh's replies stop there; the fix: `nsenter "
            f"--net={leg.sbox.path} sysctl -w {_forwarding_name(sr.pkt.family)}=1`",
            (key,),
        )
    sr.pkt = sr.pkt.at(oif=sdec.dev)
    if not sr.hook("FORWARD"):
        _finish(back, sr, label, key)
        return None
    vaddr, vport = leg.vip
    sr.add(
        Hop(
            "nat",
            f"IPVS Masq gives the reply the service's address back: source "
            f"{sr.pkt.src}:{sr.pkt.sport} -> {vaddr}:{vport}",
        )
    )
    sr.pkt = sr.pkt.at(src=vaddr, sport=vport)
    if not sr.hook("POSTROUTING") or not _finish(back, sr, label, key):
        return None
    port = leg.gw_port
    back.add(
        Hop(
            "veth",
            f"{leg.gw_iface.name} of {label} -> veth pair -> "
            f"{port.name if port else '?'}@if{leg.gw_iface.ifindex} on {leg.bridge}",
            keys=tuple(k for k in (leg.gw_iface.key, port.key if port else None) if k),
        )
    )
    back.add(
        Hop(
            "bridge",
            f"{leg.bridge}: to the host (next hop {sdec.gateway or sr.pkt.dst})",
            keys=(f"br:{leg.bridge}",),
        )
    )
    back.pkt = sr.pkt.at(
        mark=None,
        ipvs=None,
        ctstate=frozenset({"ESTABLISHED"}) | (leg.host_ctstate & {"DNAT", "SNAT"}),
    )
    back.host_receive(leg.bridge)


def _forwarding_name(family: int) -> str:
    return "net.ipv4.ip_forward" if family == 4 else "net.ipv6.conf.all.forwarding"


def _undo_dnat(w: _Walk, what: str) -> None:
    """Conntrack gives the reply the source its first packet was sent to."""
    ct = w.ct
    if ct.dnat_to is None or ct.orig_dst is None:
        return None
    p = w.pkt
    w.add(
        Hop(
            "nat",
            f"conntrack undoes the {what}: source {p.src}:{p.sport} -> "
            f"{ct.orig_dst}:{ct.orig_dport}",
        )
    )
    w.pkt = p.at(src=ct.orig_dst, sport=ct.orig_dport)


# ------------------------------------------------------------------- what the mesh publishes
@dataclass(frozen=True, slots=True)
class MeshTask:
    """A real server of a published port's IPVS service: its address, the container
    holding it (None: none in this read), the port it is delivered to there (after
    the task's REDIRECT; None where the task's rules were not read) and that rule."""

    address: str
    container: Container | None
    port: int | None
    redirect: Rule | None


@dataclass(frozen=True, slots=True)
class MeshPort:
    """A port published through the routing mesh: the host's DNAT to ingress_sbox,
    the MARK there, the IPVS service and its tasks; ``missing`` says what the read
    lacks to tell the rest (None: nothing)."""

    protocol: str
    port: int
    dnat: Rule
    to: str
    sbox: DockerNamespace | None
    mark: int | None
    mark_rule: Rule | None
    service: IpvsService | None
    tasks: tuple[MeshTask, ...]
    missing: str | None


def mesh_ports(read: Snapshot, corr: Correlation) -> list[MeshPort]:
    """Every port the host's nat DOCKER-INGRESS chain DNATs to ingress_sbox, followed
    as a first packet is: ingress_sbox's PREROUTING chains (the mark), IPVS's service
    for it, each real server and its container's nat PREROUTING (the target port)."""
    from netexplorer.path.engine import _nat_to
    from netexplorer.path.tunnel import _namespace_with

    out = []
    for rule in read.rules:
        if not ingress_dnat(rule):
            continue
        port = int(rule.dport or 0)
        to = rule.target_options.get("--to-destination", "")
        addr, to_port = _nat_to(to, ipaddress.ip_address(INTERNET[4]))
        found = _namespace_with(read.namespaces, str(addr))
        sbox, iface = found if found is not None else (None, None)
        pkt = NfPacket(
            family=addr.version,
            proto=rule.protocol or "tcp",
            src=ipaddress.ip_address(INTERNET[4]),
            dst=addr,
            sport=40000,
            dport=int(to_port) if to_port and to_port.isdigit() else port,
            iif=iface.name if iface is not None else "",
            mark=0,
            ipvs=False,
        )
        base = (rule.protocol or "tcp", port, rule, to, sbox)
        if sbox is None or sbox.ipvs is None or not sbox.chains:
            why = (
                f"no Docker namespace of the read holds {addr}"
                if sbox is None
                else f"{sbox.name} has no IPVS on this kernel"
                if sbox.ipvs is None
                else f"{sbox.name}'s netfilter rules were not read"
            )
            out.append(MeshPort(*base, None, None, None, (), why))
            continue
        local = local_checker(_namespace_of(sbox, None).addresses)
        outcomes = Firewall.of_tables(sbox.rules, sbox.chains).run_hook("PREROUTING", pkt, local)
        mark = outcomes[-1].mark if outcomes else 0
        marks = [r for o in outcomes for r in o.trail if r.target == "MARK"]
        matched = service_for(parse_ip_vs(sbox.ipvs), pkt.at(mark=mark))
        if matched is None:
            out.append(
                MeshPort(*base, mark, marks[-1] if marks else None, None, (), "no IPVS service")
            )
            continue
        service = matched[0]
        tasks = tuple(_mesh_task(read, corr, d, pkt) for d in service.dests)
        missing = None if service.dests else "no real server (no running task)"
        out.append(MeshPort(*base, mark, marks[-1] if marks else None, service, tasks, missing))
    return out


def _mesh_task(read: Snapshot, corr: Correlation, dest: IpvsDest, pkt: NfPacket) -> MeshTask:
    """A real server with the port its container's nat PREROUTING gives the packet."""
    try:
        address = ipaddress.ip_address(dest.address)
    except ValueError:
        return MeshTask(dest.address, None, None, None)
    found = endpoint_with(corr, address)
    ct = found[0] if found is not None else None
    if ct is None or ct.inside is None or not ct.inside.chains:
        return MeshTask(dest.address, ct, None, None)
    dport = dest.port or pkt.dport
    at_task = pkt.at(dst=address, dport=dport, iif=_inside_iface(ct, dest.address), mark=0)
    local = local_checker(container_namespace(ct, corr).addresses)
    fw = Firewall.of_tables(ct.inside.rules, ct.inside.chains)
    for o in fw.run_hook("PREROUTING", at_task, local):
        if o.nat is not None and o.nat[0] == "REDIRECT" and o.rule is not None:
            ports = o.nat[1].get("--to-ports", "").split("-")[0]
            return MeshTask(dest.address, ct, int(ports) if ports.isdigit() else dport, o.rule)
    return MeshTask(dest.address, ct, dport, None)
