"""Correlation and the doctor are pure: the read they are given is unchanged after them.

Every recorded snapshot (the lab, the network modes, the kernel VM's children, the
fault recordings, the demo) and a synthetic 1,000-container one is loaded, copied,
correlated and diagnosed; then the read is compared with the copy field by field.
"""

from __future__ import annotations

import copy
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest

from netexplorer.analysis import analyse
from netexplorer.correlate import correlate
from netexplorer.doctor import diagnose
from netexplorer.model import Snapshot
from netexplorer.snapshot_io import load_snapshot, snapshot_to_dict
from netexplorer.ui.sources import demo_path

ROOT = Path(__file__).resolve().parents[2]
RECORDED = sorted(
    p
    for p in (ROOT / "tests" / "recorded").rglob("*.json")
    if p.name.endswith(".snapshot.json") or p.parent.name == "snapshots"
)


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


def reads() -> list[Any]:
    return [pytest.param(p, id=str(p.relative_to(ROOT))) for p in [*RECORDED, demo_path()]]


def test_every_recorded_snapshot_is_checked() -> None:
    assert len(RECORDED) >= 8


@pytest.mark.parametrize("path", reads())
def test_correlation_and_doctor_leave_the_read_unchanged(path: Path) -> None:
    read = load_snapshot(path)
    before = copy.deepcopy(read)
    corr = correlate(read)
    assert differences(before, read) == []
    diagnose(read, corr)
    assert differences(before, read) == []
    snapshot_to_dict(read, corr)
    analyse(read)
    assert differences(before, read) == []


def test_the_walk_sees_a_change_deep_down() -> None:
    read = load_snapshot(demo_path())
    before = copy.deepcopy(read)
    read.containers[0].endpoints[0].mac = "00:00:5e:00:53:01"
    assert differences(before, read) == [
        f"snapshot.containers[0].endpoints[0].mac: {before.containers[0].endpoints[0].mac!r} "
        "became '00:00:5e:00:53:01'"
    ]


def test_the_synthetic_1000_container_read_is_unchanged() -> None:
    from benchmarks.synth import synthetic_snapshot

    read: Snapshot = synthetic_snapshot(containers=1000, interfaces=2000, rules=5000)
    before = copy.deepcopy(read)
    analyse(read)
    assert differences(before, read) == []
