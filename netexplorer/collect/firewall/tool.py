"""Running a firewall listing tool (iptables-nft-save, nft) once, with faults in words."""

from __future__ import annotations

import os
import subprocess

from netexplorer.collect.errors import SourceError

TIMEOUT = 30.0


def run_listing(binary: str, *args: str, rules: str) -> str:
    """stdout of ``binary args`` in the C locale; ``rules`` names what it lists in
    messages ("firewall", "nftables"). Raises SourceError naming cause and fix."""
    command = " ".join((os.path.basename(binary), *args))
    try:
        done = subprocess.run(
            [binary, *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        raise SourceError(
            f"{command} did not finish within {TIMEOUT:.0f} s; the nftables ruleset may be "
            "huge or the kernel busy. Try again."
        ) from err
    except OSError as err:
        raise SourceError(f"Cannot run {binary}: {err.strerror}.") from err
    if done.returncode != 0:
        message = done.stderr.strip() or f"exit status {done.returncode}"
        if "ermission denied" in message or "not permitted" in message:
            raise SourceError(
                f"{command} was refused access to the firewall ({message}); reading "
                f"{rules} rules needs root (CAP_NET_ADMIN): run netexplorer with sudo."
            )
        raise SourceError(f"{command} failed: {message}")
    return done.stdout
