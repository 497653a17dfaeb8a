"""Host data as literal, harmless text: the one way the UI turns host strings into Text.

Interface names, container names, labels and rule comments come from the host and
may contain Rich markup (``[red]``) or terminal escape sequences. Everything shown
goes through :func:`safe` (a ``rich.text.Text``, never parsed as markup) whose
string went through :func:`escape_controls` (C0, DEL, C1 and bidi controls become
visible escapes such as ``\\x1b``; undecodable bytes kept by ``surrogateescape``
become ``\\xNN``).
"""

from __future__ import annotations

from rich.console import JustifyMethod
from rich.style import Style
from rich.text import Text

from netexplorer.literal import escape_controls


def plain(value: object, empty: str = "-") -> str:
    """A host value as a safe one-line string (``empty`` for None and "")."""
    if value is None or value == "":
        return empty
    return escape_controls(str(value))


def safe(
    value: object,
    style: str | Style = "",
    empty: str = "-",
    justify: JustifyMethod | None = None,
) -> Text:
    """A host value as a literal ``Text`` (markup is not interpreted)."""
    return Text(plain(value, empty), style=style, end="", no_wrap=True, justify=justify)


def numeric(value: int | None) -> Text:
    """A count or index, right-aligned."""
    return safe(value, justify="right")


def shortened(text: Text, limit: int) -> Text:
    """``text`` cut to ``limit`` cells, its end replaced by a visible ``…``."""
    if text.cell_len <= limit:
        return text
    out = text.copy()
    out.truncate(limit, overflow="ellipsis")
    return out
