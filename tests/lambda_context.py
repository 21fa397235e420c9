"""The context object Lambda passes a handler, for tests that invoke the functions directly."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LambdaContext:
    function_name: str = "trigger-reset"
    aws_request_id: str = "5d8c1a52-0d7e-4f4b-9a3e-2c1b0f9e8d7c"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
