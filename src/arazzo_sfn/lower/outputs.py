"""Pass: the workflow outputs, the execution's output (or, for an inlined workflow, what it
gives its caller before control returns)."""

from __future__ import annotations

from typing import Any

from arazzo_sfn.lower.common import RETURN
from arazzo_sfn.lower.context import Context
from arazzo_sfn.lower.values import template_entry


def lower(ctx: Context) -> None:
    at_end = ctx.guaranteed["$end"]
    location = ctx.workflow.field_locations.get("outputs", ctx.workflow.location)
    parameters = {}
    for name, value in ctx.workflow.outputs.items():
        key, lowered = template_entry(ctx, name, value, None, location, guaranteed=at_end)
        parameters[key] = lowered
    state: dict[str, Any] = {"Type": "Pass", "Parameters": parameters}
    if ctx.called:
        state.update({"ResultPath": f"{ctx.root}.outputs", "Next": RETURN})
    else:
        state["End"] = True
    ctx.add("WorkflowOutputs", state, ctx.workflow.location, machine=True)
