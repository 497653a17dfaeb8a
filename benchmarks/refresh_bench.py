"""The live refresh at 1,000 containers / 5,000 rules: worker, UI thread, and a keypress.

    python -m benchmarks.refresh_bench [REPEATS]   (prints one JSON line)

The synthetic snapshot of :mod:`benchmarks.synth` is the host. A
:class:`~netexplorer.live.feed.LiveFeed` reads it through collectors that hand
out its parts (no kernel, no Docker): the firewall is "read" afresh on every
poll (new Rule objects for all 5,000 rules, :data:`MOVING` of them with counters
that moved, as traffic moves some rules' counters between polls), and Docker and
netlink are reused, as on a real poll. Measured, in a headless app (160x45, all
panes) that shows it:

* ``worker_s``: the poll in the worker thread, from the fresh firewall part to
  the analysis ready (``feed.collect`` of the polled sources: deltas, assembly,
  then the analysis: correlation, the doctor, findings linked, or what of them
  a read that differs only in counters takes over from the previous analysis,
  through an ``Analyser`` as the app's live worker does; then the panes' rows made
  from it, as the app's worker does: ``NetExplorerApp.prepare``);
* ``ui_s``: the UI thread's work for that refresh, from ``SnapshotReady`` posted
  until every message queue has drained and the screen is painted;
* ``refresh_s``: both (read to painted rows, one source changed);
* ``key_during_refresh_s``: a cursor move posted right after a ``SnapshotReady``,
  until the selection moved, its marks are applied and the screen is painted.

Each is wall-clock time; ``*_cpu_s`` are the same spans in CPU time of the thread
doing the work (``time.thread_time``), which a shared, loaded machine inflates
far less: on the UI thread they include the benchmark's own polling of the app.
"""

from __future__ import annotations

import asyncio
import copy
import json
import statistics
import sys
import time
from dataclasses import replace
from typing import Any

from benchmarks.synth import synthetic_snapshot
from benchmarks.ui_bench import SIZE, _all_marked, _paint, _settle, _until, json_child

SIZES = {"containers": 1000, "interfaces": 2000, "rules": 5000}
#: how many rules count packets between two polls (every 100th rule)
MOVING = 50
# targets (issue 10)
UI_MAX_S = 0.030  # the UI thread's work per live refresh
REFRESH_MAX_S = 0.150  # read to painted rows, one source changed
KEY_MAX_S = 0.050  # a keypress during a refresh to its highlight painted


def collectors(snap: Any) -> Any:
    """Collectors that return the synthetic snapshot's parts; the firewall's counters
    move on every read (new Rule objects each time, as a real read makes)."""
    from netexplorer.collect.conntrack_source import ConntrackData
    from netexplorer.collect.docker_source import DockerData
    from netexplorer.collect.firewall import FirewallData
    from netexplorer.collect.netlink_source import NetlinkData
    from netexplorer.collect.snapshot import Collectors
    from netexplorer.collect.sysctl_source import SysctlData

    reads = [0]

    def firewall() -> FirewallData:
        reads[0] += 1
        n = reads[0]
        step = max(1, len(snap.rules) // MOVING)
        rules = [
            replace(r, packets=r.packets + n, bytes=r.bytes + 84 * n)
            if i % step == 0
            else replace(r)
            for i, r in enumerate(snap.rules)
        ]
        return FirewallData(rules, list(snap.chains), list(snap.firewall_backends))

    return Collectors(
        docker=lambda: DockerData(copy.deepcopy(snap.networks), copy.deepcopy(snap.containers)),
        netlink=lambda: NetlinkData(copy.deepcopy(snap.interfaces), copy.deepcopy(snap.bridges)),
        firewall=firewall,
        netnsids=lambda pids: {c.pid: c.netnsid for c in snap.containers if c.pid in pids},
        conntrack=lambda: ConntrackData(list(snap.conntrack)),
        sysctl=lambda: SysctlData(dict(snap.sysctls)),
    )


async def _measure(repeats: int) -> dict[str, Any]:
    from netexplorer.analysis import Analyser
    from netexplorer.live.feed import POLLED, LiveFeed
    from netexplorer.ui.app import create_app
    from netexplorer.ui.messages import SnapshotReady

    synth = synthetic_snapshot(**SIZES)
    feed = LiveFeed(collectors=collectors(synth), watch=False)
    analyse = Analyser()  # as the app's live worker analyses its feed's reads
    first = analyse(feed.collect())
    app = create_app(source=lambda: first.read)
    out: dict[str, Any] = {
        "worker_s": [],
        "ui_s": [],
        "refresh_s": [],
        "key_during_refresh_s": [],
        "worker_cpu_s": [],
        "ui_cpu_s": [],
        "key_cpu_s": [],
    }

    def timed_poll() -> tuple[Any, float]:
        start = time.thread_time()
        result = analyse(feed.collect(POLLED))
        message = SnapshotReady(result, rows=app.prepare(result))
        return message, time.thread_time() - start

    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.snapshot is not None and app.selected is not None)
        await _settle(app)
        _paint(app)
        await pilot.pause()
        loop = asyncio.get_running_loop()
        for i in range(repeats):
            t0 = time.perf_counter()
            message, cpu = await loop.run_in_executor(None, timed_poll)
            result = message.analysis
            t1 = time.perf_counter()
            c1 = time.thread_time()
            app.post_message(message)
            await _until(lambda: app.analysis is result)  # noqa: B023 - awaited here
            await _settle(app)
            _paint(app)
            t2 = time.perf_counter()
            out["ui_cpu_s"].append(time.thread_time() - c1)
            out["worker_cpu_s"].append(cpu)
            out["worker_s"].append(t1 - t0)
            out["ui_s"].append(t2 - t1)
            out["refresh_s"].append(t2 - t0)
            await pilot.pause()

            from textual import events

            message, _ = await loop.run_in_executor(None, timed_poll)
            result = message.analysis
            before = app.selected
            t0 = time.perf_counter()
            c0 = time.thread_time()
            app.post_message(message)
            app.post_message(events.Key("down" if i % 2 == 0 else "up", None))
            await _until(lambda: app.selected != before and app.analysis is result)  # noqa: B023
            await _settle(app)
            _paint(app)
            out["key_during_refresh_s"].append(time.perf_counter() - t0)
            out["key_cpu_s"].append(time.thread_time() - c0)
            assert _all_marked(app), "marks were not applied"
            await pilot.pause()
        delta = [r for r in app.snapshot.rules if r.delta_packets] if app.snapshot else []
        out["rules_with_delta"] = len(delta)
        await pilot.press("q")
    return out


