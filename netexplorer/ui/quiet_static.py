"""A Static that is drawn again only when what it shows changed, and laid out only
when its height changed.

``Static.update`` repaints the widget and lays the whole screen out again even when
the new content reads exactly as the old, or takes the same lines; a live refresh
re-renders the top bar, the banner and the details on every poll, and every
selection the details, mostly with the same text or as many lines.
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
        when the widget's size cannot change with it (one line across the screen).
        Otherwise the screen is laid out again only if the text takes another
        height than the widget has (its width does not follow its content)."""
        if self._shown is not None and same_text(text, self._shown):
            return
        self._shown = text
        width = self.styles.width  # None: it fills its container's width
        follows = width is not None and (width.is_auto or width.is_fraction)
        if not layout or not self.is_mounted or follows:
            self.update(text, layout=layout)
            return
        before = self.content_size
        self.update(text, layout=False)
        height = self.get_content_height(self.container_size, self.app.size, before.width)
        if height != before.height:
            # repainting is asked already; without it the height just measured
            # stays cached for the layout
            self.refresh(layout=True, repaint=False)
