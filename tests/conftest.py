"""Shared pytest hooks. Keep this small: fixtures live next to the tests using them.

* Everything under ``tests/integration/`` is marked ``integration``.
* With ``NETEXPLORER_REQUIRE_LAB=1`` (set by ``.ci/run``) an integration test that
  is skipped, at collection or at run time, counts as a failure: CI must not go
  green because the lab was missing.
* One exception: a test marked ``kernel`` skipped by ``groundtruth.skip_no_kernel_driver``
  because this host's kernel lacks a driver every Debian kernel has (ipvlan on this
  project's sandbox). ``.ci/run`` then runs exactly those tests on Debian's kernel
  in a VM (``scripts/kernel-vm test``), where ``NETEXPLORER_REQUIRE_KERNEL=1``
  turns that skip into a failure too.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest
from integration.groundtruth import NO_KERNEL_DRIVER

INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"
REQUIRE_LAB = os.environ.get("NETEXPLORER_REQUIRE_LAB") == "1"
REQUIRE_KERNEL = os.environ.get("NETEXPLORER_REQUIRE_KERNEL") == "1"


def _in_integration_dir(path: Path) -> bool:
    return path.resolve().is_relative_to(INTEGRATION_DIR)


@pytest.hookimpl(tryfirst=True)  # before -m deselects anything
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _in_integration_dir(item.path) and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)


def _skip_reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        path, lineno, reason = longrepr
        return f"{reason} ({path}:{lineno})"
    return str(longrepr)


def _kernel_gap(item: pytest.Item, report: pytest.TestReport) -> bool:
    """A ``kernel`` test skipped because this kernel lacks the driver (module doc)."""
    return (
        not REQUIRE_KERNEL
        and item.get_closest_marker("kernel") is not None
        and NO_KERNEL_DRIVER in _skip_reason(report.longrepr)
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if (
        REQUIRE_LAB
        and report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("integration") is not None
        and not _kernel_gap(item, report)
    ):
        report.outcome = "failed"
        report.longrepr = (
            "integration test skipped but NETEXPLORER_REQUIRE_LAB=1 makes that a failure: "
            + _skip_reason(report.longrepr)
        )
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if REQUIRE_LAB and report.skipped and _in_integration_dir(collector.path):
        report.outcome = "failed"
        report.longrepr = (
            "integration module skipped but NETEXPLORER_REQUIRE_LAB=1 makes that a failure: "
            + _skip_reason(report.longrepr)
        )
    return report
