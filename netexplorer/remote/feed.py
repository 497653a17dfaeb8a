"""A remote host as a stream of Snapshots, like :class:`netexplorer.live.feed.LiveFeed`.

:meth:`RemoteFeed.run` starts ``netexplorer agent`` over ssh, checks its hello
(protocol and schema), and emits each read it sends. When the session cannot start
or drops, it emits the last read with every source marked stale behind a failed
``ssh`` source whose error names the cause and when it reconnects, then reconnects
with backoff (1, 2, 4 … 30 s; reset once a session has delivered a read).
:func:`read_once` is the one-shot form for ``snapshot`` and ``doctor``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from netexplorer import __version__
from netexplorer.literal import escape_controls
from netexplorer.model import SCHEMA_VERSION, Snapshot, Source
from netexplorer.remote.protocol import (
    PROTOCOL,
    AgentError,
    FrameDecoder,
    Hello,
    Message,
    ProtocolError,
    Read,
    Refresh,
    decode_payload,
    encode,
    schema_fields,
)
from netexplorer.remote.ssh import INSTALL, SshProcess, explain, ssh_command
from netexplorer.remote.target import Target

#: the name of the source that stands for the ssh session in ``Snapshot.sources``
SSH_SOURCE = "ssh"
BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)

CONNECTING, CONNECTED, STALE, FAILED = "connecting", "connected", "stale", "failed"

Emit = Callable[[Snapshot, list[str]], None]
OnState = Callable[[str, str], None]


class RemoteError(Exception):
    """A remote host could not be read; the message names the cause and the fix."""


@dataclass(slots=True)
class SessionEnd:
    reason: str
    #: the session delivered at least one read
    delivered: bool


def check_hello(target: Target, hello: Hello) -> None:
    """RemoteError naming what differs, which side is older and the command that makes
    both the same, unless the agent speaks this protocol and writes snapshots of this
    shape."""
    theirs = escape_controls(hello.version)
    newer: bool | None
    if hello.protocol != PROTOCOL:
        newer = hello.protocol > PROTOCOL
        detail = f"it speaks protocol {hello.protocol}, this one {PROTOCOL}"
    elif hello.schema != SCHEMA_VERSION:
        newer = hello.schema > SCHEMA_VERSION
        detail = f"it writes snapshot schema {hello.schema}, this one reads {SCHEMA_VERSION}"
    elif hello.fields is None:
        newer, detail = False, "its snapshots lack fields this one reads (it does not list them)"
    else:
        local = set(schema_fields())
        lacks, extra = sorted(local - set(hello.fields)), sorted(set(hello.fields) - local)
        if not lacks and not extra:
            return
        names = lacks or extra
        shown = ", ".join(escape_controls(f) for f in names[:4])
        shown += f" and {len(names) - 4} more" if len(names) > 4 else ""
        newer = None if lacks and extra else not lacks
        detail = (
            f"its snapshots lack {shown}"
            if lacks
            else f"its snapshots have fields this one does not read: {shown}"
        )
    host = target.label
    if newer:
        which = "newer than"
        fix = f"here, '{INSTALL}=={theirs}' (from a checkout: the commit on {host})"
    else:
        which = "older than" if newer is False else "another build than"
        fix = f"on {host}, '{INSTALL}=={__version__}' (from a checkout: this commit)"
    raise RemoteError(
        f"{host}: incompatible version: its netexplorer {theirs} is {which} this one "
        f"({__version__}): {detail}. Install the same version on both: {fix}."
    )


class Session:
    """One ssh session to the agent: hello, then reads until it ends."""

    def __init__(self, target: Target, command: list[str], sudo: bool) -> None:
        self.target = target
        self.sudo = sudo
        self.proc = SshProcess(command)
        self.decoder = FrameDecoder()
        self.hello: Hello | None = None

    def messages(self) -> list[Message]:
        """The next messages; [] at the end of the session. Raises RemoteError.

        Each frame is decoded only after the one before it was checked: a snapshot of
        an incompatible agent is never decoded, its hello says why.
        """
        while True:
            chunk = self.proc.read()
            if not chunk:
                return []
            out: list[Message] = []
            try:
                for payload in self.decoder.payloads(chunk):
                    message = self.decoder.decode(payload)
                    if isinstance(message, Hello):
                        check_hello(self.target, message)
                        self.hello = message
                    elif self.hello is None:
                        raise RemoteError(
                            f"{self.target.label}: the agent did not say hello first."
                        )
                    elif isinstance(message, AgentError):
                        raise RemoteError(f"{self.target.label}: {message.message}")
                    out.append(message)
            except ProtocolError as exc:
                raise RemoteError(
                    f"{self.target.label}: the agent's answer is not netexplorer's protocol "
                    f"({exc}). Check that 'netexplorer' on it is netexplorer ('{INSTALL}')."
                ) from exc
            if out:
                return out

    def end_reason(self) -> str:
        code = self.proc.close()
        if self.hello is None:
            return explain(self.target, code, self.proc.stderr(), self.sudo)
        err = " ".join(self.proc.stderr().strip().splitlines()[-1:])
        cause = f" ({err})" if err else ""
        return f"{self.target.label}: the connection was lost{cause}"


def read_once(target: Target, sudo: bool = False, env: Mapping[str, str] | None = None) -> Snapshot:
    """One read of ``target`` (``netexplorer agent --once``). Raises RemoteError."""
    session = Session(target, ssh_command(target, sudo, once=True, env=env), sudo)
    try:
        while messages := session.messages():
            for message in messages:
                if isinstance(message, Read):
                    return message.snapshot
    finally:
        reason = session.end_reason()
    raise RemoteError(reason)


def stale_copy(snapshot: Snapshot, error: str, read_at: float) -> Snapshot:
    """``snapshot`` kept on screen after its host went away: every source stale."""
    sources = [replace(s, stale=True) for s in snapshot.sources if s.name != SSH_SOURCE]
    ssh = Source(SSH_SOURCE, False, error, 0.0, read_at=read_at, stale=True)
    return replace(snapshot, sources=[ssh, *sources])


def failed_snapshot(target: Target, error: str) -> Snapshot:
    """What a host that never answered shows: nothing, and why."""
    return Snapshot(host=target.label, sources=[Source(SSH_SOURCE, False, error)])


class RemoteFeed:
    """See the module docstring. :meth:`notify` and :meth:`stop` from any thread."""

    def __init__(
        self,
        target: Target,
        interval: float = 2.0,
        sudo: bool = False,
        env: Mapping[str, str] | None = None,
        backoff: tuple[float, ...] = BACKOFF,
        on_state: OnState | None = None,
    ) -> None:
        self.target = target
        self.interval = interval
        self.sudo = sudo
        self.env = env
        self.backoff = backoff
        self.on_state = on_state or (lambda state, detail: None)
        self._stopped = threading.Event()
        self._session: Session | None = None
        self._lock = threading.Lock()
        #: the last read's frame payload and when it arrived (re-decoded when stale,
        #: so the stale copy shares nothing with what the app holds)
        self._last: tuple[bytes, float] | None = None

    def notify(self, reason: str) -> None:
        with self._lock:
            session = self._session
        if session is not None:
            session.proc.write(encode(Refresh(reason[:256])))

    def shown(self) -> None:
        """The app put a read on screen (the local feed waits for that; this one does not:
        its agent runs on another host)."""

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            session = self._session
        if session is not None:
            session.proc.close(wait=0.5)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def run(self, emit: Emit, should_stop: Callable[[], bool] = lambda: False) -> None:
        attempt = 0
        while not (self.stopped or should_stop()):
            self.on_state(CONNECTING, f"connecting to {self.target.label}")
            end = self._session_once(emit)
            if self.stopped or should_stop():
                break
            attempt = 0 if end.delivered else attempt + 1
            wait = self.backoff[min(attempt, len(self.backoff) - 1)]
            error = f"{end.reason}; reconnecting in {wait:g} s"
            if self._last is not None:
                payload, read_at = self._last
                last = decode_payload(payload)
                assert isinstance(last, Read)
                snapshot = last.snapshot
                self.on_state(STALE, error)
                emit(stale_copy(snapshot, error, read_at), ["connection lost"])
            else:
                self.on_state(FAILED, error)
                emit(failed_snapshot(self.target, error), ["connection failed"])
            self._stopped.wait(wait)

    def _session_once(self, emit: Emit) -> SessionEnd:
        command = ssh_command(self.target, self.sudo, self.interval, env=self.env)
        try:
            session = Session(self.target, command, self.sudo)
        except OSError as exc:
            return SessionEnd(f"{self.target.label}: ssh cannot be started: {exc}", False)
        with self._lock:
            self._session = session
        delivered = False
        try:
            while not self.stopped and (messages := session.messages()):
                for message in messages:
                    if isinstance(message, Read):
                        if not delivered:
                            self.on_state(CONNECTED, f"connected to {self.target.label}")
                        delivered = True
                        payload = session.decoder.last_read_payload
                        assert payload is not None
                        self._last = (payload, time.time())
                        emit(message.snapshot, list(message.reasons))
        except RemoteError as exc:
            session.proc.close(wait=1.0)
            return SessionEnd(str(exc), delivered)
        finally:
            with self._lock:
                self._session = None
        return SessionEnd(session.end_reason(), delivered)
