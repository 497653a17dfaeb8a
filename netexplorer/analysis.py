"""Everything derived from one read, computed once, off the UI thread.

:func:`analyse` is what a worker runs on each new :class:`~netexplorer.model.Snapshot`
(the live feed's, a file's, the CLI's): correlation, then the doctor over the read
and the correlation, then the cross-link index with the findings linked in, and the
index of the read's items by model key. The app receives the :class:`Analysis`
ready-made and only renders it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from netexplorer.correlate import Correlation, Links, correlate
from netexplorer.doctor import Finding, diagnose, link_findings
from netexplorer.model import Snapshot


@dataclass(frozen=True)
class Analysis:
    """A read and what was derived from it. Nothing here is written after it is made."""

    read: Snapshot
    correlation: Correlation
    #: the doctor's findings (empty when healthy)
    findings: tuple[Finding, ...]
    #: ``correlation.links`` with each finding linked to its evidence as ``doc:<id>``
    links: Links
    #: model key -> the read's objects with that key (see :func:`items_by_key`)
    items: Mapping[str, tuple[object, ...]]


def items_by_key(read: Snapshot) -> dict[str, tuple[object, ...]]:
    """Model key -> the objects of ``read`` with that key (an interface and its bridge
    port share one): containers, interfaces, bridges, endpoints, ports, networks, rules."""
    index: dict[str, list[object]] = {}
    items: list[object] = [*read.containers, *read.interfaces, *read.bridges]
    items += [ep for ct in read.containers for ep in ct.endpoints]
    items += [port for br in read.bridges for port in br.ports]
    items += [*read.networks, *read.rules]
    for item in items:
        index.setdefault(item.key, []).append(item)  # type: ignore[attr-defined]
    return {key: tuple(found) for key, found in index.items()}


def analyse(read: Snapshot) -> Analysis:
    """Correlate ``read``, run the doctor on it, link the findings, index the items."""
    corr = correlate(read)
    findings = diagnose(read, corr)
    links = link_findings(corr.links, findings)
    return Analysis(read, corr, tuple(findings), links, items_by_key(read))
