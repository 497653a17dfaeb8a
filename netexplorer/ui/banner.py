"""The banner of a degraded host: what failed, why, and how to fix it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from netexplorer.model import Snapshot
from netexplorer.ui.safe_text import plain

#: how many messages the banner spells out in full; ``w`` shows all
SHOWN = 2


def problems(snapshot: Snapshot | None, failure: str | None = None) -> list[tuple[str, str]]:
    """(severity, sentence) of everything that went wrong, failures first, each once."""
    out: list[tuple[str, str]] = []
    if failure:
        out.append(("error", failure))
    if snapshot is not None:
        for src in snapshot.sources:
            if not src.ok:
                out.append(("error", f"{src.name}: {src.error or 'failed'}"))
        errors = {src.error for src in snapshot.sources if src.error}
        out += [("warning", w) for w in snapshot.warnings if w not in errors]
    return out


def problems_text(items: list[tuple[str, str]], limit: int | None = None) -> Text:
    text = Text(end="")
    for n, (severity, message) in enumerate(items[:limit] if limit else items):
        if n:
            text.append("\n")
        text.append("✖ " if severity == "error" else "⚠ ", style="bold")
        text.append(plain(message))
    if limit and len(items) > limit:
        text.append(f"\n… {len(items) - limit} more: press w to read them all", style="italic")
    return text


class Banner(Static):
    """Hidden while all is well."""

    def show_problems(self, snapshot: Snapshot | None, failure: str | None = None) -> None:
        items = problems(snapshot, failure)
        self.display = bool(items)
        self.set_class(any(s == "error" for s, _ in items), "-error")
        self.update(problems_text(items, SHOWN))
