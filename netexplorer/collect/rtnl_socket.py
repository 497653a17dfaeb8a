"""Dumps and netns-id lookups over a plain rtnetlink socket, without an event loop.

A socket stays in the network namespace it was opened in, so one opened in a
container's or Docker's namespace (:mod:`.netns_source`, :mod:`.overlay_source`)
or in the host's (:mod:`.netlink_source`) is read the same way. pyroute2 encodes
the requests; the answers are decoded by :mod:`.netlink_select` (only the
attributes the model reads) and, for every other message (the end of a dump,
errors, FDB entries), by pyroute2's rtnetlink decoder.

Nothing here changes a namespace: only dumps and RTM_GETNSID lookups are sent.
"""

from __future__ import annotations

import ctypes
import errno
import importlib
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from netexplorer.collect import netlink_select
from netexplorer.collect.errors import SourceError

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETLINK_ROUTE = 0
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLM_F_DUMP_INTR = 0x10
NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3
RTM_GETLINK = 18
RTM_GETADDR = 22
RTM_GETROUTE = 26
RTM_NEWNEIGH = 28
RTM_GETNEIGH = 30
RTM_GETRULE = 34
RTM_GETNSID = 90
AF_BRIDGE = 7
#: IFLA_EXT_MASK bit: leave the link statistics out (nothing here reads them)
RTEXT_FILTER_SKIP_STATS = 1 << 3
#: RTM_GETNSID requests sent in one datagram (their replies fit the socket buffer)
NSID_BATCH = 128
_DUMP_ATTEMPTS = 3
_RECV_SIZE = 1 << 17
#: a netlink dump answers at once; a socket that does not is given up on
_TIMEOUT = 5.0


class NetlinkDumpError(OSError):
    """A request was answered with an error (errno in ``errno``)."""


def netlink_socket() -> socket.socket:
    """An rtnetlink socket in the calling thread's network namespace."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    sock.settimeout(_TIMEOUT)
    return sock


_libc: Any = None


def setns_net(fd: int) -> None:
    """Move the calling thread into the network namespace ``fd`` refers to."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def socket_in(
    fd: int, host_fd: int, where: str, inside: Callable[[], None] | None = None
) -> socket.socket:
    """A netlink socket in the namespace ``fd`` refers to (``where``, for the words);
    the calling thread enters it for the socket (and ``inside``, what else must be
    read from within) only, then returns to ``host_fd``'s. Run it in a thread of its
    own (:func:`in_own_thread`)."""
    setns_net(fd)
    try:
        sock = netlink_socket()
        if inside is not None:
            try:
                inside()
            except BaseException:
                sock.close()
                raise
        return sock
    finally:
        try:
            setns_net(host_fd)
        except OSError as exc:
            # the reading thread ends here, so nothing else runs in the wrong namespace
            raise SourceError(
                f"Cannot return to the host's network namespace after entering {where} "
                f"({exc.strerror or exc}); namespaces were not read."
            ) from exc


