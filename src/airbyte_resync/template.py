"""Read from template.yaml which function implements each ASL placeholder, so the local
run binds steps to handlers exactly as the deployed stack does."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

STATE_MACHINE_TYPE = "AWS::Serverless::StateMachine"
TABLE_TYPE = "AWS::DynamoDB::Table"


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !GetAtt, !Sub, ...) as plain mappings."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        # !GetAtt Resource.Attribute is the short form of [Resource, Attribute].
        return {name: value.split(".", 1) if suffix == "GetAtt" else value}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    if isinstance(node, yaml.MappingNode):
        return {name: loader.construct_mapping(node, deep=True)}
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{suffix}", node.start_mark)


_CloudFormationLoader.add_multi_constructor("!", _construct_tag)


@dataclass(frozen=True)
class FunctionBinding:
    placeholder: str  # e.g. TriggerResetFunctionArn
    logical_id: str  # e.g. TriggerResetFunction
    code_uri: Path  # the function's directory
    handler: str  # module.function, e.g. app.lambda_handler


@dataclass(frozen=True)
class StateMachineBinding:
    logical_id: str  # e.g. ResetAndResyncStateMachine
    definition_path: Path  # its DefinitionUri
    functions: dict[str, FunctionBinding]  # placeholder -> the function it is bound to
    state_machines: dict[str, str]  # placeholder -> logical id of the state machine it is bound to
    tables: dict[str, str]  # placeholder -> logical id of the DynamoDB table it names


def load_template(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)
    return template


def state_machine_bindings(template_path: Path) -> dict[str, StateMachineBinding]:
    """Each state machine of the template, with what its DefinitionSubstitutions bind: a
    function (`!GetAtt <Function>.Arn`), another state machine (`!Ref <StateMachine>`) or a
    DynamoDB table's name (`!Ref <Table>`). Read once for each version of the file: every
    local run starts by asking, and parsing the template costs more than the run's states."""
    return dict(_bindings(template_path, template_path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=8)
def _bindings(template_path: Path, modified: int) -> dict[str, StateMachineBinding]:
    template = load_template(template_path)
    resources = template.get("Resources", {})
    globals_ = template.get("Globals", {}).get("Function", {})
    machines = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != STATE_MACHINE_TYPE:
            continue
        properties = resource.get("Properties", {})
        functions, others, tables = {}, {}, {}
        for placeholder, value in (properties.get("DefinitionSubstitutions") or {}).items():
            target = value.get("Fn::GetAtt") if isinstance(value, dict) else None
            if target and target[1] == "Arn" and resources.get(target[0], {}).get("Type") == "AWS::Serverless::Function":
                function = resources[target[0]].get("Properties", {})
                code_uri = function.get("CodeUri", globals_.get("CodeUri"))
                handler = function.get("Handler", globals_.get("Handler"))
                functions[placeholder] = FunctionBinding(placeholder, target[0], template_path.parent / code_uri, handler)
            reference = value.get("Ref") if isinstance(value, dict) else None
            if reference and resources.get(reference, {}).get("Type") == STATE_MACHINE_TYPE:
                others[placeholder] = reference
            if reference and resources.get(reference, {}).get("Type") == TABLE_TYPE:
                tables[placeholder] = reference
        machines[logical_id] = StateMachineBinding(logical_id, template_path.parent / properties["DefinitionUri"], functions, others, tables)
    if not machines:
        raise ValueError(f"{template_path.name} defines no {STATE_MACHINE_TYPE}")
    return machines


def function_bindings(template_path: Path) -> dict[str, FunctionBinding]:
    """Placeholder name -> the function bound to it, over every state machine."""
    return {placeholder: binding for machine in state_machine_bindings(template_path).values() for placeholder, binding in machine.functions.items()}
