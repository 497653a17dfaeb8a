"""Everything derived from one read, computed once, off the UI thread.

:func:`analyse` is what a worker runs on each new :class:`~netexplorer.model.Snapshot`
(the live feed's, a file's, the CLI's): correlation, then the doctor over the read
and the correlation, then the cross-link index with the findings linked in, and the
index of the read's items by model key. The app receives the :class:`Analysis`
ready-made and only renders it.

A live feed's polls re-read the firewall, conntrack and the sysctls and share the
other sources' lists with the read before (``live.feed``). When such a read differs
from the previous one only in what counts (rule and chain counters) and in its NAT
flows, nothing correlation or the doctor derive from it changed: :func:`analyse`
given the previous analysis (:class:`Analyser` keeps it for a stream of reads) takes
the correlation, the findings and the links from it and makes only the flows and
the rules' part of the item index again. The result is the same as without it.

Where the host has a swarm routing mesh, a poll reads its netfilter tables and its
IPVS tables again too (inside its namespaces and tasks): the Docker part is then
the one before with new namespace and task objects holding them. Their rules' and
IPVS real servers' counts moving is counting too: the mesh view (whose rows show
them), its notes and the item index are made again, nothing else; a mesh rule or
real server come or gone is a change like any other.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from operator import attrgetter
from typing import Any

from netexplorer.correlate import (
    Correlation,
    Links,
    correlate,
    mesh_notes,
    nat_flows,
    with_mesh_counts,
)
from netexplorer.doctor import Finding, diagnose, link_findings
from netexplorer.ipvs import without_counts
from netexplorer.model import Chain, Container, DockerNamespace, Rule, Snapshot

Items = Mapping[str, tuple[object, ...]]


@dataclass(frozen=True)
class Analysis:
    """A read and what was derived from it. Nothing here is written after it is made."""

    read: Snapshot
    correlation: Correlation
    #: the doctor's findings (empty when healthy)
    findings: tuple[Finding, ...]
    #: ``correlation.links`` with each finding linked to its evidence as ``doc:<id>``
    links: Links
    #: model key -> the read's objects with that key (see :func:`items_by_key`): the
    #: rules' keys first, then everything else's
    items: ChainMap[str, tuple[object, ...]]


def _index(items: Iterable[object]) -> dict[str, tuple[object, ...]]:
    index: dict[str, list[object]] = {}
    for item in items:
        index.setdefault(item.key, []).append(item)  # type: ignore[attr-defined]
    return {key: tuple(found) for key, found in index.items()}


def _other_items(read: Snapshot) -> dict[str, tuple[object, ...]]:
    """The item index of everything in ``read`` but its rules."""
    items: list[object] = [*read.containers, *read.interfaces, *read.bridges]
    items += [ep for ct in read.containers for ep in ct.endpoints]
    items += [port for br in read.bridges for port in br.ports]
    items += read.networks
    # rules read inside the routing mesh's namespaces and its tasks
    items += [r for ns in read.namespaces for r in ns.rules]
    items += [r for ct in read.containers if ct.inside is not None for r in ct.inside.rules]
    return _index(items)


def items_by_key(read: Snapshot) -> ChainMap[str, tuple[object, ...]]:
    """Model key -> the objects of ``read`` with that key (an interface and its bridge
    port share one): containers, interfaces, bridges, endpoints, ports, networks, rules."""
    return ChainMap(_index(read.rules), _other_items(read))


#: what only counts packets: a poll changes it, nothing correlation or the doctor
#: derive from a read depends on it
COUNTERS = frozenset({"packets", "bytes", "delta_packets", "delta_bytes"})


def _shape(cls: type) -> Any:
    """A getter of every field of ``cls`` but its counters, as one tuple."""
    return attrgetter(*(f.name for f in fields(cls) if f.name not in COUNTERS))


_RULE_SHAPE = _shape(Rule)
_CHAIN_SHAPE = _shape(Chain)
#: the read's lists that a poll shares with the read before when their source was
#: not read again (the same objects, never written into)
_SHARED = ("networks", "swarm", "interfaces", "bridges", "routes", "ip_rules")
#: the fields of a mesh namespace / a task's inside that a poll reads again (the
#: containers and Docker's namespaces are shared too where it has no mesh)
_NAMESPACE_MESH = frozenset({"rules", "chains", "ipvs"})
_INSIDE_MESH = frozenset({"rules", "chains"})


def _source_state(read: Snapshot) -> list[tuple[str, bool, str | None, bool]]:
    return [(s.name, s.ok, s.error, s.stale) for s in read.sources]


def counters_only(read: Snapshot, before: Snapshot) -> bool:
    """Does ``read`` differ from ``before`` at most in its rule and chain counters,
    its NAT flows (conntrack) and its timings? The lists of the sources not read
    again must be ``before``'s own objects; the firewall's and the sysctls' are
    compared by value."""
    if read is before:
        return True
    if any(getattr(read, name) is not getattr(before, name) for name in _SHARED):
        return False
    if not (
        _same_list(read.namespaces, before.namespaces, _same_namespace)
        and _same_list(read.containers, before.containers, _same_container)
    ):
        return False
    if (read.schema, read.host, read.warnings, read.firewall_backends, read.sysctls) != (
        before.schema,
        before.host,
        before.warnings,
        before.firewall_backends,
        before.sysctls,
    ) or _source_state(read) != _source_state(before):
        return False
    return _same_shapes(read.rules, before.rules, _RULE_SHAPE) and _same_shapes(
        read.chains, before.chains, _CHAIN_SHAPE
    )


def _same_but(a: Any, b: Any, names: frozenset[str]) -> bool:
    """``a`` and ``b`` (of one dataclass) hold the same objects in every field but
    ``names``."""
    return type(a) is type(b) and all(
        getattr(a, f.name) is getattr(b, f.name) for f in fields(a) if f.name not in names
    )


def _same_tables(a: Any, b: Any) -> bool:
    return _same_shapes(a.rules, b.rules, _RULE_SHAPE) and _same_shapes(
        a.chains, b.chains, _CHAIN_SHAPE
    )


def _same_namespace(a: DockerNamespace, b: DockerNamespace) -> bool:
    """A Docker namespace read again by a poll, differing at most in counters."""
    return (
        _same_but(a, b, _NAMESPACE_MESH)
        and _same_tables(a, b)
        and (a.ipvs == b.ipvs or without_counts(a.ipvs) == without_counts(b.ipvs))
    )


def _same_container(a: Container, b: Container) -> bool:
    """A task whose inside's tables a poll read again, differing at most in counters."""
    if not _same_but(a, b, frozenset({"inside"})) or a.inside is None or b.inside is None:
        return False
    return _same_but(a.inside, b.inside, _INSIDE_MESH) and _same_tables(a.inside, b.inside)


