"""A native nftables rule's text in nft's syntax, rendered from its JSON expressions.

Used for a rule missing from the text listing (the ruleset changed between the two
reads of :func:`netexplorer.collect.firewall.nft_native.read_nft_native`); the counter's
values are left out, as :func:`netexplorer.collect.firewall.nft_parse.strip_counter`
cuts them from listed text.
"""

from __future__ import annotations

import json
from typing import Any

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
        return scalar(e)
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
    if kind in VERDICTS:
        return kind
    if kind in ("jump", "goto") and isinstance(val, dict):
        return f"{kind} {val.get('target')}"
    if kind in ("masquerade", "redirect"):
        to = nat_target(val) if isinstance(val, dict) else ""
        return f"{kind} to {to}" if to else kind
    if kind in ("snat", "dnat") and isinstance(val, dict):
        fam = f" {val['family']}" if val.get("family") else ""
        return f"{kind}{fam} to {nat_target(val)}"
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


VERDICTS = {"accept": "ACCEPT", "drop": "DROP", "return": "RETURN", "continue": "CONTINUE"}


def scalar(right: Any) -> str:
    return right if isinstance(right, str) else json.dumps(right, separators=(",", ":"))


def nat_target(val: dict[str, Any]) -> str:
    """``172.17.0.4:80``, ``[fd00::2]:80``, ``10.0.0.1-10.0.0.9`` or ``:8080`` (ports only)."""
    addr = val.get("addr")
    port = val.get("port")
    text = _render_value(addr) if addr is not None else ""
    if port is None:
        return text
    if ":" in text:
        text = f"[{text}]"
    return f"{text}:{_render_value(port)}"
