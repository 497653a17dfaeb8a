"""The agent's wire format: versioned, length-delimited JSON messages.

A frame is ``b"NX"``, the payload's length as a 4-byte big-endian unsigned integer,
then the payload: one UTF-8 JSON object with ``"nx"`` (:data:`PROTOCOL`) and
``"type"``. The agent writes:

    hello      {"version", "protocol", "schema", "fields",         first, once
                "host", "root"}
    snapshot   {"reasons": [str], "snapshot": {...}}              the read (model.as_plain,
                                                                   loaded by snapshot_io)
    error      {"message"}                                        the agent cannot go on

and reads ``refresh`` ``{"reason"}`` (the user pressed r); the end of its input
stops it.

``fields`` lists every field of the snapshot it writes (:func:`schema_fields`), so a
laptop finds a remote whose model has other fields under the same ``schema`` number
(a host running another build) before it reads a snapshot that lacks some of them.

Everything a remote sends is untrusted: :class:`FrameDecoder` bounds the frame
size, checks every field's type and size, and turns anything else into a
:class:`ProtocolError` whose message shows the offending bytes literally.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import struct
import typing
from dataclasses import dataclass, field
from typing import Any

from netexplorer.literal import escape_controls
from netexplorer.model import Snapshot, as_plain

#: version of the framing and the messages; both ends must agree
PROTOCOL = 1
MAGIC = b"NX"
HEADER = struct.Struct(">2sI")
#: the largest payload accepted (a 5,000-rule snapshot is ~10 MB)
MAX_FRAME = 64 * 1024 * 1024
#: bounds on the small fields of a message
MAX_TEXT = 4096
MAX_REASONS = 256
#: bounds on the hello's field list
MAX_FIELDS = 4096
MAX_FIELD_NAME = 200


class ProtocolError(Exception):
    """The remote sent something that is not this protocol; the message says what."""


@functools.cache
def schema_fields() -> tuple[str, ...]:
    """Every field path of :class:`Snapshot` (``containers.endpoints.ipv4``), sorted:
    the shape of the snapshot this version writes and reads."""
    out: list[str] = []

    def walk(cls: type, prefix: str, seen: frozenset[type]) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            path = prefix + f.name
            out.append(path)
            todo = [hints[f.name]]
            while todo:
                tp = todo.pop()
                if isinstance(tp, type) and dataclasses.is_dataclass(tp):
                    if tp not in seen:
                        walk(tp, path + ".", seen | {tp})
                else:
                    todo.extend(typing.get_args(tp))

    walk(Snapshot, "", frozenset({Snapshot}))
    return tuple(sorted(set(out)))


@dataclass(frozen=True, slots=True)
class Hello:
    version: str
    protocol: int
    schema: int
    host: str
    root: bool
    #: the snapshot's field paths (:func:`schema_fields`); None from an agent that
    #: predates them
    fields: tuple[str, ...] | None = field(default_factory=schema_fields)


@dataclass(frozen=True, slots=True)
class Read:
    """A snapshot of the remote host and why it was read."""

    snapshot: Snapshot
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AgentError:
    message: str


@dataclass(frozen=True, slots=True)
class Refresh:
    reason: str


Message = Hello | Read | AgentError | Refresh


# ------------------------------------------------------------------ encoding
def frame(payload: dict[str, Any]) -> bytes:
    data = json.dumps({"nx": PROTOCOL, **payload}, ensure_ascii=False).encode("utf-8")
    if len(data) > MAX_FRAME:
        raise ProtocolError(f"message of {len(data)} bytes exceeds the {MAX_FRAME}-byte limit")
    return HEADER.pack(MAGIC, len(data)) + data


def encode(message: Message) -> bytes:
    if isinstance(message, Hello):
        return frame(
            {
                "type": "hello",
                "version": message.version,
                "protocol": message.protocol,
                "schema": message.schema,
                "fields": None if message.fields is None else list(message.fields),
                "host": message.host,
                "root": message.root,
            }
        )
    if isinstance(message, Read):
        return frame(
            {
                "type": "snapshot",
                "reasons": list(message.reasons),
                "snapshot": as_plain(message.snapshot),
            }
        )
    if isinstance(message, AgentError):
        return frame({"type": "error", "message": message.message})
    return frame({"type": "refresh", "reason": message.reason})


# ------------------------------------------------------------------ decoding
def _shown(data: bytes, limit: int = 60) -> str:
    """Bytes from the wire, as literal text for an error message."""
    text = escape_controls(data[:limit].decode("utf-8", "backslashreplace"))
    return text + ("…" if len(data) > limit else "")


def _text(doc: dict[str, Any], name: str, limit: int = MAX_TEXT) -> str:
    value = doc.get(name)
    if not isinstance(value, str):
        raise ProtocolError(f"field '{name}' is not a string")
    if len(value) > limit:
        raise ProtocolError(f"field '{name}' is longer than {limit} characters")
    return value


def _int(doc: dict[str, Any], name: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"field '{name}' is not an integer")
    return value


def _fields(doc: dict[str, Any]) -> tuple[str, ...] | None:
    value = doc.get("fields")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_FIELDS:
        raise ProtocolError(f"field 'fields' is not a list of at most {MAX_FIELDS}")
    if not all(isinstance(v, str) and len(v) <= MAX_FIELD_NAME for v in value):
        raise ProtocolError(f"a field name is not a string of at most {MAX_FIELD_NAME} characters")
    return tuple(value)


def decode_payload(payload: bytes) -> Message:
    """One frame's payload as a message, or ProtocolError."""
    try:
        doc = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"a message is not UTF-8 ({exc.reason})") from exc
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"a message is not JSON: {_shown(payload)}") from exc
    if not isinstance(doc, dict):
        raise ProtocolError("a message is not a JSON object")
    kind = doc.get("type")
    # a hello of any protocol is read (its "protocol" names the version to install)
    if doc.get("nx") != PROTOCOL and kind != "hello":
        raise ProtocolError(
            f"a message of protocol {escape_controls(repr(doc.get('nx')))[:40]}, not {PROTOCOL}"
        )
    if kind == "hello":
        root = doc.get("root")
        if not isinstance(root, bool):
            raise ProtocolError("field 'root' is not true or false")
        return Hello(
            _text(doc, "version", 64),
            _int(doc, "protocol"),
            _int(doc, "schema"),
            _text(doc, "host", 255),
            root,
            _fields(doc),
        )
    if kind == "snapshot":
        reasons = doc.get("reasons")
        if not isinstance(reasons, list) or len(reasons) > MAX_REASONS:
            raise ProtocolError(f"field 'reasons' is not a list of at most {MAX_REASONS}")
        if not all(isinstance(r, str) and len(r) <= MAX_TEXT for r in reasons):
            raise ProtocolError(f"a reason is not a string of at most {MAX_TEXT} characters")
        # imported here: the agent, which only encodes, starts without it
        from netexplorer.snapshot_io import snapshot_from_dict

        try:
            snapshot = snapshot_from_dict(doc.get("snapshot"))
        except (ValueError, TypeError, RecursionError) as exc:
            raise ProtocolError(f"the snapshot is not valid: {escape_controls(str(exc))}") from exc
        return Read(snapshot, tuple(reasons))
    if kind == "error":
        return AgentError(_text(doc, "message"))
    if kind == "refresh":
        return Refresh(_text(doc, "reason", 256))
    raise ProtocolError(f"unknown message type {escape_controls(repr(kind))[:40]}")


