"""``python -m benchmarks``: collection, UI and live-update latency against the targets.

    python -m benchmarks [--sizes 20,100,200] [--repeats 5] [--quick] [--out FILE]
                         [--skip-lab] [--skip-ui] [--skip-live] [--product DIR]

Needs root, the lab (``scripts/lab up``) and busybox:latest. Creates ``nxb-*``
containers (label netexplorer.bench=v1) and the network ``nxb-net``, and removes
them all at the end, on failure and on Ctrl-C. Prints a Markdown table and writes
it to ``benchmarks/results/latest.md`` (or ``--out``). Not part of the test suite:
timings are reported against targets here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from benchmarks import lab
from benchmarks.collect_bench import SHELL_BASELINE, CollectResult, measure_collection
from benchmarks.synth import synthetic_snapshot, write_synthetic
from benchmarks.ui_bench import measure_headless, measure_pty

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "latest.md"

# targets (on the 2-core reference machine)
COLLECT_MAX_S = 0.25  # collect_seconds at 200 containers
SPEEDUP_MIN = 10.0  # shell baseline / snapshot process at 100 containers
HIGHLIGHT_MAX_S = 0.050
SEARCH_MAX_S = 0.100
FIRST_PAINT_MAX_S = 1.5
PEAK_RSS_MAX_MB = 150.0
EVENT_MAX_S = 0.5
SYNTH = {"containers": 1000, "interfaces": 2000, "rules": 5000}


def verdict(ok: bool) -> str:
    return "pass" if ok else "**FAIL**"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


# ------------------------------------------------------------------ sections
def collection_section(results: list[CollectResult], sizes: list[int], repeats: int) -> list[str]:
    out = [
        "## Collection on the live lab",
        "",
        f"Bench containers `nxb-*` (busybox, half on `bridge`, half on `{lab.NETWORK}`, every "
        f"{lab.PUBLISH_EVERY}th publishing a port on 127.0.0.1) plus whatever else runs "
        f"(the lab's 4 and other users'). Medians of {repeats} runs of "
        "`netexplorer snapshot --json -o FILE` as a separate process; `collect_seconds` is "
        "read from its JSON. The shell baseline is run in the same session "
        "(script below).",
        "",
        "| nxb | running | interfaces | rules | collect_seconds | per container | docker / "
        "netlink / firewall | snapshot process | shell baseline | baseline ÷ ours |",
        "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for size, r in zip(sizes, results, strict=True):
        out.append(
            f"| {size} | {r.containers} | {r.interfaces} | {r.rules} | {ms(r.collect)} | "
            f"{r.collect / max(1, r.containers) * 1000:.2f} ms | "
            f"{ms(r.source('docker'))} / {ms(r.source('netlink'))} / "
            f"{ms(r.source('firewall'))} | {ms(r.process)} | {r.baseline:.2f} s | "
            f"{r.ratio:.1f}x |"
        )
    out.append("")
    at200 = _at(results, sizes, 200)
    at100 = _at(results, sizes, 100)
    out.append("| target | figure | verdict |")
    out.append("|---|---:|---|")
    if at200 is not None:
        out.append(
            f"| collect_seconds <= {COLLECT_MAX_S} s at 200 containers | {ms(at200.collect)} | "
            f"{verdict(at200.collect <= COLLECT_MAX_S)} |"
        )
    else:
        out.append(f"| collect_seconds <= {COLLECT_MAX_S} s at 200 containers | not run | - |")
    if at100 is not None:
        out.append(
            f"| snapshot process >= {SPEEDUP_MIN:.0f}x faster than the shell at 100 | "
            f"{at100.ratio:.1f}x | {verdict(at100.ratio >= SPEEDUP_MIN)} |"
        )
    else:
        out.append(f"| snapshot process >= {SPEEDUP_MIN:.0f}x faster at 100 | not run | - |")
    if len(results) >= 2:
        first, last = results[0], results[-1]
        grow = (last.collect - first.collect) / max(1, last.containers - first.containers)
        out.append(
            f"| linear growth (marginal cost per container, {first.containers} -> "
            f"{last.containers}) | {grow * 1000:.2f} ms | - |"
        )
    warnings = sorted({w for r in results for w in r.warnings})
    if warnings:
        out += ["", "Warnings in the snapshots (other users' containers included):", ""]
        out += [f"- {w[:200]}" for w in warnings[:8]]
    out += ["", "Shell baseline, run with `bash -c`:", "", "```sh" + SHELL_BASELINE + "```", ""]
    return out


def _at(results: list[CollectResult], sizes: list[int], size: int) -> CollectResult | None:
    return next((r for s, r in zip(sizes, results, strict=True) if s == size), None)


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


def ui_section(head: dict[str, Any], real: dict[str, Any], repeats: int) -> list[str]:
    hl = head["keypress_highlight_s"]
    se = head["search_s"]
    br = head["bridge_highlight_s"]
    rss_mb = (real.get("peak_rss_kb") or 0) / 1024
    paint = real.get("first_paint_s")
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
    ]


def live_section(repeats: int, running: int) -> list[str]:
    head = ["## Live: event to row", ""]
    try:
        from benchmarks.live_event import measure_event_to_row
    except ImportError:
        return [*head, "| live: not yet available | - | - |", ""]
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
        if not fig:
            rows.append(f"| {label} | no figure | - | <= {EVENT_MAX_S * 1000:.0f} ms | **FAIL** |")
            continue
        med = fig["median_s"]
        rows.append(
            f"| {label} | {ms(med)} | {ms(fig['p90_s'])} | <= {EVENT_MAX_S * 1000:.0f} ms | "
            f"{verdict(med <= EVENT_MAX_S)} |"
        )
    return [*rows, ""]


# ------------------------------------------------------------------ driver
class Interrupted(Exception):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _header(args: argparse.Namespace) -> list[str]:
    return [
        "# netexplorer benchmarks",
        "",
        f"{datetime.datetime.now().isoformat(timespec='minutes')} on {platform.node()}: "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"kernel {platform.release()}. Command: `python -m benchmarks "
        f"{' '.join(args.argv)}`".rstrip()
        + ".",
        "",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--sizes", default="20,100,200", help="bench container counts")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--baseline-repeats", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="--sizes 20 --repeats 3")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--skip-lab", action="store_true", help="no containers, no collection")
    parser.add_argument("--skip-ui", action="store_true")
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument(
        "--product", help="PYTHONPATH for the measured netexplorer (e.g. an older worktree)"
    )
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    if args.quick:
        args.sizes, args.repeats = "20", 3
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    # the measured netexplorer first, then this repository (for the benchmarks package)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (args.product, str(REPO)) if p)
    lines = _header(args)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        if not args.skip_lab:
            if os.geteuid() != 0:
                print("benchmarks: the lab part needs root (sudo)", file=sys.stderr)
                return 2
            problem = lab.docker_available()
            if problem:
                print(f"benchmarks: {problem}", file=sys.stderr)
                return 2
            results = []
            for size in sizes:
                print(f"benchmarks: {size} bench containers ...", file=sys.stderr)
                lab.grow_to(size)
                results.append(measure_collection(args.repeats, args.baseline_repeats))
            lines += collection_section(results, sizes, args.repeats)
        lines += correlate_section(args.repeats)
        if not args.skip_ui:
            print("benchmarks: UI on the synthetic snapshot ...", file=sys.stderr)
            with tempfile.TemporaryDirectory(prefix="nxb-ui-") as tmp:
                path = Path(tmp) / "synthetic.json"
                write_synthetic(path, **SYNTH)
                head = measure_headless(str(path), max(5, args.repeats * 2), args.product)
                real = measure_pty(str(path), SYNTH["containers"], args.product)
            lines += ui_section(head, real, max(5, args.repeats * 2))
        if args.skip_live:
            lines += ["## Live: event to row", "", "skipped (--skip-live)", ""]
        else:
            print("benchmarks: live event to row ...", file=sys.stderr)
            lines += live_section(args.repeats, len(lab.running_containers()))
    except (KeyboardInterrupt, Interrupted):
        print("benchmarks: interrupted; removing the bench containers", file=sys.stderr)
        return 130
    finally:
        if not args.skip_lab:
            for problem in lab.remove_all():
                print(f"benchmarks: cleanup: {problem}", file=sys.stderr)
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"benchmarks: written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
