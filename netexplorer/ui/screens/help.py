"""``?``: the keys, and what the marks mean."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

MARKS = (
    "▶  the selected item",
    "●  an item linked to it (also bold): its veth, bridge port, network, rules, containers",
)


def help_text(keys: Sequence[tuple[str, str]]) -> Text:
    """The help page: ``keys`` (key, what it does; the app makes them from its
    bindings), then what the marks mean."""
    text = Text(end="")
    text.append("netexplorer: Docker bridge networking, cross-linked\n\n", style="bold")
    width = max(len(k) for k, _ in keys)
    for key, what in keys:
        text.append(f"  {key:<{width}}  ", style="bold")
        text.append(f"{what}\n")
    text.append("\nMarks\n", style="bold")
    for line in MARKS:
        text.append(f"  {line}\n")
    text.append("\nClick a row to select it; the wheel scrolls.\n")
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
    def __init__(self, keys: Sequence[tuple[str, str]]) -> None:
        super().__init__("Help", help_text(keys))
