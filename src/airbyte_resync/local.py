"""Run the committed state machine on one machine: moto's Step Functions engine executes
the generated ASL, the three handlers run in-process, and an Airbyte answers (the built-in
stub or a real URL). Same payloads, same Retry/Catch as on AWS."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import secrets
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

import boto3

from airbyte_resync.engine import ACCOUNT_ID, REGION, LocalFunctions, function_arn, local_aws
from airbyte_resync.template import FunctionBinding, function_bindings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = PROJECT_ROOT / "statemachine" / "reset_and_resync.asl.json"
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"
STACK_NAME = "airbyte-resync-local"
SECRET_NAME = "airbyte-resync/local"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass(frozen=True)
class Credentials:
    """What the functions will find in the Airbyte secret."""

    client_id: str | None = None
    client_secret: str | None = None
    api_token: str | None = None

    def secret_value(self) -> dict | None:
        if self.client_id and self.client_secret:
            return {"clientId": self.client_id, "clientSecret": self.client_secret}
        if self.api_token:
            return {"apiToken": self.api_token}
        return None

    def __repr__(self) -> str:  # never print a secret by accident
        return f"Credentials(client_id={self.client_id!r}, client_secret={'***' if self.client_secret else None}, api_token={'***' if self.api_token else None})"


@dataclass
class Transition:
    """One state the execution went through."""

    state: str
    state_type: str
    elapsed: float
    job_id: Any = None
    job_status: Any = None


@dataclass
class RunResult:
    status: str
    output: Any
    error: str | None
    cause: str | None
    events: int
    transitions: list[Transition] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    function_logs: str = ""

    def to_json(self) -> dict:
        return {"status": self.status, "output": self.output, "error": self.error, "cause": self.cause, "events": self.events}


class _SwitchableStream(io.TextIOBase):
    """Where the handlers' stdout goes (Powertools logs and EMF metrics). Powertools binds
    its handler to sys.stdout once, at import, so the target is switched per run instead."""

    def __init__(self):
        self.target: TextIO = io.StringIO()

    def write(self, text: str) -> int:
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()


FUNCTION_OUTPUT = _SwitchableStream()
_loaded_handlers: dict[Path, Callable] = {}


def load_handler(binding: FunctionBinding) -> Callable:
    """Import the handler the way Lambda does: once per process (warm invocations reuse it)."""
    module_name, _, function_name = binding.handler.rpartition(".")
    path = (binding.code_uri / f"{module_name.replace('.', '/')}.py").resolve()
    if path not in _loaded_handlers:
        spec = importlib.util.spec_from_file_location(f"local_function_{binding.logical_id}", path)
        module = importlib.util.module_from_spec(spec)
        with contextlib.redirect_stdout(FUNCTION_OUTPUT):
            spec.loader.exec_module(module)
        _loaded_handlers[path] = getattr(module, function_name)
    return _loaded_handlers[path]


def function_environment(api_url: str, secret_id: str) -> dict[str, str]:
    """The environment template.yaml gives every function (a test keeps the two in step)."""
    return {
        "AIRBYTE_API_URL": api_url,
        "AIRBYTE_SECRET_ID": secret_id,
        "POWERTOOLS_SERVICE_NAME": "airbyte-resync",
        "POWERTOOLS_METRICS_NAMESPACE": "AirbyteResync",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


# What the local process needs besides: a region for the AWS clients, and no X-Ray daemon.
LOCAL_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_state_machine(
    execution_input: dict,
    airbyte_url: str,
    credentials: Credentials | None = None,
    *,
    asl_path: Path = ASL_PATH,
    template_path: Path = TEMPLATE_PATH,
    on_transition: Callable[[Transition], None] | None = None,
    retry_sleep: Callable[[float], None] | None = None,
    timeout_seconds: float = 3600,
) -> RunResult:
    """Execute the state machine once in moto and wait for it to end."""
    credentials = credentials or Credentials()
    bindings = function_bindings(template_path)
    definition = asl_path.read_text(encoding="utf-8")
    functions = LocalFunctions()
    for placeholder, binding in bindings.items():
        arn = function_arn(f"{STACK_NAME}-{binding.logical_id}")
        definition = definition.replace("${" + placeholder + "}", arn)
        functions.register(arn, load_handler_deferred(binding))
    missing = sorted(set(re.findall(r"\$\{(\w+)\}", definition)))
    if missing:
        raise ValueError(f"template.yaml binds no function to {', '.join(missing)}")

    secret = credentials.secret_value()
    env = {**LOCAL_ENVIRONMENT, **function_environment(airbyte_url, SECRET_NAME if secret else "")}
    FUNCTION_OUTPUT.target = captured = io.StringIO()
    _forget_warm_state()
    with _environment(env), contextlib.redirect_stdout(FUNCTION_OUTPUT), local_aws(functions, retry_sleep):
        if secret:
            boto3.client("secretsmanager", region_name=REGION).create_secret(Name=SECRET_NAME, SecretString=json.dumps(secret))
        client = boto3.client("stepfunctions", region_name=REGION)
        machine = client.create_state_machine(
            name="ResetAndResync", definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/local-state-machine"
        )["stateMachineArn"]
        execution = client.start_execution(
            stateMachineArn=machine, name=f"local-{uuid.uuid4()}", input=json.dumps(execution_input)
        )["executionArn"]
        result = _follow(client, execution, on_transition, timeout_seconds)
    result.function_logs = captured.getvalue()
    return result


def load_handler_deferred(binding: FunctionBinding) -> Callable:
    # Import inside the run's environment (Powertools reads it at import), on first use.
    def invoke(event, context):
        return load_handler(binding)(event, context)

    return invoke


def _forget_warm_state() -> None:
    """Each run starts like a fresh deployment: no cached secret, client or token."""
    # Only what is already imported: importing here would build Powertools' Logger and
    # Metrics outside the functions' environment.
    handler = sys.modules.get("airbyte_client.handler")
    if handler is not None:
        handler.forget_clients()
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is not None:
        parameters.clear_caches()


def _follow(client, execution: str, on_transition, timeout_seconds: float) -> RunResult:
    started = time.monotonic()
    seen, transitions = 0, []
    last_job: tuple[Any, Any] = (None, None)
    while True:
        description = client.describe_execution(executionArn=execution)
        history = _history(client, execution)
        for event in history[seen:]:
            transition = _transition(event, history[0]["timestamp"], last_job)
            if transition:
                last_job = (transition.job_id, transition.job_status)
                transitions.append(transition)
                if on_transition:
                    on_transition(transition)
        seen = len(history)
        if description["status"] in TERMINAL:
            break
        if time.monotonic() - started > timeout_seconds:
            client.stop_execution(executionArn=execution, error="LocalTimeout", cause="the local run took too long")
            continue
        time.sleep(0.05)
    output = description.get("output")
    return RunResult(
        status=description["status"],
        output=json.loads(output) if output else None,
        error=description.get("error"),
        cause=description.get("cause"),
        events=len(history),
        transitions=transitions,
        history=history,
    )


def _history(client, execution: str) -> list[dict]:
    events, token = [], None
    while True:
        page = client.get_execution_history(executionArn=execution, maxResults=1000, **({"nextToken": token} if token else {}))
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return events


def _transition(event: dict, start, last_job) -> Transition | None:
    kind = event["type"]
    elapsed = (event["timestamp"] - start).total_seconds()
    if kind.endswith("StateExited"):
        details = event["stateExitedEventDetails"]
        job_id, job_status = last_job
        try:
            data = json.loads(details.get("output") or "{}")
            body = (data.get("steps") or {}).get(details["name"], {}).get("body") if isinstance(data, dict) else None
        except (ValueError, AttributeError):
            body = None
        if isinstance(body, dict) and "jobId" in body:
            job_id, job_status = body.get("jobId"), body.get("status")
        return Transition(details["name"], kind[: -len("StateExited")], elapsed, job_id, job_status)
    if kind == "FailStateEntered":
        name = event["stateEnteredEventDetails"]["name"]
        return Transition(name, "Fail", elapsed, *last_job)
    return None


def start_embedded_stub():
    """The embedded default: a stub Airbyte on a free loopback port, with client credentials
    made up for this run so the token exchange is exercised too."""
    from airbyte_resync.stub import AirbyteStub

    credentials = Credentials(client_id=str(uuid.uuid4()), client_secret=secrets.token_urlsafe(24))
    stub = AirbyteStub(client_id=credentials.client_id, client_secret=credentials.client_secret)
    stub.start()
    return stub, credentials
