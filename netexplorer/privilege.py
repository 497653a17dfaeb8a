"""Root, and how to become it: the one line a user's run says.

After ``pipx install`` or in a venv, ``sudo netexplorer`` is not found (sudo's
secure_path has no ~/.local/bin or venv bin), so the command given names this
very program by its full path.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys

#: how the one-line not-root warning starts (the banner shows it alone, first)
NOT_ROOT_LEAD = "not root:"


def run_as_root_command(argv: list[str] | None = None) -> str:
    """``sudo /home/me/.local/bin/netexplorer snapshot``: this very program by its full
    path, because sudo's secure_path does not hold ~/.local/bin or a venv's bin."""
    args = list(sys.argv if argv is None else argv)
    found = shutil.which(args[0]) if args and args[0] else None
    if found and os.path.basename(found) == "netexplorer":
        program = [os.path.abspath(found)]
    else:  # python -m netexplorer
        program = [sys.executable, "-m", "netexplorer"]
    return " ".join(shlex.quote(a) for a in ["sudo", *program, *args[1:]])


def not_root_warning(argv: list[str] | None = None) -> str:
    """One line: what a user cannot read, what is shown, and the command that reads it."""
    return (
        f"{NOT_ROOT_LEAD} firewall rules and container namespaces need root (Docker too, "
        "outside its group). Run: " + run_as_root_command(argv)
    )