def _same_list(now: list[Any], before: list[Any], same: Any) -> bool:
    """The same list, or one of as many items, each the one before's or ``same`` as it."""
    if now is before:
        return True
    return len(now) == len(before) and all(
        a is b or same(a, b) for a, b in zip(now, before, strict=True)
    )


def _same_shapes(now: list[Any], before: list[Any], shape: Any) -> bool:
    if now is before:
        return True
    return len(now) == len(before) and all(
        a is b or shape(a) == shape(b) for a, b in zip(now, before, strict=True)
    )


def analyse(read: Snapshot, previous: Analysis | None = None) -> Analysis:
    """Correlate ``read``, run the doctor on it, link the findings, index the items.

    ``previous``: the analysis of the read before in the same stream; when ``read``
    differs from it only in counters and NAT flows (:func:`counters_only`), its
    correlation, findings and links are taken over (the flows made again)."""
    if previous is not None and counters_only(read, previous.read):
        before = previous.read
        corr, links, other = previous.correlation, previous.links, previous.items.maps[1]
        if read.conntrack is not before.conntrack:
            corr = replace(corr, container_flows=nat_flows(read))
        if read.namespaces is not before.namespaces or read.containers is not before.containers:
            # the routing mesh read again: its counts are in new objects
            corr = with_mesh_counts(corr, read)
            links = links.renoted(mesh_notes(corr.mesh))
            other = _other_items(read)
        items = ChainMap(_index(read.rules), other)
        return Analysis(read, corr, previous.findings, links, items)
    corr = correlate(read)
    findings = diagnose(read, corr)
    links = link_findings(corr.links, findings)
    return Analysis(read, corr, tuple(findings), links, items_by_key(read))


class Analyser:
    """:func:`analyse` for a stream of reads of one host (a live feed's), each read
    analysed with the analysis of the one before. One per stream; not thread-safe."""

    def __init__(self) -> None:
        self._last: Analysis | None = None

    def __call__(self, read: Snapshot) -> Analysis:
        self._last = result = analyse(read, self._last)
        return result
