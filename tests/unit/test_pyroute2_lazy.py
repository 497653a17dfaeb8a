"""pyroute2 registered without its package __init__, which runs on first use."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import sys
from netexplorer.collect import pyroute2_lazy
pyroute2_lazy.install()
from pyroute2.iproute.linux import AsyncIPRoute
from pyroute2.netlink.nfnetlink.nfctsocket import NFCTSocket
assert "pyroute2.ndb.main" not in sys.modules, "the package __init__ ran"
from pyroute2 import IPRoute, NDB
import pyroute2
assert pyroute2.IPRoute is IPRoute and "pyroute2.ndb.main" in sys.modules
assert pyroute2.__version__
print("ok")
"""


def test_submodules_without_the_init_then_the_whole_package_on_demand() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr
