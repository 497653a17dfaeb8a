"""A function run by a forked child, its result handed back pickled through a pipe.

Python threads share one interpreter lock, so reads that are mostly Python work
(decoding hundreds of namespaces' dumps) do not use a second core from a thread.
A child forked while the process has a single thread (no lock can be held by a
thread that does not exist in the child) runs on the other core; the parent
goes on with its own work and collects the result when it needs it. If the
child fails or is late, :meth:`Forked.take` gives None and the caller reads by
itself: nothing is lost but the head start.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Callable
from typing import Any


class Forked:
    """A running child's result; :meth:`take` collects it (once)."""

    def __init__(self, pid: int, fd: int, timeout: float) -> None:
        self._pid = pid
        self._fd: int | None = fd
        self._timeout = timeout

    def take(self) -> Any:
        """The child's result, or None if it failed or did not answer within the
        timeout. The child is reaped either way."""
        fd, self._fd = self._fd, None
        if fd is None:
            return None
        result: Any = None
        try:
            result = read_result(fd, self._timeout)
        except Exception:
            result = None
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
        finally:
            os.close(fd)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
        return result


def read_result(fd: int, timeout: float) -> Any:
    """What :func:`write_result` wrote to ``fd``, read to its end and unpickled (None
    if nothing was written). Raises TimeoutError if the end does not come within
    ``timeout`` seconds."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise TimeoutError
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    return pickle.loads(b"".join(chunks)) if chunks else None


def write_result(fd: int, result: Any) -> None:
    """In the child: ``result`` pickled to ``fd``."""
    view = memoryview(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    while view:
        view = view[os.write(fd, view) :]


def fork_call(child: Callable[[int], None], timeout: float) -> Forked | None:
    """Fork; the child runs ``child(fd)`` (which writes its result to ``fd`` with
    :func:`write_result`) and exits. None where forking is not possible or not safe:
    no ``fork``, or more than one thread running here."""
    if not hasattr(os, "fork") or threading.active_count() != 1:
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
            child(write_fd)
            status = 0
        except BaseException:  # the parent reads by itself then
            pass
        finally:
            os._exit(status)
    os.close(write_fd)
    return Forked(pid, read_fd, timeout)
