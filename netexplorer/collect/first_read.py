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

import time
from typing import TYPE_CHECKING

from netexplorer.collect.forked import Forked, fork_call, write_result

if TYPE_CHECKING:
    from netexplorer.collect.snapshot import Part

#: how long the parent waits for the child's read (the Docker SDK's own timeout is 10 s)
TIMEOUT = 15.0


class FirstRead:
    """A running child's read; :meth:`take` collects it (once)."""

    def __init__(self, forked: Forked) -> None:
        self._forked = forked

    def take(self) -> tuple[dict[str, Part], float] | None:
        """(parts by source name, seconds the read took), or None if the child failed
        or did not answer within TIMEOUT. The child is reaped either way."""
        result = self._forked.take()
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
    write_result(fd, (parts, time.perf_counter() - start))


def start() -> FirstRead | None:
    """Fork the child that reads the host; None where that is not possible.

    Call it while the process has a single thread (before the UI starts).
    """
    forked = fork_call(lambda fd: _child(fd), TIMEOUT)
    return FirstRead(forked) if forked is not None else None
