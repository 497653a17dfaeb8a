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
the file, its schema and the one this netexplorer reads. A field a file lacks
(one added to the model since it was written, e.g. ``Rule.netns`` or
``DockerNamespace.rules``) takes its default. Lists are in a fixed
order (collectors sort), so two snapshots of an unchanged host differ only in
timings.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Callable
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
        net_doc["vni"] = net.vni
        net_doc["encrypted"] = net.encrypted
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


class _Misfit(ValueError):
    """A value that does not fit its type; ``where`` is filled in on the way out."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        #: the path to the value, innermost last (``.containers``, ``[3]``, ``.name``)
        self.steps: list[str] = []

    def within(self, step: str) -> _Misfit:
        self.steps.insert(0, step)
        return self


Convert = Callable[[Any], Any]

#: JSON's types that a field of these types takes as they are
_PLAIN: dict[Any, tuple[type, ...]] = {str: (str,), int: (int,), float: (float,), bool: (bool,)}


def _exact_types(tp: Any) -> tuple[type, ...]:
    """The JSON value types a field of type ``tp`` keeps as they are (checked with
    ``type(v) in``, so a bool is not an int); empty for types that are converted."""
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        plain = _PLAIN.get(options[0], ()) if options else ()
        return (*plain, type(None)) if plain else ()
    return _PLAIN.get(tp, ())


@functools.cache
def _converter(tp: Any) -> Convert:
    """A function building a value of type ``tp`` (a dataclass, list[...], dict, a
    union with None, or a scalar) from its JSON; made once per type. It raises
    :class:`_Misfit` for a value of the wrong shape."""
    if is_dataclass(tp) and isinstance(tp, type):
        return _object_converter(tp)
    origin = typing.get_origin(tp)
    if origin is list:
        (item_type,) = typing.get_args(tp)
        item = _converter(item_type)

        def to_list(value: Any) -> list[Any]:
            if not isinstance(value, list):
                raise _Misfit(f"expected a list, found {type(value).__name__}")
            out = []
            for i, v in enumerate(value):
                try:
                    out.append(item(v))
                except _Misfit as exc:
                    raise exc.within(f"[{i}]") from None
            return out

        return to_list
    if origin is dict:
        _, item_type = typing.get_args(tp)
        item = _converter(item_type)

        def to_dict(value: Any) -> dict[str, Any]:
            if not isinstance(value, dict):
                raise _Misfit(f"expected an object, found {type(value).__name__}")
            out = {}
            for k, v in value.items():
                try:
                    out[str(k)] = item(v)
                except _Misfit as exc:
                    raise exc.within(f".{k}") from None
            return out

        return to_dict
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = _converter(options[0])
        return lambda value: None if value is None else inner(value)
    if tp in (int, float, str, bool):
        scalar: type = tp

        def to_scalar(value: Any) -> Any:
            if scalar is float and isinstance(value, int):
                return float(value)
            if not isinstance(value, scalar) or (scalar is int and isinstance(value, bool)):
                raise _Misfit(f"expected {scalar.__name__}, found {type(value).__name__}")
            return value

        return to_scalar
    return lambda value: value


def _object_converter(tp: type) -> Convert:
    """:func:`_converter` of a dataclass: each field of the class present in the
    object built by its own converter, other keys (derived fields) ignored."""
    spec: list[tuple[str, tuple[type, ...], Convert]] = []

    def to_object(value: Any) -> Any:
        if not spec:  # the fields' converters are made on first use
            hints, names = _fields_of(tp)
            spec.extend((n, _exact_types(hints[n]), _converter(hints[n])) for n in names)
        if not isinstance(value, dict):
            raise _Misfit(f"expected an object, found {type(value).__name__}")
        kwargs = {}
        for name, exact, convert in spec:
            if name in value:
                v = value[name]
                if type(v) in exact:
                    kwargs[name] = v
                    continue
                try:
                    kwargs[name] = convert(v)
                except _Misfit as exc:
                    raise exc.within(f".{name}") from None
        try:
            return tp(**kwargs)
        except TypeError as exc:
            raise _Misfit(str(exc)) from exc

    return to_object


def _build(tp: Any, value: Any, where: str) -> Any:
    """Build a value of type ``tp`` from JSON; a ValueError names where it did not fit."""
    try:
        return _converter(tp)(value)
    except _Misfit as exc:
        raise ValueError(f"{where}{''.join(exc.steps)}: {exc.problem}") from None


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
