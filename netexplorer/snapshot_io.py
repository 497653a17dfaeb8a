"""The snapshot as JSON: ``netexplorer snapshot --json`` writes it, ``--snapshot FILE`` reads it.

The document is the read itself (field names and order of ``netexplorer.model``)
with the correlation folded in where a reader wants it: each endpoint carries
``ip`` (its IPv4, else IPv6 address) and its :class:`~netexplorer.correlate.Wiring`
(``bridge``, ``host_veth`` ... ``rules``), each container its ``conntrack`` flows,
each bridge its ``network``, each rule its ``containers`` and ``bridges``, and
``warnings`` also holds correlation's. Loading ignores every derived field: it
builds the read only, and correlation derives them again.

Older files: schema 1 (the derived fields were part of the model then) loads
through :func:`migrate`, which fills ``netns_owner`` from ``network_mode`` where a
schema-1 writer left it out; any other schema is refused with a sentence naming
the file, its schema and the one this netexplorer reads. Lists are in a fixed
order (collectors sort), so two snapshots of an unchanged host differ only in
timings.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from netexplorer.correlate import Correlation, correlate
from netexplorer.model import SCHEMA_VERSION, Snapshot, as_plain, shared_netns_owner
from netexplorer.naming import network_mode_name


class SnapshotFileError(Exception):
    """A snapshot file could not be used; the message names the file and the problem."""


#: the endpoint fields written from its Wiring (``rules`` as a list)
WIRING_FIELDS = (
    "bridge",
    "host_veth",
    "host_ifindex",
    "peer_ifindex",
    "netnsid",
    "parent",
    "parent_ifindex",
    "mac",
    "rules",
)


def snapshot_to_dict(snap: Snapshot, corr: Correlation | None = None) -> dict[str, Any]:
    """The read as a JSON-ready dict, with what ``corr`` (correlated here if None) derived."""
    corr = correlate(snap) if corr is None else corr
    doc: dict[str, Any] = as_plain(snap)
    doc["warnings"] = [*snap.warnings, *corr.warnings]
    for net, net_doc in zip(snap.networks, doc["networks"], strict=True):
        # derived from the options; written for readers of the JSON, ignored on load
        net_doc["icc"] = net.icc
        net_doc["masquerade"] = net.masquerade
        net_doc["child_mode"] = net.child_mode
    for ct, ct_doc in zip(snap.containers, doc["containers"], strict=True):
        # container:<name> beside the owner's id, as an operator says it
        ct_doc["netns_owner_name"] = (
            network_mode_name(ct, snap.containers) if ct.netns_owner else None
        )
        for ep, ep_doc in zip(ct.endpoints, ct_doc["endpoints"], strict=True):
            ep_doc["ip"] = ep.ipv4 or ep.ipv6
            wiring = corr.wiring(ep)
            for name in WIRING_FIELDS:
                ep_doc[name] = as_plain(getattr(wiring, name))
        ct_doc["conntrack"] = as_plain(corr.flows(ct))
    for br_doc in doc["bridges"]:
        br_doc["network"] = corr.bridge_network.get(br_doc["name"])
    for rule_doc in doc["rules"]:
        rule_doc["containers"] = list(corr.rule_containers.get(rule_doc["id"], ()))
        rule_doc["bridges"] = list(corr.rule_bridges.get(rule_doc["id"], ()))
    return doc


def snapshot_to_json(snap: Snapshot, corr: Correlation | None = None) -> str:
    """The JSON text: one top-level field per line, and one item (network, container,
    interface, rule...) per line in the lists, so that two reads diff line by line.

    Each line is written by json's C encoder (an indented ``json.dumps`` would go
    through its pure-Python one).
    """
    doc = snapshot_to_dict(snap, corr)
    encode = json.JSONEncoder(ensure_ascii=False).encode
    lines = ["{"]
    last = len(doc) - 1
    for i, (key, value) in enumerate(doc.items()):
        comma = "," if i < last else ""
        if isinstance(value, list) and value:
            lines.append(f" {encode(key)}: [")
            lines += [f"  {encode(item)}," for item in value[:-1]]
            lines += [f"  {encode(value[-1])}", f" ]{comma}"]
        else:
            lines.append(f" {encode(key)}: {encode(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


@functools.cache
def _fields_of(tp: type) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Type hints and field names of a dataclass, resolved once per class, not per object."""
    return typing.get_type_hints(tp), tuple(f.name for f in fields(tp))


def _build(tp: Any, value: Any, where: str) -> Any:
    """Build a value of type ``tp`` (a dataclass, list[...], dict, or scalar) from JSON."""
    origin = typing.get_origin(tp)
    if is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected an object, found {type(value).__name__}")
        hints, names = _fields_of(tp)
        kwargs = {}
        for name in names:
            if name in value:
                kwargs[name] = _build(hints[name], value[name], f"{where}.{name}")
        try:
            return tp(**kwargs)
        except TypeError as exc:
            raise ValueError(f"{where}: {exc}") from exc
    if origin is list:
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected a list, found {type(value).__name__}")
        (item,) = typing.get_args(tp)
        return [_build(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected an object, found {type(value).__name__}")
        _, item = typing.get_args(tp)
        return {str(k): _build(item, v, f"{where}.{k}") for k, v in value.items()}
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _build(options[0], value, where)
    if tp in (int, float, str, bool):
        if tp is float and isinstance(value, int):
            return float(value)
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise ValueError(f"{where}: expected {tp.__name__}, found {type(value).__name__}")
        return value
    return value


def migrate(doc: dict[str, Any]) -> dict[str, Any]:
    """A document of an older schema in the current one's shape (see the module docstring)."""
    if doc["schema"] == 1:
        for ct in doc["containers"] if isinstance(doc["containers"], list) else ():
            if isinstance(ct, dict) and not ct.get("netns_owner"):
                ct["netns_owner"] = shared_netns_owner(str(ct.get("network_mode", "")))
        doc["schema"] = 2
    return doc


def snapshot_from_dict(doc: Any) -> Snapshot:
    if not isinstance(doc, dict) or "schema" not in doc or "containers" not in doc:
        raise ValueError("not a netexplorer snapshot (no 'schema' and 'containers' fields)")
    if doc["schema"] in (1,):
        doc = migrate(doc)
    if doc["schema"] != SCHEMA_VERSION:
        raise ValueError(
            f"it has snapshot schema {doc['schema']!r}, and this netexplorer reads schema "
            f"{SCHEMA_VERSION} (and migrates 1); write it again with this version's "
            "'netexplorer snapshot --json'"
        )
    snap: Snapshot = _build(Snapshot, doc, "snapshot")
    return snap


def load_snapshot(path: str | Path) -> Snapshot:
    """Read a snapshot file; any problem becomes a SnapshotFileError naming the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SnapshotFileError(f"{p}: cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SnapshotFileError(f"{p}: is not UTF-8 text, so not a snapshot") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotFileError(
            f"{p}: is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    try:
        return snapshot_from_dict(doc)
    except ValueError as exc:
        raise SnapshotFileError(f"{p}: {exc}") from exc
