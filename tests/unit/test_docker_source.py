"""The Docker API answers recorded from the lab (tests/recorded/docker/lab.json) -> model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netexplorer.collect.docker_source import (
    bridge_name,
    build_docker_data,
    explain_docker_error,
)

RECORDED = Path(__file__).resolve().parents[1] / "recorded" / "docker" / "lab.json"


@pytest.fixture
def api() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(RECORDED.read_text())
    return doc


def build(api: dict[str, Any]) -> Any:
    return build_docker_data(api["networks"], api["containers"], lambda cid: api["inspect"][cid])


def test_networks_with_their_bridges(api: dict[str, Any]) -> None:
    data = build(api)
    by_name = {n.name: n for n in data.networks}
    assert [n.name for n in data.networks] == sorted(by_name)
    assert by_name["bridge"].bridge == "docker0"
    assert by_name["bridge"].subnets == ["172.17.0.0/16"]
    assert by_name["nxlab"].bridge == "br-" + by_name["nxlab"].id[:12]
    assert by_name["nxlab"].subnets == ["172.30.0.0/24"]
    assert by_name["host"].bridge is None and by_name["none"].bridge is None


def test_containers_endpoints_ports_and_pids(api: dict[str, Any]) -> None:
    data = build(api)
    assert [c.name for c in data.containers] == ["db", "test1", "test2", "web"]
    web = next(c for c in data.containers if c.name == "web")
    assert [(e.network, e.ipv4) for e in web.endpoints] == [
        ("bridge", "172.17.0.4"),
        ("nxlab", "172.30.0.2"),
    ]
    assert {(p.host_port, p.container_port, p.protocol) for p in web.published_ports} == {
        (8080, 80, "tcp")
    }
    test1 = next(c for c in data.containers if c.name == "test1")
    assert test1.pid == api["inspect"][test1.id]["State"]["Pid"] > 0
    assert test1.endpoints[0].mac == "02:42:ac:11:00:02"
    assert test1.endpoints[0].gateway == "172.17.0.1"
    assert test1.network_mode == "default"
    assert data.warnings == []


def test_a_container_gone_before_inspect_is_skipped_with_words(api: dict[str, Any]) -> None:
    gone = next(c["Id"] for c in api["containers"] if c["Names"] == ["/test2"])

    def inspect(cid: str) -> Any:
        if cid == gone:
            # what docker.errors.NotFound says (produced for real in the integration test)
            raise type("NotFound", (Exception,), {})(f"404 Client Error: No such container: {cid}")
        return api["inspect"][cid]

    data = build_docker_data(api["networks"], api["containers"], inspect)
    assert "test2" not in [c.name for c in data.containers]
    assert any("test2" in w and "vanished" in w for w in data.warnings)


def test_custom_bridge_name_option_wins() -> None:
    net = {
        "Driver": "bridge",
        "Name": "x",
        "Id": "0123456789abcdef",
        "Options": {"com.docker.network.bridge.name": "nx-custom"},
    }
    assert bridge_name(net) == "nx-custom"
    assert bridge_name({**net, "Options": {}}) == "br-0123456789ab"
    assert bridge_name({**net, "Driver": "macvlan"}) is None


def test_errors_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    msg = explain_docker_error(PermissionError(13, "Permission denied"))
    assert "Permission denied on the Docker socket unix:///var/run/docker.sock" in msg
    assert "docker' group" in msg
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    msg = explain_docker_error(ConnectionError("Connection refused"))
    assert "No Docker daemon answers at tcp://127.0.0.1:1 (DOCKER_HOST)" in msg
