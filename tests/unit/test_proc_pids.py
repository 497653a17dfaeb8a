"""Container init pids from a /proc tree (a fake one in tmp_path), and their use."""

from __future__ import annotations

from pathlib import Path

from netexplorer.collect.docker_source import build_docker_data
from netexplorer.collect.proc_pids import container_pids

A = "a" * 64
B = "b" * 64
C = "c" * 64


def _proc(root: Path, pid: int, cgroup: str, nspid: str) -> None:
    d = root / str(pid)
    d.mkdir()
    (d / "cgroup").write_text(cgroup)
    (d / "status").write_text(f"Name:\tsh\nPid:\t{pid}\nNSpid:\t{nspid}\n")


def test_init_pids_across_cgroup_layouts(tmp_path: Path) -> None:
    # cgroup v1 with the cgroupfs driver: the init, and a `docker exec`'d process
    _proc(tmp_path, 100, f"4:memory:/docker/{A}\n1:cpu:/docker/{A}\n0::/docker/{A}\n", "100\t1")
    _proc(tmp_path, 90, f"4:memory:/docker/{A}\n0::/docker/{A}\n", "90\t7")
    # cgroup v2 with the systemd driver
    _proc(tmp_path, 200, f"0::/system.slice/docker-{B}.scope\n", "200\t1")
    # nested: the innermost id counts; a host process has no id
    _proc(tmp_path, 300, f"0::/docker/{'d' * 64}/docker/{C}\n", "300\t1")
    _proc(tmp_path, 1, "0::/init.scope\n", "1")
    (tmp_path / "self").mkdir()
    assert container_pids([A, B, C, "e" * 64], proc=str(tmp_path)) == {A: 100, B: 200, C: 300}
    assert container_pids([], proc=str(tmp_path)) == {}


def _cgroup(root: Path, directory: str, pids: list[int]) -> None:
    d = root / directory
    d.mkdir(parents=True)
    (d / "cgroup.procs").write_text("".join(f"{p}\n" for p in pids))


def test_init_pids_from_dockers_cgroup_directories(tmp_path: Path) -> None:
    proc, cgroups = tmp_path / "proc", tmp_path / "cgroup"
    proc.mkdir()
    # the processes' own cgroup files name no container: the directories do
    _proc(proc, 90, "0::/elsewhere\n", "90\t7")  # docker exec'd, listed first
    _proc(proc, 100, "0::/elsewhere\n", "100\t1")
    _proc(proc, 200, "0::/elsewhere\n", "200\t1")
    _proc(proc, 300, "0::/elsewhere\n", "300\t1")
    _cgroup(cgroups, f"pids/docker/{A}", [90, 100])  # v1, cgroupfs driver
    _cgroup(cgroups, f"system.slice/docker-{B}.scope", [200])  # v2, systemd driver
    _cgroup(cgroups, "system.slice/cron.service", [300])  # not a container
    _cgroup(cgroups, f"pids/docker/{C}", [])  # no process (yet)
    found = container_pids(None, proc=str(proc), cgroup_root=str(cgroups))
    assert found == {A: 100, B: 200}
    assert container_pids([B], proc=str(proc), cgroup_root=str(cgroups)) == {B: 200}


def test_without_dockers_cgroup_directories_every_process_is_read(tmp_path: Path) -> None:
    proc, cgroups = tmp_path / "proc", tmp_path / "cgroup"
    proc.mkdir()
    _proc(proc, 100, f"0::/custom-parent/{A}\n", "100\t1")
    _cgroup(cgroups, "system.slice/cron.service", [55])
    assert container_pids(None, proc=str(proc), cgroup_root=str(cgroups)) == {A: 100}
    assert container_pids(None, proc=str(proc), cgroup_root=str(tmp_path / "none")) == {A: 100}


def test_pid_host_container_is_not_found(tmp_path: Path) -> None:
    _proc(tmp_path, 400, f"0::/docker/{A}\n", "400")  # --pid=host: no inner pid 1
    assert container_pids([A], proc=str(tmp_path)) == {}
    assert container_pids([A], proc=str(tmp_path / "missing")) == {}


def test_known_pids_spare_the_inspect_call() -> None:
    summaries = [
        {"Id": A, "Names": ["/a"], "State": "running"},
        {"Id": B, "Names": ["/b"], "State": "running"},
    ]
    asked: list[str] = []

    def inspect(cid: str) -> dict[str, object]:
        asked.append(cid)
        return {"State": {"Pid": 77}}

    data = build_docker_data([], summaries, inspect, known_pids={A: 55})
    assert asked == [B]
    assert {c.name: c.pid for c in data.containers} == {"a": 55, "b": 77}
