"""The local-run CLI contract, exercised as a user runs it: a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import requests

from airbyte_resync.stub import AirbyteStub
from tests.support.interrupt import CLI, CREDENTIAL_VARIABLES, interrupted

CONNECTION_ID = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"
API_TOKEN = "cli-api-token-Zr7Kq2"


def run_cli(*args: str, timeout: str = "120", **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}
    environment.update(env)
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=environment, timeout=float(timeout))


def test_json_run_on_the_embedded_stub_prints_exactly_one_object():
    done = run_cli("run", "--connection-id", CONNECTION_ID, "--poll-interval", "0", "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert set(result) == {"executionArn", "name", "connectionId", "status", "startDate", "stopDate", "error", "cause", "output", "events"}
    assert result["status"] == "SUCCEEDED" and result["connectionId"] == CONNECTION_ID
    assert result["executionArn"].endswith(":" + result["name"]) and result["startDate"] <= result["stopDate"]
    # The stub of a separate process runs on the real clock: the sync's duration is however long
    # this machine took (exact durations are asserted on a virtual clock in tests/e2e).
    duration = result["output"].pop("resyncDuration")
    assert re.fullmatch(r"PT(\d+M)?\d+S", duration), duration
    assert result["output"] == {
        "resetJobId": 1001, "resetStatus": "succeeded", "resyncJobId": 1002, "resyncStartedBy": "this-run", "resyncWatched": True,
        "resyncStatus": "succeeded", "rowsSynced": 12_345, "bytesSynced": 6_789_012,
    }
    assert result["error"] is None and result["cause"] is None
    assert isinstance(result["events"], int) and result["events"] > 20


def test_human_run_prints_a_line_per_transition_then_the_outputs():
    done = run_cli("run", "--connection-id", CONNECTION_ID, "--poll-interval", "0")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    states = [line.split()[1] for line in lines if "s  " in line and " 1001" in line]
    assert states[:2] == ["triggerReset", "triggerReset.Route"]
    assert any("waitForReset" in line and "1001" in line and line.endswith("succeeded") for line in lines)
    assert any("waitForResync" in line and "1002" in line and line.endswith("succeeded") for line in lines)
    assert "Execution SUCCEEDED" in done.stdout
    assert "  resyncJobId: 1002" in lines and "  rowsSynced: 12345" in lines
    assert not any(line.startswith("{") for line in lines), "function logs leaked into the output"


@pytest.mark.parametrize(
    "args, named",
    [
        (["run"], "--connection-id"),
        (["run", "--connection-id", "not-a-uuid"], "--connection-id"),
        (["run", "--connection-id", CONNECTION_ID, "--poll-interval", "soon"], "--poll-interval"),
        (["run", "--connection-id", CONNECTION_ID, "--poll-interval", "-5"], "--poll-interval"),
        (["run", "--connection-id", CONNECTION_ID, "--airbyte-url", "ftp://airbyte.internal/v1"], "--airbyte-url"),
        (["run", "--connection-id", CONNECTION_ID, "--airbyte-url", ""], "--airbyte-url is empty"),
        (["run", "--connection-id", CONNECTION_ID, "--airbyte-url", "  "], "--airbyte-url is empty"),
        (["run", "--connection-id", CONNECTION_ID, "--airbyte-url", "http://airbyte.example.com/api/public/v1"], "--airbyte-url"),
    ],
)
def test_invalid_arguments_exit_2_naming_the_argument(args, named):
    done = run_cli(*args, "--json")

    assert done.returncode == 2
    assert named in done.stderr
    assert done.stdout == ""


def test_a_real_url_with_a_bearer_token_from_the_environment():
    with AirbyteStub(api_token=API_TOKEN) as stub:
        done = run_cli("run", "--connection-id", CONNECTION_ID, "--airbyte-url", stub.url, "--poll-interval", "0", "--json", AIRBYTE_API_TOKEN=API_TOKEN)
        calls = stub.calls

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "SUCCEEDED"
    assert [c.operation_id for c in calls] == ["getConnection", "listJobs", "createJob", "getJob", "getJob", "createJob", "getJob", "getJob"]
    assert {c.authorization for c in calls} == {"Bearer <redacted:api-token>"}
    assert API_TOKEN not in done.stdout + done.stderr


def test_no_wait_for_resync_ends_once_the_sync_has_started():
    with AirbyteStub() as stub:
        done = run_cli("run", "--connection-id", CONNECTION_ID, "--airbyte-url", stub.url, "--poll-interval", "0", "--no-wait-for-resync", "--json")
        calls = stub.calls

    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)["output"]
    assert output["resyncWatched"] is False and output["resyncStatus"] == "running"
    assert (output["rowsSynced"], output["bytesSynced"], output["resyncDuration"]) == (None, None, None)
    # The sync's status is read once, as it started; nobody waits for its end.
    assert [c.operation_id for c in calls][-2:] == ["createJob", "getJob"]


def test_empty_credential_variables_count_as_unset():
    with AirbyteStub() as stub:  # no authentication
        done = run_cli("run", "--connection-id", CONNECTION_ID, "--airbyte-url", stub.url, "--poll-interval", "0", "--json",
                       AIRBYTE_CLIENT_ID="", AIRBYTE_CLIENT_SECRET="", AIRBYTE_API_TOKEN="")
        calls = stub.calls

    assert done.returncode == 0, done.stderr
    assert all(c.authorization is None for c in calls)


def test_half_a_client_credential_is_refused_naming_the_missing_variable():
    done = run_cli("run", "--connection-id", CONNECTION_ID, "--airbyte-url", "http://127.0.0.1:9/api/public/v1", "--json", AIRBYTE_CLIENT_ID="someone")

    assert done.returncode == 2
    assert "AIRBYTE_CLIENT_SECRET" in done.stderr


def test_a_failed_execution_exits_1_with_the_error_in_the_json():
    with AirbyteStub(known_connections=[]) as stub:
        done = run_cli("run", "--connection-id", CONNECTION_ID, "--airbyte-url", stub.url, "--poll-interval", "0", "--json")

    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["status"] == "FAILED" and result["error"] == "StepFailed" and result["output"] is None
    assert json.loads(result["cause"])["statusCode"] == 404


def test_stub_command_serves_airbyte_over_http():
    process = subprocess.Popen([str(CLI), "stub", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first_line = process.stdout.readline()
        url = next(word for word in first_line.split() if word.startswith("http://"))
        response = requests.post(f"{url}/jobs", json={"connectionId": CONNECTION_ID, "jobType": "reset"}, timeout=5)
        assert response.status_code == 200
        assert response.json()["jobType"] == "reset"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_stub_on_a_busy_port_says_so_in_one_line_and_exits_2():
    with AirbyteStub() as busy:
        port = busy.url.rsplit(":", 1)[1].split("/")[0]
        done = run_cli("stub", "--port", port)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"airbyte-resync: error: port {port} on 127.0.0.1 is already in use: stop what listens there, or pick another --port (0 = any free port)"
    ]
    assert "Traceback" not in done.stdout + done.stderr


def test_stub_on_a_non_loopback_host_is_refused_in_one_line_with_exit_2():
    done = run_cli("stub", "--host", "0.0.0.0", "--port", "0")
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("airbyte-resync: error: --host:") and "0.0.0.0" in line and "127.0.0.1" in line


def test_ctrl_c_ends_a_local_run_with_one_line_and_exit_130():
    import signal
    import time

    environment = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}
    # A poll interval long enough that the run is surely still going when interrupted.
    process = subprocess.Popen([str(CLI), "run", "--connection-id", CONNECTION_ID, "--poll-interval", "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        assert process.stdout.readline().startswith("Resetting and re-syncing")
        time.sleep(3)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130
    assert stderr.strip().splitlines() == ["airbyte-resync: interrupted"]
    assert "Traceback" not in stdout + stderr


@pytest.mark.parametrize(("url", "said"), [
    ("http://127.0.0.1:9/api/public/v1", "connection refused by 127.0.0.1:9; is Airbyte running there"),
    ("https://airbyte.invalid/api/public/v1", "no such host 'airbyte.invalid': check the host name"),
])
def test_an_airbyte_that_cannot_be_reached_at_all_fails_at_once_saying_what_to_check(url, said):
    done = run_cli("run", "--connection-id", CONNECTION_ID, "--airbyte-url", url)
    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("airbyte-resync: error: --airbyte-url: ") and said in line


def test_a_failed_attempt_is_a_line_at_once_naming_the_host_and_what_to_check():
    import socket

    environment = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}
    # Airbyte answers the first look, then goes away: each attempt is refused; the retries would take minutes.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    process = subprocess.Popen([str(CLI), "run", "--connection-id", CONNECTION_ID, "--airbyte-url", f"http://127.0.0.1:{port}/api/public/v1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        listener.settimeout(60)
        listener.accept()[0].close()
        listener.close()
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "refused" in line:
                break
    finally:
        listener.close()
        process.kill()
        process.communicate()
    assert lines[-1].strip().startswith("checkConnection: ")
    assert f"refused by 127.0.0.1:{port}; is Airbyte running there, and is the Airbyte URL right?" in lines[-1]
    # When the next attempt comes, from the state's Retry (TransientAirbyteError: 5 s, doubling, full jitter).
    assert lines[-1].rstrip().endswith(" -- attempt 2 of 7 in at most 5 s")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_on_a_terminal_the_run_is_a_live_display_of_the_workflow_steps():
    import pty
    import re
    import select

    environment = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}
    environment.update(TERM="xterm", COLUMNS="120", LINES="40")
    leader, follower = pty.openpty()
    process = subprocess.Popen([str(CLI), "run", "--connection-id", CONNECTION_ID, "--poll-interval", "0"],
                               stdin=follower, stdout=follower, stderr=follower, env=environment, close_fds=True)
    os.close(follower)
    screen = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            screen += chunk
    finally:
        process.wait(timeout=60)
        os.close(leader)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode("utf-8", "replace"))
    assert process.returncode == 0
    assert "\x1b[" in screen.decode("utf-8", "replace")  # drawn and redrawn, not printed line by line
    for step in ("checkConnection", "checkConnectionIdle", "triggerReset", "waitForReset", "triggerResync", "waitForResync"):
        assert re.search(rf"✔\s+{step}\b", text), step
    assert "checkConnection.Route" not in text and "StartWorkflow" not in text  # steps, not generated states
    assert re.search(r"waitForResync\s+job 1002\s+succeeded", text)
    assert "Execution SUCCEEDED" in text and "resyncStatus: succeeded" in text


def test_ctrl_c_against_a_real_airbyte_cancels_the_reset_it_left_running_and_says_so():
    with AirbyteStub() as stub:
        stub.script("reset", ["running"] * 50 + ["succeeded"])  # a long reset: polled every minute
        answer = interrupted(["run", "--connection-id", CONNECTION_ID, "--airbyte-url", stub.url, "--poll-interval", "60", "--json"],
                             ready=lambda: any(job["jobType"] == "reset" for job in stub.jobs.values()) and "getJob" in stub.operations())
        [reset] = [job for job in stub.jobs.values() if job["jobType"] == "reset"]
        assert reset["status"] == "cancelled"
        assert [job["jobType"] for job in stub.jobs.values()] == ["reset"], "no sync after an interrupted reset"
    assert answer.returncode == 130 and answer.stdout == ""
    assert answer.stderr.strip().splitlines() == [
        f"airbyte-resync: interrupted: reset {reset['jobId']} was running and has been cancelled; the destination may be partly emptied: run again"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["start", "--workspace-id", "not-a-uuid"], "--workspace-id must be a UUID"),
        (["start", "--connection-id", CONNECTION_ID, "--connection-id", CONNECTION_ID.replace("9f", "8e"), "--max-concurrent", "1001"],
         "--max-concurrent must be between 1 and 1000, got 1001"),
        (["start", "--tag-id", CONNECTION_ID, "--tolerated-failures", "some"], "--tolerated-failures must be a whole number of at least 0"),
        (["request", "--workspace-id", CONNECTION_ID, "--max-concurrent", "0"], "--max-concurrent must be between 1 and 1000, got 0"),
    ],
)
def test_a_fleets_arguments_are_refused_before_anything_is_asked_of_aws(args, message):
    # No Region and no credentials: an AWS call would end in another error.
    done = run_cli(*args, *(["--stack-name", "airbyte-resync"] if args[0] == "start" else []),
                   AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent", AWS_REGION="", AWS_DEFAULT_REGION="")

    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("airbyte-resync: error: ") and message in line


@pytest.mark.parametrize("real_airbyte", [True, False])
def test_a_local_run_against_a_real_airbyte_is_bounded_by_its_workflow_alone(monkeypatch, capsys, real_airbyte):
    """Stopped after an hour, a run against a real Airbyte would leave its reset running and the
    destination emptied; its own maxResetSeconds and maxResyncSeconds bound it, as on AWS. A run
    against the built-in stub, whose jobs take seconds, is stopped after an hour."""
    import math

    from airbyte_resync import cli, local

    given: dict = {}

    def recorded(*args, **kwargs):
        given.update(kwargs)
        raise SystemExit(0)  # nothing more is needed of the run

    monkeypatch.setattr(local, "run_state_machine", recorded)
    with AirbyteStub() as stub:
        where = ["--airbyte-url", stub.url] if real_airbyte else []
        with pytest.raises(SystemExit):
            cli.main(["run", "--connection-id", CONNECTION_ID, *where, "--json"])
    assert given["timeout_seconds"] == (math.inf if real_airbyte else cli.EMBEDDED_RUN_SECONDS)
