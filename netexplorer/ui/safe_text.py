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

#: bidirectional overrides/isolates can reorder what the reader sees
_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A)) | {0x200E, 0x200F}


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x20 or code == 0x7F or 0x80 <= code <= 0x9F:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode(..., surrogateescape) of byte 0x80-0xff
        return f"\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF or code in _BIDI:
        return f"\\u{code:04x}"
    return ch


def escape_controls(value: str) -> str:
    """``value`` with every control character replaced by a visible escape."""
    if value.isprintable() and not any(ord(c) in _BIDI for c in value):
        return value
    return "".join(_escape_char(c) for c in value)


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
