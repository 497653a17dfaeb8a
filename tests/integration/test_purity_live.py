"""A live read of the lab is unchanged by correlation, the doctor, the map and a path.

The same check as tests/unit/test_purity.py (field by field, and every object
still the one it was), on what the collectors return from the real host now
rather than on a recording loaded from JSON.
"""

from __future__ import annotations

import pytest
from read_compare import changes_by

from netexplorer.analysis import analyse
from netexplorer.collect.snapshot import collect_snapshot
from netexplorer.correlate import correlate
from netexplorer.doctor import diagnose
from netexplorer.map.model import build_map
from netexplorer.path import trace_path
from netexplorer.snapshot_io import snapshot_to_dict

from . import groundtruth as gt

pytestmark = pytest.mark.integration


def test_a_live_read_is_unchanged_by_everything_derived_from_it(lab: str) -> None:
    read = collect_snapshot()
    assert {c.name for c in read.containers} >= set(gt.LAB_CONTAINERS)
    assert read.rules and read.interfaces and read.bridges
    steps = {
        "correlate": correlate,
        "diagnose": lambda r: diagnose(r, correlate(r)),
        "snapshot_to_dict": lambda r: snapshot_to_dict(r, correlate(r)),
        "analyse": analyse,
        "build_map": lambda r: build_map(r, correlate(r)),
        "trace_path": lambda r: trace_path(r, correlate(r), "test1", gt.INET_ADDR),
    }
    for name, step in steps.items():
        assert changes_by(read, step) == [], name
