"""Run the committed state machine on one machine: moto's Step Functions engine executes
the generated ASL, the three handlers run in-process, and an Airbyte answers (the built-in
stub or a real URL). Same payloads, same Retry/Catch as on AWS."""

from __future__ import annotations

import json
import re
import secrets
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from airbyte_resync import files
from airbyte_resync.credentials import Credentials
from airbyte_resync.template import FunctionBinding, state_machine_bindings
from airbyte_resync.transitions import JobTransitions, Transition
from arazzo_sfn import execution
from arazzo_sfn.engine import REGION, Handler, LocalFunctions, function_arn, one_at_a_time, state_machine_arn
from arazzo_sfn.execution import LOCAL_ENVIRONMENT
from arazzo_sfn.history import RunResult, StepFunctions

TEMPLATE_PATH = files.TEMPLATE
if TYPE_CHECKING:  # the stub is imported only when a run uses it
    from airbyte_resync.stub import AirbyteStub

STACK_NAME = "airbyte-resync-local"
# (the function's logical id, its handler) -> what runs in its place (a test's fault injector).
HandlerWrapper = Callable[[str, Handler], Handler]
SECRET_NAME = "airbyte-resync/local"
IDEMPOTENCY_TABLE = "airbyte-resync-idempotency"
# The template's tables, by logical id, as the local deployment names them.
TABLES = {"IdempotencyTable": IDEMPOTENCY_TABLE}
# The state machine a run is an execution of, and a fleet's.
RUN_MACHINE = "ResetAndResyncStateMachine"
FLEET_MACHINE = "ResetAndResyncFleetStateMachine"


def load_handler(binding: FunctionBinding) -> Handler:
    """Import the handler the way Lambda does: once per process (warm invocations reuse it)."""
    module_name, _, function_name = binding.handler.rpartition(".")
    path = binding.code_uri / f"{module_name.replace('.', '/')}.py"
    return execution.load_handler(path, function_name, f"local_function_{binding.logical_id}")


def function_environment(api_url: str, secret_id: str) -> dict[str, str]:
    """The environment template.yaml gives every function (a test keeps the two in step)."""
    return {
        "AIRBYTE_API_URL": api_url,
        "AIRBYTE_SECRET_ID": secret_id,
        "POWERTOOLS_SERVICE_NAME": "airbyte-resync",
        "POWERTOOLS_METRICS_NAMESPACE": "AirbyteResync",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
    }


def run_state_machine(
    execution_input: dict[str, Any],
    airbyte_url: str,
    credentials: Credentials | None = None,
    *,
    template_path: Path = TEMPLATE_PATH,
    on_transition: Callable[[Transition], None] | None = None,
    retry_sleep: Callable[[float], None] | None = None,
    timeout_seconds: float = 3600,
    wrap_function: HandlerWrapper | None = None,
    wait_sleep: Callable[[float], None] | None = None,
    machine: str = RUN_MACHINE,
    follow_with: Callable[[StepFunctions, str], RunResult] | None = None,
) -> RunResult:
    """Execute the state machine once in moto and wait for it to end. `wrap_function(logical
    id, handler)` may replace a handler, to inject faults around it in tests; `wait_sleep`
    stands for the Wait states' waits (a test's clock); `machine` is the template's logical id
    of the state machine to run (the fleet's: FLEET_MACHINE); `follow_with(client, execution
    ARN)` follows the execution in moto to its end in the place of the default follower (a
    fleet's over its connections' runs: `run_machine_arn` names their state machine)."""
    deployment = LocalDeployment(airbyte_url, credentials or Credentials(), template_path, wrap_function, machine)
    return execution.execute(
        deployment.definition,
        execution_input,
        deployment.functions,
        machine_name=deployment.machine_name,
        other_machines=deployment.children,
        variables=deployment.variables,
        read_transition=JobTransitions(),
        on_transition=on_transition,
        retry_sleep=retry_sleep,
        timeout_seconds=timeout_seconds,
        prepare=deployment.create_resources,
        wait_sleep=wait_sleep,
        # A person watching sees the job's status as wait-for-job reads it, not only at its end.
        child_reader=JobTransitions if on_transition is not None else None,
        follow_with=follow_with,
    )


def run_machine_arn() -> str:
    """The run's state machine in a local run's moto: a fleet's child executions are its."""
    return state_machine_arn(machine_name(RUN_MACHINE))