class FrameDecoder:
    """Bytes in (any chunking), messages out; ProtocolError on anything else.

    After an error the decoder is spent: the stream cannot be resynchronised.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()
        self._failed: ProtocolError | None = None
        #: the payload of the last snapshot message (to decode a copy of it again)
        self.last_read_payload: bytes | None = None

    @property
    def pending(self) -> int:
        """Bytes received that do not make a whole frame yet."""
        return len(self._buffer)

    def payloads(self, data: bytes) -> list[bytes]:
        """The whole frames' payloads ``data`` completes, undecoded (a reader that
        checks the hello before it decodes a snapshot uses this and
        :func:`decode_payload`)."""
        if self._failed is not None:
            raise self._failed
        self._buffer += data
        out: list[bytes] = []
        try:
            while len(self._buffer) >= HEADER.size:
                magic, size = HEADER.unpack_from(self._buffer)
                if magic != MAGIC:
                    raise ProtocolError(
                        "the remote sent text instead of netexplorer's protocol: "
                        f"'{_shown(bytes(self._buffer))}'"
                    )
                if size > self.max_frame:
                    raise ProtocolError(
                        f"a message of {size} bytes exceeds the {self.max_frame}-byte limit"
                    )
                end = HEADER.size + size
                if len(self._buffer) < end:
                    break
                out.append(bytes(self._buffer[HEADER.size : end]))
                del self._buffer[:end]
        except ProtocolError as exc:
            self._failed = exc
            raise
        return out

    def decode(self, payload: bytes) -> Message:
        """One payload from :meth:`payloads` as a message (the decoder is spent on error)."""
        try:
            message = decode_payload(payload)
        except ProtocolError as exc:
            self._failed = exc
            raise
        if isinstance(message, Read):
            self.last_read_payload = payload
        return message

    def feed(self, data: bytes) -> list[Message]:
        return [self.decode(p) for p in self.payloads(data)]
