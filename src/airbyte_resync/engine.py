"""moto's Step Functions engine, with Lambda invocations routed to in-process handlers.

moto offers no documented hook for running Lambda code without Docker; with
`use_docker: False` every invocation lands in `LambdaSimpleBackend.invoke`. Replacing that
one method (for the duration of a run, and nowhere else) routes each invocation to the
Python handler bound to the function's ARN. The retry sleep of moto's ASL interpreter can
be replaced too, so tests can see the backoff schedule without waiting for it.
moto is pinned to an exact version because these are internals.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import traceback
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Iterator

from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
Handler = Callable[[Any, Any], Any]


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


@dataclass
class Invocation:
    function_arn: str
    event: Any
    result: Any = None
    error_type: str | None = None


class LocalFunctions:
    """ARN -> handler; records every invocation."""

    def __init__(self):
        self.handlers: dict[str, tuple[str, Handler]] = {}
        self.invocations: list[Invocation] = []
        self._lock = threading.Lock()

    def register(self, arn: str, handler: Handler) -> None:
        self.handlers[arn] = (arn.rsplit(":", 1)[-1], handler)

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
        except Exception as error:  # noqa: BLE001 - reported to the state machine like Lambda does
            invocation.error_type = type(error).__name__
            body = {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "requestId": request_id,
                "stackTrace": traceback.format_tb(error.__traceback__),
            }
            return json.dumps(body).encode(), True


@contextlib.contextmanager
def local_aws(functions: LocalFunctions, retry_sleep: Callable[[float], None] | None = None) -> Iterator[None]:
    """moto with its Step Functions engine on, Lambda routed to `functions`, and optionally
    the interpreter's retry sleep replaced."""

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        payload, failed = functions.invoke(function_name, body)
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    original_invoke = LambdaSimpleBackend.invoke
    original_time = retrier_decl.time
    quiet = _quiet_moto_loggers()
    LambdaSimpleBackend.invoke = invoke
    if retry_sleep is not None:
        retrier_decl.time = SimpleNamespace(sleep=retry_sleep)
    try:
        with mock_aws(config=MOTO_CONFIG):
            yield
    finally:
        LambdaSimpleBackend.invoke = original_invoke
        retrier_decl.time = original_time
        quiet.close()


class _quiet_moto_loggers:
    """moto logs every failed state with a stack trace; failures are reported by us instead."""

    NAMES = ("moto.stepfunctions", "moto.stepfunctions.parser")

    def __init__(self):
        self.levels = {name: logging.getLogger(name).level for name in self.NAMES}
        for name in self.NAMES:
            logging.getLogger(name).setLevel(logging.CRITICAL)

    def close(self) -> None:
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)
