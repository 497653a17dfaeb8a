"""``?``: the keys, and what the marks mean."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓ PgUp PgDn Home End", "move in a pane: the row under the cursor is selected"),
    ("1 2 3 4 5", "focus Containers, Host interfaces, Bridge ports, Rules, Details"),
    ("Tab / Shift+Tab", "next / previous pane"),
    ("g or Enter", "jump to the next item linked to the selection (cycles)"),
    ("b", "back to the selected item"),
    ("Space", "select the row under the cursor (after a jump)"),
    ("/", "search: type a name, Enter selects the first match"),
    ("n", "next match of the last search"),
    ("t", "rules pane: next table (nat, filter, ...)"),
    ("r", "refresh: collect again (or re-read the file)"),
    ("w", "all warnings and errors"),
    ("d", "doctor: what breaks container networking; Enter marks a finding's evidence"),
    ("?", "this help"),
    ("q", "quit"),
)

MARKS = (
    "▶  the selected item",
    "●  an item linked to it (also bold): its veth, bridge port, network, rules, containers",
)


def help_text() -> Text:
    text = Text(end="")
    text.append("netexplorer: Docker bridge networking, cross-linked\n\n", style="bold")
    width = max(len(k) for k, _ in KEYS)
    for key, what in KEYS:
        text.append(f"  {key:<{width}}  ", style="bold")
        text.append(f"{what}\n")
    text.append("\nMarks\n", style="bold")
    for line in MARKS:
        text.append(f"  {line}\n")
    text.append("\nEsc, q or ? closes this help.", style="italic")
    return text


class TextScreen(ModalScreen[None]):
    """A modal page of text, closed by Esc, q or ?."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def __init__(self, title: str, body: Text) -> None:
        super().__init__(classes="text-screen")
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="text-screen-box") as box:
            box.border_title = self._title
            yield Static(self._body)


class HelpScreen(TextScreen):
    def __init__(self) -> None:
        super().__init__("Help", help_text())
