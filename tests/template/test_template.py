"""Checks of the SAM template: lint, offline transform, IAM scope, wiring to the
generated state machine, and the sample events.

IAM and wiring checks run on the TRANSFORMED template, because that is what
CloudFormation deploys: SAM adds roles and policies the source never spells out.
Conditions are evaluated here for each parameter set, so "no secret" and
"no schedule" are checked as deployed rather than as written.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import cfnlint.api
import pytest
from cfnlint.config import ManualArgs
from cfnlint.decode import cfn_yaml
from cfnlint.helpers import REGIONS
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
ASL_PATH = ROOT / "statemachine" / "reset_and_resync.asl.json"
CHILD_ASL_PATH = ROOT / "statemachine" / "wait_for_job.asl.json"
FLEET_ASL_PATH = ROOT / "statemachine" / "reset_and_resync_fleet.asl.json"
EVENTBRIDGE_SAMPLE_PATH = ROOT / "events" / "eventbridge-reset-requested.json"
FLEET_EVENTBRIDGE_SAMPLE_PATH = ROOT / "events" / "eventbridge-connections-reset-requested.json"
EXECUTION_INPUT_SAMPLE_PATH = ROOT / "events" / "execution-input.json"

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "airbyte-resync"
CONNECTION_ID = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"
SECRET_NAME = "airbyte/api-credentials"
ALARM_TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:data-platform-alerts"
POWERTOOLS_LAYER_ARN = "arn:aws-us-gov:lambda:us-gov-west-1:165093116878:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:7"

STATE_MACHINE = "ResetAndResyncStateMachine"
# wait-for-job: the child state machine the run starts to watch each job.
CHILD_STATE_MACHINE = "WaitForJobStateMachine"
# reset-and-resync-fleet: runs the run's state machine once per connection, from a Distributed Map.
FLEET_STATE_MACHINE = "ResetAndResyncFleetStateMachine"
MACHINES = (STATE_MACHINE, CHILD_STATE_MACHINE, FLEET_STATE_MACHINE)
FUNCTIONS = ("GetConnectionFunction", "ListJobsFunction", "TriggerResetFunction", "PollJobFunction", "TriggerResyncFunction", "ListConnectionsFunction")
# Not workflow steps: one reacts to aborted and timed-out executions, the other starts one
# execution per reset-request event. EventBridge invokes both asynchronously.
CANCEL_FUNCTION = "CancelJobFunction"
STARTER_FUNCTION = "StartFromEventFunction"
EVENT_FUNCTIONS = (CANCEL_FUNCTION, STARTER_FUNCTION)
# Which function implements each workflow step, and which state machine each child
# execution runs, per state machine; the local runner relies on it.
EXPECTED_SUBSTITUTIONS = {
    STATE_MACHINE: {
        "CheckConnectionFunctionArn": "GetConnectionFunction",
        "CheckConnectionIdleFunctionArn": "ListJobsFunction",
        "TriggerResetFunctionArn": "TriggerResetFunction",
        "TriggerResyncFunctionArn": "TriggerResyncFunction",
        "WaitForJobStateMachineArn": CHILD_STATE_MACHINE,
    },
    CHILD_STATE_MACHINE: {"PollJobFunctionArn": "PollJobFunction"},
    FLEET_STATE_MACHINE: {
        "ListConnectionsFunctionArn": "ListConnectionsFunction",
        "ResetAndResyncStateMachineArn": STATE_MACHINE,
        "ForEachCounterTableName": "IdempotencyTable",
    },
}
ASL_OF = {STATE_MACHINE: ASL_PATH, CHILD_STATE_MACHINE: CHILD_ASL_PATH, FLEET_STATE_MACHINE: FLEET_ASL_PATH}
EXPECTED_ENVIRONMENT = {
    "IDEMPOTENCY_TABLE",
    "AIRBYTE_API_URL",
    "AIRBYTE_SECRET_ID",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}
RESET_REQUESTED_DETAIL_TYPE = "Airbyte Connection Reset Requested"
CONNECTIONS_RESET_REQUESTED_DETAIL_TYPE = "Airbyte Connections Reset Requested"

# Step Functions log delivery: these actions have no resource-level permissions.
LOG_DELIVERY_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
XRAY_WRITE_POLICY = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
LAMBDA_BASIC_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

UUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PLACEHOLDER_PATTERN = re.compile(r"\$\{([^}]*)\}")

# Parameter sets the template must deploy with. Unlisted parameters keep their defaults.
PARAMETER_SETS = {
    "defaults": {},
    "secret-schedule-alarm": {
        "AirbyteSecretName": SECRET_NAME,
        "ScheduleExpression": "cron(0 3 ? * SUN *)",
        "ScheduleConnectionId": CONNECTION_ID,
        "AlarmTopicArn": ALARM_TOPIC_ARN,
    },
    # A schedule needs both values; an expression alone must create nothing.
    "schedule-without-connection": {"ScheduleExpression": "rate(7 days)"},
    "own-powertools-layer": {"PowertoolsLayerArn": POWERTOOLS_LAYER_ARN},
}


# ---------------------------------------------------------------- loading


@cache
def template_source() -> str:
    return TEMPLATE_PATH.read_text(encoding="utf-8")


def load_template() -> dict[str, Any]:
    """The template as plain dicts, short-form tags turned into Fn:: objects."""
    return json.loads(json.dumps(cfn_yaml.loads(template_source())))


@cache
def _translated(parameter_items: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    template = load_template()
    # The translator wants artifacts already uploaded.
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "DefinitionUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = "s3://bucket/key"
    translator = Translator({}, Parser(), boto_session=boto3.Session(region_name=REGION))
    return translator.translate(template, parameter_values=dict(parameter_items))


def translate(parameters: dict[str, str]) -> dict[str, Any]:
    return copy.deepcopy(_translated(tuple(sorted(parameters.items()))))


def load_asl_text(machine: str = STATE_MACHINE) -> str:
    return ASL_OF[machine].read_text(encoding="utf-8")


def state_machine_substitutions(machine: str = STATE_MACHINE) -> dict[str, Any]:
    return load_template()["Resources"][machine]["Properties"]["DefinitionSubstitutions"]


def lint(source: str, regions: list[str], include_informational: bool) -> list[Any]:
    config = ManualArgs(regions=regions, include_checks=["I"] if include_informational else [])
    return cfnlint.api.lint(source, config=config)


def describe(matches: list[Any]) -> str:
    return "\n".join(str(match) for match in matches)


# ------------------------------------------------- deployed-stack evaluation


class DeployedStack:
    """The transformed template as CloudFormation would deploy it for one parameter set.

    Conditions are evaluated, resources whose condition is false are dropped, and
    intrinsics are resolved. References to resources become readable symbols:
    `<LogicalId>` for Ref and `<LogicalId.Attribute>` for Fn::GetAtt.
    """

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        self.template = template
        self.parameters = {
            name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()
        }
        self.parameters.update(parameters)
        self.pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": STACK_NAME,
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.conditions = {name: self._condition(name) for name in template.get("Conditions", {})}
        self.resources = {
            logical_id: resource
            for logical_id, resource in template["Resources"].items()
            if self.conditions.get(resource.get("Condition"), True)
        }

    def _condition(self, name: str) -> bool:
        return bool(self.evaluate(self.template["Conditions"][name]))

    def evaluate(self, node: Any) -> Any:
        """Evaluates a condition expression."""
        if isinstance(node, dict) and len(node) == 1:
            (function, argument), = node.items()
            if function == "Fn::Equals":
                left, right = (self.resolve(item) for item in argument)
                return str(left) == str(right)
            if function == "Fn::Not":
                return not self.evaluate(argument[0])
            if function == "Fn::And":
                return all(self.evaluate(item) for item in argument)
            if function == "Fn::Or":
                return any(self.evaluate(item) for item in argument)
            if function == "Condition":
                return self._condition(argument)
        return self.resolve(node)

    def resolve(self, node: Any) -> Any:
        """Resolves intrinsics; a resolved AWS::NoValue is removed from its parent."""
        if isinstance(node, list):
            return [value for value in (self.resolve(item) for item in node) if value is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (function, argument), = node.items()
            if function == "Ref":
                return self._ref(argument)
            if function == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return f"<{logical_id}.{attribute}>"
            if function == "Fn::Sub":
                return self._sub(argument)
            if function == "Fn::If":
                condition, if_true, if_false = argument
                return self.resolve(if_true if self.conditions[condition] else if_false)
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if function.startswith("Fn::"):
                raise NotImplementedError(f"{function} is not resolved by this test")
        return {
            key: value
            for key, value in ((key, self.resolve(item)) for key, item in node.items())
            if value is not _NO_VALUE
        }

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.template["Resources"]:
            return f"<{name}>"
        raise KeyError(f"Ref to unknown name {name}")

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        variables = {key: self.resolve(value) for key, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                return f"<{name}>"
            return str(self._ref(name))

        return PLACEHOLDER_PATTERN.sub(replace, text)

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: self.resolve(resource.get("Properties", {}))
            for logical_id, resource in self.resources.items()
            if resource["Type"] == resource_type
        }

    def properties(self, logical_id: str) -> dict[str, Any]:
        return self.resolve(self.resources[logical_id].get("Properties", {}))

    def role_of(self, role_arn: str) -> str:
        match = re.fullmatch(r"<(\w+)\.Arn>", role_arn)
        assert match, f"role {role_arn!r} is not a role of this stack"
        assert self.resources[match.group(1)]["Type"] == "AWS::IAM::Role"
        return match.group(1)

    def permissions(self, role: str) -> tuple[set[tuple[str, ...]], set[str]]:
        """(action, resource) pairs allowed to a role, and its managed policy ARNs. A grant
        under a condition is (action, resource, the condition as canonical JSON)."""
        properties = self.properties(role)
        documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        managed = set(properties.get("ManagedPolicyArns", []))
        # Policies attached from outside the role count as well.
        for logical_id, resource in self.resources.items():
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                attached = self.properties(logical_id)
                if f"<{role}>" in attached.get("Roles", []):
                    documents.append(attached["PolicyDocument"])
        grants = set()
        for document in documents:
            for statement in as_list(document["Statement"]):
                assert statement["Effect"] == "Allow", statement
                assert "NotAction" not in statement and "NotResource" not in statement, statement
                condition = (json.dumps(statement["Condition"], sort_keys=True),) if "Condition" in statement else ()
                for action in as_list(statement["Action"]):
                    for resource in as_list(statement["Resource"]):
                        grants.add((action, resource, *condition))
        return grants, managed

    def trusted_services(self, role: str) -> set[str]:
        document = self.properties(role)["AssumeRolePolicyDocument"]
        return {
            service
            for statement in as_list(document["Statement"])
            for service in as_list(statement["Principal"]["Service"])
        }


_NO_VALUE = object()


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def deployed(parameter_set: str) -> DeployedStack:
    parameters = PARAMETER_SETS[parameter_set]
    return DeployedStack(translate(parameters), parameters)


def lambda_arn_pattern(function: str) -> str:
    # SAM's LambdaInvokePolicy ends in `*` so that versions and aliases are covered too.
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:<{function}>*"


# ------------------------------------------------------------ credentials


CREDENTIAL_PATTERNS = [
    re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),  # AWS access key id
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"),  # JWT
    re.compile(r"^(Bearer|Basic)\s+\S+", re.IGNORECASE),  # Authorization header value
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),  # user:password@ in a URL
    re.compile(r"^[A-Za-z0-9+/=_-]{32,}$"),  # long opaque token or key
]
CREDENTIAL_PARAMETER_NAME = re.compile(
    r"password|passwd|token|apikey|api_key|clientsecret|client_secret|accesskey|privatekey", re.IGNORECASE
)


def looks_like_credential(value: Any) -> bool:
    return isinstance(value, str) and any(pattern.search(value) for pattern in CREDENTIAL_PATTERNS)


# ------------------------------------------------------ event pattern matching


def event_matches(pattern: dict[str, Any], event: Any) -> bool:
    """EventBridge matching for exact-value lists, `exists` and nested objects."""
    for key, rule in pattern.items():
        present = isinstance(event, dict) and key in event
        value = event.get(key) if present else None
        if isinstance(rule, dict):
            if not (present and isinstance(value, dict) and event_matches(rule, value)):
                return False
        elif isinstance(rule, list):
            if not any(_value_matches(condition, present, value) for condition in rule):
                return False
        else:
            raise ValueError(f"pattern values must be objects or lists, got {rule!r} at {key!r}")
    return True


def _value_matches(condition: Any, present: bool, value: Any) -> bool:
    if isinstance(condition, dict):
        if set(condition) == {"exists"}:
            return present == condition["exists"]
        raise NotImplementedError(f"pattern operator {condition!r} is not implemented here")
    if not present:
        return False
    if isinstance(value, list):
        return condition in value
    return value == condition


def execution_input_problems(document: Any) -> list[str]:
    """What the state machine needs from its input: a connection UUID, optionally a poll interval."""
    if not isinstance(document, dict):
        return [f"execution input must be a JSON object, got {type(document).__name__}"]
    problems = []
    connection_id = document.get("connectionId")
    if not (isinstance(connection_id, str) and UUID_PATTERN.match(connection_id)):
        problems.append(f"connectionId must be a UUID string, got {connection_id!r}")
    if "pollIntervalSeconds" in document:
        interval = document["pollIntervalSeconds"]
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            problems.append(f"pollIntervalSeconds must be a positive integer, got {interval!r}")
    return problems


def reset_requested_rule(stack: DeployedStack, detail_type: str = RESET_REQUESTED_DETAIL_TYPE) -> dict[str, Any]:
    rules = [
        properties
        for properties in stack.of_type("AWS::Events::Rule").values()
        if any(target["Arn"] == f"<{STARTER_FUNCTION}.Arn>" for target in properties["Targets"])
        and properties["EventPattern"]["detail-type"] == [detail_type]
    ]
    assert len(rules) == 1, rules
    return rules[0]


# ------------------------------------------------------------------- lint


def test_template_passes_cfn_lint_in_every_region():
    # Errors, warnings and informational rules; experimental rules are left out.
    matches = lint(template_source(), regions=REGIONS, include_informational=True)
    assert not matches, describe(matches)


def test_cfn_lint_check_detects_a_broken_template():
    # Guards the lint test against passing vacuously (e.g. a config that runs no rules).
    broken = template_source().replace("Timeout: 60", "Timeout: 9000", 1)
    assert broken != template_source()
    matches = lint(broken, regions=[REGION], include_informational=False)
    assert any(match.rule.id.startswith("E") for match in matches), describe(matches)


def _asl_lint_template(definition: dict[str, Any], form: str) -> str:
    properties: dict[str, Any] = {
        "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/reset-and-resync",
        "StateMachineType": "STANDARD",
    }
    properties[form] = definition if form == "Definition" else json.dumps(definition)
    return json.dumps(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Resources": {STATE_MACHINE: {"Type": "AWS::StepFunctions::StateMachine", "Properties": properties}},
        }
    )


def _concrete_arn(machine: str, placeholder: str) -> str:
    binding = state_machine_substitutions(machine).get(placeholder)
    if isinstance(binding, dict) and load_template()["Resources"].get(binding.get("Ref"), {}).get("Type") == "AWS::DynamoDB::Table":
        return f"{STACK_NAME}-{binding['Ref']}"  # a table's name
    if isinstance(binding, dict) and "Ref" in binding:
        return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{STACK_NAME}-{binding['Ref']}"
    function = binding["Fn::GetAtt"][0] if isinstance(binding, dict) and "Fn::GetAtt" in binding else placeholder
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{STACK_NAME}-{function}"


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("form", ["Definition", "DefinitionString"])
def test_generated_asl_passes_cfn_lint(form, machine):
    asl_text = load_asl_text(machine)
    concrete = PLACEHOLDER_PATTERN.sub(lambda match: _concrete_arn(machine, match.group(1)), asl_text)
    definition = json.loads(concrete)
    matches = lint(_asl_lint_template(definition, form), regions=[REGION], include_informational=False)
    errors = [match for match in matches if match.rule.id.startswith("E")]
    assert not errors, describe(errors)


def test_asl_lint_detects_a_broken_definition():
    # E3601 must fire, or the ASL lint test above proves nothing.
    broken = {"StartAt": "Missing", "States": {"Done": {"Type": "Succeed"}}}
    matches = lint(_asl_lint_template(broken, "Definition"), regions=[REGION], include_informational=False)
    assert any(match.rule.id == "E3601" for match in matches), describe(matches)


# -------------------------------------------------------------- transform


@pytest.mark.parametrize("parameter_set", PARAMETER_SETS)
def test_sam_translator_transforms_the_template(parameter_set):
    stack = deployed(parameter_set)
    types = {resource["Type"] for resource in stack.template["Resources"].values()}
    assert not any(resource_type.startswith("AWS::Serverless::") for resource_type in types), types
    assert set(stack.of_type("AWS::Lambda::Function")) == {*FUNCTIONS, *EVENT_FUNCTIONS}
    assert set(stack.of_type("AWS::StepFunctions::StateMachine")) == set(MACHINES)
    assert len(stack.of_type("AWS::Lambda::LayerVersion")) == 2
    assert set(stack.of_type("AWS::CloudWatch::Alarm")) == {"ExecutionFailedAlarm", "ResyncNotStartedAlarm", "UnhandledEventsAlarm", "FleetFailedAlarm"}

    schedules = stack.of_type("AWS::Scheduler::Schedule")
    if parameter_set == "secret-schedule-alarm":
        (schedule,) = schedules.values()
        assert schedule["ScheduleExpression"] == "cron(0 3 ? * SUN *)"
        assert schedule["Target"]["Arn"] == f"<{STATE_MACHINE}>"
        assert json.loads(schedule["Target"]["Input"]) == {"connectionId": CONNECTION_ID}
    else:
        assert schedules == {}


def test_functions_share_runtime_layer_and_limits():
    stack = deployed("defaults")
    layers = sorted(stack.of_type("AWS::Lambda::LayerVersion"))
    # SAM appends a content hash to a layer's logical id: the toolkit's runtime first, then the Airbyte client.
    runtime = next(layer for layer in layers if layer.startswith("ArazzoRuntimeLayer"))
    client = next(layer for layer in layers if layer.startswith("AirbyteClientLayer"))
    for function, properties in stack.of_type("AWS::Lambda::Function").items():
        assert properties["Runtime"] == "python3.12", function
        assert properties["Architectures"] == ["arm64"], function
        assert properties["Handler"] == "app.lambda_handler", function
        # The trigger functions wait out Airbyte holding a POST /jobs for 60 s (twice, with a 401);
        # the connection listing asks for every page in one invocation.
        expected = {"TriggerResetFunction": 180, "TriggerResyncFunction": 180, "ListConnectionsFunction": 300}.get(function, 60)
        assert properties["Timeout"] == expected, function
        assert properties["MemorySize"] == 256, function
        assert properties["TracingConfig"] == {"Mode": "Active"}, function
        assert properties["Layers"] == [AWS_POWERTOOLS_LAYER, f"<{runtime}>", f"<{client}>"], function


# AWS publishes each Powertools release as a layer per runtime and architecture, and the
# layer's ARN of each Region under a public SSM parameter.
AWS_POWERTOOLS_LAYER = "{{resolve:ssm:/aws/service/powertools/python/arm64/python3.12/3.37.0}}"


def test_powertools_comes_from_aws_layer_of_the_tested_version_runtime_and_architecture():
    template = load_template()
    version = re.search(r"^aws_lambda_powertools==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M).group(1)
    function = template["Globals"]["Function"]
    (architecture,) = function["Architectures"]
    expected = f"{{{{resolve:ssm:/aws/service/powertools/python/{architecture}/{function['Runtime']}/{version}}}}}"
    assert function["Layers"][0]["Fn::If"][2] == expected
    # The parameter's description names the same public parameter.
    description = " ".join(template["Parameters"]["PowertoolsLayerArn"]["Description"].split())
    assert f"/aws/service/powertools/python/{architecture}/{function['Runtime']}/{version}" in description
    # Neither layer of the project installs Powertools: the functions would load two copies.
    for layer in ("arazzo_runtime", "airbyte_client"):
        assert "powertools" not in (ROOT / "layers" / layer / "requirements.txt").read_text().split("#")[0].lower()


def test_a_given_powertools_layer_arn_replaces_aws_published_one():
    stack = deployed("own-powertools-layer")
    for function, properties in stack.of_type("AWS::Lambda::Function").items():
        assert properties["Layers"][0] == POWERTOOLS_LAYER_ARN, function
        assert len(properties["Layers"]) == 3, function


def test_state_machine_is_standard_logged_and_traced():
    stack = deployed("defaults")
    properties = stack.properties(STATE_MACHINE)
    assert properties["StateMachineType"] == "STANDARD"
    logging = properties["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is True
    (destination,) = logging["Destinations"]
    log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]
    assert log_group == "<StateMachineLogGroup.Arn>"
    assert stack.properties("StateMachineLogGroup")["RetentionInDays"] == "30"
    assert properties["TracingConfiguration"] == {"Enabled": True}


@pytest.mark.parametrize("parameter_set", ["defaults", "secret-schedule-alarm"])
def test_alarm_counts_unsuccessful_executions_of_this_state_machine(parameter_set):
    stack = deployed(parameter_set)
    alarm = stack.of_type("AWS::CloudWatch::Alarm")["ExecutionFailedAlarm"]
    assert alarm["TreatMissingData"] == "notBreaching"
    metric_names = {}
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            assert metric["Namespace"] == "AWS/States"
            assert metric["Dimensions"] == [{"Name": "StateMachineArn", "Value": f"<{STATE_MACHINE}>"}]
            assert query["ReturnData"] is False
            metric_names[query["Id"]] = metric["MetricName"]
    assert set(metric_names.values()) == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    (expression,) = [query for query in alarm["Metrics"] if query.get("ReturnData", True)]
    assert set(re.findall(r"[A-Za-z]\w*", expression["Expression"])) - {"FILL"} == set(metric_names)
    if parameter_set == "defaults":
        assert "AlarmActions" not in alarm
    else:
        assert alarm["AlarmActions"] == [ALARM_TOPIC_ARN]


@pytest.mark.parametrize("parameter_set", ["defaults", "secret-schedule-alarm"])
def test_a_reset_left_without_its_sync_has_its_own_alarm(parameter_set):
    stack = deployed(parameter_set)
    (metric_filter,) = stack.of_type("AWS::Logs::MetricFilter").values()
    # The state machine's own log group, and only the executions that end in ResyncNotStarted.
    assert metric_filter["LogGroupName"] == "<StateMachineLogGroup>"
    assert '$.type = "ExecutionFailed"' in metric_filter["FilterPattern"]
    assert '$.details.error = "ResyncNotStarted"' in metric_filter["FilterPattern"]
    (transformation,) = metric_filter["MetricTransformations"]
    alarm = stack.of_type("AWS::CloudWatch::Alarm")["ResyncNotStartedAlarm"]
    metrics = {query["Id"]: query for query in alarm["Metrics"]}
    (shown,) = [query for query in alarm["Metrics"] if query.get("ReturnData")]
    assert shown["Expression"] == "FILL(notStarted, 0) + FILL(stoppedBeforeSync, 0)"
    not_started = metrics["notStarted"]["MetricStat"]["Metric"]
    assert (not_started["Namespace"], not_started["MetricName"]) == (transformation["MetricNamespace"], transformation["MetricName"])
    assert "Dimensions" not in not_started  # a metric filter's metric has none
    # What the cancel-job function emits when a stopped execution had reset without syncing:
    # Powertools Metrics in the functions' namespace, with their service as the one dimension.
    environment = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    stopped = metrics["stoppedBeforeSync"]["MetricStat"]["Metric"]
    assert stopped == {
        "Namespace": environment["POWERTOOLS_METRICS_NAMESPACE"],
        "MetricName": "DestinationLeftReset",
        "Dimensions": [{"Name": "service", "Value": environment["POWERTOOLS_SERVICE_NAME"]}],
    }
    assert all(query["MetricStat"]["Stat"] == "Sum" for query in metrics.values() if "MetricStat" in query)
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert ("AlarmActions" in alarm) is (parameter_set != "defaults")


def test_the_errors_the_destination_alarm_watches_are_the_ones_the_state_machine_raises():
    definition = json.loads(ASL_PATH.read_text(encoding="utf-8"))
    errors = {state.get("Error") for state in definition["States"].values() if state["Type"] == "Fail"}
    watched = re.findall(r'\$\.details\.error = "(\w+)"', load_template()["Resources"]["ResyncNotStartedMetricFilter"]["Properties"]["FilterPattern"])
    assert sorted(watched) == ["ResyncFailed", "ResyncNotStarted", "ResyncTimedOut"]
    assert set(watched) <= errors


def test_the_cancel_function_hears_only_unsuccessful_executions_of_this_state_machine():
    stack = deployed("defaults")
    rules = [rule for rule in stack.of_type("AWS::Events::Rule").values() if rule["EventPattern"].get("source") == ["aws.states"]]
    (rule,) = rules
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    # Failed too: a run that failed while its reset ran, or after it succeeded, left the destination empty.
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert pattern["detail"]["stateMachineArn"] == [f"<{STATE_MACHINE}>"]
    assert rule["Targets"][0]["Arn"] == f"<{CANCEL_FUNCTION}.Arn>"


@pytest.mark.parametrize("parameter_set", ["defaults", "secret-schedule-alarm"])
def test_an_event_that_could_not_be_handled_is_kept_and_raises_an_alarm(parameter_set):
    stack = deployed(parameter_set)
    # EventBridge invokes these functions asynchronously: what still fails after Lambda's
    # retries goes to the queue rather than nowhere.
    for function in EVENT_FUNCTIONS:
        assert stack.properties(function)["DeadLetterConfig"] == {"TargetArn": "<UnhandledEventsQueue.Arn>"}, function
    invoke_configs = stack.of_type("AWS::Lambda::EventInvokeConfig").values()
    assert sorted(config["FunctionName"] for config in invoke_configs) == sorted(f"<{function}>" for function in EVENT_FUNCTIONS)
    assert all(config["MaximumRetryAttempts"] == 2 for config in invoke_configs)
    queue = stack.properties("UnhandledEventsQueue")
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600 and queue["SqsManagedSseEnabled"] is True
    alarm = stack.of_type("AWS::CloudWatch::Alarm")["UnhandledEventsAlarm"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": "<UnhandledEventsQueue.QueueName>"}]
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert ("AlarmActions" in alarm) is (parameter_set != "defaults")
    # The other functions are invoked synchronously by the state machine: no queue to fill.
    for other in FUNCTIONS:
        assert "DeadLetterConfig" not in stack.properties(other), other


def test_outputs_cover_what_operators_need():
    outputs = load_template()["Outputs"]
    assert {
        "StateMachineArn",
        "StateMachineName",
        "StateMachineConsoleUrl",
        "GetConnectionFunctionArn",
        "ListJobsFunctionArn",
        "WaitForJobStateMachineArn",
        "TriggerResetFunctionArn",
        "PollJobFunctionArn",
        "TriggerResyncFunctionArn",
        "StateMachineLogGroupName",
        "ResetRequestedDetailType",
        "ExecutionFailedAlarmName",
        "ResyncNotStartedAlarmName",
    } <= set(outputs)
    assert outputs["ResetRequestedDetailType"]["Value"] == RESET_REQUESTED_DETAIL_TYPE


# ------------------------------------------- state machine <-> template wiring


def test_definition_substitutions_bind_each_step_to_a_function_of_this_template():
    template = load_template()
    for machine, expected in EXPECTED_SUBSTITUTIONS.items():
        bound = {}
        for placeholder, value in state_machine_substitutions(machine).items():
            if placeholder.endswith("StateMachineArn"):
                assert isinstance(value, dict) and set(value) == {"Ref"}, (placeholder, value)
                assert template["Resources"][value["Ref"]]["Type"] == "AWS::Serverless::StateMachine", (placeholder, value)
                bound[placeholder] = value["Ref"]
                continue
            if placeholder.endswith("TableName"):
                assert isinstance(value, dict) and set(value) == {"Ref"}, (placeholder, value)
                assert template["Resources"][value["Ref"]]["Type"] == "AWS::DynamoDB::Table", (placeholder, value)
                bound[placeholder] = value["Ref"]
                continue
            assert isinstance(value, dict) and set(value) == {"Fn::GetAtt"}, (placeholder, value)
            function, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", (placeholder, value)
            assert template["Resources"][function]["Type"] == "AWS::Serverless::Function", (placeholder, value)
            bound[placeholder] = function
        assert bound == expected, machine


@pytest.mark.parametrize("machine", MACHINES)
def test_asl_placeholders_and_definition_substitutions_agree(machine):
    placeholders = set(PLACEHOLDER_PATTERN.findall(load_asl_text(machine)))
    substitutions = set(state_machine_substitutions(machine))
    assert placeholders == substitutions, (
        f"placeholders without a substitution: {sorted(placeholders - substitutions)}; "
        f"substitutions the ASL does not use: {sorted(substitutions - placeholders)}"
    )


# ------------------------------------------------------------------ IAM


@pytest.mark.parametrize("parameter_set", PARAMETER_SETS)
def test_state_machine_roles_invoke_only_their_functions_and_start_only_their_child(parameter_set):
    stack = deployed(parameter_set)
    for machine, substitutions in EXPECTED_SUBSTITUTIONS.items():
        role = stack.role_of(stack.properties(machine)["RoleArn"])
        grants, managed = stack.permissions(role)
        assert stack.trusted_services(role) == {"states.amazonaws.com"}
        # X-Ray comes from SAM for Tracing; log delivery is the template's own statement.
        assert managed == {XRAY_WRITE_POLICY}
        functions = {target for placeholder, target in substitutions.items() if placeholder.endswith("FunctionArn")}
        expected = {("lambda:InvokeFunction", lambda_arn_pattern(function)) for function in functions}
        expected |= {(action, "*") for action in LOG_DELIVERY_ACTIONS}
        for child in (target for placeholder, target in substitutions.items() if placeholder.endswith("StateMachineArn")):
            # Exactly what startExecution.sync:2 needs on its child, and nothing more.
            executions = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:<{child}.Name>:*"
            rule = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
            expected |= {("states:StartExecution", f"<{child}>"), ("states:DescribeExecution", executions), ("states:StopExecution", executions)}
            expected |= {(action, rule) for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule")}
        for table in (target for placeholder, target in substitutions.items() if placeholder.endswith("TableName")):
            # The counts a fleet's items share: set, read, add to and delete the counts items of
            # the fleet's own executions, nothing else of the table.
            only_counts = json.dumps({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [counts_item_pattern(stack.properties(machine)["StateMachineName"])]}})
            expected |= {(f"dynamodb:{action}", f"<{table}.Arn>", only_counts) for action in ("GetItem", "UpdateItem", "DeleteItem")}
        if machine == FLEET_STATE_MACHINE:
            # Distributed Map runs each item as an execution of the fleet's own state machine:
            # it may start itself and watch those, named by the stack, nothing else.
            name = f"{STACK_NAME}-reset-and-resync-fleet"
            items = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:{name}/*"
            expected |= {("states:StartExecution", f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"),
                         ("states:DescribeExecution", items), ("states:StopExecution", items)}
            assert stack.properties(machine)["StateMachineName"] == name
        assert grants == expected, machine


def counts_item_pattern(machine_name: str) -> str:
    """The ids of the counts items the fleet's ASL makes (`<execution ARN>/<step>/<entered time>`)
    and uses on the table, as an IAM pattern; the ASL does nothing else on it."""
    asl = json.loads(FLEET_ASL_PATH.read_text(encoding="utf-8"))
    (counter,) = [state["Parameters"]["counter.$"] for state in asl["States"].values() if "counter.$" in state.get("Parameters", {})]
    step = re.fullmatch(r"States\.Format\('\{\}/(\w+)/\{\}', \$\$\.Execution\.Id, \$\$\.State\.EnteredTime\)", counter)
    assert step, counter
    used = {state["Resource"] for state in _all_states(asl) if "dynamodb" in str(state.get("Resource"))}
    assert used == {f"arn:aws:states:::dynamodb:{action}" for action in ("getItem", "updateItem", "deleteItem")}, used
    return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:{machine_name}:*/{step[1]}/*"


def _all_states(asl: dict[str, Any]) -> list[dict[str, Any]]:
    """Every state of a definition, those of its Maps' item processors included."""
    found = []
    for state in asl["States"].values():
        found.append(state)
        if "ItemProcessor" in state:
            found += _all_states(state["ItemProcessor"])
    return found


