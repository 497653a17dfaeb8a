"""UI latency on a snapshot file, two ways.

* :func:`measure_headless` (run in a child process: ``python -m benchmarks.ui_bench
  FILE``) drives ``create_app(snapshot=FILE)`` with ``App.run_test`` (headless, 160x45,
  all panes shown): start to first full paint, cursor move in the containers pane
  to marks applied in every pane, ``/name Enter`` to the match selected and marked.
  A step is timed from the key event being posted to the app (as the terminal
  driver posts it) until the result is there (the selection changed, the marks
  applied), every message queue has drained (deferred idle work included) and the
  screen has been rendered (the refresh tick's work, run at once);
  ``pilot.press`` itself is not timed: its idle detection adds ~60 ms of waiting.
* :func:`measure_pty` runs the real ``netexplorer --snapshot FILE`` on a
  pseudo-terminal: start until the top bar with the snapshot's counts is drawn,
  a few keys, ``q``; its peak RSS is the child's ``ru_maxrss`` (``wait4``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import statistics
import struct
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SIZE = (160, 45)


def _all_marked(app: Any) -> bool:
    """Every related row shown in a table pane carries its mark."""
    for pane in app.table_panes:
        shown = set(pane.table.keys)
        want = {k for k in app.related if k in shown}
        if set(pane.table.marked()) != want:
            return False
    return bool(app.related)


async def _until(done: Callable[[], bool], timeout: float = 30.0) -> None:
    """Yield to the event loop until ``done()``; each turn lets queued messages run."""
    end = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > end:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0)


async def _settle(app: Any) -> None:
    """Yield until every message queue (the app's and each widget's) stayed empty for
    a few turns: deferred work such as a DataTable's idle-time column re-measuring
    is then done too."""
    quiet = 0
    while quiet < 3:
        await asyncio.sleep(0)
        pumps = [app, *app.screen.walk_children(with_self=True)]
        busy = any(not p._message_queue.empty() for p in pumps)
        quiet = 0 if busy else quiet + 1


def _paint(app: Any) -> None:
    """Render the screen now (what the next refresh tick does): layout and all
    visible lines of every changed widget, as the terminal would be sent them."""
    app.screen._on_timer_update()


async def _key(app: Any, key: str, done: Callable[[], bool]) -> float:
    """Seconds from a key arriving (as the driver posts it) to ``done()`` and painted."""
    from textual import events

    t0 = time.perf_counter()
    app.post_message(events.Key(key, None))
    await _until(done)
    await _settle(app)
    _paint(app)
    return time.perf_counter() - t0


def _changed(app: Any, before: str | None) -> Callable[[], bool]:
    return lambda: bool(app.selected != before)


def _reached(app: Any, want: str) -> Callable[[], bool]:
    return lambda: bool(app.selected == want)


async def _headless(path: str, repeats: int) -> dict[str, Any]:
    from textual.widgets import Input

    from netexplorer.ui.app import create_app

    start = time.perf_counter()
    app = create_app(snapshot=path)
    out: dict[str, Any] = {}
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.snapshot is not None and app.selected is not None)
        await _settle(app)
        _paint(app)
        out["first_paint_s"] = time.perf_counter() - start
        await pilot.pause()
        marks: list[float] = []
        for _ in range(repeats):
            before = app.selected
            marks.append(await _key(app, "down", _changed(app, before)))
            assert _all_marked(app), "marks were not applied"
            await pilot.pause()
        out["keypress_highlight_s"] = marks
        out["marked_rows"] = sum(len(p.table.marked()) for p in app.table_panes)

        # a bridge lights every container on it and their rules
        await pilot.press("3")
        await pilot.pause()
        bridge_marks: list[float] = []
        for _ in range(max(1, repeats // 2)):
            before = app.selected
            bridge_marks.append(await _key(app, "down", _changed(app, before)))
            await pilot.pause()
        out["bridge_highlight_s"] = bridge_marks
        out["bridge_marked_rows"] = sum(len(p.table.marked()) for p in app.table_panes)

        snap = app.snapshot
        assert snap is not None
        names = [c.name for c in snap.containers]
        searches: list[float] = []
        for i in range(repeats):
            name = names[(i * 97 + len(names) // 3) % len(names)]
            want = next(c.key for c in snap.containers if c.name == name)
            await pilot.press("slash")
            await pilot.pause()
            app.query_one("#search", Input).value = name
            await pilot.pause()
            searches.append(await _key(app, "enter", _reached(app, want)))
            assert _all_marked(app), "search did not mark"
            await pilot.pause()
        out["search_s"] = searches
        await pilot.press("q")
    out["child_vmhwm_kb"] = _vmhwm(os.getpid())
    return out


def _vmhwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def measure_headless(path: str, repeats: int, pythonpath: str | None = None) -> dict[str, Any]:
    """Run :func:`_headless` in a child process (so its memory is its own)."""
    return json_child(["benchmarks.ui_bench", path, str(repeats)], pythonpath, "headless UI")


def json_child(
    module_args: list[str], pythonpath: str | None, what: str, timeout: float = 900
) -> dict[str, Any]:
    """``python -m MODULE ARGS`` in a child process with ``pythonpath``'s netexplorer
    (see :func:`_pythonpath`): the JSON of its last output line."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": _pythonpath(pythonpath)}
    argv = [sys.executable, "-m", *module_args]
    proc = subprocess.run(
        argv, capture_output=True, text=True, env=env, check=False, cwd="/", timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{what} benchmark failed: {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _repo() -> str:
    return str(Path(__file__).resolve().parents[1])


def _pythonpath(product: str | None) -> str:
    """The measured netexplorer first (if given), then this repository (benchmarks);
    child processes run in ``/`` so that the current directory does not shadow it."""
    return os.pathsep.join(p for p in (product, _repo()) if p)


def _read_until(fd: int, done: Callable[[bytes], bool], timeout: float, seen: bytearray) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.01)
        if ready:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                return done(bytes(seen))
            if not chunk:
                return done(bytes(seen))
            seen += chunk
            if done(bytes(seen)):
                return True
    return False


def _quiet(fd: int, seen: bytearray, idle: float = 0.3, timeout: float = 10.0) -> None:
    """Read until nothing arrives for ``idle`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], idle)
        if not ready:
            return
        try:
            chunk = os.read(fd, 1 << 16)
        except OSError:
            return
        if not chunk:
            return
        seen += chunk


def _spawn_on_pty(argv: list[str], pythonpath: str | None) -> tuple[int, Any, float]:
    """Start ``python -m netexplorer argv`` on a new 160x45 pty: (master fd, child, start)."""
    import fcntl
    import subprocess

    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLUMNS": str(SIZE[0]),
        "LINES": str(SIZE[1]),
        "PYTHONPATH": _pythonpath(pythonpath),
    }
    fd, slave = os.openpty()
    # the size is set before the app starts, so it lays out once, at 160x45
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "netexplorer", *argv],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd="/",
        start_new_session=True,
    )
    os.close(slave)
    return fd, child, start


def _reap(fd: int, child: Any) -> Any:
    """Wait for the child (after ``q``); its rusage. Killed if it does not quit."""
    usage: Any = None
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                child.returncode = status
                break
            time.sleep(0.05)
        else:
            os.killpg(child.pid, 9)
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = status
    except ChildProcessError:
        pass
    finally:
        os.close(fd)
    return usage


def measure_pty(path: str, containers: int, pythonpath: str | None = None) -> dict[str, Any]:
    """The real app on a pty: start to first paint of the data, and its peak RSS."""
    marker = f"{containers} containers".encode()
    fd, child, start = _spawn_on_pty(["--snapshot", path], pythonpath)
    usage: Any = None
    try:
        seen = bytearray()
        painted = _read_until(fd, lambda b: marker in b, 60.0, seen)
        first_paint = time.perf_counter() - start
        _quiet(fd, seen)
        for key in (b"j", b"\x1b[B", b"\x1b[B", b"/", b"synth-app-0500", b"\r"):
            os.write(fd, key)
            _quiet(fd, seen, idle=0.2)
        os.write(fd, b"q")
        _quiet(fd, seen, idle=0.5)
    finally:
        usage = _reap(fd, child)
    return {
        "first_paint_s": first_paint if painted else None,
        "peak_rss_kb": int(usage.ru_maxrss) if usage is not None else None,
        "exit_status": child.returncode,
    }


#: the top bar's counts, drawn once a first read is shown (other users' containers
#: may come and go meanwhile, so any count)
_COUNTS = re.compile(rb" [0-9]+ containers ")


def live_first_paint(pythonpath: str | None = None) -> float | None:
    """Seconds from starting the live app (``netexplorer``, as root, on a pty) to the
    top bar showing the host's counts: Python, the UI, the first collection and its
    first paint. None if it never showed."""
    fd, child, start = _spawn_on_pty([], pythonpath)
    try:
        seen = bytearray()
        painted = _read_until(fd, lambda b: _COUNTS.search(b) is not None, 60.0, seen)
        first_paint = time.perf_counter() - start
        os.write(fd, b"q")
        _quiet(fd, seen, idle=0.3)
    finally:
        _reap(fd, child)
    if not painted:
        text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b" ", bytes(seen[-2000:]))
        tail = " ".join(text.decode("utf-8", "replace").split())[-400:]
        print(
            f"benchmarks: the live app showed no counts in 60 s; its last output: {tail!r}",
            file=sys.stderr,
        )
    return first_paint if painted else None


def summary(values: list[float]) -> float:
    return statistics.median(values)


if __name__ == "__main__":
    result = asyncio.run(_headless(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10))
    print(json.dumps(result))
