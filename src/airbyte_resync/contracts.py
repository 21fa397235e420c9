"""The input contracts as files: the JSON Schema of each state machine's input (a run's, a
fleet's) and of the EventBridge event that requests it, generated from the workflows' inputs
(the single source of truth) and committed. `python -m airbyte_resync.contracts` writes
them; `--check` fails when one is stale. The start-from-event function carries its own copy
of each input schema, to refuse a malformed request before it starts anything."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from airbyte_resync.files import ROOT, WORKFLOW


@dataclass(frozen=True)
class Contract:
    """A state machine's input, and the EventBridge event whose detail is that input."""

    workflow_id: str
    detail_type: str
    input_file: str
    event_file: str
    title: str
    rule: str


RUN = Contract("reset-and-resync", "Airbyte Connection Reset Requested", "execution-input.schema.json",
               "reset-requested-event.schema.json", "Input of the reset-and-resync state machine",
               "the rule starts one execution per event, named after its id")
FLEET = Contract("reset-and-resync-fleet", "Airbyte Connections Reset Requested", "fleet-input.schema.json",
                 "connections-reset-requested-event.schema.json", "Input of the reset-and-resync-fleet state machine",
                 "the rule starts one fleet execution per event, named after its id")
CONTRACTS = (RUN, FLEET)
# Kept for the callers that put the single run's event.
WORKFLOW_ID = RUN.workflow_id
DETAIL_TYPE = RUN.detail_type
INPUT_SCHEMA_ID = RUN.input_file
FILES = {
    **{ROOT / "schemas" / contract.input_file: f"{contract.workflow_id}:input" for contract in CONTRACTS},
    **{ROOT / "schemas" / contract.event_file: f"{contract.workflow_id}:event" for contract in CONTRACTS},
    **{ROOT / "functions" / "start_from_event" / contract.input_file: f"{contract.workflow_id}:input" for contract in CONTRACTS},
}


def _contract(workflow_id: str) -> Contract:
    return next(contract for contract in CONTRACTS if contract.workflow_id == workflow_id)


def execution_input_schema(workflow: Path = WORKFLOW, workflow_id: str = RUN.workflow_id) -> dict[str, Any]:
    """The workflow's inputs, as the schema of the state machine's input."""
    contract = _contract(workflow_id)
    document = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    inputs = next(item for item in document["workflows"] if item["workflowId"] == workflow_id)["inputs"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": contract.input_file,
        "title": contract.title,
        "description": f"Generated from the inputs of workflow {workflow_id} in {workflow.relative_to(ROOT).as_posix()}; do not edit.",
        **inputs,
    }


def event_schema(workflow: Path = WORKFLOW, workflow_id: str = RUN.workflow_id) -> dict[str, Any]:
    """The EventBridge event that requests a run: its detail is the execution input, unchanged.
    The input's schema is bundled under `$defs`, so the file stands alone: a validator loads it
    without being told where the other file is."""
    contract = _contract(workflow_id)
    bundled = {key: value for key, value in execution_input_schema(workflow, workflow_id).items() if key not in ("$schema", "$id")}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": contract.event_file,
        "title": f"EventBridge event '{contract.detail_type}'",
        "description": f"Put on the default bus; {contract.rule}. Generated; do not edit.",
        "type": "object",
        "required": ["detail-type", "detail"],
        "properties": {
            "source": {"type": "string", "description": "Any source: the rule matches on detail-type."},
            "detail-type": {"const": contract.detail_type},
            "detail": {"$ref": "#/$defs/executionInput"},
        },
        "$defs": {"executionInput": bundled},
    }


def render(kind: str) -> str:
    """`kind` is `<workflow id>:input` or `<workflow id>:event` (`input`/`event` alone: the single run's)."""
    workflow_id, _, part = kind.rpartition(":")
    workflow_id = workflow_id or RUN.workflow_id
    schema = execution_input_schema(workflow_id=workflow_id) if part == "input" else event_schema(workflow_id=workflow_id)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airbyte_resync.contracts", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a committed schema differs from the workflow's inputs")
    args = parser.parse_args(argv)
    stale = []
    for path, kind in FILES.items():
        text = render(kind)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append((path.relative_to(ROOT) if path.is_relative_to(ROOT) else path).as_posix())
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"contracts: stale: {', '.join(stale)}: run `make compile`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
