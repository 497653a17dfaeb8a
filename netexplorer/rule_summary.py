"""A rule in a few words, leading with what it does.

``-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE`` reads as
``MASQUERADE 172.17.0.0/16 → !docker0``; ``... --dport 8080 -j DNAT
--to-destination 172.17.0.4:80`` as ``DNAT :8080 → 172.17.0.4:80``; ``-A FORWARD
-i docker0 -j ACCEPT`` as ``ACCEPT docker0 → any``. The same words for iptables
rules and Docker's native nftables rules, from the fields of :class:`Rule` (and a
few conditions the model keeps in ``text`` only: connection state, address type).
The full text stays in ``Rule.text``; the chain is not repeated here.
"""

from __future__ import annotations

import re

from netexplorer.model import Rule

ARROW = "→"

#: targets that are verdicts or extensions, not chains a rule jumps to
TARGETS = frozenset(
    [
        "ACCEPT",
        "DROP",
        "REJECT",
        "RETURN",
        "QUEUE",
        "NFQUEUE",
        "MASQUERADE",
        "SNAT",
        "DNAT",
        "REDIRECT",
        "NETMAP",
        "LOG",
        "NFLOG",
        "ULOG",
        "MARK",
        "CONNMARK",
        "CT",
        "NOTRACK",
        "TRACE",
        "TCPMSS",
        "CHECKSUM",
        "TPROXY",
        "AUDIT",
        "CLASSIFY",
        "DSCP",
        "TOS",
        "TTL",
        "HL",
        "SET",
        "TEE",
        "SECMARK",
        "CONNSECMARK",
        "HMARK",
        "IDLETIMER",
        "LED",
        "RATEEST",
        "SYNPROXY",
        "CLUSTERIP",
    ]
)

#: where a NAT rule sends the packet, by target option (iptables and nft alike)
_NAT_TO = ("--to-destination", "--to-source", "--to-ports", "--to")

_CTSTATE = re.compile(r"(?:--ctstate|--state|ct state) (!?\s?[A-Za-z,]+)")
_ADDRTYPE = re.compile(r"(?:--(src|dst)-type|fib (s|d)addr type) ([A-Za-z]+)")
_GOTO = re.compile(r"(?:^|\s)(?:-g|--goto|goto) ")
_VMAP = re.compile(r"\b(iifname|oifname|ip6? [sd]addr) vmap (@?\S+)")


def _neg(value: str, negated: bool) -> str:
    return f"!{value}" if negated else value


def _host(address: str) -> str:
    """``172.17.0.4/32`` as ``172.17.0.4``: a one-address prefix is that address."""
    for full in ("/32", "/128"):
        if address.endswith(full):
            return address[: -len(full)]
    return address


def _port(rule: Rule, port: str | None) -> str:
    """``:80`` for tcp, ``:53/udp`` for another protocol; "" without a port."""
    if not port:
        return ""
    proto = rule.protocol or ""
    return f":{port}" if proto in ("", "tcp", "6") else f":{port}/{proto}"


def _interface(rule: Rule, direction: str) -> str | None:
    """The rule's input (``direction`` "in") or output ("out") interface: its own
    ``-i``/``-o``, else the one its chain is dispatched on (nftables verdict maps)."""
    name, negated = (
        (rule.in_interface, rule.in_negated)
        if direction == "in"
        else (rule.out_interface, rule.out_negated)
    )
    if name:
        return _neg(name, negated)
    if rule.chain_interface and rule.chain_interface_dir == direction:
        return rule.chain_interface
    return None


def _side(interface: str | None, address: str | None, port: str = "") -> str:
    """``docker0 172.17.0.4:80``: an interface, an address and a port, as given."""
    if address and port and ":" in address.lstrip("!"):
        address = f"[{address}]"  # an IPv6 address before a port
    located = f"{address or ''}{port}"
    return " ".join(p for p in (interface, located) if p) or "any"


def _source(rule: Rule) -> str | None:
    return _neg(_host(rule.source), rule.source_negated) if rule.source else None


def _destination(rule: Rule) -> str | None:
    if not rule.destination:
        return None
    return _neg(_host(rule.destination), rule.destination_negated)


def _extras(rule: Rule) -> list[str]:
    """Conditions the fields do not hold, in a word each; the comment last."""
    out: list[str] = []
    state = _CTSTATE.search(rule.text)
    if state:
        out.append(state.group(1).replace(" ", "").lower())
    for m in _ADDRTYPE.finditer(rule.text):
        side = "src" if (m.group(1) or m.group(2)) in ("src", "s") else "dst"
        out.append(f"{side} {m.group(3).lower()}")
    if rule.protocol and not rule.dport:
        out.append(_neg(rule.protocol, rule.protocol_negated))
    if rule.sport:
        out.append(f"sport {rule.sport}")
    if rule.comment and rule.comment.strip().upper() != rule.target.upper():
        out.append(f'"{rule.comment}"')
    return out


def verb(rule: Rule) -> str:
    """``MASQUERADE``, ``ACCEPT``, ``jump DOCKER``, ``goto X``, or the verdict map."""
    target = rule.target
    if not target:
        vmap = _VMAP.search(rule.text)
        if vmap:
            return f"vmap {vmap.group(1)} {vmap.group(2)}"
        return "continue" if "counter" in rule.text else "no verdict"
    if target.upper() in TARGETS:
        return target.upper()
    return f"goto {target}" if _GOTO.search(rule.text) else f"jump {target}"


def summary(rule: Rule) -> str:
    """The rule in a few words, leading with its verdict or NAT (module docstring)."""
    target = rule.target.upper()
    extras = _extras(rule)
    if target in ("DNAT", "REDIRECT", "SNAT", "MASQUERADE", "NETMAP"):
        to = next((rule.target_options[o] for o in _NAT_TO if rule.target_options.get(o)), "")
        if target in ("DNAT", "REDIRECT"):
            where = _side(None, _destination(rule), _port(rule, rule.dport))
            head = f"{target} {where} {ARROW} {to or 'local'}"
            if rule.source:
                extras.insert(0, f"from {_source(rule)}")
        else:
            where = _side(None, _source(rule))
            leaving = _side(_interface(rule, "out"), _destination(rule), _port(rule, rule.dport))
            head = f"{target} {where} {ARROW} {leaving}" + (f" as {to}" if to else "")
        return " ".join([head, *extras])
    src = _side(_interface(rule, "in"), _source(rule))
    dst = _side(_interface(rule, "out"), _destination(rule), _port(rule, rule.dport))
    text = f"{verb(rule)} {src} {ARROW} {dst}"
    if not rule.target and verb(rule).startswith("vmap"):
        text = verb(rule)
    return " ".join([text, *extras])