def in_own_thread(func: Callable[[], T]) -> T:
    """Run ``func`` in a thread of its own: a thread that fails to return to the host's
    namespace ends with it, so no pooled thread is ever left in another namespace."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = func()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=run, name="netexplorer-netns", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result


#: pyroute2's generic decoder and its modules of the messages sent and decoded here
#: (its rtnetlink decoder, MarshalRtnl, would load every rtnetlink message class:
#: traffic control and all, ~50 ms of each start)
MESSAGE_MODULES = (
    "pyroute2.netlink.marshal",
    "pyroute2.netlink.rtnl.fibmsg",
    "pyroute2.netlink.rtnl.ifaddrmsg",
    "pyroute2.netlink.rtnl.ifinfmsg",
    "pyroute2.netlink.rtnl.ndmsg",
    "pyroute2.netlink.rtnl.nsidmsg",
    "pyroute2.netlink.rtnl.rtmsg",
)


def codec() -> tuple[Any, dict[int, Any]]:
    """A pyroute2 decoder for what :mod:`.netlink_select` leaves to pyroute2 (errors,
    FDB entries), and the message class of each request."""
    from netexplorer.collect import pyroute2_lazy

    pyroute2_lazy.install()
    marshal, fib, ifaddr, ifinf, nd, nsid, rt = (
        importlib.import_module(name) for name in MESSAGE_MODULES
    )
    decoder = marshal.Marshal()
    decoder.msg_map = {RTM_NEWNEIGH: nd.ndmsg}
    classes = {
        RTM_GETLINK: ifinf.ifinfmsg,
        RTM_GETADDR: ifaddr.ifaddrmsg,
        RTM_GETROUTE: rt.rtmsg,
        RTM_GETRULE: fib.fibmsg,
        RTM_GETNEIGH: nd.ndmsg,
        RTM_GETNSID: nsid.nsidmsg,
    }
    return decoder, classes


def decode(marshal: Any, buffers: Iterable[bytes]) -> list[Any]:
    """Every message but the end of the dump in ``buffers`` (received datagrams)."""
    done = (NLMSG_DONE, NLMSG_ERROR)
    return [
        m
        for data in buffers
        for m in netlink_select.parse_messages(marshal, data)
        if m["header"]["type"] not in done
    ]


class NamespaceReader:
    """Dumps over rtnetlink sockets, each bound to the namespace it was opened in."""

    def __init__(self) -> None:
        self.marshal, self.classes = codec()
        self.seq = 0
        self.requests: dict[tuple[int, int | None], bytes] = {}
        #: when set, every buffer received is kept here too (recordings)
        self.received: list[bytes] | None = None

    def _request(self, kind: int, family: int | None) -> bytes:
        """A dump request of ``kind`` for ``family`` (None: every family; for
        RTM_GETNEIGH the bridge family, the FDB), built once."""
        key = (kind, family)
        if key not in self.requests:
            msg = self.classes[kind]()
            msg["header"]["type"] = kind
            msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_DUMP
            if family is None:
                family = AF_BRIDGE if kind == RTM_GETNEIGH else socket.AF_UNSPEC
            msg["family"] = family
            if kind == RTM_GETLINK:
                msg["attrs"] = [["IFLA_EXT_MASK", RTEXT_FILTER_SKIP_STATS]]
            msg.encode()
            self.requests[key] = bytes(msg.data)
        return self.requests[key]

    def _send(self, sock: socket.socket, request: bytes) -> int:
        """Send ``request`` (one or more messages) under a new sequence number."""
        self.seq += 1
        seq = self.seq.to_bytes(4, sys.byteorder)
        out = bytearray(request)
        offset = 0
        while offset + 16 <= len(out):
            out[offset + 8 : offset + 12] = seq
            offset += (int.from_bytes(out[offset : offset + 4], sys.byteorder) + 3) & ~3
        sock.send(bytes(out))
        return self.seq

    def _recv(self, sock: socket.socket) -> bytes:
        data = sock.recv(_RECV_SIZE)
        if not data:
            raise NetlinkDumpError(errno.EIO, "netlink socket closed during a request")
        if self.received is not None:
            self.received.append(data)
        return data

    def _dump_once(
        self, sock: socket.socket, kind: int, family: int | None, raw: bool
    ) -> tuple[list[Any], bool]:
        seq = self._send(sock, self._request(kind, family))
        msgs: list[Any] = []
        interrupted = False
        while True:
            for msg in netlink_select.parse_messages(self.marshal, self._recv(sock), raw):
                header = msg["header"]
                error = header.get("error")
                if error is not None:
                    code = getattr(error, "code", None) or getattr(error, "errno", None)
                    raise NetlinkDumpError(code or errno.EIO, str(error))
                if header.get("sequence_number") != seq:
                    continue
                if header.get("flags", 0) & NLM_F_DUMP_INTR:
                    interrupted = True
                if header["type"] == NLMSG_DONE:
                    return msgs, interrupted
                if header["type"] == NLMSG_ERROR:
                    continue  # an ack without error
                msgs.append(msg)

    def dump(
        self,
        sock: socket.socket,
        kind: int,
        warnings: list[str],
        where: str,
        family: int | None = None,
        raw: bool = False,
    ) -> list[Any]:
        """One full dump (of ``family``; None: see :meth:`_request`), repeated if a
        concurrent change interrupted it; ``raw``: the messages undecoded
        (:func:`.netlink_select.parse_message`)."""
        msgs: list[Any] = []
        for _attempt in range(_DUMP_ATTEMPTS):
            msgs, interrupted = self._dump_once(sock, kind, family, raw)
            if not interrupted:
                return msgs
        warnings.append(
            f"netlink: a dump of {where} was interrupted by changes {_DUMP_ATTEMPTS} times; "
            "the result may be inconsistent"
        )
        return msgs

    def _nsid_request(self) -> bytes:
        """One RTM_GETNSID request for NETNSA_FD 0 (the fd is its last 4 bytes)."""
        key = (RTM_GETNSID, None)
        if key not in self.requests:
            msg = self.classes[RTM_GETNSID]()
            msg["header"]["type"] = RTM_GETNSID
            msg["header"]["flags"] = NLM_F_REQUEST
            msg["attrs"] = [["NETNSA_FD", 0]]
            msg.encode()
            self.requests[key] = bytes(msg.data)
        return self.requests[key]

    def nsids(self, sock: socket.socket, fds: list[int]) -> list[int | OSError | None]:
        """The netns id that ``sock``'s namespace knows the namespace behind each fd by:
        NETNSA_NSID, the OSError its request got, or None, in the order of ``fds``.

        The requests go NSID_BATCH to a datagram; the kernel answers each one with one
        message, in order.
        """
        template = self._nsid_request()
        out: list[int | OSError | None] = []
        for start in range(0, len(fds), NSID_BATCH):
            batch = fds[start : start + NSID_BATCH]
            seq = self._send(
                sock,
                b"".join(template[:-4] + fd.to_bytes(4, sys.byteorder) for fd in batch),
            )
            answers: list[int | OSError | None] = []
            while len(answers) < len(batch):
                data = self._recv(sock)
                offset = 0
                while offset + 16 <= len(data):
                    length = int.from_bytes(data[offset : offset + 4], sys.byteorder)
                    if length < 16 or offset + length > len(data):
                        break
                    if int.from_bytes(data[offset + 8 : offset + 12], sys.byteorder) == seq:
                        answers.append(netlink_select.nsid_reply(data, offset, length))
                    offset += (length + 3) & ~3
            out += answers[: len(batch)]
        return out
