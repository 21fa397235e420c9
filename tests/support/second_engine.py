"""The application's state machines run in a second Step Functions engine,
aws-local-stepfunctions (npm, pinned in tests/second_engine/package-lock.json), beside moto's.

The deployment is the one a local run makes (src/airbyte_resync/local.py): the template's
functions and their environment, the secret and the idempotency table in moto. The engine runs
in Node (tests/second_engine/run.mjs); each Lambda Task it runs posts its payload to a bridge
here, an HTTP server on a loopback port that invokes the function's real handler in this
process and answers as Lambda does (a function error: the header X-Amz-Function-Error and the
body {errorType, errorMessage, stackTrace})."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from moto import mock_aws

from airbyte_resync.credentials import Credentials
from airbyte_resync.local import RUN_MACHINE, STACK_NAME, TABLES, TEMPLATE_PATH, LocalDeployment, machine_name
from airbyte_resync.template import state_machine_bindings
from arazzo_sfn import execution
from arazzo_sfn.engine import LocalFunctions, function_arn, state_machine_arn

ENGINE_DIRECTORY = Path(__file__).resolve().parents[1] / "second_engine"
RUNNER = ENGINE_DIRECTORY / "run.mjs"
ENGINE_PACKAGE = ENGINE_DIRECTORY / "node_modules" / "aws-local-stepfunctions" / "package.json"


# The engine's gaps the runner makes up for (docs/how-it-works/second-engine.md), by the name
# run.mjs gives each.
ENGINE_GAPS = ("contextState", "intrinsicFailPaths", "taskTimeouts")


def node_missing() -> str | None:
    """Why the second engine cannot run here (Node, or npm that installs it, is not
    installed), or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed: the second Step Functions engine (aws-local-stepfunctions) runs in Node"
    if shutil.which("npm") is None and not (ENGINE_DIRECTORY / "node_modules").is_dir():
        return "npm is not installed: make install cannot install the second Step Functions engine (aws-local-stepfunctions)"
    return None


@dataclass(frozen=True)
class EngineResult:
    status: str  # SUCCEEDED or FAILED
    output: Any
    error: str | None
    cause: str | None
    invocations: list[tuple[str, Any]]  # (the function's logical id, the event it was given), in order


class _FunctionBridge(ThreadingHTTPServer):
    """POST /invoke/<the function's logical id> runs the function with the request's body as
    its event and answers with what Lambda's Invoke answers."""

    daemon_threads = True

    def __init__(self, functions: LocalFunctions):
        super().__init__(("127.0.0.1", 0), _BridgeRequest)
        self.functions = functions

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _BridgeRequest(BaseHTTPRequestHandler):
    server: _FunctionBridge

    def do_POST(self) -> None:
        logical_id = self.path.removeprefix("/invoke/")
        payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        arn = function_arn(f"{STACK_NAME}-{logical_id}")
        if arn not in self.server.functions.handlers:
            self._answer(404, json.dumps({"message": f"no function {logical_id}"}).encode(), function_error=False)
            return
        answer, function_error = self.server.functions.invoke(arn, payload)
        self._answer(200, answer, function_error=function_error)

    def _answer(self, status: int, body: bytes, *, function_error: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if function_error:
            self.send_header("X-Amz-Function-Error", "Unhandled")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # the test's output is the run's, not the bridge's
        pass


@contextlib.contextmanager
def _bridge(functions: LocalFunctions) -> Iterator[_FunctionBridge]:
    server = _FunctionBridge(functions)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _machines(template_path: Path) -> dict[str, dict[str, Any]]:
    """Each state machine of the template: its definition, the values its DefinitionSubstitutions
    take (as a local run binds them) and its ARN."""
    machines = {}
    for logical_id, machine in state_machine_bindings(template_path).items():
        substitutions = {placeholder: function_arn(f"{STACK_NAME}-{binding.logical_id}") for placeholder, binding in machine.functions.items()}
        substitutions |= {placeholder: state_machine_arn(machine_name(other)) for placeholder, other in machine.state_machines.items()}
        substitutions |= {placeholder: TABLES[table] for placeholder, table in machine.tables.items()}
        machines[logical_id] = {"definition": str(machine.definition_path), "substitutions": substitutions, "arn": state_machine_arn(machine_name(logical_id))}
    return machines


def run_in_second_engine(
    execution_input: dict[str, Any],
    airbyte_url: str,
    credentials: Credentials,
    *,
    machine: str = RUN_MACHINE,
    template_path: Path = TEMPLATE_PATH,
    timeout_seconds: float = 120,
    without: tuple[str, ...] = (),
) -> EngineResult:
    """One execution of the template's state machine `machine` in aws-local-stepfunctions,
    its functions run here against `airbyte_url`. `without` names gaps of the engine (of
    ENGINE_GAPS) the runner leaves as they are."""
    if not ENGINE_PACKAGE.exists():
        raise RuntimeError("aws-local-stepfunctions is not installed: `make install` installs it (npm ci in tests/second_engine)")
    unknown = set(without) - set(ENGINE_GAPS)
    if unknown:
        raise ValueError(f"unknown engine gaps {sorted(unknown)}; expected some of {ENGINE_GAPS}")
    # Exactly what a local run deploys (its functions, environment, secret and table), so the
    # two engines run the same deployment; only the state machines run elsewhere.
    deployment = LocalDeployment(airbyte_url, credentials, template_path, None, machine)
    machines = _machines(template_path)
    execution.FUNCTION_OUTPUT.target = io.StringIO()
    with (
        execution.environment(deployment.variables),
        contextlib.redirect_stdout(execution.FUNCTION_OUTPUT),
        mock_aws(),
        _bridge(deployment.functions) as bridge,
        tempfile.TemporaryDirectory() as directory,
    ):
        deployment.create_resources()
        functions = {arn: name.removeprefix(f"{STACK_NAME}-") for arn, (name, _) in deployment.functions.handlers.items()}
        configuration = Path(directory) / "deployment.json"
        configuration.write_text(json.dumps({"root": machine, "machines": machines, "functions": functions, "bridge": bridge.url, "input": execution_input, "without": list(without)}))
        finished = subprocess.run(["node", str(RUNNER), str(configuration)], cwd=ENGINE_DIRECTORY, capture_output=True, text=True, timeout=timeout_seconds, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"the second engine did not run the state machine (exit {finished.returncode}):\n{finished.stderr}")
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    invocations = [(invocation.function_arn.rsplit(":", 1)[-1].removeprefix(f"{STACK_NAME}-"), invocation.event) for invocation in deployment.functions.invocations]
    return EngineResult(result["status"], result["output"], result["error"], result["cause"], invocations)
