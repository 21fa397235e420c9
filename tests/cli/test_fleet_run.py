"""A fleet from the terminal: `airbyte-resync run` with workspaces and a scenario file runs
the committed fleet state machine against the built-in stub, as a user would (a subprocess)."""

from __future__ import annotations

import json
import re

import yaml

from tests.cli.test_airbyte_resync_cli import run_cli
from tests.support.fleet import fleet


def test_a_fleet_from_the_terminal_reports_every_connection_and_the_counts(tmp_path):
    # Twelve are enough for the terminal's report (the fleet of 30 and its concurrency: tests/e2e/test_fleet.py).
    connections = fleet(12, workspaces=2, not_active_every=5)
    failing = connections.active_ids[4]
    scenario = tmp_path / "fleet.yaml"
    scenario.write_text(yaml.safe_dump(connections.document(failing_syncs=(failing,))))
    workspaces = [argument for workspace in connections.workspaces for argument in ("--workspace-id", workspace)]

    done = run_cli("run", *workspaces, "--max-concurrent", "5", "--tolerated-failures", "1", "--poll-interval", "0",
                   "--scenario", str(scenario), "--json", timeout="600")

    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["status"] == "SUCCEEDED" and answer["connectionId"] is None
    outcomes = {item["connectionId"]: item["outcome"] for item in answer["connections"]}
    assert set(outcomes) == set(connections.ids())
    assert outcomes[failing] == "failed"
    assert {outcomes[connection_id] for connection_id in connections.not_active_ids} == {"skipped"}
    assert answer["output"]["counts"] == {"succeeded": len(connections.active_ids) - 1, "failed": 1, "skipped": len(connections.not_active_ids), "notStarted": 0}


def test_a_fleet_that_fails_more_than_it_tolerates_exits_1_naming_the_failure(tmp_path):
    small = fleet(3, workspaces=1, not_active_every=100)
    scenario = tmp_path / "fleet.yaml"
    scenario.write_text(yaml.safe_dump(small.document(failing_syncs=(small.active_ids[0],))))

    done = run_cli("run", "--workspace-id", small.workspaces[0], "--max-concurrent", "1", "--poll-interval", "0", "--scenario", str(scenario), timeout="600")

    assert done.returncode == 1, done.stderr
    assert "Fleet FAILED" in done.stdout and "Error: ForEachFailed" in done.stdout
    assert f"failed     {small.active_ids[0]}" in done.stdout
    assert "notStarted" in done.stdout


def test_fleet_arguments_are_checked_before_anything_runs():
    done = run_cli("run", "--workspace-id", "not-a-uuid", "--json")
    assert done.returncode == 2 and "--workspace-id must be a UUID" in done.stderr
    done = run_cli("run", "--tag-id", "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f", "--max-concurrent", "0", "--json")
    assert done.returncode == 2 and "--max-concurrent" in done.stderr


def test_a_fleet_from_the_terminal_shows_each_connection_and_the_counts_as_it_goes(tmp_path):
    # Ids that differ in their first eight characters: a connection's lines are labelled with them.
    first, second, failing = ("a1000000-0000-4000-8000-000000000001", "b2000000-0000-4000-8000-000000000002",
                              "c3000000-0000-4000-8000-000000000003")
    scenario = tmp_path / "fleet.yaml"
    scenario.write_text(yaml.safe_dump({"connections": {first: "active", second: "active", failing: {"status": "active", "sync": [["running", "failed"]]}}}))

    done = run_cli("run", "--connection-id", first, "--connection-id", second, "--connection-id", failing, "--max-concurrent", "2",
                   "--tolerated-failures", "1", "--poll-interval", "0", "--scenario", str(scenario), timeout="600")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    report = next(index for index, line in enumerate(lines) if line.startswith("Fleet SUCCEEDED after "))
    shown = lines[:report]  # what was printed while the fleet ran, before its answer
    for connection, ending in ((first, "SUCCEEDED"), (second, "SUCCEEDED"), (failing, "FAILED")):
        label = connection[:8]
        mine = [line for line in shown if line.startswith(label + "  ")]
        assert any(line.startswith(f"{label}  started {connection}: arn:aws:states:") for line in mine), mine
        # Each step with its Airbyte job and the job's status, and how the run ended, with the
        # time elapsed as the executions' dates give it (its value is this machine's pace).
        assert any(re.fullmatch(rf"{label}\s+\d+\.\ds\s+triggerReset\s+\d+", line) for line in mine), mine
        assert any(re.fullmatch(rf"{label}\s+\d+\.\ds\s+waitForReset\s+\d+\s+succeeded", line) for line in mine), mine
        assert re.fullmatch(rf"{label}\s+\d+\.\ds\s+{ending}", mine[-1]), mine
    assert any(re.fullmatch(rf"{failing[:8]}\s+\d+\.\ds\s+waitForResync\s+\d+\s+failed", line) for line in shown)
    assert [line for line in shown if line.startswith("counts: ")][-1] == "counts: running 0, succeeded 2, failed 1"
    assert "Counts: succeeded 2, failed 1, skipped 0, notStarted 0" in lines[report:]
