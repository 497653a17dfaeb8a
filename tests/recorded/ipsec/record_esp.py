"""Record real ``ip xfrm state`` / ``ip xfrm policy`` text of an encrypted overlay's
IPsec, for tests/unit/test_ipsec.py.

This host's kernel has no ESP (CONFIG_INET_ESP unset), so run it where the kernel
has esp4, as root: ``scripts/kernel-vm run -- python3 tests/recorded/ipsec/record_esp.py``
(Debian 12's kernel). In a throwaway network namespace (``nx-esp-rec``, created here
and deleted again) it programs what Docker's overlay driver
(libnetwork drivers/overlay/encryption.go) programs on node 1 of a two-node
encrypted overlay for its primary key:

- two ESP states in transport mode, node1 -> node2 (forward) and node2 -> node1
  (reverse), reqid 0xd0c4e3 (the driver uses its mark as the reqid), AEAD
  ``rfc4106(gcm(aes))`` with a 64-bit ICV; the AEAD key is the swarm's 16-byte key
  followed by a 4-byte salt holding the state's SPI; each SPI is FNV-1a (32-bit) over
  the source address (16-byte IPv4-mapped form), the key's tag and the destination
  address;
- one policy, dir out, for UDP to port 4789 from node1/32 to node2/32 on mark
  0xd0c4e3/0xffffffff, template ESP transport node1 -> node2 with the forward SPI
  and that reqid.

The key is random, made here (os.urandom) and never written anywhere: the recorded
text has every key replaced by :data:`PLACEHOLDER` BEFORE it is written, and the
script checks that neither the key nor any salted key appears in what it writes or
prints. Output: ``esp.state.txt``, ``esp.policy.txt`` and ``esp.facts.json`` (what
was programmed, for the tests to compare against; no key).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
NS = "nx-esp-rec"
NODE1, NODE2 = "198.51.100.17", "198.51.100.18"  # tests/integration/swarm_truth.py's nodes
MARK = 0xD0C4E3
VXLAN_PORT = 4789
KEY_TAG = 3  # the swarm key's tag (a Lamport time in Docker); any value does
#: written in place of every key: same length as a 20-byte key, plainly not random
PLACEHOLDER = "0x" + "5a" * 20

_KEY_TOKEN = re.compile(r"^(\s*(?:aead|enc|auth|auth-trunc|comp)\s+\S+\s+)0x[0-9a-fA-F]+", re.M)


def fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def spi(src: str, dst: str, tag: int) -> int:
    mapped = [ipaddress.IPv6Address(f"::ffff:{a}").packed for a in (src, dst)]
    return fnv1a32(mapped[0] + tag.to_bytes(4, "big") + mapped[1])


def ip(*args: str) -> str:
    done = subprocess.run(
        ["ip", "-n", NS, *args], capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"ip {' '.join(args[:3])} ... failed: {done.stderr.strip()}")
    return done.stdout


def redact(text: str) -> str:
    return _KEY_TOKEN.sub(lambda m: m.group(1) + PLACEHOLDER, text)


def main() -> None:
    key = os.urandom(16)
    fwd, rev = spi(NODE1, NODE2, KEY_TAG), spi(NODE2, NODE1, KEY_TAG)
    secrets = [key.hex()] + [(key + s.to_bytes(4, "big")).hex() for s in (fwd, rev)]
    subprocess.run(["ip", "netns", "add", NS], check=True, timeout=30)
    try:
        for src, dst, s in ((NODE2, NODE1, rev), (NODE1, NODE2, fwd)):
            salted = "0x" + (key + s.to_bytes(4, "big")).hex()
            ip("xfrm", "state", "add", "src", src, "dst", dst, "proto", "esp",
               "spi", hex(s), "reqid", str(MARK), "mode", "transport",
               "aead", "rfc4106(gcm(aes))", salted, "64")  # fmt: skip
        ip("xfrm", "policy", "add", "src", f"{NODE1}/32", "dst", f"{NODE2}/32",
           "proto", "udp", "dport", str(VXLAN_PORT), "dir", "out",
           "mark", hex(MARK), "mask", "0xffffffff",
           "tmpl", "src", NODE1, "dst", NODE2, "proto", "esp", "spi", hex(fwd),
           "reqid", str(MARK), "mode", "transport")  # fmt: skip
        raw_state = ip("xfrm", "state")
        policy = ip("xfrm", "policy")
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False, timeout=30)
    state = redact(raw_state)
    del raw_state, key, salted
    if PLACEHOLDER not in state:
        raise SystemExit("no key line found to redact; nothing written")
    for text in (state, policy):
        low = text.lower()
        if any(s in low for s in secrets):
            raise SystemExit("key bytes survived redaction; nothing written")
    facts = {
        "node1": NODE1,
        "node2": NODE2,
        "spi_forward": fwd,
        "spi_reverse": rev,
        "reqid": MARK,
        "mark": MARK,
        "dport": VXLAN_PORT,
        "aead": "rfc4106(gcm(aes))",
        "icv_bits": 64,
        "key_placeholder": PLACEHOLDER,
        "kernel": os.uname().release,
    }
    (HERE / "esp.state.txt").write_text(state)
    (HERE / "esp.policy.txt").write_text(policy)
    (HERE / "esp.facts.json").write_text(json.dumps(facts, indent=1) + "\n")
    print(state + policy + json.dumps(facts))


if __name__ == "__main__":
    main()
