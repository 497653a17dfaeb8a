"""The map's cost at 1,000 containers on 200 networks (``benchmarks/synth.py``).

Timed: building the map from a correlated read (the map screen's worker does it
once per snapshot), and drawing it (``draw``: what the screen does on each
snapshot and each Enter that folds or opens a network, and what ``netexplorer
map`` prints) with every network folded (the start at this size), with one
network opened, and with docker0's 897 containers opened.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from benchmarks.synth import synthetic_snapshot
from netexplorer.correlate import correlate
from netexplorer.map.layout import default_folded, draw
from netexplorer.map.model import build_map

MAP_DRAW_MAX_S = 0.100
SHAPE = {"containers": 1000, "interfaces": 2000, "rules": 5000, "per_network": 5}


def _median(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def map_section(repeats: int) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """Report lines and (target, figure, floor, verdict) rows."""
    snap = synthetic_snapshot(**SHAPE)
    corr = correlate(snap)
    hmap = build_map(snap, corr)
    folded = default_folded(hmap)
    small = next(b for b in hmap.buses if b.device != "docker0")
    cases = [
        ("every network folded (the start)", folded),
        (f"one network opened ({small.members} containers)", folded - {small.key}),
        ("docker0 opened (its 897 containers)", folded - {"br:docker0"}),
    ]
    build = _median(lambda: build_map(snap, corr), repeats)
    lines = [
        "## Map (m, netexplorer map)",
        "",
        f"{len(snap.containers)} containers on {len(hmap.buses)} networks "
        f"(`synthetic_snapshot(per_network=5)`); medians of {repeats}. The map is built "
        "in a worker once per snapshot; drawing is what a snapshot or an Enter costs the "
        "screen (the screen then renders only the rows in view).",
        "",
        "| step | lines drawn | median |",
        "|---|---:|---:|",
        f"| build the map from the correlated read (worker) | - | {build * 1000:.1f} ms |",
    ]
    targets = []
    for name, fold in cases:
        drawing = draw(hmap, fold)
        t = _median(lambda fold=fold: draw(hmap, fold), repeats)  # type: ignore[misc]
        lines.append(f"| draw: {name} | {len(drawing.lines)} | {t * 1000:.1f} ms |")
        ok = t <= MAP_DRAW_MAX_S
        targets.append(
            (
                f"map drawing <= {MAP_DRAW_MAX_S * 1000:.0f} ms, 1,000 containers on 200 "
                f"networks, {name}",
                f"{t * 1000:.1f} ms",
                "-",
                "pass" if ok else "FAIL",
            )
        )
    return [*lines, ""], targets


if __name__ == "__main__":  # pragma: no cover
    body, rows = map_section(5)
    print("\n".join(body))
    for row in rows:
        print(" | ".join(row))
