"""Stage 4, lower: a workflow model becomes an ASL state machine (JSONPath query language).

The lowering is a pipeline of passes over one `Context` (lower/context.py), in this order:

    loops.plan                 the loops the routing will build, so transitions into a loop's
                               target can go through its entry
    calls.lower_dependencies   the dependsOn workflows, before the first step: inlined, or one
                               of another document run as a child execution
    steps.lower                each step in document order: its Task (placed, built later) or
                               the call of its workflow, its routing, its retries and loops
    foreach.lower              the Map of each step with x-for-each (placed by the steps)
    outputs.lower              the workflow's outputs
    loops.lower_entries        the Pass that starts a loop's count again when it is entered
    tasks.lower                every Task, now that all says what its function is asked
    inputs.lower               the input checks, the defaults and the state data: the first
                               states, built last because they hold what the others read
    names.shorten              names longer than Step Functions takes, cut to fit with a hash

The state data of every execution has one layout:
    $.inputs              the workflow inputs, with the schema's defaults applied
    $.steps.<step>        the latest answer of each step: {statusCode, headers, body,
                          retryAfterSeconds, criteria}, or {Error, Cause} when its function failed
    $.loops.<key>         {iterations, total} of each backward goto (since the loop was entered,
                          and in the whole execution); {iterations} of each retry action
    $.steps.<step>        of a step with x-for-each: {counter, results, counts} (lower/foreach.py)
    $.calls.<step>        a called workflow's own inputs, steps, loops and outputs, same layout
                          (a dependsOn workflow's under dependsOn_<id>; one of another document,
                          a child execution, leaves there its answer: {status, executionArn, outputs})
    $.transfer            the input of the workflow a goto or retry action, or a dependsOn of
                          another document, runs as a child execution (its error and cause,
                          when it failed)
    $.transfers.<id>      the answer of the last child execution of workflow <id> a goto or
                          retry ran: {status, executionArn, outputs}, outputs null before
    $.failure             the cause of a failure, built just before a Fail state
Step outputs are not copied anywhere: `$steps.s.outputs.o` is resolved at compile time to
the place in `$.steps.s` that the output's expression points at, so a poll loop costs
no extra state per iteration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from arazzo_sfn.lower import calls, foreach, inputs, loops, names, outputs, steps, tasks
from arazzo_sfn.lower.common import HISTORY_EVENT_LIMIT, HISTORY_RESERVE, function_placeholder, state_machine_placeholder
from arazzo_sfn.lower.context import Context, Resolve
from arazzo_sfn.lower.loops import EVENTS_PER_PASS, loop_iteration_cap
from arazzo_sfn.model import Workflow

__all__ = [
    "CALLED_WORKFLOW_PASSES", "EVENTS_PER_PASS", "HISTORY_EVENT_LIMIT", "HISTORY_RESERVE", "PASSES", "Lowered",
    "function_placeholder", "loop_iteration_cap", "lower", "lower_workflow", "run_passes", "state_machine_placeholder",
]

Pass = Callable[[Context], None]

PASSES: tuple[Pass, ...] = (
    loops.plan,
    calls.lower_dependencies,
    steps.lower,
    foreach.lower,
    outputs.lower,
    loops.lower_entries,
    tasks.lower,
    inputs.lower,
    names.shorten,
)
# A workflow inlined in another: the caller gives it its inputs and sets up its data; its
# names are fitted once, with the caller's.
CALLED_WORKFLOW_PASSES: tuple[Pass, ...] = tuple(p for p in PASSES if p not in (inputs.lower, names.shorten))


def run_passes(ctx: Context, passes: tuple[Pass, ...]) -> None:
    for lowering_pass in passes:
        lowering_pass(ctx)


@dataclass(frozen=True)
class Lowered:
    asl: dict[str, Any]
    children: frozenset[str]  # the workflows it starts as child executions (their own state machines)


def lower(workflow: Workflow, resolve: Resolve | None = None) -> Lowered:
    """`resolve` gives the other workflows of the document, for workflowId steps and dependsOn."""
    ctx = Context(workflow, resolve)
    run_passes(ctx, PASSES)
    comment = f"{workflow.workflow_id}: {workflow.summary or ''}".strip()
    comment += f" Generated from {workflow.source_file} by arazzo-sfn; do not edit."
    asl = {"Comment": comment, "StartAt": ctx.start, "States": ctx.ordered_states()}
    return Lowered(asl, frozenset(ctx.children))


def lower_workflow(workflow: Workflow, resolve: Resolve | None = None) -> dict[str, Any]:
    return lower(workflow, resolve).asl
