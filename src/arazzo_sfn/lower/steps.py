"""Pass: the steps, in document order. A step that performs an operation gets its Task and
its routing; a step that runs a workflow, the call (inlined or a child execution) and its
routing."""

from __future__ import annotations

from arazzo_sfn.lower import calls, routing
from arazzo_sfn.lower.context import Context


def lower(ctx: Context) -> None:
    for step in ctx.lowered_steps:
        if ctx.is_child_step(step):
            calls.child_step(ctx, step)
        elif step.target_kind == "workflowId":
            calls.inline_step(ctx, step)
        else:
            routing.operation_step(ctx, step)
