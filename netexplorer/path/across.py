"""A path named across several hosts' reads (``netexplorer path`` with several reads).

SRC and DST are named as on one host, or as ``NAME@HOST`` where HOST is one of
the reads' names (or, for an ssh host, its host part without user and port). A
container name, id prefix or container address is looked up on every read: held
by one host, that host is meant; by several, :class:`AmbiguousName` lists them as
``NAME@HOST``. ``host``, ``internet``, other addresses and ``HOST:PORT`` without
``@HOST`` are the first read's for SRC and the source's host's for DST. The
result names its source ``NAME@HOST``, and a destination container on another
host too.

The path starts on the source's host with every other read open
(:func:`netexplorer.path.trace_path`'s ``others``), so it goes on through a swarm
tunnel into the host holding its far end. A destination container on another
host is reached at its address on a network the source shares (an overlay's
addresses are swarm-wide), else its first address. Pure over the reads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from netexplorer.model import Container
from netexplorer.overlay_peers import HostRead
from netexplorer.path.engine import trace_path
from netexplorer.path.places import (
    SPECIAL_NAMES,
    endpoint_with,
    find_container,
    netns_owner,
    pick_endpoint,
    resolve_source,
)
from netexplorer.path.places import _ip as parse_address
from netexplorer.path.places import _split_port as split_port
from netexplorer.path.result import PathResult, UnknownName

#: between a name and the host holding it: ``sw2@node2`` (container names, the
#: special names, addresses and HOST:PORT never hold one)
AT = "@"


class AmbiguousName(UnknownName):
    """A name that several hosts hold, or a HOST that names no read or several;
    ``matches`` holds the forms that name one (``NAME@HOST``, or the hosts)."""

    def __init__(self, name: str, message: str, matches: Sequence[str]) -> None:
        LookupError.__init__(self, message)
        self.name = name
        self.matches = tuple(matches)


def split_host(text: str) -> tuple[str, str | None]:
    """``NAME@HOST`` -> (NAME, HOST); a name without ``@`` -> (name, None). The first
    ``@`` splits: an ssh host's label may hold another (``sw2@root@node2:22``)."""
    name, sep, host = text.partition(AT)
    return (name, host) if sep else (text, None)


def _bare(label: str) -> str:
    """``user@host:port`` -> ``host`` (an IPv6 host without its brackets)."""
    host = label.rpartition("@")[2]
    host = re.sub(r":\d+$", "", host) if host.count(":") <= 1 or host.startswith("[") else host
    return host.strip("[]")


def pick_host(reads: Sequence[HostRead], host: str, text: str) -> HostRead:
    """The read named ``host`` (its name, else its bare ssh host when one read has it)."""
    exact = [r for r in reads if r.name == host]
    found = exact or [r for r in reads if _bare(r.name) == host]
    if len(found) == 1:
        return found[0]
    names = [r.name for r in (found or reads)]
    what = "names several reads" if found else "is none of the hosts read"
    raise AmbiguousName(text, f"{host!r} in {text!r} {what}: {', '.join(names)}", names)


def _holders(reads: Sequence[HostRead], name: str) -> list[HostRead]:
    """The reads holding a container ``name`` (name, id or id prefix) or a running
    container endpoint at the address ``name``."""
    address = parse_address(name)
    out = []
    for r in reads:
        if find_container(r.read, name) is not None or (
            address is not None and endpoint_with(r.correlation, address) is not None
        ):
            out.append(r)
    return out


def _relative(name: str) -> bool:
    """``host``, ``internet``, ``localhost`` or an address: meant on a host given by
    context, never looked up among the hosts."""
    return name in (*SPECIAL_NAMES, "localhost") or parse_address(name) is not None


def locate(reads: Sequence[HostRead], text: str) -> tuple[HostRead | None, str]:
    """The read ``text`` names (None: a name meant relative to another host) and
    ``text`` without its ``@HOST``. Raises :class:`UnknownName` for a name no read
    holds, :class:`AmbiguousName` for one several hold."""
    name, host = split_host(text)
    if host is not None:
        return pick_host(reads, host, text), name
    base, _port = split_port(name)
    holders = _holders(reads, base)
    if len(holders) > 1:
        forms = [f"{name}{AT}{r.name}" for r in holders]
        raise AmbiguousName(
            text,
            f"{text!r} is on several hosts: {', '.join(forms)}; name one as NAME@HOST",
            forms,
        )
    if holders:
        return holders[0], name
    if _relative(base):
        return None, name
    names = [c.name for r in reads for c in r.read.containers]
    raise UnknownName(text, [*names, *SPECIAL_NAMES])


def _far_address(here: HostRead, src: str, there: HostRead, ct: Container, name: str) -> str:
    """Where a packet from ``src`` on ``here`` reaches ``ct`` of ``there``: its address
    on a network the source container shares, else its first (``name`` keeps a
    ``:PORT``)."""
    near = resolve_source(here.read, src, here.correlation).container
    ep = pick_endpoint(netns_owner(there.read, ct), None, near)
    address = (ep.ipv4 or ep.ipv6) if ep is not None else None
    if not address:
        raise UnknownName(f"{name}{AT}{there.name} (it has no address)", [])
    _base, port = split_port(name)
    if port is None:
        return address
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def trace_across(
    reads: Sequence[HostRead],
    src: str,
    dst: str,
    proto: str = "icmp",
    port: int | None = None,
    task: str | None = None,
) -> PathResult:
    """The path from ``src`` to ``dst`` named across ``reads`` (see the module
    docstring): traced on the source's host with the other reads open. Raises
    :class:`UnknownName` (and :class:`AmbiguousName`) and ValueError as
    :func:`~netexplorer.path.trace_path` does; ``task`` as there."""
    if not reads:
        raise ValueError("no read to trace a path on")
    src_host, src_name = locate(reads, src)
    here = src_host or reads[0]
    dst_host, dst_name = locate(reads, dst)
    others = [r for r in reads if r is not here]

    def trace(to: str) -> PathResult:
        return trace_path(here.read, here.correlation, src_name, to, proto, port, others, task)

    if dst_host is None or dst_host is here:
        result = trace(dst_name)
    else:
        ct = find_container(dst_host.read, split_port(dst_name)[0])
        if ct is None:  # an address of a container there: the packet is sent to it
            result = trace(dst_name)
        else:
            address = _far_address(here, src_name, dst_host, ct, dst_name)
            result = trace(address)
            result = _named(result, result.source, f"{ct.name}{AT}{dst_host.name}")
    return _named(result, f"{result.source}{AT}{here.name}", result.destination)


def _named(result: PathResult, source: str, destination: str) -> PathResult:
    """``result`` with its source and destination named so, in its sentence too."""
    before = f"{result.source} -> {result.destination}: "
    sentence = result.sentence
    if sentence.startswith(before):
        sentence = f"{source} -> {destination}: " + sentence.removeprefix(before)
    return replace(result, source=source, destination=destination, sentence=sentence)
