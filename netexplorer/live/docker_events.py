"""Docker's event stream, watched in a thread: what changed, and whether Docker answers.

One long ``GET /events`` (the SDK's ``events(decode=True, filters=...)``) filtered to
what changes the wiring: containers created, started, dying, destroyed; networks
created, destroyed, connected, disconnected. Nothing is polled. When the stream
breaks (the daemon stopped or restarted) or cannot be opened, the watcher says so
once and tries again with a growing pause (``BACKOFF``), until :meth:`stop`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

from netexplorer.collect.docker_source import explain_docker_error
from netexplorer.live.events import DOCKER, NETWORK, Event, EventKind

EVENT_FILTERS: dict[str, list[str]] = {
    "type": ["container", "network"],
    "event": ["create", "start", "die", "destroy", "connect", "disconnect"],
}
#: first and longest pause between reconnection attempts (seconds)
BACKOFF = (0.25, 2.0)
CONNECT_TIMEOUT = 5


def describe_event(event: Mapping[str, Any]) -> Event:
    """A decoded Docker event as an :class:`Event`: its kind (``container start`` and
    the container's id) and its text, ``docker: container start test3``."""
    kind = str(event.get("Type") or "")
    action = str(event.get("Action") or event.get("status") or "")
    actor = event.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    oid = str(actor.get("ID") or event.get("id") or "")
    name = attrs.get("name") or oid[:12]
    container = str(attrs.get("container") or "") if kind == NETWORK else ""
    what = EventKind(DOCKER, kind, action, oid, container)
    if container:
        return Event(f"docker: network {action} {name} ({container[:12]})", what)
    return Event(f"docker: {kind} {action} {name}".rstrip(), what)


def _connect() -> Any:
    import docker

    client = docker.from_env(timeout=CONNECT_TIMEOUT)
    client.api.ping()
    return client.api


class DockerEvents:
    """Calls ``notify(event)`` per event and ``on_state(up, error)`` on each change.

    ``on_state(True, None)`` comes every time the stream is (re)opened: events may
    have been missed while it was not, so the owner should re-read Docker then.
    """

    def __init__(
        self,
        notify: Callable[[Event], None],
        on_state: Callable[[bool, str | None], None],
        connect: Callable[[], Any] = _connect,
        backoff: tuple[float, float] = BACKOFF,
    ) -> None:
        self._notify = notify
        self._on_state = on_state
        self._connect = connect
        self._backoff = backoff
        self._stop = threading.Event()
        self._stream: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="docker-events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            # wakes the blocked read; a stream already broken has nothing to wake
            with contextlib.suppress(Exception):
                stream.close()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = self._backoff[0]
        up: bool | None = None
        while not self._stop.is_set():
            try:
                api = self._connect()
                stream = api.events(decode=True, filters=EVENT_FILTERS)
                with self._lock:
                    self._stream = stream
                if self._stop.is_set():
                    break
                up, delay = True, self._backoff[0]
                self._on_state(True, None)
                for event in stream:
                    if self._stop.is_set():
                        return
                    self._notify(describe_event(event))
                if self._stop.is_set():
                    return
                raise ConnectionError("Connection aborted: the Docker event stream ended")
            except Exception as exc:
                if self._stop.is_set():
                    return
                if up is not False:
                    up = False
                    self._on_state(False, explain_docker_error(exc))
            finally:
                with self._lock:
                    self._stream = None
            self._stop.wait(delay)
            delay = min(delay * 2, self._backoff[1])
