"""`netexplorer snapshot --json` on the live lab, checked against the kernel and Docker.

Ground truth comes from tests/integration/groundtruth.py (docker exec, ip, bridge,
iptables-save), never from netexplorer. Runs under whichever iptables backend the
lab's dockerd uses; CI runs it under both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from integration import groundtruth as gt
from netexplorer.correlate import correlate
from netexplorer.model import SCHEMA_VERSION
from netexplorer.privilege import NOT_ROOT_LEAD
from netexplorer.snapshot_io import snapshot_from_dict

MASQ_DEFAULT = "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"


def snapshot_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "netexplorer", "snapshot", "--json", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=gt.REPO,
        timeout=60,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout) if proc.stdout else {}, proc.stderr


@pytest.fixture(scope="module")
def snap(lab: str) -> dict[str, Any]:
    code, doc, err = snapshot_cli()
    assert code == 0, err
    return doc


def endpoint(doc: dict[str, Any], container: str, network: str) -> dict[str, Any]:
    ct = next(c for c in doc["containers"] if c["name"] == container)
    return next(e for e in ct["endpoints"] if e["network"] == network)


def rules_by_text(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    backend = "iptables-" + gt.active_iptables_mode()
    return {r["text"]: r for r in doc["rules"] if r["backend"] == backend and r["family"] == "ipv4"}


def test_every_bridge_endpoint_has_the_kernels_veth_ifindex_and_bridge(
    snap: dict[str, Any],
) -> None:
    links = gt.host_links()
    ports = gt.bridge_ports()
    checked = 0
    for ct in snap["containers"]:
        if ct["state"] != "running" or not ct["endpoints"]:
            continue
        iflinks = gt.ground_truth_iflink(ct["name"])
        # the container's interfaces, each peered with one host veth on one bridge
        truth = {links[i]["ifname"]: i for i in iflinks.values()}
        for ep in ct["endpoints"]:
            if not ep["bridge"]:
                continue
            assert ep["host_ifindex"] in iflinks.values(), (ct["name"], ep)
            assert ep["host_veth"] == links[ep["host_ifindex"]]["ifname"]
            assert truth[ep["host_veth"]] == ep["host_ifindex"]
            assert ports[ep["host_veth"]] == ep["bridge"] == gt.bridge_ifname(ep["network"])
            checked += 1
    assert checked >= 5  # test1, test2, web x2, db


def test_peer_ifindex_is_the_containers_own_ifindex(snap: dict[str, Any]) -> None:
    # `ip a` in the container shows eth0@ifN; the host veth shows @ifM: M is eth0's ifindex
    for name in ("test1", "test2"):
        ep = endpoint(snap, name, "bridge")
        assert ep["peer_ifindex"] == gt.ground_truth_ifindex(name)["eth0"]


def test_ip_and_mac_as_docker_inspect_says(snap: dict[str, Any]) -> None:
    for name in gt.LAB_CONTAINERS:
        nets = gt.docker_inspect(name)["NetworkSettings"]["Networks"]
        for net, truth in nets.items():
            ep = endpoint(snap, name, net)
            assert ep["ip"] == truth["IPAddress"]
            assert ep["mac"] == truth["MacAddress"]
            assert ep["gateway"] == truth["Gateway"]


def test_test1_is_linked_to_the_default_bridges_masquerade(snap: dict[str, Any]) -> None:
    rules = rules_by_text(snap)
    assert MASQ_DEFAULT in gt.iptables_save(gt.active_iptables_mode(), "nat")
    masq = rules[MASQ_DEFAULT]
    assert masq["table"] == "nat" and masq["chain"] == "POSTROUTING"
    assert masq["id"] in endpoint(snap, "test1", "bridge")["rules"]
    # every container with an endpoint on docker0, and only those
    on_default = {
        c["name"]
        for c in snap["containers"]
        if any(e["network"] == "bridge" for e in c["endpoints"])
    }
    assert set(masq["containers"]) == on_default
    assert {"test1", "test2", "web"} <= on_default and "db" not in on_default


def test_published_port_is_linked_to_its_dnat(snap: dict[str, Any]) -> None:
    dnat = [
        r
        for r in rules_by_text(snap).values()
        if r["target"] == "DNAT" and "--dport 8080" in r["text"]
    ]
    assert len(dnat) == 1
    to_ip = dnat[0]["target_options"]["--to-destination"].split(":")[0]
    assert to_ip in gt.container_ips("web").values()
    assert dnat[0]["containers"] == ["web"]
    web_rules = {
        rid
        for e in next(c for c in snap["containers"] if c["name"] == "web")["endpoints"]
        for rid in e["rules"]
    }
    assert dnat[0]["id"] in web_rules
    ports = next(c for c in snap["containers"] if c["name"] == "web")["published_ports"]
    assert {(p["host_port"], p["container_port"], p["protocol"]) for p in ports} == {
        (8080, 80, "tcp")
    }


def test_rules_are_the_backends_rules_with_counters(snap: dict[str, Any]) -> None:
    mode = gt.active_iptables_mode()
    texts = {
        line.split("] ", 1)[1] if line.startswith("[") else line
        for line in gt.iptables_save(mode).splitlines()
        if "-A " in line
    }
    ours = {
        r["text"]
        for r in snap["rules"]
        if r["backend"] == f"iptables-{mode}" and r["family"] == "ipv4"
    }
    assert ours == texts
    assert snap["firewall_backends"] == [f"iptables-{mode}"]


def test_multi_homed_endpoints_have_only_their_own_networks_rules(snap: dict[str, Any]) -> None:
    by_id = {r["id"]: r for r in snap["rules"]}
    on_bridge = endpoint(snap, "web", "bridge")
    on_lab = endpoint(snap, "web", gt.LAB_NETWORK)
    lab_bridge = gt.bridge_ifname(gt.LAB_NETWORK)
    assert not any(lab_bridge in by_id[r]["text"] for r in on_bridge["rules"])
    assert not any("docker0" in by_id[r]["text"] for r in on_lab["rules"])
    assert any(
        f"-A POSTROUTING -s {gt.LAB_SUBNET} ! -o {lab_bridge} -j MASQUERADE" == by_id[r]["text"]
        for r in on_lab["rules"]
    )


def test_schema_sources_and_deterministic_order(snap: dict[str, Any]) -> None:
    assert snap["schema"] == SCHEMA_VERSION
    assert [s["name"] for s in snap["sources"]] == [
        "docker",
        "netlink",
        "firewall",
        "conntrack",
        "sysctl",
    ]
    assert all(s["ok"] and s["error"] is None for s in snap["sources"])
    assert snap["collect_seconds"] >= max(s["seconds"] for s in snap["sources"]) > 0
    _, again, _ = snapshot_cli()
    # live connections come and go between two reads: conntrack is not compared;
    # nor are packet counters (the kernel's own IPv6 MLD/RS on a veth made seconds
    # ago passes OUTPUT), only which rules and chains there are, in which order
    strip = ("collect_seconds", "sources", "conntrack")
    counters = ("packets", "bytes", "delta_packets", "delta_bytes")

    def stable(doc: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in doc.items() if k not in strip}
        out["containers"] = [{**c, "conntrack": []} for c in doc["containers"]]
        for key in ("rules", "chains"):
            out[key] = [{k: v for k, v in r.items() if k not in counters} for r in doc[key]]
        return out

    assert stable(snap) == stable(again)


def test_json_round_trip_correlates_the_same(snap: dict[str, Any]) -> None:
    loaded = snapshot_from_dict(snap)  # the derived fields in the file are ignored
    corr = correlate(loaded)
    for ct in loaded.containers:
        for ep in ct.endpoints:
            doc = endpoint(snap, ct.name, ep.network)
            w = corr.wiring(ep)
            assert (w.host_veth, w.host_ifindex, list(w.rules)) == (
                doc["host_veth"],
                doc["host_ifindex"],
                doc["rules"],
            )


def test_no_docker_daemon_is_said_in_words_and_the_rest_is_shown(lab: str) -> None:
    code, doc, err = snapshot_cli(env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert code == 1
    docker = next(s for s in doc["sources"] if s["name"] == "docker")
    assert not docker["ok"]
    assert (
        "No Docker daemon answers at unix:///nonexistent/docker.sock (DOCKER_HOST)"
        in (docker["error"])
    )
    assert "start it" in docker["error"]
    assert "Traceback" not in err
    assert doc["containers"] == []
    assert any(i["name"] == "docker0" for i in doc["interfaces"])
    assert any(r["text"] == MASQ_DEFAULT for r in doc["rules"])


AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_not_root_is_said_in_words(lab: str) -> None:
    # user nobody must be able to read the code: the checkout may sit in a private
    # directory, so run a copy of the package from a world-readable one
    readable = Path(tempfile.mkdtemp(prefix="nx-nobody-"))
    try:
        readable.chmod(0o755)
        shutil.copytree(gt.REPO / "netexplorer", readable / "netexplorer")
        env = {**os.environ, "PYTHONPATH": str(readable)}
        probe = subprocess.run(
            [*AS_NOBODY, sys.executable, "-c", "import docker, pyroute2, netexplorer.cli"],
            capture_output=True, cwd=readable, env=env, check=False,
        )  # fmt: skip
        if probe.returncode != 0:
            pytest.skip(
                f"user nobody cannot import this interpreter's packages ({sys.executable}); "
                "run the tests from a venv outside /root, as .ci/run does"
            )
        proc = subprocess.run(
            [*AS_NOBODY, sys.executable, "-m", "netexplorer", "snapshot", "--json"],
            capture_output=True, text=True, cwd=readable, timeout=60, check=False, env=env,
        )  # fmt: skip
    finally:
        shutil.rmtree(readable, ignore_errors=True)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    # the one-line warning: the cause, and the command that reads everything
    assert any(w.startswith(NOT_ROOT_LEAD) and "Run: sudo " in w for w in doc["warnings"])
    docker = next(s for s in doc["sources"] if s["name"] == "docker")
    assert "Permission denied on the Docker socket" in docker["error"]
    firewall = next(s for s in doc["sources"] if s["name"] == "firewall")
    assert not firewall["ok"] and "root" in firewall["error"]
    assert any(i["name"] == "docker0" for i in doc["interfaces"])  # netlink still answers


def test_container_vanishing_mid_read_is_skipped_with_a_warning(lab: str, throwaway: Any) -> None:
    import docker

    from netexplorer.collect.docker_source import build_docker_data

    name = throwaway()
    api = docker.from_env().api
    networks, summaries = api.networks(), api.containers(all=True)
    gt.remove_container(name)  # gone between the list and the inspect, for real
    data = build_docker_data(networks, summaries, api.inspect_container)
    assert name not in {c.name for c in data.containers}
    assert {"test1", "test2"} <= {c.name for c in data.containers}
    assert any(name in w and "vanished" in w for w in data.warnings)


def test_snapshot_never_changes_the_host(snap: dict[str, Any]) -> None:
    mode = gt.active_iptables_mode()
    before = (gt.iptables_save(mode), sorted(gt.host_links()))
    snapshot_cli()
    after = (gt.iptables_save(mode), sorted(gt.host_links()))
    strip = lambda t: [ln for ln in t[0].splitlines() if not ln.startswith("#")]  # noqa: E731
    assert strip(before) == strip(after) and before[1] == after[1]


def test_init_pids_from_the_cgroup_directories_are_what_docker_inspect_says(lab: str) -> None:
    from netexplorer.collect.proc_pids import CGROUP_ROOT, container_pids

    found = container_pids(None, cgroup_root=CGROUP_ROOT)
    scanned = container_pids(None)  # every process's cgroup file
    ids = gt.run("docker", "ps", "-q", "--no-trunc").split()
    lines = gt.run("docker", "inspect", "-f", "{{.Id}} {{.State.Pid}}", *ids).split("\n")
    truth = {cid: int(pid) for cid, pid in (line.split() for line in lines if line)}
    # a container started or stopped between the reads is left out of the check
    both = set(truth) & set(found) & set(scanned)
    assert {gt.docker_inspect(n)["Id"] for n in gt.LAB_CONTAINERS} <= both
    assert {c: found[c] for c in both} == {c: truth[c] for c in both}
    assert {c: scanned[c] for c in both} == {c: truth[c] for c in both}
    assert len(both) >= len(truth) - 5
