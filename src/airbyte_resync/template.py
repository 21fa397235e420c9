"""Read from template.yaml which function implements each ASL placeholder, so the local
run binds steps to handlers exactly as the deployed stack does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

STATE_MACHINE_TYPE = "AWS::Serverless::StateMachine"


class _CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !GetAtt, !Sub, ...) as plain mappings."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
        return {name: value}
    if isinstance(node, yaml.SequenceNode):
        return {name: loader.construct_sequence(node, deep=True)}
    return {name: loader.construct_mapping(node, deep=True)}


_CloudFormationLoader.add_multi_constructor("!", _construct_tag)


@dataclass(frozen=True)
class FunctionBinding:
    placeholder: str  # e.g. TriggerResetFunctionArn
    logical_id: str  # e.g. TriggerResetFunction
    code_uri: Path  # the function's directory
    handler: str  # module.function, e.g. app.lambda_handler


def load_template(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)


def function_bindings(template_path: Path) -> dict[str, FunctionBinding]:
    """Placeholder name -> the function bound to it by the state machine's DefinitionSubstitutions."""
    template = load_template(template_path)
    resources = template.get("Resources", {})
    globals_ = template.get("Globals", {}).get("Function", {})
    machines = [r for r in resources.values() if r.get("Type") == STATE_MACHINE_TYPE]
    if len(machines) != 1:
        raise ValueError(f"{template_path.name} must define exactly one {STATE_MACHINE_TYPE}")
    bindings = {}
    for placeholder, value in (machines[0]["Properties"].get("DefinitionSubstitutions") or {}).items():
        target = value.get("Fn::GetAtt") if isinstance(value, dict) else None
        if not target or target[1] != "Arn" or target[0] not in resources:
            continue  # not a function ARN (e.g. a table name): nothing to bind
        function = resources[target[0]]
        properties = function.get("Properties", {})
        code_uri = properties.get("CodeUri", globals_.get("CodeUri"))
        handler = properties.get("Handler", globals_.get("Handler"))
        bindings[placeholder] = FunctionBinding(placeholder, target[0], template_path.parent / code_uri, handler)
    return bindings
