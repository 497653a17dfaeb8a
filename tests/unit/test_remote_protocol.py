"""The agent's wire format: round trips of the recorded lab snapshot, and a decoder
that turns anything else (truncated, oversized, not JSON, wrong types, hostile
text) into a ProtocolError with a literal message, never another exception."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netexplorer.literal import escape_controls
from netexplorer.model import SCHEMA_VERSION
from netexplorer.remote.protocol import (
    MAGIC,
    PROTOCOL,
    AgentError,
    FrameDecoder,
    Hello,
    ProtocolError,
    Read,
    Refresh,
    encode,
    frame,
)
from netexplorer.snapshot_io import load_snapshot, snapshot_to_dict

LAB = Path(__file__).resolve().parents[1] / "recorded" / "lab" / "nft.snapshot.json"


def raw(payload: bytes) -> bytes:
    return struct.pack(">2sI", MAGIC, len(payload)) + payload


def test_lab_snapshot_round_trips_in_any_chunking() -> None:
    snap = load_snapshot(LAB)
    hello = Hello("0.1.0", PROTOCOL, SCHEMA_VERSION, "lab", True)
    data = encode(hello) + encode(Read(snap, ("start",))) + encode(Refresh("r"))
    for size in (1, 7, 4096, len(data)):
        decoder = FrameDecoder()
        out = []
        for at in range(0, len(data), size):
            out += decoder.feed(data[at : at + size])
        assert decoder.pending == 0
        assert out[0] == hello
        assert isinstance(out[1], Read) and out[1].reasons == ("start",)
        assert snapshot_to_dict(out[1].snapshot) == snapshot_to_dict(snap)
        assert out[2] == Refresh("r")


def test_text_instead_of_frames_is_named_literally() -> None:
    with pytest.raises(ProtocolError) as err:
        FrameDecoder().feed(b"Welcome to \x1b[31mhost\x1b[0m\n")
    assert "text instead of netexplorer's protocol" in str(err.value)
    assert "\x1b" not in str(err.value) and "\\x1b[31m" in str(err.value)


def test_a_frame_over_the_limit_is_refused_before_it_is_read() -> None:
    decoder = FrameDecoder(max_frame=1000)
    with pytest.raises(ProtocolError, match="1001 bytes exceeds the 1000-byte limit"):
        decoder.feed(struct.pack(">2sI", MAGIC, 1001))
    with pytest.raises(ProtocolError):  # spent: no resynchronising on garbage
        decoder.feed(raw(b"{}"))


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"nx": 99, "type": "error", "message": "x"}', "protocol 99"),
        (b'{"nx": 99, "type": "hello"}', "'root' is not"),
        (b'{"nx": 1, "type": "\\u001b]0;owned\\u0007"}', "unknown message type"),
        (b'{"nx": 1, "type": "hello", "version": 1, "root": true}', "'version' is not a"),
        (b'{"nx": 1, "type": "error", "message": "' + b"x" * 5000 + b'"}', "longer than"),
        (b'{"nx": 1, "type": "snapshot", "reasons": [], "snapshot": []}', "not valid"),
        (b'{"nx": 1, "type": "snapshot", "reasons": [1], "snapshot": {}}', "a reason"),
        (b"[" * 100000 + b"]" * 100000, "not JSON"),
    ],
)
def test_malformed_messages_are_protocol_errors(payload: bytes, words: str) -> None:
    with pytest.raises(ProtocolError, match=words) as err:
        FrameDecoder().feed(raw(payload))
    assert escape_controls(str(err.value)) == str(err.value)


def test_a_snapshot_field_of_the_wrong_type_is_refused() -> None:
    doc = snapshot_to_dict(load_snapshot(LAB))
    doc["containers"][0]["endpoints"][0]["mac"] = {"nested": True}
    payload = json.dumps({"nx": PROTOCOL, "type": "snapshot", "reasons": [], "snapshot": doc})
    with pytest.raises(ProtocolError, match=r"mac: expected str"):
        FrameDecoder().feed(raw(payload.encode()))


def test_error_message_keeps_hostile_text_as_data() -> None:
    (msg,) = FrameDecoder().feed(frame({"type": "error", "message": "\x1b[2J[red]x"}))
    assert msg == AgentError("\x1b[2J[red]x")  # data as sent; the UI makes it literal


# ------------------------------------------------------------------ fuzzing
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=64))
def test_fuzz_random_bytes_never_raise_anything_but_protocol_error(data: bytes, chunk: int) -> None:
    decoder = FrameDecoder(max_frame=4096)
    try:
        for at in range(0, len(data), chunk):
            decoder.feed(data[at : at + chunk])
    except ProtocolError as exc:
        assert escape_controls(str(exc)) == str(exc)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["hello", "snapshot", "error", "refresh", "other"]),
    st.dictionaries(
        st.sampled_from(
            [
                "version",
                "protocol",
                "schema",
                "fields",
                "host",
                "root",
                "reasons",
                "snapshot",
                "message",
                "reason",
                "nx",
            ]
        ),
        json_values,
    ),
)
def test_fuzz_structured_messages_are_decoded_or_refused(
    kind: str, fields: dict[str, object]
) -> None:
    payload = json.dumps({"nx": PROTOCOL, "type": kind, **fields}).encode()
    try:
        (msg,) = FrameDecoder().feed(raw(payload))
    except ProtocolError as exc:
        assert escape_controls(str(exc)) == str(exc)
    else:
        assert isinstance(msg, Hello | Read | AgentError | Refresh)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_fuzz_snapshots_with_hostile_values(data: st.DataObject) -> None:
    """The recorded lab with random values put in random places."""
    doc = snapshot_to_dict(load_snapshot(LAB))
    for _ in range(data.draw(st.integers(1, 5))):
        target: object = doc
        while isinstance(target, dict | list) and target:
            keys = list(target) if isinstance(target, dict) else list(range(len(target)))
            key = data.draw(st.sampled_from(keys))
            child = target[key]  # type: ignore[index]
            if not isinstance(child, dict | list) or data.draw(st.booleans()):
                target[key] = data.draw(json_values)  # type: ignore[index]
                break
            target = child
    payload = json.dumps({"nx": PROTOCOL, "type": "snapshot", "reasons": [], "snapshot": doc})
    try:
        FrameDecoder().feed(raw(payload.encode()))
    except ProtocolError as exc:
        assert escape_controls(str(exc)) == str(exc)
