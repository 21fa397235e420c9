"""Pass: the steps, in document order. A step that performs an operation gets its Task and
its routing; a step that runs a workflow, the call (inlined, a child execution, or one per
item with x-for-each) and its routing."""

from __future__ import annotations

from arazzo_sfn.lower import calls, foreach, routing
from arazzo_sfn.lower.context import Context
from arazzo_sfn.lower.values import refuse_answers_in_call_outputs


def lower(ctx: Context) -> None:
    for step in ctx.lowered_steps:
        if step.target_kind == "workflowId":
            refuse_answers_in_call_outputs(ctx, step)
        if step.for_each is not None:
            foreach.place(ctx, step)
        elif ctx.is_child_step(step):
            calls.child_step(ctx, step)
        elif step.target_kind == "workflowId":
            calls.inline_step(ctx, step)
        else:
            routing.operation_step(ctx, step)
