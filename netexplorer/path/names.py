"""What a path's destination can be called, for completion: every name ``trace_path``
resolves on a read (containers, ``host``, ``internet``, addresses, published ports),
and the tasks its ``task`` can name to follow through the routing mesh."""

from __future__ import annotations

from netexplorer.ingress import MeshView
from netexplorer.model import Snapshot
from netexplorer.path.places import SPECIAL_NAMES

_ANY = ("0.0.0.0", "::", "")


def destination_names(read: Snapshot) -> list[str]:
    """Container names, ``host``, ``internet``, the containers' and host's addresses and
    ``host:PORT`` / ``ADDRESS:PORT`` of each published port; each once, in that order."""
    names: list[str] = [c.name for c in read.containers if c.state == "running"]
    names += SPECIAL_NAMES
    for ct in read.containers:
        for p in ct.published_ports:
            names.append(
                f"host:{p.host_port}" if p.host_ip in _ANY else _joined(p.host_ip, p.host_port)
            )
    for ct in read.containers:
        for ep in ct.endpoints:
            names += [a for a in (ep.ipv4, ep.ipv6) if a]
    for iface in read.interfaces:
        names += [a.address for a in iface.addresses if a.scope == "global"]
    return list(dict.fromkeys(names))


def _joined(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def task_names(mesh: MeshView) -> list[str]:
    """What ``trace_path``'s ``task`` (the CLI's ``--task``) can name: the containers
    holding the real servers of the routing mesh's IPVS services in ingress_sbox,
    then those real servers' addresses; each once. Empty without the mesh."""
    dests = [d for s in mesh.services if s.netns == "ingress_sbox" for d in s.dests]
    names = [d.container_name for d in dests if d.container_name]
    return list(dict.fromkeys([*names, *(d.dest.address for d in dests)]))
