"""A Mermaid flowchart of one workflow, drawn from the model: the dependsOn workflows that
run first, steps, the actions between them (with their names), loops with their wait, the
failures the workflow declares, and the workflows a goto or retry runs as a child execution (after a goto the workflow ends with the
child's outcome; after a retry the step runs again, unless the child failed)."""

from __future__ import annotations

from arazzo_sfn.model import Workflow


def workflow_to_mermaid(workflow: Workflow) -> str:
    lines = ["flowchart TD"]
    ids = {step.step_id: f"s{index}" for index, step in enumerate(workflow.steps)}
    first = workflow.steps[0].step_id if workflow.steps else None
    inputs = ", ".join((workflow.inputs.get("properties") or {}).keys()) or "no inputs"
    lines.append(f'    start(["{_text(workflow.workflow_id)}<br/>{_text(inputs)}"])')
    for step in workflow.steps:
        operation = step.operation
        call = f"{operation.method} {operation.path}" if operation else f"{step.target_kind} {step.operation_ref}"
        if step.for_each is not None:  # one box: the Map and its child executions
            call += f"<br/>for each item of {step.for_each.items}"
        lines.append(f'    {ids[step.step_id]}["{_text(step.step_id)}<br/>{_text(call)}"]')
    outputs = ", ".join(workflow.outputs) or "done"
    lines.append(f'    succeed(["success: {_text(outputs)}"])')
    failures: dict[str, str] = {}
    # The dependsOn workflows run first, in order: inlined, or (another document's) a child
    # execution; either one failing ends this workflow with its error.
    previous = "start"
    for index, entry in enumerate(workflow.depends_on):
        box = f"d{index}"
        how = "child execution" if entry.startswith("$") else "inlined"
        lines.append(f'    {box}["{_text(entry)}<br/>dependsOn, {how}"]')
        lines.append(f"    {previous} --> {box}")
        error = f"the error of {entry}"
        failures.setdefault(error, f"f{len(failures)}")
        lines.append(f'    {box} -. "failed" .-> {failures[error]}')
        previous = box
    if first:
        lines.append(f"    {previous} --> {ids[first]}")
    transfers: dict[tuple[str, str | None], str] = {}  # (workflow, the step a retry runs again) -> its box

    def transfer(workflow_id: str, again: str | None) -> str:
        """The box of a workflow a goto (`again` None) or a retry runs as a child execution,
        with its edges on: its success to the end or back to the step, its failure to the
        child's own error, with which this workflow ends."""
        key = (workflow_id, again)
        if key not in transfers:
            box = transfers[key] = f"w{len(transfers)}"
            lines.append(f'    {box}["{_text(workflow_id)}<br/>child execution"]')
            lines.append(f'    {box} -- "succeeded" --> {again or "succeed"}')
            error = f"the error of {workflow_id}"
            failures.setdefault(error, f"f{len(failures)}")
            lines.append(f'    {box} -. "failed" .-> {failures[error]}')
        return transfers[key]

    for step in workflow.steps:
        node = ids[step.step_id]
        failure_actions = tuple(step.on_failure or ()) + workflow.failure_actions
        for action in failure_actions:
            label = _text(action.name)
            if action.type == "retry":
                target = ids.get(action.step_id, node) if action.step_id else node
                if action.workflow_id:
                    target = transfer(action.workflow_id, node)
                limit = 1 if action.retry_limit is None else action.retry_limit
                lines.append(f'    {node} -. "{label}: retry x{limit}" .-> {target}')
            elif action.type == "goto" and action.step_id:
                lines.append(f'    {node} -. "{label}" .-> {ids[action.step_id]}')
            elif action.type == "goto" and action.workflow_id:
                lines.append(f'    {node} -. "{label}" .-> {transfer(action.workflow_id, None)}')
            elif action.type == "end":
                error = action.fail.error if action.fail else "StepFailed"
                failures.setdefault(error, f"f{len(failures)}")
                lines.append(f'    {node} -. "{label}" .-> {failures[error]}')
        if step.for_each is not None:
            failures.setdefault(step.for_each.error, f"f{len(failures)}")
            lines.append(f'    {node} -. "more failed than tolerated" .-> {failures[step.for_each.error]}')
        elif (step.success_criteria or step.target_kind != "workflowId") and not any(not a.criteria and a.type != "retry" for a in failure_actions):
            failures.setdefault("StepFailed", f"f{len(failures)}")
            lines.append(f'    {node} -. "failed" .-> {failures["StepFailed"]}')
        matched_all = False
        for action in tuple(step.on_success or ()) + workflow.success_actions:
            label = _text(action.name)
            if action.type == "end" and action.fail is not None:
                failures.setdefault(action.fail.error, f"f{len(failures)}")
                lines.append(f'    {node} -- "{label}" --> {failures[action.fail.error]}')
            elif action.type == "end":
                lines.append(f'    {node} -- "{label}" --> succeed')
            elif action.type == "goto" and action.step_id:
                target = ids[action.step_id]
                if workflow.step(action.step_id).index <= step.index:
                    wait = action.loop.wait_seconds if action.loop else 30
                    label += f"<br/>wait {_text(str(wait))}"
                lines.append(f'    {node} -- "{label}" --> {target}')
            elif action.type == "goto" and action.workflow_id:
                lines.append(f'    {node} -- "{label}" --> {transfer(action.workflow_id, None)}')
            if not action.criteria:
                matched_all = True
                break
        if not matched_all:
            following = workflow.steps[step.index + 1].step_id if step.index + 1 < len(workflow.steps) else None
            lines.append(f"    {node} --> {ids[following] if following else 'succeed'}")
    for error, node in failures.items():
        lines.append(f'    {node}[["fail: {_text(error)}"]]')
    return "\n".join(lines) + "\n"


def _text(value: str) -> str:
    """Labels are quoted, so only a double quote needs Mermaid's entity."""
    return value.replace('"', "#quot;")
