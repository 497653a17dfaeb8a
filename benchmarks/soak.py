"""Soak: the live app for a long while on a host whose containers keep changing.

    sudo python -m benchmarks.soak [--minutes 30] [--containers 200] [--every 3]
                                   [--warmup 5] [--out FILE]

Makes a network ``nxsoak-net`` and ``--containers`` busybox containers on it
(``nxsoak-<n>``, label ``netexplorer.soak``), then runs the live app headless in a
child process (``App.run_test``, 160x45, the real LiveFeed: Docker events, netlink
events, the firewall poll) for ``--minutes``. Meanwhile every ``--every`` seconds
one container is removed and a new one started, so the feed re-reads the host
about that often. The child samples its resident set size (``VmRSS``) every 10 s,
together with how many reads it has shown, and presses a key now and then so
that marks and details are redrawn too.

The report gives RSS over time and the drift after warm-up: the median of the
last five minutes' samples minus the median of the samples of the minute after
``--warmup`` minutes (target: at most 10 MB). Everything the soak made is
removed at the end, also on failure or Ctrl-C. It changes no lab object (its own
network and containers only), so it does not need the lab lock.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any

PREFIX = "nxsoak"
NETWORK = f"{PREFIX}-net"
LABEL = "netexplorer.soak=1"
IMAGE = "busybox:latest"
SAMPLE_EVERY = 10.0
DRIFT_MAX_MB = 10.0
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "soak.md"


# ------------------------------------------------------------------ the child: the app
def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Tracer:
    """``--trace``: what grew after warm-up, to stderr every ``every_s``: the live
    objects by type against the first count after warm-up, and (``NX_SOAK_TRACEMALLOC=1``,
    which slows the app a lot) the allocations still held, by the line that made them."""

    def __init__(self, start_s: float, every_s: float = 60.0) -> None:
        self.start_s, self.every_s = start_s, every_s
        self.next_s = start_s
        self.types: Counter[str] | None = None
        self.allocations: Any = None

    def tick(self, t: float) -> None:
        import gc
        import os
        import tracemalloc

        if t < self.next_s:
            return
        self.next_s = t + self.every_s
        gc.collect()
        types = Counter(type(o).__name__ for o in gc.get_objects())
        if self.types is None:
            self.types = types
            if os.environ.get("NX_SOAK_TRACEMALLOC"):
                tracemalloc.start(1)
                self.allocations = tracemalloc.take_snapshot()
            print(f"trace: baseline at {t:.0f} s, {sum(types.values())} objects",
                  file=sys.stderr, flush=True)  # fmt: skip
            return
        diff = {k: n - self.types.get(k, 0) for k, n in (types | self.types).items()}
        top = sorted(diff.items(), key=lambda kv: -abs(kv[1]))[:15]
        print(f"trace: at {t:.0f} s, {sum(types.values())} objects; by type: "
              + ", ".join(f"{k} {n:+d}" for k, n in top), file=sys.stderr, flush=True)  # fmt: skip
        if self.allocations is not None:
            now = tracemalloc.take_snapshot()
            for stat in now.compare_to(self.allocations, "lineno")[:10]:
                print(f"  {stat}", file=sys.stderr, flush=True)


async def _run_app(seconds: float, trace_from: float | None = None) -> None:
    import gc

    from netexplorer.ui.app import create_app

    # as ``netexplorer`` starts it (cli.cmd_app): the cycle collector off until the
    # first read is painted, then what exists is frozen and it is on again
    gc.disable()
    app = create_app()
    shown = 0
    last: object = None
    start = time.monotonic()
    tracer = Tracer(trace_from) if trace_from is not None else None
    async with app.run_test(size=(160, 45)) as pilot:
        next_sample = start
        step = 0
        while (now := time.monotonic()) - start < seconds:
            if app.analysis is not last:  # a new read was shown
                last = app.analysis
                shown += 1
            if now >= next_sample:
                print(
                    json.dumps({"t": now - start, "rss_mb": rss_mb(), "shown": shown}), flush=True
                )
                next_sample += SAMPLE_EVERY
                if tracer is not None:
                    tracer.tick(now - start)
            step += 1
            if step % 20 == 0:  # about every 2 s: move the cursor, so marks are redrawn
                await pilot.press("down" if step % 40 else "up")
            await pilot.pause(0.1)
        print(json.dumps({"t": time.monotonic() - start, "rss_mb": rss_mb(), "shown": shown}),
              flush=True)  # fmt: skip


def child(seconds: float, trace_from: float | None = None) -> int:
    import asyncio

    asyncio.run(_run_app(seconds, trace_from))
    return 0


# ------------------------------------------------------------------ the parent: the host
class Interrupted(Exception):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def docker(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, check=check)


def start_container(n: int) -> str:
    name = f"{PREFIX}-{n}"
    docker("run", "-d", "--pull", "never", "--label", LABEL, "--network", NETWORK,
           "--name", name, IMAGE, "sleep", "86400")  # fmt: skip
    return name


def clean_up() -> None:
    """Remove every container and the network the soak made (by label and name)."""
    ids = docker("ps", "-aq", "--filter", f"label={LABEL.split('=')[0]}", check=False).stdout
    if ids.split():
        docker("rm", "-f", *ids.split(), check=False)
    docker("network", "rm", NETWORK, check=False)


def drift(samples: list[dict[str, float]], warmup_s: float) -> dict[str, float]:
    """RSS median of the minute after warm-up, of the last five minutes, and their difference."""
    after = [s["rss_mb"] for s in samples if warmup_s <= s["t"] < warmup_s + 60]
    end = samples[-1]["t"] if samples else 0.0
    last = [s["rss_mb"] for s in samples if s["t"] >= end - 300]
    if not after or not last:
        return {}
    base, final = statistics.median(after), statistics.median(last)
    peak = max(s["rss_mb"] for s in samples if s["t"] >= warmup_s)
    return {"warm_mb": base, "end_mb": final, "drift_mb": final - base, "peak_mb": peak}


def report(
    samples: list[dict[str, float]], args: argparse.Namespace, churned: int, header: str
) -> str:
    d = drift(samples, args.warmup * 60)
    lines = [
        "# Soak: the live app on a changing host",
        "",
        header,
        "",
        f"`python -m benchmarks.soak --minutes {args.minutes} --containers {args.containers} "
        f"--every {args.every} --warmup {args.warmup}`: {args.containers} containers on "
        f"{NETWORK}, one removed and one started every {args.every} s ({churned} replaced); "
        f"{samples[-1]['shown'] if samples else 0:.0f} reads shown by the app.",
        "",
    ]
    if d:
        ok = d["drift_mb"] <= DRIFT_MAX_MB
        lines += [
            "| measure | value | target | verdict |",
            "|---|---:|---:|---|",
            f"| RSS after warm-up (median, minute {args.warmup}-{args.warmup + 1}) | "
            f"{d['warm_mb']:.1f} MB | - | - |",
            f"| RSS at the end (median, last 5 min) | {d['end_mb']:.1f} MB | - | - |",
            f"| drift after warm-up | {d['drift_mb']:+.1f} MB | <= {DRIFT_MAX_MB:.0f} MB | "
            f"{'pass' if ok else '**FAIL**'} |",
            f"| peak after warm-up | {d['peak_mb']:.1f} MB | - | - |",
            "",
        ]
    else:
        lines += ["Too few samples for a drift figure.", ""]
    lines += ["RSS over time (one sample a minute):", "", "| minute | RSS MB | reads shown |"]
    lines += ["|---:|---:|---:|"]
    minute = -1
    for s in samples:
        if int(s["t"] // 60) > minute:
            minute = int(s["t"] // 60)
            lines.append(f"| {minute} | {s['rss_mb']:.1f} | {s['shown']:.0f} |")
    return "\n".join(lines) + "\n"


def _collect(proc: subprocess.Popen[str], samples: list[dict[str, float]]) -> None:
    """Thread: the child's sample lines, as they come."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("{"):
            samples.append(json.loads(line))


