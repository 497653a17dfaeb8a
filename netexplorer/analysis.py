"""Everything derived from one read, computed once, off the UI thread.

:func:`analyse` is what a worker runs on each new :class:`~netexplorer.model.Snapshot`
(the live feed's, a file's, the CLI's): correlation, then the doctor over the read
and the correlation, then the cross-link index with the findings linked in. The
app receives the :class:`Analysis` ready-made and only renders it.
"""

from __future__ import annotations

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


def analyse(read: Snapshot) -> Analysis:
    """Correlate ``read``, run the doctor on it, link the findings."""
    corr = correlate(read)
    findings = diagnose(read, corr)
    return Analysis(read, corr, tuple(findings), link_findings(corr.links, findings))
