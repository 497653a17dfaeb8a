"""A hostile "remote": run in place of ssh (``NETEXPLORER_SSH``), it ignores its
arguments and answers as a compromised host might, through the real transport.

    HOSTILE=names     a hello and the recorded lab with escape sequences and markup
                      in the host name, container names and a reason; then waits
    HOSTILE=garbage   a hello, then bytes that are not a frame
    HOSTILE=huge      a hello, then a frame header announcing 4 GiB
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

from netexplorer.model import SCHEMA_VERSION
from netexplorer.remote.protocol import MAGIC, PROTOCOL, Hello, Read, encode
from netexplorer.snapshot_io import load_snapshot

LAB = Path(__file__).resolve().parents[1] / "recorded" / "lab" / "nft.snapshot.json"
EVIL = "\x1b]0;pwned\x07[red]evil\x1b[2J"


def main() -> None:
    out = sys.stdout.buffer
    mode = os.environ.get("HOSTILE", "names")
    out.write(encode(Hello("0.1.0", PROTOCOL, SCHEMA_VERSION, EVIL, True)))
    if mode == "names":
        snap = load_snapshot(LAB)
        snap.host = EVIL
        for ct in snap.containers:
            ct.name = EVIL + ct.name
        snap.warnings.append(EVIL)
        out.write(encode(Read(snap, (EVIL,))))
    elif mode == "garbage":
        out.write(b"\x1b[2J\x1b]0;pwned\x07 Last login: yesterday\n")
    else:
        out.write(struct.pack(">2sI", MAGIC, 0xFFFFFFFF))
    out.flush()
    sys.stdin.buffer.read()  # like a session: until the client hangs up


if __name__ == "__main__":
    main()
