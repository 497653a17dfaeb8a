"""``python -m benchmarks``: collection, UI and live-update latency against the targets.

    python -m benchmarks [--sizes 20,100,200,500] [--repeats 5] [--quick] [--out FILE]
                         [--skip-lab] [--skip-ui] [--skip-paint] [--skip-live]
                         [--skip-mesh]
                         [--product DIR] [--before DIR] [--update-docs]

Needs root, the lab (``scripts/lab up``) and busybox:latest. Creates ``nxb-*``
containers (label netexplorer.bench=v1) and the networks ``nxb-net1..3``, and
removes them all at the end, on failure and on Ctrl-C. Prints a Markdown report,
every target with its verdict first, and writes it to
``benchmarks/results/latest.md`` (or ``--out``); ``--update-docs`` also puts it
into benchmarks/RESULTS.md and the targets table into README.md (between their
``benchmarks:`` markers). Not part of the test suite: timings are reported
against targets here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime
import fcntl
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks import lab
from benchmarks.collect_bench import (
    SHELL_BASELINE,
    CollectResult,
    command_seconds,
    measure_collection,
    measure_snapshots,
)
from benchmarks.map_bench import map_section
from benchmarks.mesh_bench import measure_mesh, mesh_section
from benchmarks.refresh_bench import measure_refresh, refresh_section
from benchmarks.remote_bench import measure_remote, remote_section
from benchmarks.synth import synthetic_snapshot, write_synthetic
from benchmarks.ui_bench import live_first_paint, measure_headless, measure_pty

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "latest.md"

RESULTS = REPO / "benchmarks" / "RESULTS.md"
README = REPO / "README.md"

# targets (on the 2-core reference machine)
COLLECT_MAX_S = {200: 0.150, 500: 0.400}  # collect_seconds at that many bench containers
PROCESS_MAX_S = 0.6  # the whole snapshot process at 100 containers
SPEEDUP_MIN = 20.0  # shell baseline / snapshot process at 100 containers
CLI_MAX_S = 0.150  # netexplorer --version / --help
LIVE_PAINT_MAX_S = 0.8  # the live app's first paint (real pty) at 100 containers
HIGHLIGHT_MAX_S = 0.050
SEARCH_MAX_S = 0.100
FIRST_PAINT_MAX_S = 1.5
PEAK_RSS_MAX_MB = 150.0
EVENT_MAX_S = 0.5
PATH_MAX_S = 0.020  # one path (netexplorer path) at 1,000 containers / 5,000 rules
REMOTE_RATIO_MAX = 1.5  # 10 hosts at once / the slowest host alone
SYNTH = {"containers": 1000, "interfaces": 2000, "rules": 5000}


def verdict(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


# ------------------------------------------------------------------ sections
#: (target, figure, floor and gap, verdict)
Targets = list[tuple[str, str, str, str]]


@dataclass
class LabRow:
    """Everything measured at one lab size."""

    size: int
    result: CollectResult
    before: CollectResult | None = None
    live_paint: list[float] = field(default_factory=list)
    #: the live app's first paint was timed at this size (not --skip-paint)
    paint_timed: bool = False


def collection_section(rows: list[LabRow], repeats: int, before: str | None) -> list[str]:
    out = [
        "## Collection on the live lab",
        "",
        f"Bench containers `nxb-*` (busybox, in turn on `bridge`, "
        f"{', '.join(f'`{n}`' for n in lab.NETWORKS)}; every {lab.PUBLISH_EVERY}th publishing "
        "a port on 127.0.0.1) plus whatever else runs (the lab's 4 and other users'). "
        f"Medians of {repeats} runs of `netexplorer snapshot --json -o FILE` as a separate "
        "process after one warm-up; `collect_seconds` and the sources' seconds are read from "
        "its JSON (sources run concurrently, so they overlap). *floor*: a bare Docker "
        "`GET /containers/json?all=1` plus one raw rtnetlink link dump, received but not "
        "decoded (benchmarks/collect_bench.py), same session; *gap* = collect_seconds - "
        "floor. *live paint*: `netexplorer` (the live app) on a real pty, start to the top "
        "bar showing the host's containers. The shell baseline (script below) runs once "
        "per size up to 200.",
        "",
        "| nxb | running | interfaces | rules | collect_seconds | docker / netlink / "
        "firewall | floor | gap | snapshot process | live paint | shell baseline "
        "| baseline ÷ ours |",
        "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        r = row.result
        paint = (
            ms(statistics.median(row.live_paint))
            if row.live_paint
            else ("no paint" if row.paint_timed else "-")
        )
        base = f"{r.baseline:.2f} s" if r.baseline_seconds else "-"
        ratio = f"{r.ratio:.1f}x" if r.baseline_seconds else "-"
        out.append(
            f"| {row.size} | {r.containers} | {r.interfaces} | {r.rules} | {ms(r.collect)} | "
            f"{ms(r.source('docker'))} / {ms(r.source('netlink'))} / "
            f"{ms(r.source('firewall'))} | {ms(r.floor)} | {ms(r.collect - r.floor)} | "
            f"{ms(r.process)} | {paint} | {base} | {ratio} |"
        )
    if before and any(row.before for row in rows):
        out += [
            "",
            f"The same containers, same session, measured with the code before the changes "
            f"(`--before`, {_describe(before)}):",
            "",
            "| nxb | collect_seconds before | now | snapshot process before | now |",
            "|---:|---:|---:|---:|---:|",
        ]
        for row in rows:
            if row.before is not None:
                out.append(
                    f"| {row.size} | {ms(row.before.collect)} | {ms(row.result.collect)} | "
                    f"{ms(row.before.process)} | {ms(row.result.process)} |"
                )
    warnings = sorted({w for row in rows for w in row.result.warnings})
    if warnings:
        out += ["", "Warnings in the snapshots (other users' containers included):", ""]
        out += [f"- {w[:200]}" for w in warnings[:8]]
    out += ["", "Shell baseline, run with `bash -c`:", "", "```sh" + SHELL_BASELINE + "```", ""]
    return out


def lab_targets(rows: list[LabRow]) -> Targets:
    """(target, figure, floor and gap, verdict) of every lab target."""
    out: Targets = []
    at = {row.size: row for row in rows}
    for size, limit in COLLECT_MAX_S.items():
        name = f"collect_seconds <= {ms(limit)} at {size} containers"
        row = at.get(size)
        if row is None:
            out.append((name, "not run", "-", "-"))
            continue
        r = row.result
        out.append(
            (
                name,
                f"{ms(r.collect)} ({r.containers} running)",
                f"{ms(r.floor)}; gap {ms(r.collect - r.floor)}",
                verdict(r.collect <= limit),
            )
        )
    row = at.get(100)
    name = f"snapshot process <= {PROCESS_MAX_S} s at 100 containers"
    speed = f"snapshot process >= {SPEEDUP_MIN:.0f}x faster than the shell at 100"
    paint = f"live app first paint <= {LIVE_PAINT_MAX_S} s (real pty, 100 containers)"
    if row is None:
        out += [(name, "not run", "-", "-"), (speed, "not run", "-", "-")]
        out.append((paint, "not run", "-", "-"))
        return out
    r = row.result
    out.append(
        (
            name,
            ms(r.process),
            f"{ms(r.floor)}; gap {ms(r.process - r.floor)}",
            verdict(r.process <= PROCESS_MAX_S),
        )
    )
    out.append(
        (
            speed,
            f"{r.ratio:.1f}x ({r.baseline:.2f} s / {ms(r.process)})",
            "-",
            verdict(r.ratio >= SPEEDUP_MIN),
        )
    )
    if row.live_paint:
        med = statistics.median(row.live_paint)
        out.append((paint, ms(med), "-", verdict(med <= LIVE_PAINT_MAX_S)))
    elif row.paint_timed:
        out.append((paint, "no paint", "-", verdict(False)))
    else:
        out.append((paint, "not run (--skip-paint)", "-", "-"))
    return out


def startup_section(version: list[float], helps: list[float]) -> tuple[list[str], Targets]:
    lines = [
        "## Start-up of the command",
        "",
        f"`python -m netexplorer --version` and `--help` as separate processes, medians of "
        f"{len(version)} after a warm-up.",
        "",
        "| command | median | p90 |",
        "|---|---:|---:|",
        f"| --version | {ms(statistics.median(version))} | {ms(p90(version))} |",
        f"| --help | {ms(statistics.median(helps))} | {ms(p90(helps))} |",
        "",
    ]
    targets = [
        (
            f"netexplorer {flag} <= {ms(CLI_MAX_S)}",
            ms(statistics.median(times)),
            "-",
            verdict(statistics.median(times) <= CLI_MAX_S),
        )
        for flag, times in (("--version", version), ("--help", helps))
    ]
    return lines, targets


def targets_section(targets: Targets) -> list[str]:
    out = [
        "## Targets",
        "",
        "| target | figure | floor; gap | verdict |",
        "|---|---:|---|---|",
    ]
    out += [f"| {t} | {f} | {fl} | {v} |" for t, f, fl, v in targets]
    return [*out, ""]


def correlate_section(repeats: int) -> list[str]:
    from netexplorer.correlate import correlate
    from netexplorer.doctor import diagnose

    out = [
        "## Correlation and doctor cost (synthetic snapshots)",
        "",
        "| containers | networks | interfaces | rules | correlate | per container | per rule "
        "| doctor |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cases: list[tuple[dict[str, int], dict[str, int]]] = [
        ({k: int(v * scale) for k, v in SYNTH.items()}, {}) for scale in (0.25, 0.5, 1.0)
    ]
    cases.append((dict(SYNTH), {"per_network": 5}))  # many small networks: per-bridge checks
    for sizes, shape in cases:
        snap = synthetic_snapshot(**sizes, **shape)
        times, doctor = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            corr = correlate(snap)
            t1 = time.perf_counter()
            diagnose(snap, corr)
            times.append(t1 - t0)
            doctor.append(time.perf_counter() - t1)
        t = statistics.median(times)
        out.append(
            f"| {sizes['containers']} | {len(snap.networks)} | {sizes['interfaces']} | "
            f"{sizes['rules']} | {ms(t)} | {t / sizes['containers'] * 1e6:.0f} µs | "
            f"{t / sizes['rules'] * 1e6:.0f} µs | {ms(statistics.median(doctor))} |"
        )
    return [*out, ""]


#: the paths timed on the synthetic snapshot: across the longest chains Docker's
#: layout has there (DOCKER-USER holds the operator rules, nat DOCKER a DNAT per port)
PATHS = (
    ("synth-app-0991", "203.0.113.1", "icmp", None),
    ("synth-app-0991", "synth-app-0990", "icmp", None),
    ("synth-web-0000", "synth-web-0001", "icmp", None),
    ("198.51.100.2", "host:20500", "tcp", None),
)


def path_section(repeats: int) -> tuple[list[str], Targets]:
    """One path at 1,000 containers / 5,000 rules: the first call on a fresh read
    (its indexes built then) and the median of the next ones."""
    from netexplorer.correlate import correlate
    from netexplorer.path import trace_path

    snap = synthetic_snapshot(**SYNTH)
    corr = correlate(snap)
    out = [
        f"## Path engine ({SYNTH['containers']} containers, {len(snap.rules)} rules, synthetic)",
        "",
        "| path | verdict | hops | first call | median of next |",
        "|---|---|---:|---:|---:|",
    ]
    worst = 0.0
    for src, dst, proto, port in PATHS:
        t0 = time.perf_counter()
        result = trace_path(snap, corr, src, dst, proto, port)
        first = time.perf_counter() - t0
        times = []
        for _ in range(max(5, repeats)):
            t0 = time.perf_counter()
            trace_path(snap, corr, src, dst, proto, port)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        worst = max(worst, med)
        out.append(
            f"| {src} -> {dst} {proto} | {result.verdict} | "
            f"{len(result.hops) + len(result.reply)} | {ms(first)} | {ms(med)} |"
        )
    target = (
        f"one path (netexplorer path) <= {ms(PATH_MAX_S)} at 1,000 containers / 5,000 rules",
        ms(worst),
        "-",
        verdict(worst <= PATH_MAX_S),
    )
    return [*out, ""], [target]


def ui_section(
    head: dict[str, Any], real: dict[str, Any], repeats: int
) -> tuple[list[str], Targets]:
    hl = head["keypress_highlight_s"]
    se = head["search_s"]
    br = head["bridge_highlight_s"]
    rss_mb = (real.get("peak_rss_kb") or 0) / 1024
    paint = real.get("first_paint_s")
    synth = f"{SYNTH['containers']} containers / {SYNTH['interfaces']} interfaces / " + (
        f"{SYNTH['rules']} rules"
    )
    targets = [
        (
            f"snapshot file first paint <= {FIRST_PAINT_MAX_S} s (real pty, {synth})",
            ms(paint) if paint else "no paint",
            "-",
            verdict(paint is not None and paint <= FIRST_PAINT_MAX_S),
        ),
        (
            f"keypress to cross-link highlight <= {ms(HIGHLIGHT_MAX_S)} ({synth})",
            ms(statistics.median(hl)),
            "-",
            verdict(statistics.median(hl) <= HIGHLIGHT_MAX_S),
        ),
        (
            f"search `/name Enter` <= {ms(SEARCH_MAX_S)}",
            ms(statistics.median(se)),
            "-",
            verdict(statistics.median(se) <= SEARCH_MAX_S),
        ),
        (
            f"peak RSS <= {PEAK_RSS_MAX_MB:.0f} MB",
            f"{rss_mb:.0f} MB",
            "-",
            verdict(0 < rss_mb <= PEAK_RSS_MAX_MB),
        ),
    ]
    return [
        "## UI on a synthetic snapshot",
        "",
        f"{SYNTH['containers']} containers, {SYNTH['interfaces']} interfaces, {SYNTH['rules']} "
        "rules, generated by `benchmarks/synth.py` from the shapes of "
        "tests/recorded/lab/nft.snapshot.json, written to a temp file and opened with "
        "`--snapshot`. Terminal 160x45 (all panes shown).",
        "",
        "- *real pty*: `python -m netexplorer --snapshot FILE` on a pseudo-terminal; first "
        "paint = spawn until the top bar with the snapshot's counts is written; peak RSS = "
        "`ru_maxrss` of that process (after a selection and a search).",
        "- *headless*: `App.run_test` in a child process; a key event is posted to the app "
        "as the terminal driver posts it, timed until the result is there and the screen "
        "rendered (the refresh tick's work); not through `pilot.press`, whose idle "
        f"detection alone adds ~60 ms. Medians of {repeats}.",
        "",
        "| measure | how | median | p90 | target | verdict |",
        "|---|---|---:|---:|---:|---|",
        f"| start to first full paint | real pty | {ms(paint) if paint else 'no paint'} | - | "
        f"<= {FIRST_PAINT_MAX_S} s | {verdict(paint is not None and paint <= FIRST_PAINT_MAX_S)} |",
        # the target is what a user sees (the pty row); in-process run_test adds the
        # test harness and skips the CLI's start-up, so this row only informs
        f"| start to first full paint (informative: test harness, no CLI) | headless | "
        f"{ms(head['first_paint_s'])} | - | - | - |",
        f"| keypress to cross-link highlight (container, all panes) | headless | "
        f"{ms(statistics.median(hl))} | {ms(p90(hl))} | <= {HIGHLIGHT_MAX_S * 1000:.0f} ms | "
        f"{verdict(statistics.median(hl) <= HIGHLIGHT_MAX_S)} |",
        f"| keypress in the bridges pane (informative) | headless | "
        f"{ms(statistics.median(br))} | {ms(p90(br))} | - | - |",
        f"| search `/name Enter` to match selected and marked | headless | "
        f"{ms(statistics.median(se))} | {ms(p90(se))} | <= {SEARCH_MAX_S * 1000:.0f} ms | "
        f"{verdict(statistics.median(se) <= SEARCH_MAX_S)} |",
        f"| peak RSS | real pty | {rss_mb:.0f} MB | - | <= {PEAK_RSS_MAX_MB:.0f} MB | "
        f"{verdict(0 < rss_mb <= PEAK_RSS_MAX_MB)} |",
        f"| peak RSS (VmHWM, incl. test harness) | headless | "
        f"{head['child_vmhwm_kb'] / 1024:.0f} MB | - | - | - |",
        "",
    ], targets


def live_section(repeats: int, running: int) -> tuple[list[str], Targets]:
    head = ["## Live: event to row", ""]
    from benchmarks.live_event import measure_event_to_row

    targets: Targets = []
    result = measure_event_to_row(repeats)
    appear, vanish = result.get("appear") or {}, result.get("vanish") or {}
    rows = [
        *head,
        f"`benchmarks/live_event.py` with {running} running containers: {result.get('note')}; "
        f"{result.get('repeats')} runs, {result.get('misses')} missed (10 s).",
        "",
        "| measure | median | p90 | target | verdict |",
        "|---|---:|---:|---:|---|",
    ]
    for label, fig in (("docker run -> row added", appear), ("docker rm -> row gone", vanish)):
        target = f"event to row ({label}) <= {ms(EVENT_MAX_S)}"
        if not fig:
            rows.append(f"| {label} | no figure | - | <= {ms(EVENT_MAX_S)} | **FAIL** |")
            targets.append((target, "no figure", "-", verdict(False)))
            continue
        med = fig["median_s"]
        rows.append(
            f"| {label} | {ms(med)} | {ms(fig['p90_s'])} | <= {ms(EVENT_MAX_S)} | "
            f"{verdict(med <= EVENT_MAX_S)} |"
        )
        targets.append((target, ms(med), "-", verdict(med <= EVENT_MAX_S)))
    return [*rows, ""], targets


# ------------------------------------------------------------------ driver
class Interrupted(Exception):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _run(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _describe(checkout: str) -> str:
    """``commit abc1234`` (``+ uncommitted changes`` if the tree differs) of a checkout."""
    commit = _run(["git", "-C", checkout, "rev-parse", "--short", "HEAD"])
    if not commit:
        return f"{checkout} (not a git checkout)"
    dirty = _run(["git", "-C", checkout, "status", "--porcelain", "--untracked-files=no"])
    return f"commit {commit}" + (" + uncommitted changes" if dirty else "")


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine() -> str:
    debian = ""
    with contextlib.suppress(OSError):
        debian = Path("/etc/debian_version").read_text().strip()
    docker_version = _run(["docker", "version", "--format", "{{.Server.Version}}"])
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"{_memory()}, kernel {platform.release()}, "
        f"Debian {debian or '?'}, Docker {docker_version or '?'}, "
        f"Python {platform.python_version()}"
    )


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GB RAM"
    except OSError:
        pass
    return "? RAM"


def _header(args: argparse.Namespace, start_load: str) -> list[str]:
    measured = args.product or str(REPO)
    now = datetime.datetime.now(datetime.UTC)
    return [
        "# netexplorer benchmarks",
        "",
        f"Run of {now:%Y-%m-%d %H:%M} UTC on {platform.node()}: {machine()}.",
        f"Measured code: {_describe(measured)}. "
        f"Command: `python -m benchmarks {' '.join(args.argv)}`".rstrip()
        + ".",
        f"Load average (1/5/15 min) at the start: {start_load}; at the end: {{END_LOAD}} "
        "(on a shared machine, other work running at the same time shows here and in "
        "every figure).",
        "",
    ]


def replace_between(text: str, name: str, body: str) -> str:
    """``text`` with what lies between the ``<!-- benchmarks:name:begin/end -->``
    markers replaced by ``body``; ValueError if the markers are missing."""
    begin, end = f"<!-- benchmarks:{name}:begin -->", f"<!-- benchmarks:{name}:end -->"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"markers {begin} ... {end} not found")
    return pattern.sub(lambda _m: f"{begin}\n{body.strip()}\n{end}", text, count=1)


def readme_table(header: list[str], targets: Targets) -> str:
    lines = [
        header[2],
        header[3],
        header[4],
        "",
        "| target | figure | floor; gap | verdict |",
        "|---|---:|---|---|",
    ]
    lines += [f"| {t} | {f} | {fl} | {v} |" for t, f, fl, v in targets]
    return "\n".join(lines)


def update_docs(report: str, header: list[str], targets: Targets) -> None:
    RESULTS.write_text(
        replace_between(RESULTS.read_text(encoding="utf-8"), "latest", report),
        encoding="utf-8",
    )
    README.write_text(
        replace_between(
            README.read_text(encoding="utf-8"), "targets", readme_table(header, targets)
        ),
        encoding="utf-8",
    )


@contextlib.contextmanager
def lab_lock(path: str | None) -> Iterator[None]:
    """Hold the lab lock (flock on ``path``) for the parts that change the lab."""
    if path is None:
        yield
        return
    with open(path, "a") as handle:
        print(f"benchmarks: waiting for the lab lock {path} ...", file=sys.stderr)
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def measure_lab(args: argparse.Namespace, sizes: list[int], before: str | None) -> list[LabRow]:
    """Every lab size: grow the bench containers, then time everything at that size."""
    rows: list[LabRow] = []
    for size in sizes:
        print(f"benchmarks: {size} bench containers ...", file=sys.stderr)
        started = time.perf_counter()
        lab.grow_to(size)
        print(f"benchmarks: ... made in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        baseline = args.baseline_repeats if size <= args.baseline_max else 0
        row = LabRow(size, measure_collection(args.repeats, baseline))
        if before:
            row.before = measure_snapshots(args.repeats, before)
        if not args.skip_paint:
            row.paint_timed = True
            for _ in range(3):
                paint = live_first_paint(args.product)
                if paint is not None:
                    row.live_paint.append(paint)
        rows.append(row)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--sizes", default="20,100,200,500", help="bench container counts")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--baseline-repeats", type=int, default=1)
    parser.add_argument(
        "--baseline-max", type=int, default=200, help="no shell baseline above this size"
    )
    parser.add_argument("--quick", action="store_true", help="--sizes 20 --repeats 3")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--skip-lab", action="store_true", help="no containers, no collection")
    parser.add_argument(
        "--skip-ui", action="store_true", help="no UI figures on the synthetic snapshot"
    )
    parser.add_argument(
        "--skip-paint",
        action="store_true",
        help="no timing of the live app's first paint on the lab (at each size)",
    )
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--skip-remote", action="store_true", help="no ssh connections")
    parser.add_argument(
        "--skip-mesh",
        action="store_true",
        help="no one-node swarm: no firewall poll with the routing mesh",
    )
    parser.add_argument(
        "--product", help="PYTHONPATH for the measured netexplorer (e.g. an older worktree)"
    )
    parser.add_argument(
        "--before",
        metavar="DIR",
        help="also time the snapshot of this checkout (e.g. a worktree of the code before "
        "a change) on the same containers",
    )
    parser.add_argument(
        "--lab-lock",
        metavar="FILE",
        help="hold this flock (e.g. /run/nx-lab.lock) only while changing the lab",
    )
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help="write the report into benchmarks/RESULTS.md and the targets into README.md",
    )
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    if args.quick:
        args.sizes, args.repeats = "20", 3
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    # the measured netexplorer first, then this repository (for the benchmarks package)
    pythonpath = os.pathsep.join(p for p in (args.product, str(REPO)) if p)
    os.environ["PYTHONPATH"] = pythonpath
    before_path = os.pathsep.join((args.before, str(REPO))) if args.before else None
    for checkout in (args.product, args.before, str(REPO)):
        # byte-compiled once here, so that no measured process compiles sources (as one
        # would when the caller's environment sets PYTHONDONTWRITEBYTECODE)
        if checkout and (Path(checkout) / "netexplorer").is_dir():
            compileall.compile_dir(str(Path(checkout) / "netexplorer"), quiet=1)
    lines = _header(args, _load())
    targets: Targets = []
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    if not args.skip_lab and os.geteuid() != 0:
        print("benchmarks: the lab part needs root (sudo)", file=sys.stderr)
        return 2
    if not args.skip_lab:
        problem = lab.docker_available()
        if problem:
            print(f"benchmarks: {problem}", file=sys.stderr)
            return 2
    body: list[str] = []
    live_lines: list[str] = ["## Live: event to row", "", "skipped (--skip-live)", ""]
    mesh_lines = ["## Firewall poll with the swarm routing mesh", "", "skipped", ""]
    try:
        with lab_lock(None if args.skip_lab and args.skip_live else args.lab_lock):
            try:
                if not args.skip_lab:
                    rows = measure_lab(args, sizes, before_path)
                    body += collection_section(rows, args.repeats, args.before)
                    targets += lab_targets(rows)
                if not args.skip_live:
                    print("benchmarks: live event to row ...", file=sys.stderr)
                    running = len(lab.running_containers())
                    live_lines, live_targets = live_section(args.repeats, running)
                if not (args.skip_lab or args.skip_mesh):
                    print("benchmarks: firewall poll with the routing mesh ...", file=sys.stderr)
                    polls = max(5, args.repeats * 2)
                    mesh_lines = mesh_section(measure_mesh(polls), polls)
            finally:
                if not args.skip_lab:
                    print("benchmarks: removing the bench containers ...", file=sys.stderr)
                    for problem in lab.remove_all():
                        print(f"benchmarks: cleanup: {problem}", file=sys.stderr)
        print("benchmarks: start-up of the command ...", file=sys.stderr)
        reps = max(10, args.repeats * 2)
        start_lines, start_targets = startup_section(
            command_seconds(["--version"], reps), command_seconds(["--help"], reps)
        )
        targets += start_targets
        body += start_lines
        body += correlate_section(args.repeats)
        path_lines, path_targets = path_section(args.repeats)
        body += path_lines
        targets += path_targets
        print("benchmarks: the map at 1,000 containers on 200 networks ...", file=sys.stderr)
        map_lines, map_targets = map_section(args.repeats)
        body += map_lines
        targets += map_targets
        if not args.skip_ui:
            print("benchmarks: UI on the synthetic snapshot ...", file=sys.stderr)
            with tempfile.TemporaryDirectory(prefix="nxb-ui-") as tmp:
                path = Path(tmp) / "synthetic.json"
                write_synthetic(path, **SYNTH)
                head = measure_headless(str(path), max(5, args.repeats * 2), args.product)
                real = measure_pty(str(path), SYNTH["containers"], args.product)
            ui_lines, ui_targets = ui_section(head, real, max(5, args.repeats * 2))
            body += ui_lines
            targets += ui_targets
            print("benchmarks: the live refresh at 1,000 containers ...", file=sys.stderr)
            polls = max(5, args.repeats * 2)
            refresh_lines, refresh_targets = refresh_section(
                measure_refresh(polls, args.product), polls
            )
            body += refresh_lines
            targets += refresh_targets
        body += live_lines
        body += mesh_lines
        if not args.skip_live:
            targets += live_targets
        if args.skip_remote:
            body += ["## Remote: 10 hosts over ssh", "", "skipped (--skip-remote)", ""]
        else:
            print("benchmarks: 10 hosts over ssh ...", file=sys.stderr)
            remote_lines, remote_targets = remote_section(
                measure_remote(args.repeats), args.repeats, REMOTE_RATIO_MAX
            )
            body += remote_lines
            targets += remote_targets
    except (KeyboardInterrupt, Interrupted):
        print("benchmarks: interrupted; the bench containers were removed", file=sys.stderr)
        return 130
    lines = [line.replace("{END_LOAD}", _load()) for line in lines]
    text = "\n".join([*lines, *targets_section(targets), *body])
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"benchmarks: written to {args.out}", file=sys.stderr)
    if args.update_docs:
        update_docs(text, lines, targets)
        print(f"benchmarks: updated {RESULTS} and {README}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
