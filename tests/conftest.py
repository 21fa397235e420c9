"""Shared test settings: the functions' Powertools configuration is read at import time,
so it is set before any test imports them."""

import os

import pytest

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "airbyte-resync")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AirbyteResync")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

@pytest.fixture(autouse=True)
def _no_creation_notes_between_tests():
    """Without a table, the trigger functions note in memory that a step may have created a
    job; one test's notes must not reach the next."""
    from airbyte_client import adoption

    adoption._notes_in_memory.clear()


# The fault matrix's outcomes, as each test recorded them (in whichever worker it ran).
_FAULT_MATRIX: dict[tuple[str, str], str] = {}


def pytest_runtest_logreport(report):
    if report.when == "call":
        for name, value in report.user_properties:
            if name == "fault_matrix":
                fault, step, outcome = value
                _FAULT_MATRIX[(fault, step)] = outcome


def pytest_terminal_summary(terminalreporter):
    """The fault matrix as a table, after the progress dots rather than between them."""
    if not _FAULT_MATRIX:
        return
    from tests.e2e.test_fault_matrix import FAULTS, STEPS

    width = max(len(fault) for fault in FAULTS) + 2
    terminalreporter.section("fault matrix: how a run ends with each fault at each step")
    terminalreporter.write_line("fault".ljust(width) + "".join(step.ljust(28) for step in STEPS))
    for fault in FAULTS:
        terminalreporter.write_line(fault.ljust(width) + "".join(_FAULT_MATRIX.get((fault, step), "-").ljust(28) for step in STEPS))


def _one_botocore_loader_per_data_path() -> None:
    """moto gives each mocked block a new boto3 session, and each session reads botocore's
    service models and endpoints again from disk: a third of what a short local run costs.
    The models are only read from, so every session of the test process shares one loader
    (one cache of them) per data path."""
    import functools

    import botocore.session

    botocore.session.create_loader = functools.lru_cache(maxsize=None)(botocore.session.create_loader)


_one_botocore_loader_per_data_path()


# Tests whose module builds something once for all of them (the wheel and its environment):
# the scheduler keeps each of these modules on one worker. Every other test goes on its own.
BUILT_ONCE_PER_MODULE = ("tests/package/test_wheel.py",)
# The longest tests start first, so neither worker is left with them at the end.
LONGEST_FIRST = ("tests/package/", "tests/e2e/test_fleet.py", "tests/template/test_security_scan.py", "tests/cli/",
                 "tests/conformance/test_arazzo_sfn_run.py", "tests/conformance/test_for_each.py")


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker more than the machine has cores. Part of the time a test waits (on
    a command it runs, a server's slow answer, a scripted fault's timeout): a third worker
    keeps both cores busy meanwhile."""
    return (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: next((rank for rank, prefix in enumerate(LONGEST_FIRST) if item.nodeid.startswith(prefix)), len(LONGEST_FIRST)))


def pytest_xdist_make_scheduler(config, log):
    """`--dist load`, but a module in BUILT_ONCE_PER_MODULE goes to one worker whole (xdist's
    own loadgroup does not group here: its marks do not reach the scheduler)."""
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class OneTestAtATimeButModulesBuiltOnce(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            module = nodeid.split("::", 1)[0]
            return module if module in BUILT_ONCE_PER_MODULE else nodeid

    return OneTestAtATimeButModulesBuiltOnce(config, log)
