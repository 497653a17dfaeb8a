"""Comparing a read (``netexplorer.model.Snapshot``) with itself before something ran.

:func:`differences` walks dataclasses, lists and dicts and names every path whose
value changed; :func:`identities` names the object behind every such path, so a
field rebound to an equal copy (a write, even if the values match) shows too.
:func:`changes_by` runs functions over a read and returns both kinds of change.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any


def differences(before: Any, after: Any, where: str = "snapshot") -> list[str]:
    """Paths at which ``after`` differs from ``before``, walking dataclasses, lists, dicts."""
    if type(before) is not type(after):
        return [f"{where}: {type(before).__name__} became {type(after).__name__}"]
    if is_dataclass(before):
        return [
            d
            for f in fields(before)
            for d in differences(
                getattr(before, f.name), getattr(after, f.name), f"{where}.{f.name}"
            )
        ]
    if isinstance(before, list):
        if len(before) != len(after):
            return [f"{where}: {len(before)} items became {len(after)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(before, after, strict=True))
            for d in differences(a, b, f"{where}[{i}]")
        ]
    if isinstance(before, dict):
        if before.keys() != after.keys():
            return [f"{where}: keys {sorted(before)} became {sorted(after)}"]
        return [d for k in before for d in differences(before[k], after[k], f"{where}.{k}")]
    return [] if before == after else [f"{where}: {before!r} became {after!r}"]


def identities(obj: Any, where: str = "snapshot") -> dict[str, int]:
    """``id()`` of every dataclass, list and dict in ``obj``, by path."""
    if is_dataclass(obj):
        children = [(f"{where}.{f.name}", getattr(obj, f.name)) for f in fields(obj)]
    elif isinstance(obj, list):
        children = [(f"{where}[{i}]", x) for i, x in enumerate(obj)]
    elif isinstance(obj, dict):
        children = [(f"{where}.{k}", v) for k, v in obj.items()]
    else:
        return {}
    out = {where: id(obj)}
    for path, child in children:
        out.update(identities(child, path))
    return out


def changes_by(read: Any, *runs: Callable[[Any], object]) -> list[str]:
    """What ``runs`` (each given the read) changed in it: values, and objects replaced."""
    before = copy.deepcopy(read)
    ids = identities(read)
    for run in runs:
        run(read)
    now = identities(read)
    replaced = [f"{path}: replaced by another object" for path in ids if now.get(path) != ids[path]]
    return differences(before, read) + replaced
