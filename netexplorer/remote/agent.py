"""``netexplorer agent``: the collector on a remote host, speaking the protocol on stdio.

Started by the laptop over ssh (under ``sudo -n`` with ``--remote-sudo``). It
writes a hello, then a Read each time the live feed (Docker and netlink events,
firewall polling) emits one, or exactly one with ``--once``. It reads refresh
requests from stdin; the end of stdin (the ssh session closing) stops it.

stdout is the channel: before anything runs it is moved to a private descriptor
and descriptor 1 points at stderr, so a stray print of a library cannot corrupt
the stream.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

from netexplorer import __version__
from netexplorer.model import SCHEMA_VERSION, Snapshot
from netexplorer.remote.protocol import (
    PROTOCOL,
    AgentError,
    FrameDecoder,
    Hello,
    Message,
    ProtocolError,
    Read,
    Refresh,
    encode,
)


class Channel:
    """The agent's end: messages out on a private copy of stdout, thread-safe."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    @classmethod
    def from_stdout(cls) -> Channel:
        sys.stdout.flush()
        private = os.dup(1)
        os.dup2(2, 1)
        return cls(os.fdopen(private, "wb", buffering=0))

    def send(self, message: Message) -> None:
        data = encode(message)
        with self._lock:
            self._out.write(data)
            self._out.flush()


def hello() -> Hello:
    return Hello(__version__, PROTOCOL, SCHEMA_VERSION, socket.gethostname(), os.geteuid() == 0)


def read_requests(
    stdin: BinaryIO, on_refresh: Callable[[str], None], on_end: Callable[[], None]
) -> None:
    """Refresh requests until stdin ends (or speaks something else), then ``on_end``."""
    decoder = FrameDecoder(max_frame=64 * 1024)
    try:
        while chunk := os.read(stdin.fileno(), 65536):
            for message in decoder.feed(chunk):
                if isinstance(message, Refresh):
                    on_refresh(message.reason)
    except (OSError, ProtocolError):
        pass
    finally:
        on_end()


def run_agent(interval: float, once: bool) -> int:
    """The agent's main: 0 when the laptop closed the session, 1 when it could not go on."""
    channel = Channel.from_stdout()
    try:
        channel.send(hello())
        if once:
            from netexplorer.collect.snapshot import collect_snapshot

            channel.send(Read(collect_snapshot(), ("once",)))
            return 0
        from netexplorer.live.feed import LiveFeed

        feed = LiveFeed(interval=interval)

        def emit(snapshot: Snapshot, reasons: list[str]) -> None:
            channel.send(Read(snapshot, tuple(reasons)))

        threading.Thread(
            target=read_requests,
            args=(sys.stdin.buffer, feed.notify, feed.stop),
            name="agent-stdin",
            daemon=True,
        ).start()
        feed.run(emit)
        return 0
    except (BrokenPipeError, ConnectionResetError):
        return 0  # the laptop went away
    except Exception as exc:
        with contextlib.suppress(OSError):
            channel.send(AgentError(f"the agent stopped: {type(exc).__name__}: {exc}"))
        return 1
