"""Read native nftables rules: Docker's ``docker-bridges`` tables and other nft tables.

Docker >= 29 with ``--firewall-backend=nftables`` writes no iptables rules. It owns
the tables ``ip docker-bridges`` and ``ip6 docker-bridges``: base chains
(``filter-FORWARD``, ``nat-PREROUTING`` ...) whose only rules dispatch through
verdict maps keyed by interface name (``oifname vmap @filter-forward-in-jumps``,
element ``"docker0" : jump filter-forward-in__docker0``) to per-bridge chains.

One ``nft -j list ruleset`` gives the structure (tables, chains, rules with their
expressions, maps); one ``nft -a list ruleset`` gives each rule's text exactly as
nft prints it, matched to the JSON by table, chain and handle. A rule missing from
the text listing (the ruleset changed between the two reads) gets its text
rendered here from the JSON instead. The counter's values are cut out of the text
(they are in ``packets``/``bytes``) so that a rule's id survives its counters
moving, as with ``iptables-save -c``.

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

import json
import os
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netexplorer.collect.errors import SourceError
from netexplorer.collect.firewall.tool import run_listing
from netexplorer.model import Chain, Rule, rule_id

BACKEND = "nftables"
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
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")
DAEMON_JSON = Path("/etc/docker/daemon.json")

Triple = tuple[list[Rule], list[Chain], list[str]]


# --------------------------------------------------------------------------- reading
def read_nft_native() -> Triple:
    """Rules, chains and problems of the native nftables tables; SourceError if unreadable.

    No ``nft`` binary is not an error (nothing to read) unless Docker is configured
    for its nftables backend.
    """
    binary = find_nft()
    if binary is None:
        if docker_uses_nftables():
            raise SourceError(
                "Docker is configured with firewall-backend nftables, but the nft command "
                "was not found, so its rules cannot be read; install the Debian package "
                "'nftables' (apt-get install nftables)."
            )
        return [], [], []
    if os.geteuid() != 0:
        raise SourceError(
            "Reading nftables rules needs root (CAP_NET_ADMIN); run netexplorer with sudo."
        )
    doc = json.loads(run_nft(binary, "-j", "list", "ruleset") or '{"nftables": []}')
    listing = run_nft(binary, "-a", "list", "ruleset")
    return parse_ruleset(doc, listing)


def find_nft() -> str | None:
    return shutil.which("nft") or shutil.which("nft", path=os.pathsep.join(_SBIN))


def run_nft(binary: str, *args: str) -> str:
    return run_listing(binary, *args, rules="nftables")


def docker_uses_nftables(daemon_json: Path = DAEMON_JSON, proc: Path = Path("/proc")) -> bool:
    """Is dockerd configured for its nftables backend (daemon.json or command line)?"""
    try:
        conf = json.loads(daemon_json.read_text())
        if isinstance(conf, dict) and conf.get("firewall-backend") == "nftables":
            return True
    except (OSError, ValueError):
        pass
    try:
        pids = [p for p in proc.iterdir() if p.name.isdigit()]
    except OSError:
        return False
    for pid in pids:
        try:
            if (pid / "comm").read_text().strip() != "dockerd":
                continue
            args = (pid / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        for i, arg in enumerate(args):
            if arg == "--firewall-backend=nftables":
                return True
            if arg == "--firewall-backend" and args[i + 1 : i + 2] == ["nftables"]:
                return True
    return False


# --------------------------------------------------------------------------- parsing
@dataclass(slots=True)
class _Table:
    family: str
    name: str
    chains: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    maps: dict[str, dict[str, Any]] = field(default_factory=dict)


def parse_ruleset(doc: dict[str, Any], listing: str | None = None) -> Triple:
    """``nft -j list ruleset`` (and optionally ``nft -a list ruleset``) -> Rule/Chain."""
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
    texts = listing_texts(listing) if listing else {}
    rules: list[Rule] = []
    chains: list[Chain] = []
    for table in tables.values():
        if iptables_nft_owns(table):
            continue
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


_VERDICTS = {"accept": "ACCEPT", "drop": "DROP", "return": "RETURN", "continue": "CONTINUE"}
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
        elif kind in _VERDICTS:
            rule.target = _VERDICTS[kind]
        elif kind in ("jump", "goto") and isinstance(val, dict):
            rule.target = str(val.get("target", ""))
        elif kind in _NAT:
            rule.target = _NAT[kind]
            if isinstance(val, dict):
                to = _nat_to(val)
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
            rule.protocol, rule.protocol_negated = _scalar(right), negated
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
            rule.protocol, rule.protocol_negated = _scalar(right), negated
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


def _scalar(right: Any) -> str:
    return right if isinstance(right, str) else json.dumps(right, separators=(",", ":"))


def _port(right: Any) -> str:
    """8080, ``8080:8082`` for a range, ``80,443`` for a set (iptables notation)."""
    if isinstance(right, int | str):
        return str(right)
    if isinstance(right, dict) and isinstance(right.get("range"), list):
        return ":".join(str(x) for x in right["range"])
    if isinstance(right, dict) and isinstance(right.get("set"), list):
        return ",".join(_port(x) for x in right["set"])
    return _scalar(right)


def _nat_to(val: dict[str, Any]) -> str:
    """``172.17.0.4:80``, ``[fd00::2]:80``, ``10.0.0.1-10.0.0.9`` or ``:8080`` (ports only)."""
    addr = val.get("addr")
    port = val.get("port")
    text = _render_value(addr) if addr is not None else ""
    if port is None:
        return text
    if ":" in text:
        text = f"[{text}]"
    return f"{text}:{_render_value(port)}"


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


#: meta keys nft prints without the ``meta`` keyword
_BARE_META = frozenset(
    {"iif", "oif", "iifname", "oifname", "iiftype", "oiftype", "skuid", "skgid", "nftrace"}
    | {"rtclassid", "ibrname", "obrname", "pkttype", "cpu", "iifgroup", "oifgroup", "cgroup"}
)


def render_rule(r: dict[str, Any]) -> str:
    """A rule in nft syntax from its JSON expressions (used when the listing lacks it)."""
    parts = [_render_stmt(e) for e in r.get("expr", []) if isinstance(e, dict)]
    if r.get("comment") is not None:
        parts.append(f"comment {json.dumps(r['comment'])}")
    return " ".join(p for p in parts if p)


def _render_stmt(e: dict[str, Any]) -> str:
    if len(e) != 1:
        return _scalar(e)
    ((kind, val),) = e.items()
    if kind == "match" and isinstance(val, dict):
        left = val.get("left")
        quote = _is_ifname(left)
        op = val.get("op", "==")
        sep = " " if op in ("==", "in") else f" {op} "
        return f"{_render_expr(left)}{sep}{_render_value(val.get('right'), quote)}"
    if kind == "counter":
        if isinstance(val, dict):
            return f"counter packets {val.get('packets', 0)} bytes {val.get('bytes', 0)}"
        return f"counter name {_render_value(val)}"
    if kind in _VERDICTS:
        return kind
    if kind in ("jump", "goto") and isinstance(val, dict):
        return f"{kind} {val.get('target')}"
    if kind in ("masquerade", "redirect"):
        to = _nat_to(val) if isinstance(val, dict) else ""
        return f"{kind} to {to}" if to else kind
    if kind in ("snat", "dnat") and isinstance(val, dict):
        fam = f" {val['family']}" if val.get("family") else ""
        return f"{kind}{fam} to {_nat_to(val)}"
    if kind == "vmap" and isinstance(val, dict):
        data = val.get("data")
        rendered = data if isinstance(data, str) else _render_value(data)
        return f"{_render_expr(val.get('key'))} vmap {rendered}"
    if kind == "xt" and isinstance(val, dict):
        return f"xt {val.get('type')} {json.dumps(val.get('name'))}"
    if val is None:
        return kind
    return f"{kind} {_render_value(val)}"


def _is_ifname(left: Any) -> bool:
    if not isinstance(left, dict) or not isinstance(left.get("meta"), dict):
        return False
    return str(left["meta"].get("key", "")).endswith("name")


def _render_expr(x: Any) -> str:
    if not isinstance(x, dict) or len(x) != 1:
        return _render_value(x)
    ((kind, val),) = x.items()
    if kind == "payload" and isinstance(val, dict):
        if "protocol" in val:
            return f"{val['protocol']} {val.get('field')}"
        return f"@{val.get('base')},{val.get('offset')},{val.get('len')}"
    if kind == "meta" and isinstance(val, dict):
        key = val.get("key")
        return str(key) if key in _BARE_META else f"meta {key}"
    if kind == "ct" and isinstance(val, dict):
        where = f" {val['dir']}" if val.get("dir") else ""
        return f"ct{where} {val.get('key')}"
    if kind == "fib" and isinstance(val, dict):
        flags = val.get("flags", [])
        flags = flags if isinstance(flags, list) else [flags]
        return f"fib {' . '.join(flags)} {val.get('result')}"
    return _render_value(x)


def _render_value(v: Any, quote: bool = False) -> str:
    if isinstance(v, str):
        return json.dumps(v) if quote else v
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return ",".join(_render_value(x, quote) for x in v)
    if isinstance(v, dict) and len(v) == 1:
        ((kind, val),) = v.items()
        if kind == "prefix" and isinstance(val, dict):
            return f"{val.get('addr')}/{val.get('len')}"
        if kind == "range" and isinstance(val, list):
            return "-".join(_render_value(x, quote) for x in val)
        if kind == "set" and isinstance(val, list):
            items = [
                f"{_render_value(x[0], quote)} : {_render_stmt(x[1])}"
                if isinstance(x, list) and len(x) == 2 and isinstance(x[1], dict)
                else _render_value(x, quote)
                for x in val
            ]
            return "{ " + ", ".join(items) + " }"
        if kind in ("payload", "meta", "ct", "fib"):
            return _render_expr(v)
    return json.dumps(v, separators=(",", ":"))
