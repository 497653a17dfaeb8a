"""``d``: the doctor's findings; Enter marks a finding's evidence in the panes.

The findings come from :mod:`netexplorer.doctor` (data layer), run in a worker by
``netexplorer.analysis.analyse``, which links each in the
:class:`~netexplorer.correlate.Links` as ``doc:<id>`` to its evidence, so choosing
one just selects that key: the panes mark the evidence the
same way they mark what is linked to any selected row.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from netexplorer.correlate import Links
from netexplorer.doctor import ERROR, WARNING, Finding
from netexplorer.doctor.report import healthy_text, shown_evidence
from netexplorer.ui.safe_text import plain

GLYPH = {ERROR: "✗", WARNING: "!"}


def finding_text(f: Finding, links: Links) -> Text:
    text = Text(end="")
    text.append(plain(f.title) + "\n", style="bold")
    text.append(plain(f.detail) + "\n\n")
    text.append("fix:\n", style="bold")
    for line in f.fix.splitlines():
        text.append(f"  {plain(line, empty='')}\n")
    items = shown_evidence(f, links)
    if items:
        text.append("\nevidence (marked in the panes after Enter):\n", style="bold")
        for e in items:
            text.append(f"  {e['kind']:<9} ", style="italic")
            text.append(plain(e["label"]) + "\n")
    return text


class DoctorScreen(ModalScreen[str | None]):
    """The findings in a list, the highlighted one explained below it.

    Dismissed with the chosen finding's key (Enter) or None (Esc, q, d).
    """

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("q", "dismiss(None)", "Close", show=False),
        Binding("d", "dismiss(None)", "Close", show=False),
    ]

    def __init__(self, findings: list[Finding], links: Links | None) -> None:
        super().__init__(classes="text-screen")
        self.findings = {f.key: f for f in findings}
        self.links = links or Links()

    def compose(self) -> ComposeResult:
        with Vertical(id="text-screen-box") as box:
            n = len(self.findings)
            box.border_title = (
                f"Doctor: {n} problem{'s' if n != 1 else ''}" if n else "Doctor: no problems"
            )
            box.border_subtitle = "Enter: mark its evidence · Esc: close"
            if not self.findings:
                yield Static(Text(f"{healthy_text()}\n\nEsc closes."))
                return
            options = [
                Option(
                    Text.assemble(
                        (f"{GLYPH.get(f.severity, '!')} ", "bold"),
                        (f"[{f.check}] ", "italic"),
                        plain(f.title),
                    ),
                    id=key,
                )
                for key, f in self.findings.items()
            ]
            yield OptionList(*options, id="doctor-findings")
            with VerticalScroll(id="doctor-detail"):
                yield Static(id="doctor-text")

    def on_mount(self) -> None:
        if self.findings:
            first = next(iter(self.findings.values()))
            self.query_one("#doctor-text", Static).update(finding_text(first, self.links))
            self.query_one(OptionList).focus()

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        f = self.findings.get(event.option.id or "")
        if f is not None:
            self.query_one("#doctor-text", Static).update(finding_text(f, self.links))

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