def parent(args: argparse.Namespace) -> int:
    from benchmarks.__main__ import _describe, machine

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    header = (
        f"Machine: {machine()}. Checkout: {_describe(str(Path(__file__).resolve().parents[1]))}."
        f" Started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."
    )
    samples: list[dict[str, float]] = []
    churned = failed = 0
    proc: subprocess.Popen[str] | None = None
    try:
        clean_up()
        # a network left by a run that was killed may keep a stale endpoint count in
        # dockerd (it then refuses to remove it): it is reused
        if docker("network", "inspect", NETWORK, check=False).returncode != 0:
            docker("network", "create", "--label", LABEL, NETWORK)
        with ThreadPoolExecutor(max_workers=4) as pool:
            live = list(pool.map(start_container, range(args.containers)))
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.soak", "--child", str(args.minutes * 60)]
            + (["--trace-from", str(args.warmup * 60)] if args.trace else []),
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        reader = threading.Thread(target=_collect, args=(proc, samples), daemon=True)
        reader.start()
        next_n = args.containers
        rng = random.Random(0)
        while proc.poll() is None:
            time.sleep(args.every)
            if live:
                docker("rm", "-f", live.pop(rng.randrange(len(live))), check=False)
            try:
                live.append(start_container(next_n))
            except subprocess.CalledProcessError as exc:  # dockerd restarted meanwhile
                failed += 1
                print(f"docker run failed ({exc.stderr.strip()}); going on", file=sys.stderr)
            next_n += 1
            churned += 1
            if samples and churned % 20 == 0:
                last = samples[-1]
                print(
                    f"t={last['t']:.0f}s rss={last['rss_mb']:.1f} MB "
                    f"shown={last['shown']:.0f} churned={churned}",
                    flush=True,
                )
        reader.join(10)
        if proc.returncode != 0:
            print(f"the app exited with {proc.returncode}", file=sys.stderr)
    except Interrupted as why:
        print(f"interrupted ({why}); cleaning up", file=sys.stderr)
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(30)
        clean_up()
    text = report(samples, args, churned, header)
    if failed:
        text += f"\n{failed} of the replacements failed to start (dockerd restarted meanwhile).\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    (args.out.with_suffix(".json")).write_text(json.dumps(samples))
    print(text)
    d = drift(samples, args.warmup * 60)
    return 0 if d and d["drift_mb"] <= DRIFT_MAX_MB else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--every", type=float, default=3.0, help="seconds between replacements")
    parser.add_argument("--warmup", type=float, default=5.0, help="minutes before drift counts")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--trace",
        action="store_true",
        help="after warm-up, print to stderr every 2 minutes what memory grew (tracemalloc) "
        "and which objects (by type); slows the app",
    )
    parser.add_argument("--child", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--trace-from", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        return child(args.child, args.trace_from)
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