def run_state_machines(
    execution_inputs: list[dict[str, Any]],
    airbyte_url: str,
    credentials: Credentials | None = None,
    *,
    retry_sleep: Callable[[float], None] | None = None,
    timeout_seconds: float = 3600,
) -> list[RunResult]:
    """Start one execution per input at once, on one local deployment, and wait for all."""
    deployment = LocalDeployment(airbyte_url, credentials or Credentials(), TEMPLATE_PATH, None, RUN_MACHINE)
    return execution.execute_many(
        deployment.definition,
        execution_inputs,
        deployment.functions,
        machine_name=deployment.machine_name,
        other_machines=deployment.children,
        variables=deployment.variables,
        retry_sleep=retry_sleep,
        timeout_seconds=timeout_seconds,
        prepare=deployment.create_resources,
    )


class LocalDeployment:
    """What `sam deploy` would create, made locally: each state machine of template.yaml, its
    placeholders bound as the template binds them (functions, and the child state machines it
    starts), the functions' environment, and (in moto) the secret and the table they read.
    Any engine runs these definitions: moto's here, a second one in the tests."""

    def __init__(self, airbyte_url: str, credentials: Credentials, template_path: Path, wrap_function: HandlerWrapper | None, root: str):
        machines = state_machine_bindings(template_path)
        if root not in machines:
            raise ValueError(f"{template_path.name} has no state machine {root}")
        self.functions = LocalFunctions()
        definitions: dict[str, str] = {}
        for logical_id, machine in machines.items():
            definition = machine.definition_path.read_text(encoding="utf-8")
            for placeholder, binding in machine.functions.items():
                arn = function_arn(f"{STACK_NAME}-{binding.logical_id}")
                definition = definition.replace("${" + placeholder + "}", arn)
                if arn not in self.functions.handlers:
                    handler = one_at_a_time(load_handler_deferred(binding))
                    # A test's wrapper sits between Step Functions and the function, outside its lock.
                    self.functions.register(arn, wrap_function(binding.logical_id, handler) if wrap_function else handler, exclusive=False)
            for placeholder, other in machine.state_machines.items():
                definition = definition.replace("${" + placeholder + "}", state_machine_arn(machine_name(other)))
            for placeholder, table in machine.tables.items():
                if table not in TABLES:
                    raise ValueError(f"template.yaml binds {placeholder} to table {table}, which the local run does not create")
                definition = definition.replace("${" + placeholder + "}", TABLES[table])
            missing = sorted(set(re.findall(r"\$\{(\w+)\}", definition)))
            if missing:
                raise ValueError(f"template.yaml binds nothing to {', '.join(missing)} in {machine.definition_path.name}")
            definitions[machine_name(logical_id)] = definition
        self.machine_name = machine_name(root)
        self.definition = definitions.pop(self.machine_name)
        self.children = definitions
        self.secret = credentials.secret_value()
        self.variables = {**LOCAL_ENVIRONMENT, **function_environment(airbyte_url, SECRET_NAME if self.secret else "")}
        _forget_warm_state()

    def create_resources(self) -> None:
        """What the stack creates and the functions read: the secret and the idempotency table."""
        if self.secret:
            boto3.client("secretsmanager", region_name=REGION).create_secret(Name=SECRET_NAME, SecretString=json.dumps(self.secret))
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=IDEMPOTENCY_TABLE,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )


def machine_name(logical_id: str) -> str:
    """The local name of a template's state machine: ResetAndResyncStateMachine -> ResetAndResync."""
    return logical_id.removesuffix("StateMachine")


def load_handler_deferred(binding: FunctionBinding) -> Handler:
    # Import inside the run's environment (Powertools reads it at import), on first use.
    def invoke(event: Any, context: Any) -> Any:
        return load_handler(binding)(event, context)

    return invoke


def _forget_warm_state() -> None:
    """Each run starts like a fresh deployment: no cached secret, client or token."""
    # Only what is already imported: importing here would build Powertools' Logger and
    # Metrics outside the functions' environment.
    handler = sys.modules.get("airbyte_client.handler")
    if handler is not None:
        handler.forget_clients()
    claims = sys.modules.get("airbyte_client.claims")
    if claims is not None:
        claims.forget_claim_clients()
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is not None:
        parameters.clear_caches()




def start_embedded_stub() -> tuple[AirbyteStub, Credentials]:
    """The embedded default: a stub Airbyte on a free loopback port, with client credentials
    made up for this run so the token exchange is exercised too."""
    from airbyte_resync.stub import AirbyteStub

    credentials = Credentials(client_id=str(uuid.uuid4()), client_secret=secrets.token_urlsafe(24))
    stub = AirbyteStub(client_id=credentials.client_id, client_secret=credentials.client_secret)
    stub.start()
    return stub, credentials
