"""Faults of the collectors, in words an operator can act on."""

from __future__ import annotations


class SourceError(Exception):
    """A collector could not read its source.

    ``str(err)`` is a complete sentence naming the cause and the fix; the
    snapshot shows it in ``sources[].error`` and the UI in a banner.
    """
