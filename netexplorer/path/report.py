"""A path as plain text (one line per hop) or JSON, for ``netexplorer path``.

Host text (names, rule text and comments) is made literal with
:func:`netexplorer.literal.escape_controls`.
"""

from __future__ import annotations

import json
from typing import Any

from netexplorer.literal import escape_controls
from netexplorer.model import as_plain
from netexplorer.path.result import Hop, PathResult


def _hop_line(n: int, hop: Hop) -> list[str]:
    lines = [f"{n:>3} {hop.kind:<9} {escape_controls(hop.title)}"]
    if hop.rule is not None and hop.packets is not None:
        lines.append(f"{'':>13}{hop.rule}  counters {hop.packets} packets / {hop.bytes} bytes")
    return lines


def path_to_text(result: PathResult) -> str:
    p = result.packet
    out = [
        escape_controls(f"{result.source} -> {result.destination}: {p.describe()}"),
    ]
    for n, hop in enumerate(result.hops, 1):
        out.extend(_hop_line(n, hop))
    out.append(f"verdict: {escape_controls(result.sentence)}")
    if result.reply:
        out.append(f"reply ({result.reply_verdict}):")
        for n, hop in enumerate(result.reply, 1):
            out.extend(_hop_line(n, hop))
    return "\n".join(out) + "\n"


def path_to_dict(result: PathResult) -> dict[str, Any]:
    doc: dict[str, Any] = as_plain(result)
    return doc


def path_to_json(result: PathResult) -> str:
    return json.dumps(path_to_dict(result), indent=2, ensure_ascii=False) + "\n"
