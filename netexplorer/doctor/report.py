"""The doctor's findings as terminal text or JSON (``netexplorer doctor [--json]``).

Host names (containers, interfaces, rule text) in the output go through
:func:`netexplorer.literal.escape_controls`, so a hostile name cannot send
escape sequences to the terminal. (That module needs Rich, not Textual.)
"""

from __future__ import annotations

import json
from typing import Any

from netexplorer.correlate import Links
from netexplorer.doctor import Finding
from netexplorer.literal import escape_controls
from netexplorer.model import KIND_NAMES, Snapshot


def evidence_items(f: Finding, links: Links) -> list[dict[str, str]]:
    """Each evidence key with its kind and label (the name or rule text)."""
    return [
        {
            "key": k,
            "kind": KIND_NAMES.get(links.kind(k), links.kind(k)),
            "label": links.labels.get(k, k),
        }
        for k in f.evidence
    ]


def shown_evidence(f: Finding, links: Links) -> list[dict[str, str]]:
    """The evidence people are shown: each item but the endpoints (their container
    and interfaces stand for them)."""
    return [e for e in evidence_items(f, links) if e["kind"] != "endpoint"]


def healthy_text() -> str:
    """What a run without findings checked, in one sentence."""
    from netexplorer.doctor.checks import CHECKS

    return f"No problem found by the checks: {', '.join(c.name for c in CHECKS)}."


def findings_to_dict(snap: Snapshot, links: Links, findings: list[Finding]) -> dict[str, Any]:
    return {
        "host": snap.host,
        "healthy": not findings,
        "findings": [
            {
                "id": f.id,
                "key": f.key,
                "check": f.check,
                "subject": f.subject,
                "severity": f.severity,
                "title": f.title,
                "detail": f.detail,
                "fix": f.fix,
                "evidence": evidence_items(f, links),
            }
            for f in findings
        ],
        "failed_sources": [{"name": s.name, "error": s.error} for s in snap.sources if not s.ok],
    }


def findings_to_json(snap: Snapshot, links: Links, findings: list[Finding]) -> str:
    return json.dumps(findings_to_dict(snap, links, findings), indent=2, ensure_ascii=False) + "\n"


def findings_to_text(links: Links, findings: list[Finding]) -> str:
    """One block per finding: title, why, fix, evidence. Empty when there are none."""
    out: list[str] = []
    for f in findings:
        out.append(f"{f.severity}: [{f.check}] {escape_controls(f.title)}")
        out.append(f"  why: {escape_controls(f.detail)}")
        for n, line in enumerate(f.fix.splitlines()):
            out.append(f"  {'fix: ' if n == 0 else '     '}{escape_controls(line)}")
        shown = [f"{e['kind']} {escape_controls(e['label'])}" for e in shown_evidence(f, links)]
        if shown:
            out.append("  evidence: " + "; ".join(shown[:12]))
            if len(shown) > 12:
                out.append(f"            ... and {len(shown) - 12} more")
        out.append("")
    return "\n".join(out)
