"""Fixtures for integration tests: the lab and ground truth read without netexplorer.

The helpers themselves are in :mod:`groundtruth`; the fixtures are thin wrappers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from . import groundtruth as gt
from . import ingress_truth


def _must_fail() -> bool:
    """In CI (or with NETEXPLORER_REQUIRE_LAB=1) a missing lab fails instead of skipping."""
    ci = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
    return ci or os.environ.get("NETEXPLORER_REQUIRE_LAB") == "1"


@pytest.fixture(scope="session")
def lab() -> str:
    """The lab is up (``scripts/lab status`` exits 0); returns the status table."""
    if os.geteuid() != 0:
        reason = "the lab needs root (run pytest as root)"
    else:
        rc, out = gt.lab_status()
        if rc == 0:
            return out
        reason = f"lab not up: run `scripts/lab up` (status exit {rc}):\n{out}"
    if _must_fail():
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def ground_truth_iflink(lab: str) -> Callable[[str], dict[str, int]]:
    """container name -> {ifname: iflink} from /sys/class/net inside the container."""
    return gt.ground_truth_iflink


@pytest.fixture
def host_links(lab: str) -> Callable[[], dict[int, dict[str, Any]]]:
    """() -> {ifindex: link} from ``ip -j -d link show``."""
    return gt.host_links


@pytest.fixture
def bridge_ports(lab: str) -> Callable[[], dict[str, str]]:
    """() -> {port ifname: bridge} from ``bridge -j link show``."""
    return gt.bridge_ports


@pytest.fixture
def iptables_save(lab: str) -> Callable[..., str]:
    """(backend, table=None, family="ipv4") -> ``ip{,6}tables-<backend>-save`` text."""
    return gt.iptables_save


@pytest.fixture
def throwaway(lab: str) -> Iterator[Callable[..., str]]:
    """Factory for busybox containers named ``nxt-<hex>``, removed after the test.

    ``throwaway()`` -> on the default bridge; ``throwaway("nxlab", "bridge")`` -> on
    both; ``throwaway(extra_args=["-p", "18080:80"])`` passes docker run options.
    """
    made: list[str] = []

    def make(*networks: str, extra_args: Sequence[str] = ()) -> str:
        name = gt.new_throwaway_name()
        made.append(name)
        return gt.create_container(name, networks or ("bridge",), extra_args)

    try:
        yield make
    finally:
        for name in made:
            gt.remove_container(name)


@pytest.fixture(scope="module")
def one_node_swarm(lab: str) -> Iterator[None]:
    """The one-node swarm of ``scripts/lab swarm up --one-node`` (service nxweb, 2
    replicas, publishing 8081 -> 80; see tests/integration/ingress_truth.py), with
    Docker's namespaces (the ingress overlay's, ingress_sbox, lb_*), brought up for
    the module that asks for it and taken down after it, unless it was up already
    (then it is left as found): the tests of other modules expect the plain lab
    (the doctor silent, no Docker namespace). On a kernel without IPVS it is there
    all the same, delivering nothing through the mesh (``ingress_swarm`` is the
    same swarm for the tests of the mesh itself, skipped there)."""
    made = not (ingress_truth.swarm_state() == "active" and ingress_truth.service_exists())
    if made:
        gt.lab_command("swarm", "up", "--one-node")
    try:
        yield None
    finally:
        if made:
            gt.lab_command("swarm", "down")


@pytest.fixture(scope="session")
def ingress_swarm(lab: str) -> Iterator[list[ingress_truth.Task]]:
    """The swarm ingress routing mesh, for ``kernel`` tests: the one-node swarm of
    ``scripts/lab swarm up --one-node`` (service nxweb, 2 replicas, publishing 8081
    -> 80; see tests/integration/ingress_truth.py), brought up once for the session
    and taken down after it, unless it was up already (then it is left as found).
    Yields the service's running tasks. Skipped (a kernel gap) where the kernel has
    no IPVS: there the mesh delivers nothing."""
    if ingress_truth.kernel_lacks_ipvs():
        ingress_truth.skip_no_ipvs()
    made = not (ingress_truth.swarm_state() == "active" and ingress_truth.service_exists())
    if made:
        gt.lab_command("swarm", "up", "--one-node")
    try:
        found = ingress_truth.tasks()
        assert len(found) >= 1, "no running task of nxweb"
        yield found
    finally:
        if made:
            gt.lab_command("swarm", "down")
