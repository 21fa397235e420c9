"""The pipeline: load -> validate -> model -> lower -> verify -> emit (or model -> diagram)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arazzo_sfn.diagram import workflow_to_mermaid
from arazzo_sfn.emit import emit_json
from arazzo_sfn.errors import SemanticError
from arazzo_sfn.loader import LoadedDocument, load_document
from arazzo_sfn.lower import lower, lower_workflow, state_machine_placeholder
from arazzo_sfn.model import build_workflow, workflow_ids
from arazzo_sfn.validation import validate_document
from arazzo_sfn.verify import verify_state_machine


def compile_document(path: str | Path, workflow_id: str | None = None) -> dict[str, Any]:
    """Compile one workflow of an Arazzo document into an ASL definition (a dict)."""
    document = load_document(path)
    validate_document(document)
    workflow = build_workflow(document, workflow_id)
    asl = lower_workflow(workflow, lambda other: build_workflow(document, other))
    verify_state_machine(asl)
    return asl


def compile_bundle(path: str | Path, workflow_id: str | None = None) -> dict[str, dict[str, Any]]:
    """A workflow and every workflow it starts as a child execution, however deep, each
    compiled into its own state machine: workflowId -> ASL, the workflow asked for first.
    Children are the `x-child-execution` workflows its steps call, the workflows of steps
    whose outcome is judged or caught, and those a goto or retry action transfers to.
    A parent names each child's state machine `${<WorkflowId>StateMachineArn}`."""
    document = load_document(path)
    validate_document(document)
    root = build_workflow(document, workflow_id)
    compiled: dict[str, dict[str, Any]] = {}
    pending = [root.workflow_id]
    while pending:
        current = pending.pop(0)
        if current in compiled:
            continue
        lowered = lower(build_workflow(document, current), lambda other: build_workflow(document, other))
        verify_state_machine(lowered.asl)
        compiled[current] = lowered.asl
        pending.extend(sorted(lowered.children))
    _check_state_machine_placeholders(document, set(compiled) - {root.workflow_id})
    return compiled


def _check_state_machine_placeholders(document: LoadedDocument, children: set[str]) -> None:
    """Two child workflows whose ids give the same `${<WorkflowId>StateMachineArn}` could not be
    told apart by a deployment: refused, naming both."""
    seen: dict[str, str] = {}
    for workflow_id in sorted(children):
        placeholder = state_machine_placeholder(workflow_id)
        if placeholder in seen:
            raise SemanticError(
                f"workflows {seen[placeholder]!r} and {workflow_id!r} would share the placeholder ${{{placeholder}}}: rename one of them",
                build_workflow(document, workflow_id).location,
            )
        seen[placeholder] = workflow_id


def compile_all(path: str | Path) -> dict[str, dict[str, Any]]:
    """Compile every workflow of a document (loaded and validated once): workflowId -> ASL."""
    document = load_document(path)
    validate_document(document)
    compiled: dict[str, dict[str, Any]] = {}
    children: set[str] = set()
    for workflow_id in workflow_ids(document):
        lowered = lower(build_workflow(document, workflow_id), lambda other: build_workflow(document, other))
        verify_state_machine(lowered.asl)
        compiled[workflow_id] = lowered.asl
        children |= lowered.children
    _check_state_machine_placeholders(document, children)
    return compiled


def compile_file(path: str | Path, workflow_id: str | None = None) -> str:
    """Compile to the JSON text that is committed under statemachine/."""
    return emit_json(compile_document(path, workflow_id))


def diagram_of(path: str | Path, workflow_id: str | None = None) -> str:
    """A Mermaid flowchart of one workflow of an Arazzo document."""
    document = load_document(path)
    validate_document(document)
    return workflow_to_mermaid(build_workflow(document, workflow_id))
