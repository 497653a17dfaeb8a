"""NATed connections from the kernel's conntrack table, over ctnetlink (pyroute2).

One dump of the whole table (every family) per read, never one per container;
only the entries whose reply tuple is not the mirror of the original (the kernel
rewrote the source, the destination, or both) become
:class:`~netexplorer.model.NatFlow`. Reading needs CAP_NET_ADMIN and the
``nf_conntrack_netlink`` module; nothing is ever written or deleted.

The message -> model conversion :func:`parse_conntrack` is pure: it takes live
pyroute2 messages or their plain form (``message_to_plain``), so it is tested on a
recorded dump (tests/recorded/live/conntrack.json).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from netexplorer.collect.errors import SourceError
from netexplorer.model import NatFlow

#: protocol numbers as conntrack -L names them
PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp", 33: "dccp", 58: "icmpv6", 132: "sctp", 136: "udplite"}
#: TCP_CONNTRACK_* as conntrack -L prints them
TCP_STATES = (
    "NONE",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "FIN_WAIT",
    "CLOSE_WAIT",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSE",
    "SYN_SENT2",
)
IPS_SEEN_REPLY = 0x2
IPS_ASSURED = 0x4

#: at most this many NAT flows are kept (a busy host can hold hundreds of thousands)
MAX_FLOWS = 5000


@dataclass(slots=True)
class ConntrackData:
    flows: list[NatFlow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _attrs(msg: Mapping[str, Any] | None) -> dict[str, Any]:
    if not msg:
        return {}
    return {str(slot[0]): slot[1] for slot in msg.get("attrs") or ()}


def _tuple(msg: Mapping[str, Any] | None) -> tuple[str, str, int, int | None, int | None] | None:
    """(src, dst, proto, sport, dport) of a CTA_TUPLE_*; ICMP's id stands in for sport."""
    top = _attrs(msg)
    ip = _attrs(top.get("CTA_TUPLE_IP"))
    proto = _attrs(top.get("CTA_TUPLE_PROTO"))
    src = ip.get("CTA_IP_V4_SRC") or ip.get("CTA_IP_V6_SRC")
    dst = ip.get("CTA_IP_V4_DST") or ip.get("CTA_IP_V6_DST")
    num = proto.get("CTA_PROTO_NUM")
    if src is None or dst is None or num is None:
        return None
    sport = proto.get("CTA_PROTO_SRC_PORT")
    dport = proto.get("CTA_PROTO_DST_PORT")
    if sport is None:
        sport = proto.get("CTA_PROTO_ICMP_ID", proto.get("CTA_PROTO_ICMPV6_ID"))
    return str(src), str(dst), int(num), sport, dport


def flow_from_message(msg: Mapping[str, Any]) -> NatFlow | None:
    """A NatFlow if the entry was NATed, else None."""
    attrs = _attrs(msg)
    orig = _tuple(attrs.get("CTA_TUPLE_ORIG"))
    reply = _tuple(attrs.get("CTA_TUPLE_REPLY"))
    if orig is None or reply is None:
        return None
    o_src, o_dst, num, o_sport, o_dport = orig
    r_src, r_dst, _, r_sport, r_dport = reply
    # an untouched flow's reply is the mirror of its original direction
    snat = r_dst != o_src or (o_sport is not None and r_dport is not None and r_dport != o_sport)
    dnat = r_src != o_dst or (o_dport is not None and r_sport is not None and r_sport != o_dport)
    if num in (1, 58):  # ICMP: the id is in both tuples; only addresses tell NAT
        snat, dnat = r_dst != o_src, r_src != o_dst
    if not (snat or dnat):
        return None
    state = ""
    tcp = _attrs(_attrs(attrs.get("CTA_PROTOINFO")).get("CTA_PROTOINFO_TCP"))
    if "CTA_PROTOINFO_TCP_STATE" in tcp:
        n = int(tcp["CTA_PROTOINFO_TCP_STATE"])
        state = TCP_STATES[n] if 0 <= n < len(TCP_STATES) else str(n)
    status = int(attrs.get("CTA_STATUS") or 0)
    flags = []
    if not status & IPS_SEEN_REPLY:
        flags.append("UNREPLIED")
    if status & IPS_ASSURED:
        flags.append("ASSURED")
    portless = num in (1, 58)
    return NatFlow(
        proto=PROTOCOLS.get(num, str(num)),
        nat="snat+dnat" if snat and dnat else ("snat" if snat else "dnat"),
        orig_src=o_src,
        orig_dst=o_dst,
        reply_src=r_src,
        reply_dst=r_dst,
        orig_sport=o_sport,
        orig_dport=None if portless else o_dport,
        reply_sport=r_sport,
        reply_dport=None if portless else r_dport,
        state=state,
        flags=flags,
    )


def _order(flow: NatFlow) -> tuple[str, str, str, int, str, int]:
    return (
        flow.proto,
        flow.orig_src,
        flow.orig_dst,
        flow.orig_sport or 0,
        flow.reply_src,
        flow.orig_dport or 0,
    )


def parse_conntrack(messages: Iterable[Mapping[str, Any]]) -> ConntrackData:
    """Turn a conntrack dump into the NATed flows, in a fixed order."""
    data = ConntrackData()
    flows = [f for m in messages if (f := flow_from_message(m)) is not None]
    flows.sort(key=_order)
    if len(flows) > MAX_FLOWS:
        data.warnings.append(
            f"conntrack: {len(flows)} NATed connections; only the first {MAX_FLOWS} are shown."
        )
        flows = flows[:MAX_FLOWS]
    data.flows = flows
    return data


def explain_conntrack_error(exc: BaseException) -> str:
    code = getattr(exc, "errno", None) or getattr(exc, "code", None)
    if code in (errno.EPERM, errno.EACCES):
        return (
            "conntrack: permission denied reading the connection tracking table: run "
            "netexplorer as root (CAP_NET_ADMIN). NAT translations are not shown."
        )
    if code in (errno.EPROTONOSUPPORT, errno.ENOENT, errno.EOPNOTSUPP):
        return (
            "conntrack: the kernel does not answer ctnetlink (module nf_conntrack_netlink "
            "not loaded?): modprobe nf_conntrack_netlink. NAT translations are not shown."
        )
    return f"conntrack: reading the connection tracking table failed: {exc}"


def collect_conntrack() -> ConntrackData:
    """One ctnetlink dump of every family, NATed entries only."""
    from netexplorer.collect import pyroute2_lazy

    pyroute2_lazy.install()
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTSocket

    try:
        sock = NFCTSocket(nfgen_family=0)  # AF_UNSPEC: IPv4 and IPv6 in one dump
    except Exception as exc:
        raise SourceError(explain_conntrack_error(exc)) from exc
    try:
        return parse_conntrack(sock.dump())
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(explain_conntrack_error(exc)) from exc
    finally:
        sock.close()
