"""A Static that is drawn again only when what it shows changed.

``Static.update`` repaints the widget (and lays the screen out again) even when
the new content reads exactly as the old; a live refresh re-renders the top bar,
the banner and the details on every poll, mostly with the same text.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from netexplorer.ui.pane_rows import same_text


class QuietStatic(Static):
    """See the module docstring."""

    def __init__(self, text: Text | None = None, *, id: str | None = None) -> None:
        super().__init__(text if text is not None else "", id=id)
        self._shown: Text | None = text

    def show(self, text: Text, *, layout: bool = True) -> None:
        """Show ``text`` unless it reads and looks as what is shown; ``layout=False``
        when the widget's size cannot change with it (one line across the screen)."""
        if self._shown is not None and same_text(text, self._shown):
            return
        self._shown = text
        self.update(text, layout=layout)
