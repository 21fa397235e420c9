"""What one pass of a poll loop costs in each form the compiler can give it, side by side:
state transitions, history events, Lambda invocations and HTTP requests per pass, and how
many passes fit in one execution's 25,000-event history.

Exact counts, not samples: a small poll workflow runs in moto against a scripted server
for two poll counts in each form, and the difference is the cost of the passes between.
The forms:
- folded (the default): Task → Choice → Wait, the count carried by the step's answer;
- counted: Task → Choice → counting Pass → Wait (what a loop whose target has failure
  actions gets, and what every loop got before);
- retry (x-loop mode: retry): the Task's own Retry, one failed attempt per pass;
- child: the loop in a child workflow, its parent step going back to itself while the
  child says "not done": what a pass of the child costs the parent's history.
Prints figures; asserts nothing about speed."""

from __future__ import annotations

import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arazzo_sfn.compiler import compile_bundle  # noqa: E402
from arazzo_sfn.local_run import run_workflow  # noqa: E402
from arazzo_sfn.lower import HISTORY_EVENT_LIMIT, HISTORY_RESERVE  # noqa: E402
from arazzo_sfn.testing import Reply, ScriptedServer  # noqa: E402

OPENAPI = """\
openapi: 3.1.0
info: {title: Jobs, version: 1.0.0}
paths:
  /jobs/{jobId}:
    get:
      operationId: getJob
      parameters:
      - {name: jobId, in: path, required: true, schema: {type: string}}
      responses: {'200': {description: The job}}
"""

POLL_STEP = """\
  - stepId: poll
    operationId: getJob
    parameters:
    - {{name: jobId, in: path, value: '7'}}
    successCriteria:
    - condition: $statusCode == 200
    outputs:
      status: $response.body#/status
    onSuccess:
    - name: again
      type: goto
      stepId: poll
      criteria:
      - {{context: $response.body, condition: $.status == 'running', type: jsonpath}}
      x-loop: {x_loop}
{on_failure}"""

COUNTED_FAILURE = """\
    onFailure:
    - name: never
      type: end
      criteria:
      - condition: $statusCode == 599
"""

FORMS = {
    "folded": ("{waitSeconds: 0}", ""),
    "counted": ("{waitSeconds: 0}", COUNTED_FAILURE),
    "retry": ("{mode: retry, intervalSeconds: 1, backoffRate: 1.0}", ""),
}


def document(form: str) -> str:
    if form == "child":
        return textwrap.dedent("""\
            workflows:
            - workflowId: watch
              steps:
              - stepId: wait
                workflowId: poll-job
                onSuccess:
                - name: again
                  type: goto
                  stepId: wait
                  criteria:
                  - condition: $outputs.done == false
                  x-loop: {waitSeconds: 0}
                outputs:
                  status: $outputs.status
              outputs:
                status: $steps.wait.outputs.status
            - workflowId: poll-job
              x-child-execution: true
              steps:
              - stepId: poll
                operationId: getJob
                parameters:
                - {name: jobId, in: path, value: '7'}
                successCriteria:
                - condition: $statusCode == 200
                outputs:
                  status: $response.body#/status
                  done: $response.body#/done
              outputs:
                status: $steps.poll.outputs.status
                done: $steps.poll.outputs.done
            """)
    x_loop, on_failure = FORMS[form]
    return "workflows:\n- workflowId: watch\n  steps:\n" + POLL_STEP.format(x_loop=x_loop, on_failure=on_failure) + "  outputs:\n    status: $steps.poll.outputs.status\n"


def measure(form: str, passes: int) -> dict:
    """Run the loop for `passes` reads (the last one says done) and count what it cost."""
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "jobs.openapi.yaml").write_text(OPENAPI, encoding="utf-8")
        path = Path(directory) / "watch.arazzo.yaml"
        path.write_text(
            "arazzo: 1.0.1\ninfo: {title: Watch, version: 1.0.0}\nsourceDescriptions:\n"
            "- {name: jobs, url: ./jobs.openapi.yaml, type: openapi}\n" + document(form),
            encoding="utf-8",
        )
        bundle = compile_bundle(path, "watch")
    root = bundle.pop("watch")
    running, done = {"status": "running", "done": False}, {"status": "done", "done": True}
    with ScriptedServer({"GET /jobs/{jobId}": [Reply(200, running)] * (passes - 1) + [Reply(200, done)]}) as server:
        result = run_workflow(root, {}, server.url, children=bundle, retry_sleep=lambda seconds: None, timeout_seconds=600)
        requests = len(server.calls)
    assert result.status == "SUCCEEDED", (form, result.cause)
    history = result.history
    return {
        "transitions": sum(1 for e in history if e["type"].endswith("StateEntered")) + sum(1 for e in history if e["type"] == "TaskFailed"),
        "events": len(history),
        "invocations": sum(1 for e in history if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resourceType"] == "lambda"),
        "children": sum(1 for e in history if e["type"] == "TaskScheduled" and e["taskScheduledEventDetails"]["resourceType"] == "states"),
        "requests": requests,
    }


def main() -> int:
    print("One pass of a poll loop, by form (exact counts from moto; transitions include retried attempts, which Step Functions bills):")
    print(f"  {'form':<8} {'transitions':>11} {'events':>7} {'invocations':>12} {'requests':>9} {'passes per history':>19}")
    budget = HISTORY_EVENT_LIMIT - HISTORY_RESERVE
    for form in ("counted", "folded", "retry", "child"):
        few, more = measure(form, 3), measure(form, 6)
        per_pass = {key: (more[key] - few[key]) / 3 for key in few}
        print(
            f"  {form:<8} {per_pass['transitions']:>11g} {per_pass['events']:>7g} {per_pass['invocations']:>12g} {per_pass['requests']:>9g} "
            f"{int(budget // per_pass['events']):>19,}"
        )
    print(f"\n(passes per history: {HISTORY_EVENT_LIMIT:,} events less {HISTORY_RESERVE:,} kept for the states outside the loop and retries.)")
    print("child: the parent's cost of one child execution; each child has a history of its own.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
