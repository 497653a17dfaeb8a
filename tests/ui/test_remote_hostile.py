"""A hostile remote host, through the real ssh transport's pipes (tests/ui/hostile_agent.py
stands in for ssh): escape sequences and markup in what it sends are shown literally,
and a stream that is not the protocol is a sentence on the banner, never a crash."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from netexplorer.remote.target import Target
from netexplorer.ui.app import create_app
from netexplorer.ui.banner import Banner

from .helpers import WIDE, pane

AGENT = Path(__file__).resolve().parent / "hostile_agent.py"
SHOWN = "\\x1b]0;pwned\\x07[red]evil\\x1b[2J"


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETEXPLORER_SSH", shlex.join([sys.executable, str(AGENT)]))


async def until(pilot, check, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    import time

    end = time.monotonic() + timeout
    while not check() and time.monotonic() < end:
        await pilot.pause(0.05)
    return check()


async def test_hostile_names_from_a_remote_render_literally(hostile: None) -> None:
    app = create_app(hosts=[Target("evil.example")])
    async with app.run_test(size=WIDE) as pilot:
        assert await until(pilot, lambda: app.snapshot is not None and app.snapshot.containers)
        await pilot.pause()
        containers = pane(app, "containers")
        names = [containers.table.cells(k)[0].plain for k in containers.table.keys]
        assert names and all(n.startswith("\\x1b]0;pwned\\x07[red]ev") for n in names)
        screen = app.export_screenshot()
        assert "\x1b" not in screen and "\x07" not in screen
        assert "\\x1b]0;pwned" in screen
        await pilot.press("w")  # the warnings page: the hostile warning, literally
        await pilot.pause()
        assert "\x1b" not in app.export_screenshot()


@pytest.mark.parametrize(
    ("mode", "words"),
    [("garbage", "text instead of netexplorer's protocol"), ("huge", "exceeds the")],
)
async def test_a_stream_that_is_not_the_protocol_is_a_sentence(
    hostile: None, monkeypatch: pytest.MonkeyPatch, mode: str, words: str
) -> None:
    monkeypatch.setenv("HOSTILE", mode)
    app = create_app(hosts=[Target("evil.example")])
    async with app.run_test(size=WIDE) as pilot:
        banner = app.query_one(Banner)
        assert await until(pilot, lambda: words in str(banner.render()))
        text = str(banner.render())
        assert "evil.example: the agent's answer is not netexplorer's protocol" in text
        assert "\x1b" not in app.export_screenshot()
        assert app.is_running
