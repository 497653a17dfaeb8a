"""The first read made by a forked child: handed over through a pipe, or None."""

from __future__ import annotations

import os
import time

import pytest

from netexplorer.collect import first_read
from netexplorer.collect.snapshot import Part
from netexplorer.model import Source


def test_the_childs_parts_come_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def child(fd: int) -> None:
        import pickle

        parts = {"sysctl": Part(Source("sysctl", True, None, 0.01), None)}
        os.write(fd, pickle.dumps((parts, 0.5)))

    monkeypatch.setattr(first_read, "_child", child)
    started = first_read.start()
    assert started is not None
    got = started.take()
    assert got is not None
    parts, seconds = got
    assert parts["sysctl"].source.name == "sysctl" and seconds == 0.5
    assert started.take() is None  # once


def test_a_failing_child_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def child(fd: int) -> None:
        raise RuntimeError("docker exploded")

    monkeypatch.setattr(first_read, "_child", child)
    started = first_read.start()
    assert started is not None and started.take() is None


def test_a_late_child_is_given_up_and_reaped(monkeypatch: pytest.MonkeyPatch) -> None:
    def child(fd: int) -> None:
        time.sleep(30)

    monkeypatch.setattr(first_read, "_child", child)
    monkeypatch.setattr(first_read, "TIMEOUT", 0.2)
    started = first_read.start()
    assert started is not None
    t0 = time.monotonic()
    assert started.take() is None
    assert time.monotonic() - t0 < 5
