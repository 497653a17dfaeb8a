"""Which reads the command line asks for, in the order given: ``--local`` keeps its
place among the ``--host`` values, and alone it means this host, not DOCKER_HOST's."""

from __future__ import annotations

import pytest

from netexplorer.cli import _parser, _plan, _several, _targets
from netexplorer.remote.target import parse_target


@pytest.mark.parametrize(
    ("argv", "plan"),
    [
        (["map", "-H", "ssh://a", "--local", "-H", "ssh://b"], ["a", None, "b"]),
        (["path", "x", "y", "--local", "-H", "ssh://b"], [None, "b"]),
        (["--local", "-H", "ssh://b"], [None, "b"]),
        (["map", "-H", "ssh://a"], ["a"]),
        (["map", "--local"], [None]),
    ],
)
def test_local_keeps_its_place_among_the_hosts(
    argv: list[str], plan: list[str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "ssh://elsewhere")
    args = _parser().parse_args(argv)
    got = _plan(args, _targets(args))
    assert got == [parse_target(h) if h is not None else None for h in plan]
    assert _several(args, _targets(args)) == (len(plan) > 1)


def test_snapshot_repeats_on_map_and_path_only() -> None:
    args = _parser().parse_args(["map", "--snapshot", "a.json", "--snapshot", "b.json"])
    assert args.snapshot == ["a.json", "b.json"] and _several(args, [])
    args = _parser().parse_args(["doctor", "--snapshot", "a.json", "--snapshot", "b.json"])
    assert args.snapshot == "b.json"
