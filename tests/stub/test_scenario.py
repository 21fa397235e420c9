"""Scenarios for the stub: what an operator writes to rehearse the runbook, played as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from airbyte_resync import scenario
from airbyte_resync.stub import WORKSPACE_ID, Fault, tag_id

FIXTURE = Path(__file__).parents[1] / "fixtures" / "scenarios" / "busy-and-inactive.yaml"
BUSY = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"
INACTIVE = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
UNKNOWN = "11111111-2222-4333-8444-555555555555"
CLI = Path(sys.executable).parent / "airbyte-resync"


def test_a_scenario_file_is_played_as_written():
    played = scenario.parse(scenario.load(FIXTURE), str(FIXTURE))
    with played.stub() as stub:
        played.start_playing(stub)
        assert requests.get(f"{stub.url}/connections/{BUSY}", timeout=10).status_code == 503  # the first fault
        assert requests.get(f"{stub.url}/connections/{BUSY}", timeout=10).json()["status"] == "active"
        assert requests.get(f"{stub.url}/connections/{INACTIVE}", timeout=10).json()["status"] == "inactive"
        assert requests.get(f"{stub.url}/connections/{UNKNOWN}", timeout=10).status_code == 404
        listed = requests.get(f"{stub.url}/jobs", params={"connectionId": BUSY}, timeout=10).json()["data"]
        assert [(job["jobType"], job["status"]) for job in listed] == [("sync", "running")]
        reset = requests.post(f"{stub.url}/jobs", json={"connectionId": BUSY, "jobType": "reset"}, timeout=10).json()
        statuses = [requests.get(f"{stub.url}/jobs/{reset['jobId']}", timeout=10).json()["status"] for _ in range(2)]
        assert (reset["status"], statuses[-1]) == ("running", "failed")


def test_every_problem_is_named_at_once_with_its_field():
    with pytest.raises(scenario.ScenarioError) as raised:
        scenario.parse({"connections": {"nope": "active", BUSY: "asleep"}, "jobs": {"refresh": [["running"]], "sync": [["running", "bogus"]]},
                        "faults": {"getJob": [42], "fetch": ["ok"]}, "running": [{"connectionId": UNKNOWN}], "extra": 1})
    message = str(raised.value)
    for named in ("extra: unknown", "connections: 'nope' is not a UUID", f"connections.{BUSY}: 'asleep' is not a status",
                  "jobs: 'refresh' is not a job type", "jobs.sync[0]: bogus", "faults.getJob[0]: 42 is not an HTTP error status",
                  "faults: 'fetch' is not an operation", f"running: {UNKNOWN} is not one of the scenario's connections"):
        assert named in message


@pytest.mark.parametrize(("written", "expected"), [
    (503, Fault.status(503)), ("429", Fault.status(429)), ("ok", Fault.delay(0)), ("disconnect", Fault.disconnect()),
    ("truncated", Fault.truncated()), ("invalid-json", Fault.invalid_json()), ("delay:30", Fault.delay(30)),
    ("slow-answer:2.5", Fault.slow_answer(2.5)),
])
def test_faults_are_written_as_words_or_statuses(written, expected):
    assert scenario.fault(written) == expected


def test_a_scenario_file_that_does_not_parse_is_one_line(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("connections: [\n", encoding="utf-8")
    with pytest.raises(scenario.ScenarioError, match=r"broken.yaml: not valid YAML"):
        scenario.load(broken)


def test_the_stub_command_plays_a_scenario_and_its_flags():
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AIRBYTE_")}
    process = subprocess.Popen([str(CLI), "stub", "--port", "0", "--scenario", str(FIXTURE), "--connection", f"{UNKNOWN}=locked",
                                "--fault", "getJob=404"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        line = process.stdout.readline()
        assert line.startswith("Airbyte stub listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert requests.get(f"{url}/connections/{UNKNOWN}", timeout=10).status_code == 503  # the file's first fault
        assert requests.get(f"{url}/connections/{UNKNOWN}", timeout=10).json()["status"] == "locked"
        assert requests.get(f"{url}/jobs/1001", timeout=10).status_code == 404
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_a_bad_flag_is_one_line_and_exit_2_before_anything_listens():
    done = subprocess.run([str(CLI), "stub", "--port", "0", "--sync", "running,bogus", "--fault", "getJob"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("airbyte-resync: error: --fault 'getJob': write OPERATION=FAULT")


TAGGED = Path(__file__).parents[1] / "fixtures" / "scenarios" / "workspaces-and-tags.yaml"
OTHER_WORKSPACE = "2c1d0e9f-8a7b-4c6d-9e5f-4a3b2c1d0e9f"
TAGGED_INACTIVE = "7d3e5f60-1a2b-4c3d-8e4f-5a6b7c8d9e0f"


def test_a_scenarios_connections_have_workspaces_tags_and_their_own_jobs():
    played = scenario.parse(scenario.load(TAGGED), str(TAGGED))
    with played.stub() as stub:
        played.start_playing(stub)
        finance = stub.tag_id("finance")
        listed = requests.get(f"{stub.url}/connections", params={"tagIds": finance}, timeout=10).json()["data"]
        assert [(item["connectionId"], item["status"]) for item in listed] == [(BUSY, "active"), (TAGGED_INACTIVE, "inactive")]
        assert [tag["name"] for tag in listed[0]["tags"]] == ["finance", "nightly"]
        other = requests.get(f"{stub.url}/connections/{INACTIVE}", timeout=10).json()
        assert other["workspaceId"] == OTHER_WORKSPACE and other["tags"][0]["tagId"] == stub.tag_id("finance", OTHER_WORKSPACE)
        sync = requests.post(f"{stub.url}/jobs", json={"connectionId": INACTIVE, "jobType": "sync"}, timeout=10).json()
        assert requests.get(f"{stub.url}/jobs/{sync['jobId']}", timeout=10).json()["status"] == "failed"


def test_a_described_connections_problems_are_named_with_their_field():
    with pytest.raises(scenario.ScenarioError) as raised:
        scenario.parse({"connections": {BUSY: {"status": "asleep", "workspace": "nope", "tags": [1], "sync": [["bogus"]], "color": "red"}}})
    message = str(raised.value)
    for named in (f"connections.{BUSY}: color: unknown", f"connections.{BUSY}: 'asleep' is not a status", f"connections.{BUSY}.workspace: 'nope'",
                  f"connections.{BUSY}.tags: a list of tag names", f"connections.{BUSY}.sync[0]: bogus"):
        assert named in message


def test_the_stub_command_places_connections_in_workspaces_with_tags_and_their_own_outcomes():
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AIRBYTE_")}
    process = subprocess.Popen([str(CLI), "stub", "--port", "0", "--connection", f"{BUSY}@{OTHER_WORKSPACE}#finance#nightly",
                                "--connection", f"{INACTIVE}=inactive#finance", "--sync", f"{BUSY}=running,failed", "--sync", "running,cancelled"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        url = process.stdout.readline().split()[-1]
        tag_lines = [process.stdout.readline().strip() for _ in range(3)]
        assert tag_lines == [f"Tag finance of workspace {OTHER_WORKSPACE}: tagId {tag_id('finance', OTHER_WORKSPACE)}",
                             f"Tag nightly of workspace {OTHER_WORKSPACE}: tagId {tag_id('nightly', OTHER_WORKSPACE)}",
                             f"Tag finance of workspace {WORKSPACE_ID}: tagId {tag_id('finance')}"]
        listed = requests.get(f"{url}/connections", params={"workspaceIds": OTHER_WORKSPACE}, timeout=10).json()["data"]
        assert [item["connectionId"] for item in listed] == [BUSY]
        busy_sync = requests.post(f"{url}/jobs", json={"connectionId": BUSY, "jobType": "sync"}, timeout=10).json()
        assert requests.get(f"{url}/jobs/{busy_sync['jobId']}", timeout=10).json()["status"] == "failed"
    finally:
        process.terminate()
        process.communicate(timeout=30)
