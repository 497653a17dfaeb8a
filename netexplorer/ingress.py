"""The swarm ingress routing mesh wired up from one read: a pure function, like overlay.

A published swarm port takes this way on a node (the read holds every part):

- the host's nat ``DOCKER-INGRESS`` chain DNATs the port to ``ingress_sbox``'s leg
  on docker_gwbridge;
- in ``ingress_sbox`` (and an overlay's ``lb_<id>``), mangle ``MARK`` gives the
  port's packets the service's firewall mark, and IPVS's ``FWM <mark>`` service
  (``DockerNamespace.ipvs``) sends each connection to a real server: a task's
  address on the ingress network;
- in the task's own namespace, nat ``REDIRECT`` turns the published port into
  the target port.

:func:`mesh_view` gives a :class:`MeshView`: the rules read in those namespaces,
each with the namespace (or task) it was read in, the IPVS services with each
real server's container, and the pairs ``correlate`` links, so that selecting a
task lights its REDIRECT rule, the MARK rules of its published ports, its IPVS
service and real server; selecting ``ingress_sbox`` its rules and services.
"""

from __future__ import annotations

from dataclasses import dataclass

from netexplorer.ipvs import IpvsDest, IpvsService, parse_ip_vs
from netexplorer.model import MESH_NAMESPACE_KINDS, Container, Rule, Snapshot, namespace_key

#: Docker's embedded DNS server, whose rules each container's namespace also holds
EMBEDDED_DNS = "127.0.0.11"
#: the host's chain of published swarm ports
INGRESS_CHAIN = "DOCKER-INGRESS"


def ipvs_key(netns: str, service: IpvsService) -> str:
    """The model key of an IPVS service: ``ipvs:<netns>/fwm:<mark>`` or
    ``ipvs:<netns>/<proto>:<address>:<port>``."""
    if service.fwmark is not None:
        return f"ipvs:{netns}/fwm:{service.fwmark}"
    return f"ipvs:{netns}/{service.protocol.lower()}:{service.address}:{service.port}"


def dest_key(service_key: str, dest: IpvsDest) -> str:
    """The model key of a real server of the service ``service_key``."""
    return f"{service_key}/{dest.address}:{dest.port}"


def mark_of(rule: Rule) -> int | None:
    """The mark a ``-j MARK --set-xmark M/MASK`` (or ``--set-mark M``) rule sets."""
    if rule.target != "MARK":
        return None
    value = rule.target_options.get("--set-xmark") or rule.target_options.get("--set-mark")
    if not value:
        return None
    try:
        return int(value.split("/")[0], 0)
    except ValueError:
        return None


def redirect_ports(rule: Rule) -> tuple[str, str] | None:
    """(published port, target port) of a task's ``-p tcp --dport P -j REDIRECT
    --to-ports T`` rule; None for other rules."""
    to = rule.target_options.get("--to-ports")
    if rule.target != "REDIRECT" or rule.dport is None or not to:
        return None
    return rule.dport, to


@dataclass(frozen=True, slots=True)
class MeshRule:
    """A rule read in a mesh namespace or a task's, and whose namespace that is."""

    rule: Rule
    #: ``ns:<name>`` for ingress_sbox/lb_*, ``ct:<id>`` for a task
    owner_key: str
    #: the namespace or the container's name, as a person says it
    owner_name: str


@dataclass(frozen=True, slots=True)
class MeshDest:
    """A real server and the container holding its address (None: none here)."""

    dest: IpvsDest
    key: str
    container_key: str | None
    container_name: str | None


@dataclass(frozen=True, slots=True)
class MeshService:
    """An IPVS virtual service of a mesh namespace, its real servers, and the
    published ports whose packets that namespace's MARK rules give its mark."""

    netns: str
    service: IpvsService
    key: str
    dests: tuple[MeshDest, ...]
    ports: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MeshView:
    #: the rules of ingress_sbox, lb_* and the tasks, namespace by namespace
    rules: tuple[MeshRule, ...] = ()
    #: the IPVS services of ingress_sbox and lb_*
    services: tuple[MeshService, ...] = ()
    #: key pairs to cross-link
    edges: tuple[tuple[str, str], ...] = ()

    def services_of(self, netns: str) -> tuple[MeshService, ...]:
        return tuple(s for s in self.services if s.netns == netns)


def _holders(containers: list[Container]) -> dict[str, Container]:
    """Address -> the container with an endpoint holding it."""
    out: dict[str, Container] = {}
    for ct in containers:
        for ep in ct.endpoints:
            for address in (ep.ipv4, ep.ipv6):
                if address:
                    out.setdefault(address, ct)
    return out


def _dns_rule(rule: Rule) -> bool:
    """One of Docker's embedded-DNS rules (to or from 127.0.0.11), in every container."""
    return any((a or "").split("/")[0] == EMBEDDED_DNS for a in (rule.source, rule.destination))


def mesh_view(read: Snapshot) -> MeshView:
    """The routing mesh of ``read`` wired up (see the module docstring)."""
    rules: list[MeshRule] = []
    services: list[MeshService] = []
    edges: list[tuple[str, str]] = []
    holders = _holders(read.containers)
    spaces = [ns for ns in read.namespaces if ns.kind in MESH_NAMESPACE_KINDS]
    #: published port -> the MARK rules' keys that mark it, per namespace
    marked: dict[tuple[str, str], list[str]] = {}
    for ns in spaces:
        rules += [MeshRule(r, ns.key, ns.name) for r in ns.rules]
        edges += [(ns.key, r.key) for r in ns.rules]
        by_mark: dict[int, list[Rule]] = {}
        for r in ns.rules:
            mark = mark_of(r)
            if mark is not None and r.dport is not None and r.table == "mangle":
                by_mark.setdefault(mark, []).append(r)
                marked.setdefault((ns.name, r.dport), []).append(r.key)
        for svc in parse_ip_vs(ns.ipvs or ""):
            key = ipvs_key(ns.name, svc)
            edges.append((ns.key, key))
            dests = []
            for d in svc.dests:
                ct = holders.get(d.address)
                dk = dest_key(key, d)
                dests.append(MeshDest(d, dk, ct.key if ct else None, ct.name if ct else None))
                edges.append((key, dk))
                if ct is not None:
                    edges += [(dk, ct.key), (key, ct.key)]
            mark_rules = by_mark.get(svc.fwmark, []) if svc.fwmark is not None else []
            edges += [(key, r.key) for r in mark_rules]
            ports = tuple(dict.fromkeys(r.dport for r in mark_rules if r.dport))
            services.append(MeshService(ns.name, svc, key, tuple(dests), ports))
    sbox = namespace_key("ingress_sbox")
    for ct in read.containers:
        inside = ct.inside
        if inside is None or not inside.rules:
            continue
        own = [r for r in inside.rules if not _dns_rule(r)]
        rules += [MeshRule(r, ct.key, ct.name) for r in inside.rules]
        edges += [(ct.key, r.key) for r in own]
        for r in own:
            redirect = redirect_ports(r)
            if redirect is None:
                continue
            # the MARK rules of ingress_sbox for the port this task takes
            marking = marked.get(("ingress_sbox", redirect[0]), [])
            edges += [(ct.key, k) for k in marking]
            if marking:
                edges.append((ct.key, sbox))
    return MeshView(tuple(rules), tuple(services), tuple(edges))
