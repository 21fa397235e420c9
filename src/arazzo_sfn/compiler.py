"""The pipeline: load -> validate -> model -> lower -> verify -> emit (or model -> diagram).

A workflow may call a workflow of another Arazzo document (`$sourceDescriptions.<name>.<id>`,
a source description of type arazzo): that document is loaded and validated like the first,
and the called workflow runs as a child execution of its own state machine, compiled from
its own document. A deployment names each child's state machine `${<WorkflowId>StateMachineArn}`
after its workflowId alone, so two workflows of the same id from two documents are refused
rather than namespaced: the names a deployment binds stay the ids the documents give."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from arazzo_sfn.diagram import workflow_to_mermaid
from arazzo_sfn.emit import emit_json
from arazzo_sfn.errors import ProblemList, SemanticError
from arazzo_sfn.loader import LoadedDocument, load_document
from arazzo_sfn.lower import lower, lower_workflow, state_machine_placeholder
from arazzo_sfn.model import Workflow, build_workflow, workflow_ids
from arazzo_sfn.validation import document_problems
from arazzo_sfn.verify import verify_state_machine

OTHER_DOCUMENT_PREFIX = "$sourceDescriptions."


def compile_document(path: str | Path, workflow_id: str | None = None, documents: Sequence[str | Path] = ()) -> dict[str, Any]:
    """Compile one workflow of an Arazzo document into an ASL definition (a dict). `documents`:
    more documents its source descriptions may name by `$self` (Arazzo 1.1)."""
    document = _load_valid(path, documents)
    workflow = build_workflow(document, workflow_id)
    asl = lower_workflow(workflow, _Resolver(document))
    verify_state_machine(asl)
    return asl


def compile_bundle(path: str | Path, workflow_id: str | None = None, documents: Sequence[str | Path] = ()) -> dict[str, dict[str, Any]]:
    """A workflow and every workflow it starts as a child execution, however deep and from
    whichever document, each compiled into its own state machine: workflowId -> ASL, the
    workflow asked for first. Children are the `x-child-execution` workflows its steps call,
    workflows of other documents, the workflows of steps whose outcome is judged or caught,
    and those a goto or retry action transfers to. A parent names each child's state machine
    `${<WorkflowId>StateMachineArn}`."""
    document = _load_valid(path, documents)
    root = build_workflow(document, workflow_id)
    bundle = _Bundle()
    bundle.compile([(root.workflow_id, document)])
    bundle.check_placeholders(bundle.children - {root.workflow_id})
    return bundle.compiled


def compile_all(path: str | Path, documents: Sequence[str | Path] = ()) -> dict[str, dict[str, Any]]:
    """Compile every workflow of a document (loaded and validated once), and every workflow
    of another document one of them starts: workflowId -> ASL."""
    document = _load_valid(path, documents)
    bundle = _Bundle()
    bundle.compile([(workflow_id, document) for workflow_id in workflow_ids(document)])
    marked = {w for w in workflow_ids(document) if build_workflow(document, w).child_execution}
    bundle.check_placeholders(bundle.children | marked)
    return bundle.compiled


def compile_file(path: str | Path, workflow_id: str | None = None, documents: Sequence[str | Path] = ()) -> str:
    """Compile to the JSON text that is committed under statemachine/."""
    return emit_json(compile_document(path, workflow_id, documents))


def diagram_of(path: str | Path, workflow_id: str | None = None, documents: Sequence[str | Path] = ()) -> str:
    """A Mermaid flowchart of one workflow of an Arazzo document."""
    document = _load_valid(path, documents)
    return workflow_to_mermaid(build_workflow(document, workflow_id))


def _load_valid(path: str | Path, documents: Sequence[str | Path] = ()) -> LoadedDocument:
    """The document and every Arazzo document it names, each validated; every problem of
    all of them is reported at once, each located in its own file."""
    document = load_document(path, documents)
    problems = [problem for each in document.all_documents() for problem in document_problems(each)]
    if problems:
        raise ProblemList(problems)
    return document


class _Resolver:
    """The workflows a workflow of `document` may call, by the workflowId its steps write: one
    of the same document, or `$sourceDescriptions.<name>.<id>` of another, which always runs
    as a child execution. It remembers which document each workflow came from (`origins`)."""

    def __init__(self, document: LoadedDocument, origins: dict[str, list[LoadedDocument]] | None = None):
        self.document = document
        self.origins = origins if origins is not None else {}

    def __call__(self, name: str) -> Workflow:
        owner = self.document
        if name.startswith(OTHER_DOCUMENT_PREFIX):
            source, _, name = name[len(OTHER_DOCUMENT_PREFIX):].partition(".")
            owner = self.document.documents[source]
        workflow = build_workflow(owner, name)
        if owner is not self.document:
            workflow = replace(workflow, child_execution=True)
        found = self.origins.setdefault(workflow.workflow_id, [])
        if all(owner is not seen for seen in found):
            found.append(owner)
        return workflow


@dataclass
class _Bundle:
    """State machines compiled so far, by workflowId, with the document each came from."""

    compiled: dict[str, dict[str, Any]] = field(default_factory=dict)
    owners: dict[str, LoadedDocument] = field(default_factory=dict)
    children: set[str] = field(default_factory=set)

    def compile(self, pending: list[tuple[str, LoadedDocument]]) -> None:
        while pending:
            workflow_id, owner = pending.pop(0)
            if workflow_id in self.compiled:
                self._check_same_workflow(workflow_id, owner)
                continue
            origins: dict[str, list[LoadedDocument]] = {}
            lowered = lower(build_workflow(owner, workflow_id), _Resolver(owner, origins))
            verify_state_machine(lowered.asl)
            self.compiled[workflow_id] = lowered.asl
            self.owners[workflow_id] = owner
            for child in sorted(lowered.children):
                documents = origins.get(child) or [owner]
                for other in documents[1:]:
                    self._refuse_same_id(child, documents[0], other)
                self.children.add(child)
                pending.append((child, documents[0]))

    def _check_same_workflow(self, workflow_id: str, owner: LoadedDocument) -> None:
        if owner is not self.owners[workflow_id]:
            self._refuse_same_id(workflow_id, self.owners[workflow_id], owner)

    @staticmethod
    def _refuse_same_id(workflow_id: str, first: LoadedDocument, second: LoadedDocument) -> None:
        """Two documents' workflows of one id would share a state machine name and placeholder."""
        placeholder = state_machine_placeholder(workflow_id)
        raise SemanticError(
            f"workflow {workflow_id!r} of {first.arazzo.path.name} and workflow {workflow_id!r} of {second.arazzo.path.name} "
            f"would share the state machine {workflow_id!r} and the placeholder ${{{placeholder}}}: rename one of them",
            build_workflow(second, workflow_id).location,
        )

    def check_placeholders(self, children: set[str]) -> None:
        """Two child workflows whose ids give the same `${<WorkflowId>StateMachineArn}` could not
        be told apart by a deployment: refused, naming both."""
        seen: dict[str, str] = {}
        for workflow_id in sorted(children):
            placeholder = state_machine_placeholder(workflow_id)
            if placeholder in seen:
                raise SemanticError(
                    f"workflows {seen[placeholder]!r} and {workflow_id!r} would share the placeholder ${{{placeholder}}}: rename one of them",
                    build_workflow(self.owners[workflow_id], workflow_id).location,
                )
            seen[placeholder] = workflow_id
