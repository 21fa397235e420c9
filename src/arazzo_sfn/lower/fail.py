"""Fail states whose cause the document writes (`x-fail`, `x-loop`): a Pass builds the cause
in $.failure, then the Fail gives it as JSON."""

from __future__ import annotations

from typing import Any

from arazzo_sfn.errors import Location
from arazzo_sfn.lower.context import Context
from arazzo_sfn.lower.values import template_entry
from arazzo_sfn.model import Step


def failure_states(ctx: Context, name: str, error: str, cause: dict[str, Any], step: Step, location: Location, extra: dict[str, Any] | None = None) -> None:
    parameters = dict(extra or {})
    for key, value in cause.items():
        entry, lowered = template_entry(ctx, key, value, step, location)
        parameters[entry] = lowered
    ctx.add(name, {"Type": "Pass", "Parameters": parameters, "ResultPath": "$.failure", "Next": f"{name}.Fail"}, location)
    ctx.add(f"{name}.Fail", {"Type": "Fail", "Error": error, "CausePath": "States.JsonToString($.failure)"}, location)
