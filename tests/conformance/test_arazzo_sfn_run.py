"""`arazzo-sfn run`, exercised as a user runs it: a subprocess, against a scripted server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arazzo_sfn.testing import Reply, ScriptedServer
from tests.conformance.conftest import SHELTER, WORKFLOW

CLI = Path(sys.executable).parent / "arazzo-sfn"
RESULT_KEYS = {"executionArn", "name", "status", "startDate", "stopDate", "error", "cause", "output", "events"}

def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    # As a user would run it: no server URLs or Powertools settings inherited from the tests.
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SERVER_URL", "POWERTOOLS_"))}
    return subprocess.run([str(CLI), *args], capture_output=True, text=True, env=environment, cwd=cwd, timeout=120)


def test_json_run_prints_exactly_one_object_and_exits_0(shelter_workflow):
    with ScriptedServer(SHELTER) as server:
        done = run_cli("run", str(shelter_workflow), "--input", '{"petId": 7}', "--server-url", server.url, "--json")

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert set(result) == RESULT_KEYS
    assert result["status"] == "SUCCEEDED"
    assert result["output"] == {"name": "Rex", "adoptionId": "adoption-1"}
    assert result["error"] is None and result["cause"] is None
    assert isinstance(result["events"], int) and result["events"] > 10
    assert server.sequence() == ["GET /pets/7", "POST /adoptions"]
    assert server.calls[1].body == {"petId": 7}


def test_a_failed_execution_exits_1_with_the_error_and_cause(shelter_workflow):
    with ScriptedServer({**SHELTER, "GET /pets/{petId}": [Reply(404, {"message": "no such pet"})]}) as server:
        done = run_cli("run", str(shelter_workflow), "--workflow", "adopt-pet", "--input", '{"petId": 8}', "--server-url", server.url, "--json")

    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == RESULT_KEYS
    assert result["status"] == "FAILED" and result["output"] is None
    assert result["error"] == "StepFailed"
    cause = json.loads(result["cause"])
    assert cause["step"] == "findPet" and cause["statusCode"] == 404 and cause["response"] == {"message": "no such pet"}
    assert server.sequence() == ["GET /pets/8"]


def test_inputs_the_workflow_refuses_fail_the_execution(shelter_workflow):
    with ScriptedServer(SHELTER) as server:
        done = run_cli("run", str(shelter_workflow), "--input", '{"petId": "seven"}', "--server-url", server.url, "--json")

    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["status"] == "FAILED" and result["error"] == "InvalidInput"
    assert server.calls == []


def test_human_run_prints_a_line_per_transition_then_the_outputs(shelter_workflow):
    with ScriptedServer(SHELTER) as server:
        done = run_cli("run", str(shelter_workflow), "--input", '{"petId": 7}', "--server-url", server.url)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    transitions = [line.split() for line in lines if line.strip() and line.split()[0].endswith("s") and line.split()[0][:-1].replace(".", "").isdigit()]
    assert [fields[1] for fields in transitions] == ["CheckInput", "StartWorkflow", "findPet", "findPet.Route", "adopt", "adopt.Route", "WorkflowOutputs"]
    assert transitions[2][2:] == ["Task", "200"] and transitions[4][2:] == ["Task", "201"]
    assert "Execution SUCCEEDED" in done.stdout
    assert '  name: Rex' in lines and '  adoptionId: adoption-1' in lines
    assert not any(line.startswith("{") for line in lines), "function logs leaked into the output"


def test_human_run_of_a_failure_names_the_error(shelter_workflow):
    with ScriptedServer({**SHELTER, "POST /adoptions": [Reply(409, {"message": "already adopted"})]}) as server:
        done = run_cli("run", str(shelter_workflow), "--input", '{"petId": 7}', "--server-url", server.url)

    assert done.returncode == 1
    assert "Execution FAILED" in done.stdout
    assert "Error: StepFailed" in done.stdout and "HTTP 409" in done.stdout


def test_input_can_be_read_from_a_file(shelter_workflow, tmp_path):
    (tmp_path / "input.json").write_text('{"petId": 7}', encoding="utf-8")
    with ScriptedServer(SHELTER) as server:
        done = run_cli("run", str(shelter_workflow), "--input", "@input.json", "--server-url", server.url, "--json", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["output"] == {"name": "Rex", "adoptionId": "adoption-1"}


@pytest.mark.parametrize(
    "args, named",
    [
        (["--input", '{"petId": 7', "--server-url", "http://127.0.0.1:9"], "--input is not valid JSON"),
        (["--input", "[7]", "--server-url", "http://127.0.0.1:9"], "--input must be a JSON object"),
        (["--input", '"seven"', "--server-url", "http://127.0.0.1:9"], "--input must be a JSON object"),
        (["--input", "@no-such-file.json", "--server-url", "http://127.0.0.1:9"], "--input"),
        (["--input", "{}", "--server-url", "ftp://127.0.0.1/pets"], "--server-url"),
        (["--input", "{}", "--server-url", "not a url"], "--server-url"),
        (["--input", "{}", "--server-url", "http://shelter.example.com/v1"], "--server-url"),
        (["--input", "{}"], "--server-url"),
    ],
)
def test_invalid_arguments_exit_2_naming_the_argument(shelter_workflow, args, named):
    done = run_cli("run", str(shelter_workflow), *args, "--json")

    assert done.returncode == 2
    assert named in done.stderr
    assert done.stdout == ""


def test_a_url_with_a_password_is_refused_without_echoing_it(shelter_workflow):
    done = run_cli("run", str(shelter_workflow), "--server-url", "http://user:Pa55-word@127.0.0.1:9", "--json")

    assert done.returncode == 2
    assert "--server-url" in done.stderr and "Pa55-word" not in done.stderr


def test_a_document_that_does_not_compile_exits_2_with_the_compiler_problems(shelter_workflow):
    shelter_workflow.write_text(WORKFLOW.replace("operationId: adoptPet", "operationId: rehomePet"), encoding="utf-8")

    done = run_cli("run", str(shelter_workflow), "--input", '{"petId": 7}', "--server-url", "http://127.0.0.1:9", "--json")

    assert done.returncode == 2
    assert "cannot compile" in done.stderr
    assert "operationId 'rehomePet' is not in any OpenAPI source description" in done.stderr
    assert done.stdout == ""


def test_an_unknown_workflow_id_exits_2(shelter_workflow):
    done = run_cli("run", str(shelter_workflow), "--workflow", "adopt-cat", "--server-url", "http://127.0.0.1:9", "--json")

    assert done.returncode == 2
    assert "no workflow 'adopt-cat'" in done.stderr
    assert done.stdout == ""


def test_ctrl_c_during_a_run_is_one_line_and_exit_130(shelter_workflow):
    import signal
    import socket
    import time

    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SERVER_URL", "POWERTOOLS_"))}
    # A server that takes the connection and never answers: the run is surely under way when interrupted.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        process = subprocess.Popen([str(CLI), "run", str(shelter_workflow), "--input", '{"petId": 7}', "--server-url", url],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
        try:
            assert process.stdout.readline().startswith("Running ")
            time.sleep(2)
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=30)
        finally:
            process.kill()
    assert process.returncode == 130
    assert stderr.strip().splitlines() == ["arazzo-sfn: interrupted"]
    assert "Traceback" not in stdout + stderr
