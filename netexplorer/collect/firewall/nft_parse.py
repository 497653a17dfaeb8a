"""The native nftables ruleset (``nft -j`` and ``nft -a`` listings) as model rules and chains.

**Tables iptables-nft owns are skipped**: the iptables-nft backend reads them
already (``iptables-nft-save``), and they must not be counted twice. A table is
iptables-nft's when its family is ip or ip6, its name is one of iptables' tables
(filter, nat, mangle, raw, security) and either a rule in it carries an xtables
compat expression (``xt``) or every base chain in it has an iptables built-in name
(INPUT, FORWARD, OUTPUT, PREROUTING, POSTROUTING). Tables of the arp, bridge and
netdev families (arptables-nft, ebtables-nft, ingress hooks) are not read at all.

**Verdict-map dispatch**: a chain reached only through a verdict map keyed on
``iifname``/``oifname`` sees only packets with that interface. Each rule of such a
chain gets ``chain_interface`` (the map key, e.g. docker0) and
``chain_interface_dir`` ("in" for an iifname key, "out" for oifname). Docker's own
semantics (moby ``libnetwork/drivers/bridge/internal/nftabler``):

- ``filter-forward-in__X``: ``oifname vmap`` -> packets going into bridge X ("out")
- ``filter-forward-out__X``: ``iifname vmap`` -> packets coming from bridge X ("in")
- ``nat-postrouting-out__X``: ``iifname vmap`` -> packets coming from bridge X ("in");
  its masquerade rule carries its own ``oifname != X``
- ``nat-postrouting-in__X``: ``oifname vmap`` -> packets going into bridge X ("out")

If no map element jumps to a chain of ``docker-bridges`` whose name has one of these
prefixes, the bridge is taken from the ``__<bridge>`` suffix and the direction from
the prefix, as above.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from netexplorer.collect.firewall.nft_render import VERDICTS, nat_target, render_rule, scalar
from netexplorer.model import NFTABLES, Chain, Rule, rule_id

BACKEND = NFTABLES
DOCKER_TABLE = "docker-bridges"
#: nft family -> model family; other families (arp, bridge, netdev) are not read
FAMILIES = {"ip": "ipv4", "ip6": "ipv6", "inet": "inet"}
IPTABLES_TABLES = frozenset({"filter", "nat", "mangle", "raw", "security"})
IPTABLES_BUILTIN_CHAINS = frozenset({"INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"})
#: Docker's per-bridge chain prefixes -> which interface the dispatching map keys on
DOCKER_CHAIN_DIRS = {
    "filter-forward-in": "out",
    "filter-forward-out": "in",
    "nat-postrouting-in": "out",
    "nat-postrouting-out": "in",
}

Triple = tuple[list[Rule], list[Chain], list[str]]


# --------------------------------------------------------------------------- parsing
@dataclass(slots=True)
class _Table:
    family: str
    name: str
    chains: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    maps: dict[str, dict[str, Any]] = field(default_factory=dict)


def rules_to_list(doc: dict[str, Any]) -> bool:
    """Does ``nft -j list ruleset`` hold a rule this backend reads (not iptables-nft's),
    whose text the ``nft -a`` listing gives?"""
    return any(t.rules for t in _own_tables(doc))


def _own_tables(doc: dict[str, Any]) -> list[_Table]:
    """The tables of ``doc`` this backend reads: ip, ip6 and inet, but not iptables-nft's."""
    tables: dict[tuple[str, str], _Table] = {}
    for obj in doc.get("nftables", []):
        if not isinstance(obj, dict) or len(obj) != 1:
            continue
        ((kind, val),) = obj.items()
        if not isinstance(val, dict) or val.get("family") not in FAMILIES:
            continue
        if kind == "table":
            tables.setdefault((val["family"], val["name"]), _Table(val["family"], val["name"]))
            continue
        table = tables.setdefault(
            (val["family"], val["table"]), _Table(val["family"], val["table"])
        )
        if kind == "chain":
            table.chains.append(val)
        elif kind == "rule":
            table.rules.append(val)
        elif kind in ("map", "set"):
            table.maps[val["name"]] = val
    return [t for t in tables.values() if not iptables_nft_owns(t)]


def parse_ruleset(doc: dict[str, Any], listing: str | None = None) -> Triple:
    """``nft -j list ruleset`` (and optionally ``nft -a list ruleset``) -> Rule/Chain."""
    texts = listing_texts(listing) if listing else {}
    rules: list[Rule] = []
    chains: list[Chain] = []
    for table in _own_tables(doc):
        family = FAMILIES[table.family]
        dispatch = _chain_interfaces(table)
        unreached = _unreached_chains(table)
        for c in table.chains:
            policy = c.get("policy")
            chains.append(
                Chain(BACKEND, family, table.name, c["name"], policy.upper() if policy else None)
            )
        positions: Counter[str] = Counter()
        seen: Counter[tuple[str, str]] = Counter()
        for r in table.rules:
            positions[r["chain"]] += 1
            text = texts.get((table.family, table.name, r["chain"], int(r.get("handle", -1))))
            if text is None:
                text = render_rule(r)
            rule = rule_from_json(r, family, positions[r["chain"]], strip_counter(text))
            rule.chain_interface, rule.chain_interface_dir = dispatch.get(r["chain"], (None, None))
            rule.unreached = r["chain"] in unreached
            seen[(rule.chain, rule.text)] += 1
            rule.id = rule_id(
                BACKEND, family, table.name, rule.chain, rule.text, seen[(rule.chain, rule.text)]
            )
            rules.append(rule)
    return rules, chains, []


def iptables_nft_owns(table: _Table) -> bool:
    """Is this one of iptables-nft's tables (read by the iptables-nft backend)?"""
    if table.family not in ("ip", "ip6") or table.name not in IPTABLES_TABLES:
        return False
    if any("xt" in e for r in table.rules for e in r.get("expr", []) if isinstance(e, dict)):
        return True
    return all(c["name"] in IPTABLES_BUILTIN_CHAINS for c in table.chains if "hook" in c)


def _chain_interfaces(table: _Table) -> dict[str, tuple[str | None, str | None]]:
    """chain name -> (interface, "in"|"out") for chains reached through interface vmaps."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for r in table.rules:
        for e in r.get("expr", []):
            vmap = e.get("vmap") if isinstance(e, dict) else None
            if not isinstance(vmap, dict):
                continue
            key = vmap.get("key", {})
            meta = key.get("meta", {}).get("key") if isinstance(key, dict) else None
            direction = {"iifname": "in", "iif": "in", "oifname": "out", "oif": "out"}.get(
                meta or ""
            )
            if direction is None:
                continue
            data = vmap.get("data")
            if isinstance(data, str) and data.startswith("@"):
                elems = table.maps.get(data[1:], {}).get("elem", [])
            elif isinstance(data, dict):
                elems = data.get("set", [])
            else:
                elems = []
            for name, target in _vmap_elements(elems):
                found[target].add((name, direction))
    out: dict[str, tuple[str | None, str | None]] = {
        chain: next(iter(keys)) for chain, keys in found.items() if len(keys) == 1
    }
    if table.name == DOCKER_TABLE:
        for c in table.chains:
            prefix, sep, bridge = c["name"].partition("__")
            if sep and bridge and prefix in DOCKER_CHAIN_DIRS and c["name"] not in found:
                out[c["name"]] = (bridge, DOCKER_CHAIN_DIRS[prefix])
    return out


def _verdict_targets(node: Any, maps: dict[str, Any]) -> Iterable[str]:
    """Chains a rule's expressions jump or go to: plain verdicts, anonymous verdict
    maps and the elements of the named maps it looks up (``vmap @name``)."""
    if isinstance(node, list):
        for item in node:
            yield from _verdict_targets(item, maps)
    elif isinstance(node, dict):
        for kind in ("jump", "goto"):
            target = node.get(kind)
            if isinstance(target, dict) and isinstance(target.get("target"), str):
                yield target["target"]
        data = node.get("vmap", {}).get("data") if isinstance(node.get("vmap"), dict) else None
        if isinstance(data, str) and data.startswith("@"):
            yield from _verdict_targets(maps.get(data[1:], {}).get("elem", []), maps)
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from _verdict_targets(value, maps)


def _unreached_chains(table: _Table) -> set[str]:
    """Regular chains of ``table`` that no base chain leads to, directly or through
    other chains: their rules never see a packet (e.g. a per-bridge chain whose
    verdict-map element was deleted)."""
    by_chain: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in table.rules:
        by_chain[r["chain"]].append(r)
    reached = {c["name"] for c in table.chains if "hook" in c}
    todo = list(reached)
    while todo:
        for r in by_chain.get(todo.pop(), []):
            for target in _verdict_targets(r.get("expr", []), table.maps):
                if target not in reached:
                    reached.add(target)
                    todo.append(target)
    return {c["name"] for c in table.chains} - reached


def _vmap_elements(elems: Iterable[Any]) -> Iterable[tuple[str, str]]:
    """(key, chain) for each ``"key" : jump chain`` (or goto) element."""
    for item in elems:
        if not isinstance(item, list) or len(item) != 2:
            continue
        key, verdict = item
        if isinstance(key, dict) and "elem" in key:
            key = key["elem"].get("val")
        if not isinstance(key, str) or not isinstance(verdict, dict):
            continue
        for kind in ("jump", "goto"):
            target = verdict.get(kind)
            if isinstance(target, dict) and isinstance(target.get("target"), str):
                yield key, target["target"]


_NAT = {"masquerade": "MASQUERADE", "snat": "SNAT", "dnat": "DNAT", "redirect": "REDIRECT"}
_NAT_OPTION = {"snat": "--to-source", "dnat": "--to-destination"}
_L4 = frozenset({"tcp", "udp", "sctp", "dccp", "udplite", "th"})


def rule_from_json(r: dict[str, Any], family: str, position: int, text: str) -> Rule:
    counter = next((e["counter"] for e in r.get("expr", []) if "counter" in e), None)
    rule = Rule(
        backend=BACKEND,
        family=family,
        table=r["table"],
        chain=r["chain"],
        position=position,
        text=text,
        comment=r.get("comment"),
        handle=r.get("handle"),
    )
    if isinstance(counter, dict):
        rule.packets = int(counter.get("packets", 0))
        rule.bytes = int(counter.get("bytes", 0))
    for e in r.get("expr", []):
        if not isinstance(e, dict) or len(e) != 1:
            continue
        ((kind, val),) = e.items()
        if kind == "match" and isinstance(val, dict):
            _apply_match(rule, val)
        elif kind in VERDICTS:
            rule.target = VERDICTS[kind]
        elif kind in ("jump", "goto") and isinstance(val, dict):
            rule.target = str(val.get("target", ""))
        elif kind in _NAT:
            rule.target = _NAT[kind]
            if isinstance(val, dict):
                to = nat_target(val)
                if to and kind in _NAT_OPTION:
                    rule.target_options[_NAT_OPTION[kind]] = to
                elif to:
                    rule.target_options["--to-ports"] = to.lstrip(":")
        elif kind == "reject":
            rule.target = "REJECT"
        elif kind == "vmap" and isinstance(val, dict):
            data = val.get("data")
            rule.target_options["vmap"] = data if isinstance(data, str) else "{...}"
        elif kind not in ("counter",) and kind not in rule.matches:
            rule.matches.append(kind)
    return rule


def _apply_match(rule: Rule, m: dict[str, Any]) -> None:
    left, right = m.get("left"), m.get("right")
    negated = m.get("op") == "!="
    if not isinstance(left, dict) or len(left) != 1:
        return
    ((kind, val),) = left.items()
    if kind == "payload" and isinstance(val, dict):
        proto, fld = val.get("protocol"), val.get("field")
        if proto in ("ip", "ip6") and fld in ("saddr", "daddr"):
            addr = _address(right)
            if addr is None:
                _add_match(rule, f"{proto} {fld}")
            elif fld == "saddr":
                rule.source, rule.source_negated = addr, negated
            else:
                rule.destination, rule.destination_negated = addr, negated
            return
        if proto in ("ip", "ip6") and fld in ("protocol", "nexthdr"):
            rule.protocol, rule.protocol_negated = scalar(right), negated
            return
        if proto in _L4 and fld in ("dport", "sport"):
            if proto != "th":
                rule.protocol = rule.protocol or proto
            port = _port(right)
            value = f"!{port}" if negated else port
            if fld == "dport":
                rule.dport = value
            else:
                rule.sport = value
            return
        _add_match(rule, str(proto))
        return
    if kind == "meta" and isinstance(val, dict):
        key = val.get("key")
        if key in ("iifname", "iif") and isinstance(right, str):
            rule.in_interface, rule.in_negated = _iface(right), negated
        elif key in ("oifname", "oif") and isinstance(right, str):
            rule.out_interface, rule.out_negated = _iface(right), negated
        elif key == "l4proto":
            rule.protocol, rule.protocol_negated = scalar(right), negated
        else:
            _add_match(rule, f"meta {key}")
        return
    _add_match(rule, kind)


def _add_match(rule: Rule, name: str) -> None:
    if name not in rule.matches:
        rule.matches.append(name)


def _iface(name: str) -> str:
    """nft's wildcard ``br-*`` in iptables notation (``br-+``), as correlation expects."""
    return name[:-1] + "+" if name.endswith("*") and not name.endswith("\\*") else name


def _address(right: Any) -> str | None:
    if isinstance(right, str):
        return right
    if isinstance(right, dict) and isinstance(right.get("prefix"), dict):
        return f"{right['prefix'].get('addr')}/{right['prefix'].get('len')}"
    return None


def _port(right: Any) -> str:
    """8080, ``8080:8082`` for a range, ``80,443`` for a set (iptables notation)."""
    if isinstance(right, int | str):
        return str(right)
    if isinstance(right, dict) and isinstance(right.get("range"), list):
        return ":".join(str(x) for x in right["range"])
    if isinstance(right, dict) and isinstance(right.get("set"), list):
        return ",".join(_port(x) for x in right["set"])
    return scalar(right)


# --------------------------------------------------------------------------- text
_HANDLE = re.compile(r"^(?P<body>.*\S) # handle (?P<handle>\d+)$")
_TABLE = re.compile(r"^table (?P<family>\S+) (?P<name>.+?) \{")
_CHAIN = re.compile(r"^chain (?P<name>.+?) \{")
_COUNTER = re.compile(r"\bcounter packets \d+ bytes \d+")


def listing_texts(listing: str) -> dict[tuple[str, str, str, int], str]:
    """(family, table, chain, handle) -> rule text from ``nft -a list ruleset``."""
    out: dict[tuple[str, str, str, int], str] = {}
    family = table = chain = ""
    for raw in listing.splitlines():
        if m := _TABLE.match(raw):
            family, table, chain = m["family"], m["name"].strip('"'), ""
            continue
        line = raw.strip()
        if raw.startswith("\t") and not raw.startswith("\t\t"):
            m2 = _CHAIN.match(line)
            chain = m2["name"].strip('"') if m2 else ""
            continue
        m3 = _HANDLE.match(line)
        if m3 and chain and not m3["body"].endswith("{"):
            out[(family, table, chain, int(m3["handle"]))] = m3["body"]
    return out


def strip_counter(text: str) -> str:
    """Cut the counter's values out of a rule's text.

    ``counter packets 3 bytes 9`` becomes ``counter``.
    """
    return _COUNTER.sub("counter", text)