@pytest.mark.parametrize("parameter_set", PARAMETER_SETS)
def test_each_function_role_reads_only_the_airbyte_secret(parameter_set):
    stack = deployed(parameter_set)
    secret_name = PARAMETER_SETS[parameter_set].get("AirbyteSecretName", "")
    for function, properties in stack.of_type("AWS::Lambda::Function").items():
        role = stack.role_of(properties["Role"])
        grants, managed = stack.permissions(role)
        assert stack.trusted_services(role) == {"lambda.amazonaws.com"}, function
        assert managed == {LAMBDA_BASIC_EXECUTION_POLICY, XRAY_WRITE_POLICY}, function
        expected = set()
        if secret_name:
            expected.add(("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{secret_name}-??????"))
        if function in ("TriggerResetFunction", "TriggerResyncFunction"):
            # Remember the jobs they created, in the idempotency table only.
            expected |= {(f"dynamodb:{action}", "<IdempotencyTable.Arn>") for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem")}
        if function == "GetConnectionFunction":
            # Claims the connection for its execution, and asks whether the holder still runs.
            expected |= {(f"dynamodb:{action}", "<IdempotencyTable.Arn>") for action in ("GetItem", "PutItem")}
            (holders,) = [grant for grant in grants if grant[0] == "states:DescribeExecution"]
            assert holders[1] == f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:<{STATE_MACHINE}.Name>:*", holders
            expected.add(holders)
        if function == CANCEL_FUNCTION:
            # Reads the history of this state machine's executions, and nothing else.
            (history,) = [grant for grant in grants if grant[0] == "states:GetExecutionHistory"]
            assert history[1].startswith(f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:") and history[1].endswith(":*"), history
            assert STATE_MACHINE in history[1], history
            expected.add(history)
        if function == STARTER_FUNCTION:
            # Starts a run or a fleet, and needs no Airbyte credentials to do it.
            expected = {("states:StartExecution", f"<{STATE_MACHINE}>"), ("states:StartExecution", f"<{FLEET_STATE_MACHINE}>")}
        if function in EVENT_FUNCTIONS:
            # Their dead-letter queue, which SAM grants for the DeadLetterQueue property.
            expected.add(("sqs:SendMessage", "<UnhandledEventsQueue.Arn>"))
        assert grants == expected, function


@pytest.mark.parametrize("parameter_set", PARAMETER_SETS)
def test_starters_may_only_start_this_state_machine(parameter_set):
    stack = deployed(parameter_set)
    # Reset requests reach it through the starter function (its role is checked with the
    # other functions'); EventBridge may only invoke that function.
    for detail_type in (RESET_REQUESTED_DETAIL_TYPE, CONNECTIONS_RESET_REQUESTED_DETAIL_TYPE):
        (target,) = reset_requested_rule(stack, detail_type)["Targets"]
        assert "RoleArn" not in target
    permissions = [p for p in stack.of_type("AWS::Lambda::Permission").values() if p["FunctionName"] == f"<{STARTER_FUNCTION}>"]
    assert [(p["Action"], p["Principal"]) for p in permissions] == [("lambda:InvokeFunction", "events.amazonaws.com")] * 2
    starters = {}
    for schedule in stack.of_type("AWS::Scheduler::Schedule").values():
        starters[stack.role_of(schedule["Target"]["RoleArn"])] = "scheduler.amazonaws.com"
    assert len(starters) == (1 if parameter_set == "secret-schedule-alarm" else 0)
    for role, service in starters.items():
        grants, managed = stack.permissions(role)
        assert stack.trusted_services(role) == {service}, role
        assert managed == set(), role
        assert grants == {("states:StartExecution", f"<{STATE_MACHINE}>")}, role
    # Whoever may start executions: the schedule's role, the starter function's, and the fleet's
    # (one per connection), nothing else.
    may_start = {role for role in stack.of_type("AWS::IAM::Role") if any(a == "states:StartExecution" and r == f"<{STATE_MACHINE}>" for a, r, *_ in stack.permissions(role)[0])}
    assert may_start == set(starters) | {stack.role_of(stack.properties(STARTER_FUNCTION)["Role"]), stack.role_of(stack.properties(FLEET_STATE_MACHINE)["RoleArn"])}
    # The child is started by the run's own role only.
    may_start_child = {role for role in stack.of_type("AWS::IAM::Role") if any(a == "states:StartExecution" and r == f"<{CHILD_STATE_MACHINE}>" for a, r, *_ in stack.permissions(role)[0])}
    assert may_start_child == {stack.role_of(stack.properties(STATE_MACHINE)["RoleArn"])}
    # A fleet is started by the starter function only (and the console, or the CLI, as a person).
    may_start_fleet = {role for role in stack.of_type("AWS::IAM::Role") if any(a == "states:StartExecution" and r == f"<{FLEET_STATE_MACHINE}>" for a, r, *_ in stack.permissions(role)[0])}
    assert may_start_fleet == {stack.role_of(stack.properties(STARTER_FUNCTION)["Role"])}


@pytest.mark.parametrize("parameter_set", PARAMETER_SETS)
def test_no_wildcard_actions_and_wildcard_resources_only_for_log_delivery(parameter_set):
    stack = deployed(parameter_set)
    roles = stack.of_type("AWS::IAM::Role")
    assert roles, "the transformed template has no roles"
    for role in roles:
        grants, _ = stack.permissions(role)
        for action, resource, *_ in grants:  # a condition only narrows a grant
            assert "*" not in action and "?" not in action, (role, action)
            if resource == "*":
                assert action in LOG_DELIVERY_ACTIONS, (role, action)


# ------------------------------------------- environment and credentials


@pytest.mark.parametrize("parameter_set", PARAMETER_SETS)
def test_function_environment_is_exactly_the_documented_set(parameter_set):
    stack = deployed(parameter_set)
    parameters = stack.parameters
    for function, properties in stack.of_type("AWS::Lambda::Function").items():
        variables = properties["Environment"]["Variables"]
        if function == STARTER_FUNCTION:
            assert variables.pop("STATE_MACHINE_ARN") == f"<{STATE_MACHINE}>"
            assert variables.pop("FLEET_STATE_MACHINE_ARN") == f"<{FLEET_STATE_MACHINE}>"
        assert set(variables) == EXPECTED_ENVIRONMENT, function
        assert variables["AIRBYTE_API_URL"] == parameters["AirbyteApiUrl"], function
        assert variables["AIRBYTE_SECRET_ID"] == parameters["AirbyteSecretName"], function
        assert variables["POWERTOOLS_LOG_LEVEL"] == parameters["LogLevel"], function
        assert variables["POWERTOOLS_SERVICE_NAME"] == "airbyte-resync", function
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "AirbyteResync", function
        assert not any(looks_like_credential(value) for value in variables.values()), function


def test_no_parameter_default_looks_like_a_credential():
    for name, spec in load_template()["Parameters"].items():
        assert not CREDENTIAL_PARAMETER_NAME.search(name), f"{name}: credentials belong in Secrets Manager"
        assert not looks_like_credential(str(spec.get("Default", ""))), name


@pytest.mark.parametrize(
    "value, expected",
    [
        ("AKIA" + "ABCDEFGHIJKLMNOP", True),
        ("Bearer abc.def", True),
        ("https://user:hunter2@airbyte.example.com/api/public/v1", True),
        ("x" * 40, True),
        ("https://api.airbyte.com/v1", False),
        ("airbyte/api-credentials", False),
        ("", False),
    ],
)
def test_credential_detector(value, expected):
    assert looks_like_credential(value) is expected


# -------------------------------------------------------------- samples


def test_eventbridge_sample_matches_the_rule_and_yields_valid_input():
    event = json.loads(EVENTBRIDGE_SAMPLE_PATH.read_text(encoding="utf-8"))
    rule = reset_requested_rule(deployed("defaults"))
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == [RESET_REQUESTED_DETAIL_TYPE]
    assert event_matches(pattern, event)
    (target,) = rule["Targets"]
    # The whole event reaches the starter function, which passes its detail on as the input.
    assert target["Arn"] == f"<{STARTER_FUNCTION}.Arn>"
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)
    assert execution_input_problems(event["detail"]) == []


def test_the_fleet_sample_event_matches_the_fleet_rule_only():
    event = json.loads(FLEET_EVENTBRIDGE_SAMPLE_PATH.read_text(encoding="utf-8"))
    stack = deployed("defaults")
    assert event_matches(reset_requested_rule(stack, CONNECTIONS_RESET_REQUESTED_DETAIL_TYPE)["EventPattern"], event)
    assert not event_matches(reset_requested_rule(stack)["EventPattern"], event)
    assert stack.template["Outputs"]["ConnectionsResetRequestedDetailType"]["Value"] == CONNECTIONS_RESET_REQUESTED_DETAIL_TYPE


@pytest.mark.parametrize(
    "change",
    [
        lambda event: event.update({"detail-type": "Airbyte Connection Sync Requested"}),
        lambda event: event["detail"].pop("connectionId"),
        lambda event: event.update({"detail": {}}),
    ],
    ids=["other-detail-type", "no-connection-id", "empty-detail"],
)
def test_rule_ignores_events_that_cannot_start_a_reset(change):
    event = json.loads(EVENTBRIDGE_SAMPLE_PATH.read_text(encoding="utf-8"))
    change(event)
    assert not event_matches(reset_requested_rule(deployed("defaults"))["EventPattern"], event)


def test_execution_input_sample_is_valid():
    document = json.loads(EXECUTION_INPUT_SAMPLE_PATH.read_text(encoding="utf-8"))
    assert execution_input_problems(document) == []
    assert document["connectionId"] == CONNECTION_ID


@pytest.mark.parametrize(
    "document",
    [[], {}, {"connectionId": "not-a-uuid"}, {"connectionId": CONNECTION_ID, "pollIntervalSeconds": 0}],
    ids=["array", "empty", "bad-uuid", "zero-interval"],
)
def test_execution_input_check_rejects_bad_input(document):
    assert execution_input_problems(document) != []


# ---------------------------------------------------------------- deploy-time rules


def evaluate_rule_function(value: Any, parameters: dict[str, str]) -> Any:
    """CloudFormation's rule functions the template uses, as CloudFormation evaluates them."""
    if isinstance(value, dict) and len(value) == 1:
        [(name, argument)] = value.items()
        if name == "Ref":
            return parameters[argument]
        arguments = [evaluate_rule_function(item, parameters) for item in argument]
        if name == "Fn::Equals":
            return arguments[0] == arguments[1]
        if name == "Fn::Not":
            return not arguments[0]
        if name == "Fn::Contains":
            return arguments[1] in arguments[0]
        raise AssertionError(f"a rule function this test does not know: {name}")
    if isinstance(value, list):
        return [evaluate_rule_function(item, parameters) for item in value]
    return value


def failed_assertions(parameters: dict[str, str]) -> list[str]:
    template = load_template()
    values = {name: spec.get("Default", "") for name, spec in template["Parameters"].items()} | parameters
    failed = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not evaluate_rule_function(rule["RuleCondition"], values):
            continue
        failed += [assertion["AssertDescription"] for assertion in rule["Assertions"] if not evaluate_rule_function(assertion["Assert"], values)]
    return failed


@pytest.mark.parametrize("parameters, refused", [
    ({}, True),  # the defaults: Airbyte Cloud, no secret
    ({"AirbyteApiUrl": "https://api.airbyte.com/v1/"}, True),
    ({"AirbyteSecretName": "airbyte/resync"}, False),
    ({"AirbyteApiUrl": "https://airbyte.internal.example/api/public/v1"}, False),  # self-managed may run without auth
    ({"AirbyteApiUrl": "https://airbyte.internal.example/api/public/v1", "AirbyteSecretName": "airbyte/resync"}, False),
])
def test_a_deployment_against_airbyte_cloud_without_a_secret_is_refused(parameters, refused):
    failed = failed_assertions(parameters)
    assert bool(failed) == refused
    if refused:
        [description] = failed
        assert "AirbyteSecretName" in description and "secretsmanager create-secret --name airbyte/resync" in " ".join(description.split())


def test_the_readme_and_samconfig_name_the_same_example_secret():
    readme = "\n".join((TEMPLATE_PATH.parent / name).read_text(encoding="utf-8") for name in ("README.md", "docs/deploying.md"))
    samconfig = (TEMPLATE_PATH.parent / "samconfig.toml").read_text(encoding="utf-8")
    named = set(re.findall(r'AirbyteSecretName=\\?"([^"\\]+)', samconfig)) | set(re.findall(r"--name (airbyte/[\w/-]+)", readme))
    assert named == {"airbyte/resync"}


def test_the_dashboard_is_valid_json_and_shows_each_metric_the_functions_emit():
    template = load_template()
    body, substitutions = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    values = {"AWS::Region": "us-east-1", "Machine": "arn:aws:states:us-east-1:123456789012:stateMachine:run", "Namespace": "AirbyteResync"}
    assert set(re.findall(r"\$\{([\w:]+)\}", body)) <= set(values)
    dashboard = json.loads(re.sub(r"\$\{([\w:]+)\}", lambda match: values[match.group(1)], body))
    shown = json.dumps(dashboard)
    emitted = set(re.findall(r'name="(\w+)"', "\n".join(path.read_text() for path in (TEMPLATE_PATH.parent / "layers").rglob("*.py"))))
    emitted |= set(re.findall(r'name="(\w+)"', "\n".join(path.read_text() for path in (TEMPLATE_PATH.parent / "functions").rglob("app.py"))))
    emitted |= {"JobSeconds", "RowsSynced", "BytesSynced", "TransientAirbyteError"}  # named from the job's fields, and after the error class
    for metric in ("RunsEnded", "JobSeconds", "RowsSynced", "BytesSynced", "AirbyteCalls", "TransientAirbyteError", "DestinationLeftReset"):
        assert metric in emitted, metric
        assert metric in shown, metric
    assert substitutions["Namespace"] == template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
