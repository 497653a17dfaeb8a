"""Host strings made literal for a terminal: no byte of them can steer it.

Interface names, container names, labels and rule comments come from the host.
:func:`escape_controls` replaces C0, DEL, C1 and bidi controls with visible
escapes such as ``\\x1b``, and undecodable bytes kept by ``surrogateescape`` with
``\\xNN``. The UI (``netexplorer.ui.safe_text``) and the plain-text outputs of the
CLI (``snapshot``, ``doctor``) both use it; it needs nothing but the standard library.
"""

from __future__ import annotations

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
    if value.isascii() and value.isprintable():  # the usual case, tested in C
        return value
    if value.isprintable() and not any(ord(c) in _BIDI for c in value):
        return value
    return "".join(_escape_char(c) for c in value)
