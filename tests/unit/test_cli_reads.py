"""Which reads the command line asks for, in the order given: ``--local`` keeps its
place among the ``--host`` values, and alone it means this host, not DOCKER_HOST's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netexplorer.cli import _parser, _plan, _several, _targets, main
from netexplorer.remote.target import parse_target

RECORDED = Path(__file__).resolve().parents[1] / "recorded"


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


def test_task_is_followed_with_several_reads_too(capsys: pytest.CaptureFixture[str]) -> None:
    """``--task`` with two reads (the recorded one-node mesh, then another node): the
    path through the routing mesh follows each task asked, its last hop the task's
    ingress address (docker inspect), as the read alone gives."""
    mesh = RECORDED / "ingress" / "snapshot.json"
    other = RECORDED / "swarm" / "node2.snapshot.json"
    truth = json.loads((RECORDED / "ingress" / "truth" / "service.json").read_text())[0]
    published = truth["Endpoint"]["Ports"][0]["PublishedPort"]
    dst = f"198.51.100.17:{published}"
    names = []
    for f in sorted((RECORDED / "ingress" / "truth").glob("ct.*.inspect.json")):
        doc = json.loads(f.read_text())[0]
        names.append((doc["Name"].lstrip("/"), doc["NetworkSettings"]["Networks"]["ingress"]))
    assert len(names) > 1
    for task, ingress in names:
        reads = ["--snapshot", str(mesh), "--snapshot", str(other), "--task", task]
        main(["path", "host", dst, "--json", *reads])
        two = json.loads(capsys.readouterr().out)
        main(["path", "host", dst, "--json", "--snapshot", str(mesh), "--task", task])
        one = json.loads(capsys.readouterr().out)
        assert two["hops"] == one["hops"] and two["reply"] == one["reply"]
        assert ingress["IPAddress"] in two["hops"][-1]["title"]
