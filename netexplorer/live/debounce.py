"""Merge bursts of events into one trigger: collect once things settle.

A container start produces a dozen events within a few milliseconds (Docker's
create/connect/start, the kernel's new veth, its addresses, its bridge port).
:class:`Debouncer` fires once no event came for ``quiet`` seconds, and never later
than ``max_wait`` after the first event of a burst, so a steady trickle cannot
postpone collection forever. Time is passed in, so it is tested without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: fire this long after the last event of a burst ...
QUIET = 0.15
#: ... but no later than this after its first
MAX_WAIT = 0.6


@dataclass
class Debouncer:
    quiet: float = QUIET
    max_wait: float = MAX_WAIT
    _first: float | None = None
    _last: float | None = None
    _reasons: list[str] = field(default_factory=list)

    def add(self, reason: str, now: float) -> None:
        """Note an event at time ``now``."""
        if self._first is None:
            self._first = now
        self._last = now
        if reason not in self._reasons:
            self._reasons.append(reason)

    @property
    def pending(self) -> bool:
        return self._first is not None

    def deadline(self) -> float | None:
        """When the pending events are due, None if there are none."""
        if self._first is None or self._last is None:
            return None
        return min(self._last + self.quiet, self._first + self.max_wait)

    def take(self, now: float) -> list[str] | None:
        """The reasons of the burst if it is due at ``now`` (and forget them), else None."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return None
        reasons, self._reasons = self._reasons, []
        self._first = self._last = None
        return reasons
