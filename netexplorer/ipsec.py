"""IPsec of encrypted overlay networks (``docker network create -d overlay --opt
encrypted``), from what the host holds.

For an encrypted overlay Docker writes, in the host's network namespace and keyed on
the network's VNI with a ``u32`` match on the VXLAN header
(``0>>22&0x3C@12&0xFFFFFF00=<VNI << 8>``): a mangle OUTPUT rule marking that VNI's
VXLAN with :data:`DOCKER_ESP_MARK` (its xfrm policy encrypts what carries the mark),
and filter INPUT rules that accept that VNI's VXLAN arriving through IPsec and drop
it arriving in plaintext. Per peer node it programs xfrm states (ESP, one SPI each
way, AES-GCM) and an xfrm policy for the mark.

:func:`rule_vni` reads the VNI out of such a rule; :func:`parse_xfrm_states` and
:func:`parse_xfrm_policies` read ``ip xfrm state`` / ``ip xfrm policy`` output into
the model WITHOUT the key bytes: an algorithm line keeps its name, never its key.
"""

from __future__ import annotations

import re

from netexplorer.model import Network, OverlayPeer, Rule, Snapshot, XfrmPolicy, XfrmState

#: the firewall mark Docker's mangle rule sets on an encrypted overlay's VXLAN
DOCKER_ESP_MARK = 0xD0C4E3

#: Docker's ``--u32`` expression on the VXLAN header's VNI, as Docker writes it
#: (decimal) and as iptables-save prints it (hex, quoted)
_U32_EXPR = re.compile(
    r"^\"?0(?:x0)?>>(?:22|0x16)&0x3c@(?:12|0xc)&0xffffff00=(0x[0-9a-f]+|\d+)\"?$", re.IGNORECASE
)
#: a rule's ``--u32`` option and its value (the expression has no space)
_U32_OPTION = re.compile(r"--u32\s+(\S+)")


def rule_vni(rule: Rule) -> int | None:
    """The VXLAN id a rule's ``u32`` match picks out of the VXLAN header (Docker's
    rules for an encrypted overlay), or None for a rule without that match."""
    if "u32" not in rule.text:
        return None
    m = _U32_OPTION.search(rule.text)
    return u32_vni(m.group(1)) if m is not None else None


def u32_vni(expr: str) -> int | None:
    """The VNI of a ``--u32`` expression of Docker's VXLAN-header shape, else None."""
    m = _U32_EXPR.match(expr.strip())
    return int(m.group(1), 0) >> 8 if m is not None else None


def esp_with(snap: Snapshot, peer: str, inbound: bool) -> bool | None:
    """Does the host hold an ESP state from (``inbound``) or to ``peer``? None when
    its IPsec states were not read."""
    if not snap.xfrm_read:
        return None
    return any(s.proto == "esp" and (s.src if inbound else s.dst) == peer for s in snap.xfrm_states)


def peer_esp_states(net: Network, snap: Snapshot) -> list[tuple[OverlayPeer, list[XfrmState]]]:
    """Each other node of ``net`` with the host's ESP states to or from it."""
    here = snap.swarm.node_addr if snap.swarm is not None else None
    return [
        (
            peer,
            [s for s in snap.xfrm_states if s.proto == "esp" and peer.ip in (s.src, s.dst)],
        )
        for peer in net.peers
        if peer.ip != here
    ]


def arrives_by_ipsec(net: Network, snap: Snapshot, sender: str) -> bool | None:
    """Does ``net``'s VXLAN from ``sender`` reach this host (``snap``) through IPsec?
    A plain overlay's never does; an encrypted one's when an ESP state from the
    sender exists (None: not read)."""
    if not net.encrypted:
        return False
    return esp_with(snap, sender, inbound=True)


#: the lines of ``ip xfrm`` that hold key material: never kept past parsing
_KEY_LINES = ("enc", "auth", "auth-trunc", "aead", "comp")


def _int(text: str | None) -> int | None:
    """A number as ``ip xfrm`` prints it (decimal or 0x...); None for none or another word."""
    if not text:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def _mark(words: list[str]) -> tuple[int | None, int | None]:
    """``mark 0xd0c4e3/0xffffffff`` -> (mark, mask)."""
    value, _, mask = (_after(words, "mark") or "").partition("/")
    return _int(value), _int(mask)


def _blocks(text: str) -> list[list[str]]:
    """``ip xfrm`` output split into entries: each starts at an unindented line."""
    blocks: list[list[str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace() or not blocks:
            blocks.append([line.strip()])
        else:
            blocks[-1].append(line.strip())
    return blocks


def _after(words: list[str], name: str) -> str | None:
    if name in words:
        i = words.index(name)
        if i + 1 < len(words):
            return words[i + 1]
    return None


def parse_xfrm_states(text: str) -> list[XfrmState]:
    """``ip xfrm state`` output -> the states, algorithm names kept and key bytes
    dropped. Lines it does not know are skipped; it never raises on odd text."""
    out: list[XfrmState] = []
    for block in _blocks(text):
        head = block[0].split()
        if len(head) < 4 or head[0] != "src" or head[2] != "dst":
            continue
        state = XfrmState(src=head[1], dst=head[3])
        for line in block[1:]:
            words = line.split()
            if not words:
                continue
            key = words[0]
            if key == "proto":
                state.proto = _after(words, "proto") or ""
                state.spi = _int(_after(words, "spi"))
                state.reqid = _int(_after(words, "reqid"))
                state.mode = _after(words, "mode") or ""
            elif key in _KEY_LINES:
                # "aead rfc4106(gcm(aes)) 0x<key bytes> 64": the name only
                if len(words) > 1:
                    state.algorithms.append(f"{key} {words[1]}")
            elif key == "mark":
                state.mark, state.mark_mask = _mark(words)
        out.append(state)
    return out


def parse_xfrm_policies(text: str) -> list[XfrmPolicy]:
    """``ip xfrm policy`` output -> the policies (selector, direction, mark and the
    template's endpoints, protocol, SPI); it never raises on odd text."""
    out: list[XfrmPolicy] = []
    for block in _blocks(text):
        head = block[0].split()
        if len(head) < 4 or head[0] != "src" or head[2] != "dst":
            continue
        policy = XfrmPolicy(src=head[1], dst=head[3])
        policy.selector_proto = _after(head, "proto")
        policy.selector_dport = _int(_after(head, "dport"))
        for line in block[1:]:
            words = line.split()
            if not words:
                continue
            if words[0] == "dir":
                policy.dir = _after(words, "dir") or ""
            elif words[0] == "mark":
                policy.mark, policy.mark_mask = _mark(words)
            elif words[0] == "tmpl":
                policy.tmpl_src = _after(words, "src")
                policy.tmpl_dst = _after(words, "dst")
            elif words[0] == "proto":
                policy.tmpl_proto = _after(words, "proto")
                policy.tmpl_spi = _int(_after(words, "spi"))
                policy.tmpl_mode = _after(words, "mode")
        out.append(policy)
    return out
