"""What an event is: its kind, and beside it the text shown for it.

The watchers make an :class:`Event` where they decode one
(``docker_events.describe_event``, ``netlink_events.describe_messages``). What an
event means to the live view is read from :attr:`Event.kind` only: which sources
the feed reads again and which containers it names (``live.feed``), how long a
burst waits after it (``live.debounce``). :attr:`Event.text` is for display (the
feed's reasons): it holds names from the host, shown literally, and its wording
changes nothing.

A notice that is not an event (``r``, the Docker watcher (re)connecting or losing
the daemon, a remote client's refresh) has no kind: it asks for everything to be
read again, reusing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

#: Docker's objects and actions (``docker_events.EVENT_FILTERS``), the kernel's
#: objects (a link, an address, or the notifications overflowing) and actions
DOCKER: Final = "docker"
NETLINK: Final = "netlink"
CONTAINER: Final = "container"
NETWORK: Final = "network"
LINK: Final = "link"
ADDRESS: Final = "addr"
OVERFLOW: Final = "overflow"

Origin = Literal["docker", "netlink"]


@dataclass(frozen=True, slots=True)
class EventKind:
    """Where an event came from, what it is about, and what happened to it."""

    source: Origin
    #: ``container``, ``network`` (Docker); ``link``, ``addr``, ``overflow`` (netlink)
    object: str
    #: Docker's action (``create``, ``start``, ``die``, ``destroy``, ``connect``,
    #: ``disconnect``); netlink's ``new`` or ``del``
    action: str
    #: the object's id: a container's or network's full id, an interface index
    id: str = ""
    #: a network connect or disconnect: the full id of the container it concerns
    container: str = ""

    @property
    def container_id(self) -> str:
        """The full id of the container this event concerns, "" when none."""
        if self.source == DOCKER and self.object == CONTAINER:
            return self.id
        return self.container


@dataclass(frozen=True, slots=True)
class Event:
    """One event (or notice) as the live view takes it."""

    #: for display only: literal host text
    text: str
    #: None: a notice, not an event (everything is read again)
    kind: EventKind | None = None
