"""The live app's first read of the host, made by a child process while the app starts.

The start of the live app is two chains of work: Python importing Textual and
building the screen (~0.4 s), and importing the collectors' libraries (Docker SDK,
pyroute2: ~0.25 s) then reading the host. In one process they queue up behind the
GIL; on two cores they need not. :func:`start` forks before the UI is imported
(the process has one thread then): the child imports the collectors, reads every
source (``collect_parts``) and sends the parts back pickled over a pipe, while the
parent imports and mounts the UI. :meth:`FirstRead.take` hands them to the live
feed, which shows them at once and then reads in-process as usual. If the child
fails or is late, ``take`` gives None and the feed reads by itself: nothing is lost
but the head start.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from netexplorer.collect.snapshot import Part

#: how long the parent waits for the child's read (the Docker SDK's own timeout is 10 s)
TIMEOUT = 15.0


class FirstRead:
    """A running child's read; :meth:`take` collects it (once)."""

    def __init__(self, pid: int, fd: int) -> None:
        self._pid = pid
        self._fd: int | None = fd

    def take(self) -> tuple[dict[str, Part], float] | None:
        """(parts by source name, seconds the read took), or None if the child failed
        or did not answer within TIMEOUT. The child is reaped either way."""
        fd, self._fd = self._fd, None
        if fd is None:
            return None
        chunks: list[bytes] = []
        result: Any = None
        try:
            deadline = time.monotonic() + TIMEOUT
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                    raise TimeoutError
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            result = pickle.loads(b"".join(chunks)) if chunks else None
        except Exception:
            result = None
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
        finally:
            os.close(fd)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
        if not (isinstance(result, tuple) and len(result) == 2):
            return None
        parts, seconds = result
        return parts, float(seconds)


def _child(fd: int) -> None:
    """In the child: read every source, write (parts, seconds) pickled to ``fd``."""
    from netexplorer.collect.snapshot import collect_parts, preload_libraries

    preload_libraries()
    start = time.perf_counter()
    parts = collect_parts()
    data = pickle.dumps((parts, time.perf_counter() - start), protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def start() -> FirstRead | None:
    """Fork the child that reads the host; None where that is not possible.

    Call it while the process has a single thread (before the UI starts).
    """
    if not hasattr(os, "fork"):
        return None
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None
    if pid == 0:  # the child: never returns
        status = 1
        try:
            os.close(read_fd)
            _child(write_fd)
            status = 0
        except BaseException:  # the parent reads by itself then
            pass
        finally:
            os._exit(status)
    os.close(write_fd)
    return FirstRead(pid, read_fd)
