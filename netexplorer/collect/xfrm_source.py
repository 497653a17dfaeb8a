"""The host's IPsec states and policies (``ip xfrm state`` / ``ip xfrm policy``),
read only while an encrypted overlay network exists (no process otherwise).

The key bytes ``ip xfrm state`` prints are dropped by the parser
(netexplorer.ipsec): nothing here keeps, stores or prints them.
"""

from __future__ import annotations

from netexplorer.collect.errors import SourceError
from netexplorer.collect.firewall.tool import run_listing
from netexplorer.ipsec import parse_xfrm_policies, parse_xfrm_states
from netexplorer.model import Snapshot


def wants_xfrm(snap: Snapshot) -> bool:
    """Is there an encrypted overlay network whose IPsec the host would hold?"""
    return any(net.encrypted for net in snap.networks)


def read_xfrm(snap: Snapshot) -> None:
    """Fill ``snap.xfrm_states``/``xfrm_policies`` (``xfrm_read``) when
    :func:`wants_xfrm`; a failed read becomes a warning naming cause and fix."""
    if not wants_xfrm(snap):
        return
    try:
        states = parse_xfrm_states(run_listing("ip", "xfrm", "state", rules="IPsec"))
        policies = parse_xfrm_policies(run_listing("ip", "xfrm", "policy", rules="IPsec"))
    except SourceError as err:
        snap.warnings.append(f"IPsec states of the encrypted overlays not read: {err}")
        return
    snap.xfrm_states, snap.xfrm_policies, snap.xfrm_read = states, policies, True
