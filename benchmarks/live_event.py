"""Event path latency: ``docker run`` -> the container's row in the running live app.

    measure_event_to_row(repeats) -> dict

Starts the app headless (``App.run_test``) on the live host (the lab must be up,
as root), then ``repeats`` times runs a throwaway busybox container and measures
the time from ``docker run`` returning (the container exists and started) until
its row is in the containers table, and from ``docker rm -f`` returning until the
row is gone. Containers are named ``nxt-bench-<hex>`` and always removed.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import time
import uuid
from typing import Any

IMAGE = "busybox:latest"
LABEL = "netexplorer.test=throwaway"
TIMEOUT = 10.0


def _docker(*argv: str) -> None:
    subprocess.run(["docker", *argv], check=True, capture_output=True, text=True)


def _figures(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "min_s": ordered[0],
        "median_s": statistics.median(ordered),
        "p90_s": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        "max_s": ordered[-1],
    }


async def _measure(repeats: int) -> dict[str, Any]:
    from netexplorer.ui.app import create_app

    app = create_app()
    appear: list[float] = []
    vanish: list[float] = []
    misses = 0
    async with app.run_test(size=(160, 45)) as pilot:

        def keys() -> list[str]:
            return app.table_panes[0].table.keys

        def key_of(name: str) -> str | None:
            snap = app.snapshot
            ct = next((c for c in snap.containers if c.name == name), None) if snap else None
            return ct.key if ct and ct.key in keys() else None

        async def wait(check: Any) -> float | None:
            start = time.perf_counter()
            while time.perf_counter() - start < TIMEOUT:
                if check():
                    return time.perf_counter() - start
                await pilot.pause(0.01)
            return None

        if await wait(lambda: app.snapshot is not None) is None:
            raise RuntimeError("the live app produced no snapshot in 10 s")
        for _ in range(repeats):
            name = f"nxt-bench-{uuid.uuid4().hex[:8]}"
            try:
                _docker("run", "-d", "--pull", "never", "--label", LABEL, "--name", name,
                        IMAGE, "sleep", "300")  # fmt: skip
                took = await wait(lambda n=name: key_of(n) is not None)
                if took is None:
                    misses += 1
                    continue
                appear.append(took)
                _docker("rm", "-f", name)
                took = await wait(lambda n=name: key_of(n) is None)
                if took is None:
                    misses += 1
                else:
                    vanish.append(took)
            finally:
                subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
            await pilot.pause(0.3)  # let the last refresh settle before the next run
    return {
        "name": "live_event_to_row",
        "repeats": repeats,
        "misses": misses,
        "appear": _figures(appear) if appear else {},
        "vanish": _figures(vanish) if vanish else {},
        "note": "from docker run / docker rm -f returning to the row added / removed",
    }


def measure_event_to_row(repeats: int) -> dict[str, Any]:
    """Latency of the live event path, docker run -> row (see the module docstring)."""
    return asyncio.run(_measure(repeats))


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(measure_event_to_row(int(sys.argv[1]) if len(sys.argv) > 1 else 5), indent=2))
