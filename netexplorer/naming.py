"""Things as an operator says them, from the read.

``container:test1`` rather than the owner's 64-hex id; ``host network namespace``,
``no network``, ``shares test1's network namespace``; the ``docker run`` flags
(and ``docker network connect`` commands) that give a container the networking it
has, so they can be read straight back; the one string that ``y`` copies for an
item. Returned strings are host text as read: callers make them literal for
their output (``literal.escape_controls``, ``ui.safe_text``).
"""

from __future__ import annotations

from collections.abc import Iterable

from netexplorer.model import (
    Bridge,
    BridgePort,
    Container,
    Endpoint,
    Interface,
    Network,
    PublishedPort,
    Rule,
)

#: Docker's name for its default bridge network; ``--ip`` is refused on it
DEFAULT_BRIDGE = "bridge"
#: host addresses a ``-p`` without an address publishes on
_ANY_HOST = ("", "0.0.0.0", "::")


def owner_of(ct: Container, containers: Iterable[Container]) -> Container | None:
    """The container whose network namespace ``ct`` shares (``--network container:X``)."""
    if not ct.netns_owner:
        return None
    return next((c for c in containers if c.id == ct.netns_owner), None)


def network_mode_name(ct: Container, containers: Iterable[Container]) -> str:
    """``container:test1`` for a shared namespace (the id's first 12 hex digits when the
    owner is gone); otherwise Docker's network mode as given (bridge, host, nxlab...)."""
    if not ct.netns_owner:
        return ct.network_mode
    owner = owner_of(ct, containers)
    return f"container:{owner.name if owner else ct.netns_owner[:12]}"


def netns_words(ct: Container, containers: Iterable[Container]) -> str | None:
    """What a container without endpoints of its own is attached to, in words."""
    if ct.netns_owner:
        owner = owner_of(ct, containers)
        if owner is None:
            return f"shares the network namespace of {ct.netns_owner[:12]}, which is gone"
        return f"shares {owner.name}'s network namespace"
    if ct.network_mode == "host":
        return "host network namespace"
    if ct.network_mode == "none":
        return "no network"
    if not ct.endpoints:
        return f"network mode {ct.network_mode}, no endpoint"
    return None


def publish_flag(port: PublishedPort) -> str:
    """``-p 8080:80``, ``-p 127.0.0.1:8080:80``, ``-p 53:53/udp``."""
    host = "" if port.host_ip in _ANY_HOST else port.host_ip
    if ":" in host:
        host = f"[{host}]"
    proto = "" if port.protocol == "tcp" else f"/{port.protocol}"
    where = f"{host}:{port.host_port}" if host else str(port.host_port)
    return f"-p {where}:{port.container_port}{proto}"


def _address_flags(ep: Endpoint) -> list[str]:
    """``--ip``/``--ip6`` for a user-defined network (Docker refuses them on the
    default bridge, where an address is never chosen by the user)."""
    if ep.network == DEFAULT_BRIDGE:
        return []
    flags = [f"--ip {ep.ipv4}"] if ep.ipv4 else []
    return flags + ([f"--ip6 {ep.ipv6}"] if ep.ipv6 else [])


def _first_endpoint(ct: Container) -> Endpoint | None:
    """The network ``docker run`` attached (its network mode); the others were connected."""
    named = next((ep for ep in ct.endpoints if ep.network == ct.network_mode), None)
    if named is not None:
        return named
    default = next((ep for ep in ct.endpoints if ep.network == DEFAULT_BRIDGE), None)
    if ct.network_mode == "default" and default is not None:
        return default
    return ct.endpoints[0] if ct.endpoints else None


def run_flags(ct: Container, containers: Iterable[Container]) -> list[str]:
    """The ``docker run`` flags that make ``ct``'s networking: network, address, ports."""
    flags: list[str] = []
    first = _first_endpoint(ct)
    if ct.netns_owner or ct.network_mode in ("host", "none"):
        flags.append(f"--network {network_mode_name(ct, containers)}")
    elif first is not None:
        if first.network != DEFAULT_BRIDGE or ct.network_mode == DEFAULT_BRIDGE:
            flags.append(f"--network {first.network}")
        flags += _address_flags(first)
    elif ct.network_mode not in ("default", DEFAULT_BRIDGE):
        flags.append(f"--network {ct.network_mode}")
    ports = dict.fromkeys(publish_flag(p) for p in ct.published_ports)
    return flags + list(ports)


def connect_commands(ct: Container) -> list[str]:
    """``docker network connect [--ip X] NET NAME`` for each network beyond the first."""
    first = _first_endpoint(ct)
    return [
        " ".join(["docker network connect", *_address_flags(ep), ep.network, ct.name])
        for ep in ct.endpoints
        if ep is not first
    ]


def copy_text(item: object) -> str | None:
    """What ``y`` copies: a container's id, an endpoint's address, an interface's or
    port's name, a rule's full text, a network's id; None for anything else."""
    if isinstance(item, Container):
        return item.id
    if isinstance(item, Endpoint):
        return item.ipv4 or item.ipv6
    if isinstance(item, Interface | BridgePort | Bridge):
        return item.name
    if isinstance(item, Rule):
        return item.text
    if isinstance(item, Network):
        return item.id
    return None
