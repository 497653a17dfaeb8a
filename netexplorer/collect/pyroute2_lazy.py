"""pyroute2's submodules without its package ``__init__`` until something asks for it.

``import pyroute2`` (and so any ``import pyroute2.<sub>``) first runs the package
``__init__``, which imports every API pyroute2 has (NDB, IPDB, IW, IPVS, ethtool,
plan9, ...): ~40 ms of each start, while netexplorer needs rtnetlink and
ctnetlink only. :func:`install` registers the package (its ``__path__``, so that
submodules import as usual) without running the ``__init__``; the first attribute
asked of the package itself (``from pyroute2 import IPRoute``, from any code) runs
the ``__init__`` then (a module ``__getattr__``, PEP 562), so such code keeps
working unchanged; a submodule asked for that way is simply imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from typing import Any

_LOCK = threading.Lock()


def install() -> None:
    """Register pyroute2 without running its ``__init__`` (no-op if already imported,
    or if pyroute2 is missing: its users then say so in words)."""
    with _LOCK:
        if "pyroute2" in sys.modules:
            return
        spec = importlib.util.find_spec("pyroute2")
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return
        module = importlib.util.module_from_spec(spec)
        loader = spec.loader

        def __getattr__(name: str) -> Any:
            if name.startswith("__"):
                raise AttributeError(name)
            if importlib.util.find_spec(f"pyroute2.{name}") is not None:
                # a submodule (``from pyroute2 import config`` inside pyroute2)
                return importlib.import_module(f"pyroute2.{name}")
            with _LOCK:
                if module.__dict__.get("__getattr__") is __getattr__:
                    del module.__dict__["__getattr__"]
                    loader.exec_module(module)
            return object.__getattribute__(module, name)

        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        sys.modules["pyroute2"] = module
