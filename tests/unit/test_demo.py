"""The shipped demo (netexplorer/demo/lab-snapshot.json) shows the current model.

Every field of every model dataclass (walked from Snapshot) must be in the demo's
JSON and hold a non-empty value somewhere in it, unless the lab cannot show it
(listed in NOT_ON_THE_LAB with the reason; an entry the demo does show fails too).
A field added to the model without re-recording the demo
(``sudo flock /run/nx-lab.lock scripts/record-demo``) fails here.
"""

from __future__ import annotations

import json
import typing
from dataclasses import fields, is_dataclass
from typing import Any

from netexplorer.model import SCHEMA_VERSION, Snapshot
from netexplorer.snapshot_io import load_snapshot
from netexplorer.ui.sources import demo_path

SWARM = "swarm mode (overlay networks): the lab's dockerd is no swarm node"
DEFAULT_RULES = "the lab has only the default policy rules (from all lookup local/main/default)"
#: Class or Class.field -> why the demo recorded on the lab shows no value for it
NOT_ON_THE_LAB = {
    "NetnsView.error": (
        "every namespace is readable on the healthy lab "
        "(faults: tests/integration/test_netns_source.py)"
    ),
    "IpRule.src": DEFAULT_RULES,
    "IpRule.dst": DEFAULT_RULES,
    "IpRule.iif": DEFAULT_RULES,
    "IpRule.oif": DEFAULT_RULES,
    "IpRule.fwmark": DEFAULT_RULES,
    "IpRule.fwmask": DEFAULT_RULES,
    "IpRule.invert": DEFAULT_RULES,
    "IpRule.goto": DEFAULT_RULES,
    "OverlayPeer": SWARM,
    "Vxlan": SWARM,
    "DockerNamespace": SWARM,
    "FdbEntry": SWARM,
    "Neighbour": SWARM,
    "SwarmInfo": SWARM,
    "Snapshot.namespaces": SWARM,
    "Snapshot.swarm": SWARM,
    "Network.attachable": SWARM,
    "Network.ingress": SWARM,
    "Network.peers": SWARM,
    "XfrmState": SWARM + " (IPsec of an encrypted overlay; the demo's lab has none)",
    "XfrmPolicy": SWARM + " (IPsec of an encrypted overlay; the demo's lab has none)",
    "Snapshot.xfrm_states": SWARM,
    "Snapshot.xfrm_policies": SWARM,
    "Snapshot.xfrm_read": SWARM,
    "Interface.vxlan": SWARM,
    "Interface.netns": SWARM + " (an interface of Docker's overlay namespaces)",
    "Bridge.netns": SWARM + " (a bridge of Docker's overlay namespaces)",
    "BridgePort.netns": SWARM + " (a port of Docker's overlay namespaces)",
    "Bridge.stp": "Docker creates its bridges without STP",
    "Rule.handle": "native nftables only (Docker 29's nftables backend; the lab runs 20.10)",
    "Rule.chain_interface": "native nftables verdict maps only",
    "Rule.chain_interface_dir": "native nftables verdict maps only",
    "Rule.unreached": "native nftables only, and only when a map element is gone",
    "Rule.protocol_negated": "Docker writes no '! -p' rule",
    "Rule.sport": "Docker writes no --sport rule",
    "Rule.comment": "Docker 20.10 writes no rule comments",
    "Rule.netns": SWARM + " (a rule read in ingress_sbox, lb_* or a service task)",
    "Chain.netns": SWARM + " (a chain read in ingress_sbox, lb_* or a service task)",
    "NetnsView.rules": SWARM + " (read only in a service task on the ingress network)",
    "NetnsView.chains": SWARM + " (read only in a service task on the ingress network)",
    "Source.error": "a healthy read: no source failed",
    "Source.stale": "a healthy read: no source kept its last read",
    "Snapshot.warnings": "a healthy read, recorded as root: nothing to warn about",
}
EMPTY: tuple[object, ...] = (None, [], {}, "", 0, False)


def excused(cls: type, field_name: str) -> bool:
    return cls.__name__ in NOT_ON_THE_LAB or f"{cls.__name__}.{field_name}" in NOT_ON_THE_LAB


def model_classes(tp: type = Snapshot) -> dict[type, None]:
    """Snapshot and every dataclass reachable from its fields, in order."""
    found: dict[type, None] = {tp: None}
    for hint in typing.get_type_hints(tp).values():
        for arg in [
            hint,
            *typing.get_args(hint),
            *(a for x in typing.get_args(hint) for a in typing.get_args(x)),
        ]:
            if is_dataclass(arg) and isinstance(arg, type) and arg not in found:
                found |= model_classes(arg)
    return found


def objects_of(doc: Any, tp: type, out: dict[type, list[dict[str, Any]]]) -> None:
    """Every JSON object of the demo by the model class it was written from."""
    out.setdefault(tp, []).append(doc)
    hints = typing.get_type_hints(tp)
    for name, hint in hints.items():
        value = doc.get(name)
        inner = [
            a for a in (hint, *typing.get_args(hint)) if is_dataclass(a) and isinstance(a, type)
        ]
        if not inner or value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                objects_of(item, inner[0], out)


def test_the_demo_has_the_current_schema() -> None:
    doc = json.loads(demo_path().read_text())
    assert doc["schema"] == SCHEMA_VERSION
    load_snapshot(demo_path())


def fields_shown() -> tuple[list[str], list[str], set[str]]:
    """(fields absent from the demo, fields never set in it, fields set in it)."""
    doc = json.loads(demo_path().read_text())
    by_class: dict[type, list[dict[str, Any]]] = {}
    objects_of(doc, Snapshot, by_class)
    absent, never_set, shown = [], [], set()
    for cls in model_classes():
        objs = by_class.get(cls, [])
        for f in fields(cls):
            name = f"{cls.__name__}.{f.name}"
            if any(o.get(f.name) not in EMPTY for o in objs):
                shown |= {name, cls.__name__}
            elif excused(cls, f.name):
                continue
            elif not objs or any(f.name not in o for o in objs):
                absent.append(name)
            else:
                never_set.append(name)
    return absent, never_set, shown


def test_the_demo_shows_every_field_of_the_model() -> None:
    absent, never_set, _ = fields_shown()
    assert absent == [], "fields missing from the demo: re-record it with scripts/record-demo"
    assert never_set == [], (
        "fields the demo never shows: re-record it, or say in NOT_ON_THE_LAB why the lab cannot"
    )


def test_no_excuse_outlives_its_reason() -> None:
    """A field the demo now shows is taken off NOT_ON_THE_LAB."""
    _, _, shown = fields_shown()
    assert sorted(set(NOT_ON_THE_LAB) & shown) == []


def test_every_excuse_names_a_class_or_field() -> None:
    classes = model_classes()
    names = {c.__name__ for c in classes} | {
        f"{c.__name__}.{f.name}" for c in classes for f in fields(c)
    }
    assert set(NOT_ON_THE_LAB) <= names
