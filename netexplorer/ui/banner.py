"""The banner of a degraded host: what failed, why, and how to fix it."""

from __future__ import annotations

from rich.text import Text

from netexplorer.model import Snapshot
from netexplorer.privilege import NOT_ROOT_LEAD
from netexplorer.ui.quiet_static import QuietStatic
from netexplorer.ui.safe_text import plain

#: how many messages the banner spells out in full; ``w`` shows all
SHOWN = 2


def age_text(seconds: float) -> str:
    """``12 s``, ``3 min``, ``2 h``."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def problems(
    snapshot: Snapshot | None, failure: str | None = None, now: float | None = None
) -> list[tuple[str, str]]:
    """(severity, sentence) of everything that went wrong, failures first, each once.

    A stale source (the live view kept its last read when it failed) says how old
    that read is at ``now`` (wall clock; without it the age is left out).
    """
    out: list[tuple[str, str]] = []
    if failure:
        out.append(("error", failure))
    if snapshot is not None:
        for src in snapshot.sources:
            if not src.ok:
                out.append(("error", f"{src.name}: {src.error or 'failed'}"))
            if src.stale:
                age = (
                    f" {age_text(now - src.read_at)} ago"
                    if now is not None and src.read_at
                    else " earlier"
                )
                out.append(
                    (
                        "error",
                        f"{src.name}: STALE - showing what was read{age}; retrying on its own",
                    )
                )
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


class Banner(QuietStatic):
    """Hidden while all is well."""

    def show_problems(
        self, snapshot: Snapshot | None, failure: str | None = None, now: float | None = None
    ) -> None:
        items = problems(snapshot, failure, now)
        self.display = bool(items)
        self.set_class(any(s == "error" for s, _ in items), "-error")
        # not root: one line says what is missing and the command that reads it; the
        # sources' own errors (the same cause) are behind w
        lead = [item for item in items if item[1].startswith(NOT_ROOT_LEAD)]
        self.show(problems_text(lead + [i for i in items if i not in lead], 1 if lead else SHOWN))
