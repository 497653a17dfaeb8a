"""``netexplorer doctor``: explain broken container networking from one snapshot.

Data layer only (no Textual): :func:`diagnose` runs every check of
:data:`netexplorer.doctor.checks.CHECKS` over a :class:`~netexplorer.model.Snapshot`
(the read) and its :class:`~netexplorer.correlate.Correlation`, never writing into
either, and returns :class:`Finding` objects. Each
finding says what is wrong in words, why it breaks container networking, the
command that fixes it, and its *evidence*: the model keys (``ct:``, ``ep:``,
``if:``, ``br:``, ``net:``, ``rule:``) of the items involved.

:func:`link_findings` gives a :class:`~netexplorer.correlate.Links` index with each
finding added as a synthetic ``doc:<id>`` key linked to its evidence, so the UI
marks the evidence with the same ``Links.related`` query it uses for everything else.

The checks read only the snapshot, so they work as well on a file written by
``netexplorer snapshot --json``. A check whose input is missing (e.g. no sysctls
in an old snapshot, no firewall rules without root) stays silent rather than
guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netexplorer.correlate import Correlation, Links, correlate
from netexplorer.model import Snapshot

ERROR = "error"
WARNING = "warning"


@dataclass(slots=True)
class Finding:
    """One problem found, with the items that show it and the fix."""

    #: the check that found it (a name of ``CHECKS``), e.g. "ip-forward"
    check: str
    #: what it is about, stable across refreshes: a sysctl, bridge, container ...
    subject: str
    #: one line: what is wrong
    title: str
    #: why that breaks container networking, and what else to know
    detail: str
    #: shell command(s) that fix it, one per line
    fix: str
    #: model keys of the items involved (for cross-linking)
    evidence: list[str] = field(default_factory=list)
    severity: str = ERROR

    @property
    def id(self) -> str:
        return f"{self.check}:{self.subject}"

    @property
    def key(self) -> str:
        return f"doc:{self.id}"


def diagnose(
    snap: Snapshot, corr: Correlation | None = None, checks: tuple[str, ...] | None = None
) -> list[Finding]:
    """Every finding of every check (or of the named ``checks``), in check order.

    ``corr`` is ``correlate(snap)`` (computed here when not given). Never raises
    for odd data: a check that fails becomes a finding saying so. A check reading
    a stale source (the live view shows that source's last read after it failed)
    is skipped.
    """
    from netexplorer.doctor.checks import CHECKS

    corr = correlate(snap) if corr is None else corr
    stale = {src.name for src in snap.sources if src.stale}
    found: list[Finding] = []
    for check in CHECKS:
        if checks is not None and check.name not in checks:
            continue
        if stale.intersection(check.reads):
            continue  # an old read against a new one: not a finding (see Check.reads)
        try:
            for f in check.run(snap, corr):
                f.evidence = list(dict.fromkeys(f.evidence))
                found.append(f)
        except Exception as exc:  # a doctor bug must not hide the other findings
            found.append(
                Finding(
                    check=check.name,
                    subject="internal-error",
                    title=f"the {check.name} check could not run: {type(exc).__name__}: {exc}",
                    detail="This is a bug in netexplorer; the other checks ran.",
                    fix="",
                    severity=WARNING,
                )
            )
    return found


def link_findings(links: Links, findings: list[Finding]) -> Links:
    """``links`` with each finding added as ``doc:<id>``, linked to its evidence
    (``links`` itself is not changed).

    ``result.related(finding.key)`` is then the finding and exactly its evidence
    (see :meth:`Links.related`).
    """
    return links.extended(
        ((f.key, key) for f in findings for key in f.evidence),
        {f.key: f.title for f in findings},
        {f.key: [f.detail, "", "fix:", *f.fix.splitlines()] for f in findings},
    )


__all__ = ["ERROR", "WARNING", "Finding", "diagnose", "link_findings"]