def measure_refresh(repeats: int, product: str | None = None) -> dict[str, Any]:
    """Run :func:`_measure` in a child process (``product``'s netexplorer if given)."""
    return json_child(["benchmarks.refresh_bench", str(repeats)], product, "live refresh")


def refresh_section(
    result: dict[str, Any], repeats: int
) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """The report's section and its targets (target, figure, floor, verdict): wall-clock
    medians decide; the CPU time of the thread doing the work is given beside them."""

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms"

    def med(name: str) -> float:
        return float(statistics.median(result[name]))

    def verdict(ok: bool) -> str:
        return "pass" if ok else "**FAIL**"

    at = "1,000 containers / 5,000 rules"
    rows = [
        ("worker: fresh firewall part to rows made", "worker_s", "worker_cpu_s", None),
        ("UI thread per refresh (SnapshotReady to painted)", "ui_s", "ui_cpu_s", UI_MAX_S),
        ("read to painted rows, one source changed", "refresh_s", None, REFRESH_MAX_S),
        ("keypress during a refresh to highlight painted", "key_during_refresh_s", "key_cpu_s",
         KEY_MAX_S),
    ]  # fmt: skip
    lines = [
        "## Live refresh at 1,000 containers / 5,000 rules",
        "",
        f"`python -m benchmarks.refresh_bench {repeats}` (see its docstring): {repeats} polls "
        f"of a synthetic host through the real LiveFeed, each re-reading the firewall "
        f"({MOVING} rules counting; Docker and netlink reused), in a headless app at "
        f"{SIZE[0]}x{SIZE[1]}; then as many polls with a cursor move posted right behind "
        "their SnapshotReady. Medians (min-max).",
        "",
        "| measure | wall | CPU of its thread | target | verdict |",
        "|---|---:|---:|---:|---|",
    ]
    targets = []
    for label, wall, cpu, limit in rows:
        values = result[wall]
        cpu_text = ms(med(cpu)) if cpu else "-"
        ok = med(wall) <= limit if limit is not None else True
        lines.append(
            f"| {label} | {ms(med(wall))} ({ms(min(values))}-{ms(max(values))}) | {cpu_text} | "
            + (f"<= {ms(limit)} | {verdict(ok)} |" if limit is not None else "- | - |")
        )
        if limit is not None:
            targets.append((f"live refresh: {label} <= {ms(limit)} ({at})", ms(med(wall)), "-",
                            verdict(ok)))  # fmt: skip
    return [*lines, ""], targets


def main(argv: list[str]) -> int:
    repeats = int(argv[0]) if argv else 5
    print(json.dumps(asyncio.run(_measure(repeats))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
