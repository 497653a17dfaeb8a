"""Merge bursts of events into one trigger: collect once things settle.

A container start produces a dozen events within a few hundred milliseconds
(Docker's create and network connect, the kernel's new veth, its addresses, its
bridge port, then Docker's start). :class:`Debouncer` fires once no event came for
a pause that depends on the kind of the last event (:func:`pause_after`):

* after an event that completes a change (a container started or destroyed:
  Docker sends it once the namespace, the veth and the bridge port are in place,
  or gone) only ``settled``, and after the kernel notifications that trail it
  (addresses, links gone) ``settled`` again;
* after a container is created, until it starts or is destroyed, at least
  ``hold``: its network connect and its start follow, and a read in between would
  show it half made (created, no address);
* after any other event, ``quiet``;

and never later than ``max_wait`` after the first event of a burst, so a steady
trickle (or a container created and never started) cannot postpone collection
forever. Time is passed in, so it is tested without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netexplorer.live.events import CONTAINER, DOCKER, Event

#: fire this long after the last event of a burst ...
QUIET = 0.15
#: ... this long after one that completes a change ...
SETTLED = 0.03
#: ... at least this long after a container was created (until it starts) ...
HOLD = 0.45
#: ... but no later than this after its first
MAX_WAIT = 0.6

#: Docker's (object, action) of events that complete a change and of those that
#: begin one (:attr:`Event.kind`)
COMPLETES = frozenset({(CONTAINER, "start"), (CONTAINER, "destroy")})
BEGINS = frozenset({(CONTAINER, "create")})


def pause_after(event: Event) -> str:
    """``"settled"``, ``"hold"`` or ``"quiet"``: how long a burst waits after this
    event, by its kind (its text plays no part)."""
    kind = event.kind
    if kind is None or kind.source != DOCKER:
        return "quiet"
    if (kind.object, kind.action) in COMPLETES:
        return "settled"
    if (kind.object, kind.action) in BEGINS:
        return "hold"
    return "quiet"


@dataclass
class Debouncer:
    quiet: float = QUIET
    max_wait: float = MAX_WAIT
    settled: float = SETTLED
    hold: float = HOLD
    _first: float | None = None
    _due: float | None = None
    #: a container was created and has not started: no firing before this
    _held: float | None = None
    #: the burst saw a change complete: what follows it trails it
    _completed: bool = False
    _events: list[Event] = field(default_factory=list)

    def add(self, event: Event, now: float) -> None:
        """Note an event at time ``now``."""
        if self._first is None:
            self._first = now
        pause = pause_after(event)
        if pause == "settled":
            self._held, self._completed = None, True
            self._due = now + self.settled
        elif pause == "hold":
            self._held, self._completed = now + self.hold, False
            self._due = self._held
        else:
            wait = self.settled if self._completed else self.quiet
            self._due = max(now + wait, self._held or 0.0)
        if event not in self._events:
            self._events.append(event)

    @property
    def pending(self) -> bool:
        return self._first is not None

    def deadline(self) -> float | None:
        """When the pending events are due, None if there are none."""
        if self._first is None or self._due is None:
            return None
        return min(self._due, self._first + self.max_wait)

    def take(self, now: float) -> list[Event] | None:
        """The events of the burst, once each in order, if it is due at ``now`` (and
        forget them), else None."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return None
        events, self._events = self._events, []
        self._first = self._due = self._held = None
        self._completed = False
        return events
