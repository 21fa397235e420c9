"""moto's Step Functions engine, with Lambda invocations routed to in-process handlers
and nested executions made to run.

moto offers no documented hook for running Lambda code without Docker; with
`use_docker: False` every invocation lands in `LambdaSimpleBackend.invoke`. Replacing that
one method (for the duration of a run, and nowhere else) routes each invocation to the
Python handler bound to the function's ARN. The retry sleep of moto's ASL interpreter can
be replaced too, so tests can see the backoff schedule without waiting for it.

moto 5.2.5 no longer normalises the parameters and results of its `states:startExecution`
integrations (moto issue #10076): every one fails with `States.Runtime 'StateMachineArn'`.
`_sfn_integration_normalised` puts that normalisation back, for those integrations only,
for the duration of a run (a test fails the day moto no longer needs it).

moto's interpreter parses each JSONPath anew every time a state reads one, and
jsonpath_ng builds its whole parser for each parse: most of the time a long local run
takes. `_json_paths_parsed_once` caches the parsed paths for the process, used during runs.
moto parses a state machine's whole definition with ANTLR when it is created and again
when each execution starts (each child execution too): `_definitions_parsed_once` keeps
each definition's parse tree, and the interpreter's components built from it once, for the
life of the process; each execution gets a deep copy of those components, new as moto's own
are; a definition found valid once is not checked again when a state machine is created
with it.
When an execution ends, moto sets its status first and its output (or error and cause)
next: a DescribeExecution in between (a loaded machine makes it likely) reads SUCCEEDED
with a null output, or FAILED without its error, and so does a parent reading its child.
`_endings_written_whole` writes the output, error and cause before the status, and counts
the ending, so a follower's pause (`until_an_execution_ends`) ends with it.
DynamoDB applies each write to an item whole (an `ADD` is atomic); moto does not support
access from several threads (its documentation, after moto issue #7164), and its engine runs
each execution, Map iteration and child in a thread of its own: two iterations adding to one
counter at the same moment can both read the old value, and one addition is lost.
`_dynamodb_writes_serialised` makes moto's DynamoDB serve one request at a time.
GetExecutionHistory on AWS answers a page (`maxResults`, 100 unless given, at most 1,000),
oldest or newest first (`reverseOrder`), with a `nextToken` for the next; moto 5.2.5 ignores
all three and answers the whole history, deep-copied and serialized, at every call: following
a run cost a copy of every event so far at each look. `_history_read_a_page_at_a_time` answers
as AWS does.
In an intrinsic function's string literal AWS reads `\\'`, `\\{`, `\\}` and `\\\\` as the characters
themselves (the Step Functions developer guide, "Intrinsic functions", reserved characters);
moto 5.2.5 parses the field's JSON text instead of its value (a quote escaped in the literal
ends it there), keeps each escape's backslash, and fills a States.Format template with
Python's `str.format` (a literal brace fails the state). `_intrinsic_strings_read_as_aws_does`
reads them as AWS does.
A `.sync` Task looks whether its child has ended every half second; a run here looks every
`SYNC_CHECK_SECONDS`, so a child that ends is noticed in the time its last state takes.
moto is pinned to an exact version because these are internals.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import re
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import botocore.session
import jsonpath_ng.ext.parser
import jsonpath_ng.parser
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.config import DefaultConfig
from moto.dynamodb.models import DynamoDBBackend
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.string.string_expression import StringIntrinsicFunction
from moto.stepfunctions.parser.asl.component.intrinsic.argument.argument import ArgumentLiteral
from moto.stepfunctions.parser.asl.component.intrinsic.function.statesfunction.generic.string_format import StringFormat
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import StateTaskServiceSfn
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramError
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.parse.intrinsic import preprocessor as intrinsic_preprocessor
from moto.stepfunctions.parser.asl.parse.intrinsic.intrinsic_parser import IntrinsicParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.parser.utils import camel_to_snake_case
from moto.stepfunctions.responses import StepFunctionResponse

# Lambda runs one invocation at a time in each execution environment. Here every function
# shares one process, and with it the modules of its layers (Powertools' Logger and Metrics,
# the handlers' client and secret caches): one invocation at a time in the whole process
# gives each handler the guarantee Lambda gives it, however many executions moto runs at
# once on its threads. Without it, log lines carry another execution's correlation id and
# metrics are flushed into the wrong invocation.
_ONE_INVOCATION_AT_A_TIME = threading.Lock()


def one_at_a_time(handler: Handler) -> Handler:
    """`handler`, run while no other function of the process runs (see above)."""

    def invoke(event: Any, context: Any) -> Any:
        with _ONE_INVOCATION_AT_A_TIME:
            return handler(event, context)

    return invoke


MOTO_CONFIG: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
Handler = Callable[[Any, Any], Any]


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def state_machine_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"


@dataclass
class Invocation:
    function_arn: str
    event: Any
    result: Any = None
    error_type: str | None = None


class LocalFunctions:
    """ARN -> handler; records every invocation."""

    def __init__(self) -> None:
        self.handlers: dict[str, tuple[str, Handler]] = {}
        self.invocations: list[Invocation] = []
        self._lock = threading.Lock()

    def register(self, arn: str, handler: Handler, *, exclusive: bool = True) -> None:
        """Bind `handler` to the function `arn`. It runs one invocation at a time in the
        process; `exclusive=False` for a handler that is already `one_at_a_time` inside (a
        test's wrapper around a function, which may wait for other executions)."""
        self.handlers[arn] = (arn.rsplit(":", 1)[-1], one_at_a_time(handler) if exclusive else handler)

    def invoke(self, arn: str, payload: bytes | str | None) -> tuple[bytes, bool]:
        """Run the handler; return (response payload, True when it is a function error)."""
        if arn not in self.handlers:
            raise KeyError(f"no local handler is bound to {arn}")
        name, handler = self.handlers[arn]
        event = json.loads(payload) if payload else {}
        request_id = str(uuid.uuid4())
        context = SimpleNamespace(
            function_name=name,
            function_version="$LATEST",
            invoked_function_arn=arn,
            memory_limit_in_mb=256,
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{name}",
            log_stream_name="local",
            get_remaining_time_in_millis=lambda: 60_000,
        )
        invocation = Invocation(arn, event)
        with self._lock:
            self.invocations.append(invocation)
        try:
            invocation.result = handler(event, context)
            return json.dumps(invocation.result).encode(), False
        except Exception as error:
            invocation.error_type = type(error).__name__
            body = {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "requestId": request_id,
                "stackTrace": traceback.format_tb(error.__traceback__),
            }
            return json.dumps(body).encode(), True


@contextlib.contextmanager
def _replaced(owner: object, name: str, value: object) -> Iterator[None]:
    """`owner.name` is `value` inside the block and what it was again after it. moto's
    internals are replaced by name: they are not an API, and their types say so."""
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextlib.contextmanager
def _sfn_integration_normalised() -> Iterator[None]:
    """What AWS does and moto 5.2.5 skips (moto issue #10076) for `states:startExecution`,
    `.sync` and `.sync:2`: the request's members (`StateMachineArn`, `Name`, `Input`) become
    the API's (`stateMachineArn`, ...), and the answers' members become Step Functions'
    (`ExecutionArn`, `Output`, `Status`, ...), from the service's own model."""
    model = botocore.session.get_session().get_service_model("stepfunctions")
    operations = {camel_to_snake_case(name): model.operation_model(name) for name in model.operation_names}
    original_parameters = StateTaskServiceSfn._normalise_parameters
    original_response = StateTaskServiceSfn._normalise_response

    def normalise_parameters(self: StateTaskServiceSfn, parameters: dict[str, Any], boto_service_name: str | None = None, service_action_name: str | None = None) -> None:
        original_parameters(self, parameters, boto_service_name, service_action_name)
        operation = operations.get(self._get_boto_service_action(service_action_name))
        if operation is not None and operation.input_shape is not None:
            self._to_boto_request(parameters, operation.input_shape)

    def normalise_response(self: StateTaskServiceSfn, response: Any, boto_service_name: str | None = None, service_action_name: str | None = None) -> None:
        original_response(self, response, boto_service_name, service_action_name)
        operation = operations.get(self._get_boto_service_action(service_action_name))
        if operation is not None and operation.output_shape is not None:
            self._from_boto_response(response, operation.output_shape)
        if isinstance(response, dict):
            # Step Functions gives times as epoch milliseconds (StartDate, StopDate).
            for key, value in response.items():
                if isinstance(value, datetime):
                    response[key] = round(value.timestamp() * 1000)

    with _replaced(StateTaskServiceSfn, "_normalise_parameters", normalise_parameters), _replaced(StateTaskServiceSfn, "_normalise_response", normalise_response):
        yield


# How often a `.sync` Task looks whether its child execution has ended (moto: 0.5 s).
SYNC_CHECK_SECONDS = 0.02


# Each JSONPath parsed once for the process, not at every read (a parsed path is only read
# from: `find` and `update_or_create` leave it as it is).
_parse_json_path = functools.lru_cache(maxsize=4096)(jsonpath_ng.ext.parser.parse)
_parse_result_path = functools.lru_cache(maxsize=4096)(jsonpath_ng.parser.parse)


@contextlib.contextmanager
def _json_paths_parsed_once() -> Iterator[None]:
    with _replaced(json_path, "parse", _parse_json_path), _replaced(result_path, "parse", _parse_result_path):
        yield


@contextlib.contextmanager
def local_aws(
    functions: LocalFunctions,
    retry_sleep: Callable[[float], None] | None = None,
    *,
    nested_executions: bool = True,
    wait_sleep: Callable[[float], None] | None = None,
) -> Iterator[None]:
    """moto with its Step Functions engine on, Lambda routed to `functions`, nested
    executions normalised (unless `nested_executions` is False, to show what moto does
    alone), and optionally the interpreter's retry sleep and Wait states' sleep replaced
    (a test's clock: `wait_sleep(seconds)` instead of waiting)."""

    def invoke(self: LambdaSimpleBackend, function_name: str, qualifier: str | None, body: bytes | str | None, headers: Any, response_headers: dict[str, str]) -> bytes:
        payload, failed = functions.invoke(function_name, body)
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    with contextlib.ExitStack() as stack:
        stack.enter_context(_moto_loggers_quiet())
        stack.enter_context(_replaced(LambdaSimpleBackend, "invoke", invoke))
        stack.enter_context(_replaced(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", SYNC_CHECK_SECONDS))
        if retry_sleep is not None:
            # The retrier sleeps with `time.sleep`; it gets a `time` whose sleep is the test's.
            stack.enter_context(_replaced(retrier_decl, "time", SimpleNamespace(sleep=retry_sleep)))
        if wait_sleep is not None:
            sleep = wait_sleep

            def wait_interval(self: WaitFunction, env: Any, wait_seconds: float) -> None:
                sleep(wait_seconds)

            stack.enter_context(_replaced(WaitFunction, "_wait_interval", wait_interval))
        stack.enter_context(mock_aws(config=MOTO_CONFIG))
        stack.enter_context(_json_paths_parsed_once())
        stack.enter_context(_definitions_parsed_once())
        stack.enter_context(_endings_written_whole())
        stack.enter_context(_dynamodb_writes_serialised())
        stack.enter_context(_history_read_a_page_at_a_time())
        stack.enter_context(_intrinsic_strings_read_as_aws_does())
        if nested_executions:
            stack.enter_context(_sfn_integration_normalised())
        yield


# moto's own parse, kept before `_definitions_parsed_once` replaces it.
_MOTO_PARSE: Callable[[str], tuple[Any, Any]] = asl_parser.AmazonStateLanguageParser.parse


@functools.lru_cache(maxsize=64)
def _parse_tree(definition: str) -> Any:
    """The ANTLR parse tree of a definition (a definition moto refuses raises, and is not kept)."""
    return _MOTO_PARSE(definition)[1]


@functools.lru_cache(maxsize=64)
def _pristine_program(definition: str) -> Any:
    """The components moto's preprocessor builds from a definition, never run: only copied."""
    return Preprocessor().visit(_parse_tree(definition))


def _parse_definition(definition: str) -> tuple[Any, Any]:
    # The tree is only read from; the components the interpreter evaluates (and the state
    # they keep while an execution runs) are new for each call, as with moto's own parse:
    # a deep copy of the ones built once, in a third of the time building them takes.
    return copy.deepcopy(_pristine_program(definition)), _parse_tree(definition)


# moto's check of a definition (it parses it, then throws the result away): it returns
# nothing or raises, so only the definitions it found valid are kept.
_validated = functools.lru_cache(maxsize=64)(StepFunctionsParserBackend._validate_definition)


@contextlib.contextmanager
def _definitions_parsed_once() -> Iterator[None]:
    with (
        _replaced(asl_parser.AmazonStateLanguageParser, "parse", staticmethod(_parse_definition)),
        _replaced(StepFunctionsParserBackend, "_validate_definition", staticmethod(_validated)),
    ):
        yield


@contextlib.contextmanager
def _endings_written_whole() -> Iterator[None]:
    reflect: Callable[[BaseExecutionWorkerCommunication], None] = BaseExecutionWorkerCommunication._reflect_execution_status

    def reflect_with_status_last(self: BaseExecutionWorkerCommunication) -> None:
        execution: Any = self.execution
        ending = execution.exec_worker.env.program_state()
        if isinstance(ending, ProgramEnded):
            execution.output = execution.exec_worker.env.states.get_input()
        elif isinstance(ending, ProgramError):
            error: Any = ending.error
            execution.error, execution.cause = error.get("error"), error.get("cause")
        reflect(self)  # sets them again, to the same values, after the stop date: then the status
        _ENDINGS.count()

    with _replaced(BaseExecutionWorkerCommunication, "_reflect_execution_status", reflect_with_status_last):
        yield


class _Endings:
    """How many executions have ended in this process, and a way to wait for the next."""

    def __init__(self) -> None:
        self.ended = 0
        self.changed = threading.Condition()

    def count(self) -> None:
        with self.changed:
            self.ended += 1
            self.changed.notify_all()


_ENDINGS = _Endings()


def until_an_execution_ends() -> Callable[[float], None]:
    """A pause for a follower (`arazzo_sfn.history.follow`): it lasts the time given, or until
    an execution (the followed one, or a child it waits for) ends, if one ends first or has
    ended since the pause before. A follower that only slept would notice a run's end up to
    its longest pause late, on every run."""
    seen = _ENDINGS.ended

    def pause(seconds: float) -> None:
        nonlocal seen
        with _ENDINGS.changed:
            if _ENDINGS.ended == seen:
                _ENDINGS.changed.wait(seconds)
            seen = _ENDINGS.ended

    return pause


# The DynamoDB operations that read or write an item: one at a time, as each is one request
# DynamoDB applies whole.
DYNAMODB_ITEM_OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "transact_write_items")
_DYNAMODB_LOCK = threading.RLock()


def _one_request_at_a_time(operation: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(operation)
    def serialised(*args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_LOCK:
            return operation(*args, **kwargs)

    return serialised


@contextlib.contextmanager
def _dynamodb_writes_serialised() -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for name in DYNAMODB_ITEM_OPERATIONS:
            stack.enter_context(_replaced(DynamoDBBackend, name, _one_request_at_a_time(getattr(DynamoDBBackend, name))))
        yield


# GetExecutionHistory's page when `maxResults` is not given, and its largest (AWS's figures).
HISTORY_PAGE = (100, 1000)


def _history_page(self: StepFunctionResponse) -> str:
    execution: Any = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
    events: list[Any] = []
    if execution.exec_worker.env is not None:  # None until the execution has started
        manager = execution.exec_worker.env.event_manager
        with manager._mutex:
            events = list(manager._history_event_list)
    # Event ids count from 1 in the order the events happened; the token is the id of the last
    # event of the page, so a history that grows between two pages loses and repeats nothing.
    reverse = bool(self._get_param("reverseOrder"))
    token = self._get_param("nextToken")
    if reverse:
        events.reverse()
    if token:
        after = int(token)
        events = [event for event in events if (event["id"] < after if reverse else event["id"] > after)]
    size = min(int(self._get_param("maxResults") or HISTORY_PAGE[0]), HISTORY_PAGE[1])
    output: dict[str, Any] = {"events": events[:size]}
    if len(events) > size:
        output["nextToken"] = str(events[size - 1]["id"])
    # Written as the service's JSON protocol writes it (times in epoch seconds) without moto's
    # generic serializer, which walks every member of the event shape for every event.
    return json.dumps(output, default=_epoch_seconds)


def _epoch_seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@contextlib.contextmanager
def _history_read_a_page_at_a_time() -> Iterator[None]:
    with _replaced(StepFunctionResponse, "get_execution_history", _history_page):
        yield


# An escape in an intrinsic function's string literal: a backslash and the character it
# stands for, or `\\u` and four hex digits (how a control character reaches moto's lexer,
# which takes none inside a literal).
_ESCAPE = r"\\(u[0-9a-fA-F]{4}|.)"
_LITERAL_ESCAPE = re.compile(_ESCAPE, re.DOTALL)
_FORMAT_PIECE = re.compile(r"\{\}|" + _ESCAPE, re.DOTALL)  # a placeholder, or an escape
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f]")


def _escaped_character(match: re.Match[str]) -> str:
    escaped = match.group(1)
    return chr(int(escaped[1:], 16)) if len(escaped) == 5 else escaped


class _StringLiteral(ArgumentLiteral):
    """A string argument of an intrinsic function: its value, and its text as written (escapes
    kept), which States.Format reads to tell an escaped brace from a placeholder."""

    def __init__(self, written: str) -> None:
        super().__init__(definition_value=_LITERAL_ESCAPE.sub(_escaped_character, written))
        self.written = written


def _intrinsic_function(self: Preprocessor, ctx: Any) -> StringIntrinsicFunction:
    # The field's value, its JSON escapes decoded, is the intrinsic function AWS reads.
    derivation: str = json.loads(ctx.STRINGINTRINSICFUNC().getText())
    function, _ = IntrinsicParser.parse(_CONTROL_CHARACTER.sub(lambda control: f"\\u{ord(control.group()):04x}", derivation))
    return StringIntrinsicFunction(intrinsic_function_derivation=derivation, function=function)


def _string_argument(self: intrinsic_preprocessor.Preprocessor, ctx: Any) -> _StringLiteral:
    return _StringLiteral(ctx.STRING().getText()[1:-1])


@contextlib.contextmanager
def _intrinsic_strings_read_as_aws_does() -> Iterator[None]:
    """An intrinsic function is read from the field's value, and `\\'`, `\\{`, `\\}`, `\\\\` in its
    string literals stand for `'`, `{`, `}`, `\\` (the Step Functions developer guide, "Intrinsic
    functions", reserved characters); a States.Format template written as a literal has its
    `{}` filled in order, an escaped brace kept. moto 5.2.5 (its parser is LocalStack's) reads
    the field's JSON text, keeps the backslashes, and formats with `str.format`: LocalStack
    issue #13425; moto has no issue of its own about it."""
    moto_format = StringFormat._eval_body

    def format_as_aws(self: StringFormat, env: Any) -> None:
        template = self.argument_list.arguments[0]
        if not isinstance(template, _StringLiteral):  # a template read from a path: as moto does
            moto_format(self, env)
            return
        self.argument_list.eval(env=env)
        values = [StringFormat._to_str_repr(value) for value in reversed(env.stack.pop()[1:])]

        def piece(match: re.Match[str]) -> str:
            return values.pop() if match.group() == "{}" else _escaped_character(match)

        env.stack.append(_FORMAT_PIECE.sub(piece, template.written))

    with (
        _replaced(Preprocessor, "visitString_intrinsic_function", _intrinsic_function),
        _replaced(intrinsic_preprocessor.Preprocessor, "visitFunc_arg_string", _string_argument),
        _replaced(StringFormat, "_eval_body", format_as_aws),
    ):
        yield


@contextlib.contextmanager
def _moto_loggers_quiet() -> Iterator[None]:
    """moto logs every failed state with a stack trace; failures are reported by us instead."""
    loggers = [logging.getLogger(name) for name in ("moto.stepfunctions", "moto.stepfunctions.parser")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
