"""Kernel link and address changes (``ip monitor link address``), watched in a thread.

A plain ``AF_NETLINK`` socket bound to the RTMGRP_LINK and IPv4/IPv6 address
groups: the notifications are only a reason to re-read the host, so only their
type and interface index are decoded. (pyroute2's IPRoute could bind the same
groups, but its 0.9 sync API drives an asyncio loop of its own and cannot be
woken from another thread; ``select`` on a raw socket and a pipe can.) An
overflowing socket (ENOBUFS: more events than were read) is itself a reason.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import struct
import threading
from collections.abc import Callable, Iterator

from netexplorer.live.events import ADDRESS, LINK, NETLINK, OVERFLOW, Event, EventKind

NETLINK_ROUTE = 0
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
GROUPS = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR

#: message type -> (action, object)
MESSAGE_KINDS = {16: ("new", LINK), 17: ("del", LINK), 20: ("new", ADDRESS), 21: ("del", ADDRESS)}
#: the socket overflowed: any link or address may have changed
OVERFLOWED = Event("netlink: notifications overflowed", EventKind(NETLINK, OVERFLOW, ""))
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index


def describe_messages(data: bytes) -> Iterator[Event]:
    """An :class:`Event` for each link/address message in a datagram: its kind
    (``link del`` and the interface index) and its text, ``netlink: del link 42``."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind, _, _, _ = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size:
            break
        body = offset + _HEADER.size
        known = MESSAGE_KINDS.get(kind)
        if known is not None:
            action, obj = known
            index = None
            if obj == LINK and body + _IFINFO.size <= len(data):
                index = _IFINFO.unpack_from(data, body)[2]
            elif obj == ADDRESS and body + _IFADDR.size <= len(data):
                index = _IFADDR.unpack_from(data, body)[4]
            what = EventKind(NETLINK, obj, action, "" if index is None else str(index))
            text = f"netlink: {action} {obj}"
            yield Event(text if index is None else f"{text} {index}", what)
        offset += (length + 3) & ~3


class NetlinkEvents:
    """Calls ``notify(event)`` for each link or address notification of this netns."""

    def __init__(self, notify: Callable[[Event], None], groups: int = GROUPS) -> None:
        self._notify = notify
        self._groups = groups
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="netlink-events", daemon=True)
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _run(self) -> None:
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
            sock.bind((0, self._groups))
        except OSError as exc:
            self.error = (
                f"netlink: cannot watch link and address changes ({exc.strerror or exc}); "
                "the view still refreshes on Docker events, on the timer and on r."
            )
            return
        with sock:
            while not self._stop.is_set():
                ready, _, _ = select.select([sock.fileno(), self._wake_r], [], [])
                if self._wake_r in ready:
                    return
                try:
                    data = sock.recv(1 << 16)
                except OSError as exc:
                    if exc.errno == errno.ENOBUFS:
                        self._notify(OVERFLOWED)
                        continue
                    raise
                for event in describe_messages(data):
                    self._notify(event)
