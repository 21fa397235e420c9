"""Other Arazzo executors' suites, run as a new user runs a workflow: each case's workflow is
compiled with the workflows it starts (`compile_bundle`, what `arazzo-sfn run` compiles),
executed in moto with the operation function against a server that answers as the case
scripts the API (`routes`), and the outcome compared with what the case expects: the
execution's status, its outputs, the requests the API received (in order, or as a multiset
where the case says so), how many, and the bodies it names.

A fixture that contradicts Arazzo 1.0.1 (`fixture_invalid`) must be refused as invalid, and
its respelled variant (`mended`) must run. Four fixtures contradict the specification in
what they expect rather than in what they write: those documents are valid, so they run, and
the outcome compared is the one the specification gives (SPEC_EXPECTATIONS, which also holds
the three cases where the compiler's reading gives another outcome than the executor's, each
with why). REFUSED_AS_INVALID names a document the index takes as valid that the
specification's text makes invalid, with the clause.

A valid case may be refused only as *not supported*, and only where NOT_SUPPORTED says why;
the refusal must be an UnsupportedConstruct, so the list cannot hide a wrong answer.
LOWERING_DEFECTS are cases the compiler gets wrong by mistake: expected to fail until it is
mended (strict, so the entry goes when it is). docs/compiler/executor-suites.md tells the
outcome of every case that does not agree.

Waits are not slept, Task retry backoffs are skipped, and a loop with no end of its own ends
after a few passes instead of thousands (`with_few_passes`), so the module runs in seconds.
"""

from __future__ import annotations

import json
import re
import warnings
from collections import Counter
from typing import Any

import pytest

from arazzo_sfn.compiler import compile_all, compile_bundle
from arazzo_sfn.errors import ArazzoError, ArazzoWarning, UnsupportedConstruct
from arazzo_sfn.history import RunResult
from arazzo_sfn.local_run import run_workflow
from arazzo_sfn.testing import Reply, ScriptedServer
from tests.validation.support import FIXTURES

SUITE = FIXTURES / "suites" / "executors"
CASES: dict[str, dict[str, Any]] = {case["id"]: case for case in json.loads((SUITE / "index.json").read_text(encoding="utf-8"))["cases"]}

NOT_SUPPORTED: dict[str, str] = {
    "jaredce/arazzo-criteria/xPath": "an xpath criterion: Step Functions has no XPath, and the operation function evaluates no XML",
    "jaredce/arazzo-outputs/between-arazzo-documents": (
        "a parameter value `$sourceDescriptions.auth-arazzo.LoginUser-apiKey.outputs.AccessToken` reads the outputs of a workflow "
        "of another Arazzo document that this workflow never runs: a workflow of another document runs only as a child "
        "execution started by a step, whose outputs are then `$steps.<stepId>.outputs.<name>`"
    ),
    "jaredce/arazzo-dependsOn/external-workflow": (
        "dependsOn names `LoginUser-apiKey` of another Arazzo document, which runs as a child execution of its own state "
        "machine; the workflow that depends on it has the same id, `LoginUser-apiKey`, and a deployment names each state "
        "machine by its workflowId, which the two could not share (with either renamed, the case runs and agrees)"
    ),
}

# The specification's own pet-coupons example judges step place-order, which calls a workflow,
# by `$statusCode == 200`: valid Arazzo with no meaning given, refused as not supported.
NOT_SUPPORTED.update({
    f"jentic/pet_coupons/{workflow} (mended)": (
        "`$statusCode == 200` in the successCriteria of step place-order, which calls a workflow: such a step sends no "
        "HTTP request and receives no response of its own (the called workflow's steps do), and Arazzo 1.0.1 gives "
        "`$statusCode` no other meaning there, so it is not guessed"
    )
    for workflow in ("apply-coupon", "buy-available-pet")
})

# A document the compiler refuses by mistake: strict expected failures, each with why.
LOWERING_DEFECTS: dict[str, str] = {}

# Documents the index takes as valid that Arazzo 1.0.1 makes invalid: refused as invalid, with the clause.
REFUSED_AS_INVALID: dict[str, str] = {
    "redocly/replacements/replacements": (
        "step step-with-form-urlencoded-replacements writes its form body as a string and replaces `/location` in it: a "
        "replacement target is 'A JSON Pointer or XPath Expression which MUST be resolved against the request body' (Payload "
        "Replacement Object, target), and a JSON Pointer resolves only through objects and arrays (RFC 6901, section 4: "
        "a reference token applied to any other value is an error). The same target into the form written as a map "
        "(the next step) compiles"
    ),
}

# The goto-a-workflow reading: control transfers to that workflow, and this one ends with its outcome.
GOTO_WORKFLOW_OUTCOME = (
    "a failure action goes to a workflow, which succeeds: 'the workflow will transfer to the specified workflow' (Failure "
    "Action Object, type goto), so the failure is handled and the run ends with that workflow's outcome, SUCCEEDED; "
    "Respect reports the run failed because a step of it failed"
)

# Cases whose expectation contradicts Arazzo 1.0.1 (or the compiler's documented reading of it
# where the specification is silent): the outcome the specification gives is checked instead.
SPEC_EXPECTATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "jaredce/arazzo-rules/onFailure/retry/step/retryLimit-set-to-3 (exhausted)": (
        "after three retries getUser still answers 404, and with no further failure action the workflow stops, failed "
        "('the default behavior is to break and return'): deleteUser is not called",
        {"status": "FAILED", "error": "StepFailed", "requests": ["POST /user/login", "GET /user/DannyB", "GET /user/DannyB", "GET /user/DannyB", "GET /user/DannyB"]},
    ),
    "jaredce/arazzo-rules/onSuccess/end/workflow/middle-step": (
        "the workflow's successActions (end, when $statusCode == 200) apply to LoginExistingUser too, which answers 200: "
        "the workflow ends after it, and getUser is not called",
        {"status": "SUCCEEDED", "requests": ["POST /user/login"]},
    ),
    "jaredce/arazzo-rules/onSuccess/goto/workflow/step-override": (
        "the workflow's successActions (goto LoginExistingUser, when $statusCode == 200) apply to LoginExistingUser itself: "
        "the workflow logs in again and again, until the bound every loop gets ends it, failed",
        {"status": "FAILED", "error": "LoopLimitExceeded", "only_requests": ["POST /user/login"]},
    ),
    "jaredce/arazzo-outputs/between-workflows": (
        "step LogUserIn calls LoginUser-apiKey with no parameters, so that workflow has no username or password to send: "
        "the login body carries neither",
        {"requests": ["POST /user/login", "DELETE /user/DannyB"], "order": "multiset", "bodies": {"0": {}}},
    ),
    "jentic/newyork_times/Search Articles by Keyword (mended)": (
        "the input hl is true, but the workflow's inputs schema declares hl a string: the execution refuses inputs its "
        "schema refuses (InvalidInput) before any request; Jentic's runner does not check inputs",
        {"status": "FAILED", "error": "InvalidInput", "request_count": 0},
    ),
    "redocly/workflow-failure-actions/get-menu-items": (
        GOTO_WORKFLOW_OUTCOME,
        {"status": "SUCCEEDED", "requests": ["GET /menu", "GET /menu", "GET /menu", "GET /menu"]},
    ),
    "redocly/reusable-components/get-menu-items": (
        GOTO_WORKFLOW_OUTCOME,
        {"status": "SUCCEEDED", "requests": ["GET /menu", "GET /menu", "GET /menu"]},
    ),
}

# Jentic's fixture test compares only the outputs a case names (found among the workflow's outputs).
NAMED_OUTPUTS_ONLY = {"runner/tests/test_fixture_discovery.py"}


def _marks(case_id: str) -> list[pytest.MarkDecorator]:
    if case_id in LOWERING_DEFECTS:
        return [pytest.mark.xfail(reason=LOWERING_DEFECTS[case_id], strict=True)]
    return []


def _params(case_ids: list[str]) -> list[Any]:
    return [pytest.param(case_id, marks=_marks(case_id), id=case_id) for case_id in case_ids]


def routes_of(case: dict[str, Any]) -> dict[str, list[Reply]]:
    """The case's routes as ScriptedServer routes. A path given twice is one route: the replies
    of routes answered once each (`once`, as an HTTP mock's interceptors are used up) follow
    one another; otherwise the first route given answers, as the executor's mock does."""
    routes: dict[str, list[Reply]] = {}
    for route in case.get("routes") or []:
        key = f"{route['method'].upper()} {route['path']}"
        replies = [Reply(answer["status"], answer.get("body"), answer.get("headers") or {}) for answer in route["responses"]]
        if key not in routes:
            routes[key] = replies
        elif route.get("once"):
            routes[key].extend(replies)
    return routes


def compiled(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The case's state machines, as `arazzo-sfn run` compiles them (`arazzo-sfn compile --all`
    for a case that is only compiled): workflowId -> ASL, the case's workflow first."""
    path = SUITE / case["dir"] / case["doc"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArazzoWarning)  # a step no route reaches is valid
        return compile_all(path) if case.get("kind") == "compile" else compile_bundle(path, case["workflow"])


def refusal(case: dict[str, Any]) -> ArazzoError | None:
    """What compiling the case raised, or None."""
    try:
        compiled(case)
    except ArazzoError as error:
        return error
    return None


# A loop with no end of its own is ended by the bound every loop gets from the execution
# history's limit: thousands of passes. The runs lower that bound to a few: the same states
# and the same failure, in a fraction of a second.
FEW_PASSES = 3
HISTORY_BOUND = re.compile(r'"maxIterationsAllowedByHistory": (\d+)')


def with_few_passes(asl: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(asl)
    for bound in set(HISTORY_BOUND.findall(text)):
        for test in ("NumericGreaterThanEquals", "maxIterationsAllowedByHistory"):
            text = text.replace(f'"{test}": {bound}', f'"{test}": {FEW_PASSES}')
    return json.loads(text)


def run_case(case: dict[str, Any]) -> tuple[RunResult, ScriptedServer]:
    bundle = {workflow_id: with_few_passes(asl) for workflow_id, asl in compiled(case).items()}
    root = next(iter(bundle))
    asl = bundle.pop(root)
    with ScriptedServer(routes_of(case)) as server:
        result = run_workflow(
            asl, case.get("inputs") or {}, server.url, children=bundle,
            retry_sleep=lambda seconds: None, wait_sleep=lambda seconds: None, timeout_seconds=60,
        )
    return result, server


def check_outcome(case: dict[str, Any], expect: dict[str, Any], result: RunResult, server: ScriptedServer) -> None:
    requests = server.sequence()
    outcome = f"{result.status} {result.error or ''} {result.cause or ''}\nrequests: {requests[:20]}"
    if "status" in expect:
        assert result.status == expect["status"], outcome
    if "error" in expect:
        assert result.error == expect["error"], outcome
    if "outputs" in expect:
        outputs = result.output if isinstance(result.output, dict) else {}
        if case.get("unchecked_expectations") or case["source"].get("test") in NAMED_OUTPUTS_ONLY:
            assert {name: outputs.get(name) for name in expect["outputs"]} == expect["outputs"], outcome
        else:
            assert outputs == expect["outputs"], outcome
    if "request_count" in expect:
        assert len(requests) == expect["request_count"], outcome
    if "requests" in expect:
        if expect.get("order") == "multiset":
            assert Counter(requests) == Counter(expect["requests"]), outcome
        else:
            assert requests == expect["requests"], outcome
    if "only_requests" in expect:
        assert requests and set(requests) <= set(expect["only_requests"]), outcome
    for index, body in (expect.get("bodies") or {}).items():
        assert server.calls[int(index)].body == body, outcome


@pytest.mark.parametrize("case_id", _params(list(CASES)))
def test_the_case_runs_as_arazzo_says(case_id):
    case = CASES[case_id]
    refused = refusal(case)

    if case_id in NOT_SUPPORTED:
        assert isinstance(refused, UnsupportedConstruct), f"expected a refusal as not supported, got: {refused!r}"
        return
    if case_id in REFUSED_AS_INVALID or ("fixture_invalid" in case and case_id not in SPEC_EXPECTATIONS):
        assert refused is not None, f"compiled, but the document is invalid: {REFUSED_AS_INVALID.get(case_id) or case['fixture_invalid']}"
        assert not isinstance(refused, UnsupportedConstruct), f"refused as not supported, but the document is invalid:\n{refused}"
        return
    assert refused is None, str(refused)
    if case.get("kind") == "compile":
        return
    result, server = run_case(case)
    expect = SPEC_EXPECTATIONS[case_id][1] if case_id in SPEC_EXPECTATIONS else case["expect"]
    check_outcome(case, expect, result, server)


def test_the_lists_name_cases_of_the_suite_once():
    lists = [NOT_SUPPORTED, LOWERING_DEFECTS, REFUSED_AS_INVALID, SPEC_EXPECTATIONS]
    named = [case_id for listed in lists for case_id in listed]
    assert set(named) <= set(CASES)
    assert len(named) == len(set(named))


def test_only_valid_documents_are_refused_as_not_supported():
    invalid = {case_id for case_id, case in CASES.items() if "fixture_invalid" in case} | set(REFUSED_AS_INVALID)
    assert not set(NOT_SUPPORTED) & invalid


def test_every_mended_case_mends_an_invalid_one():
    for case_id, case in CASES.items():
        if "mended" in case:
            assert "fixture_invalid" in CASES[case["mended"]["from"]], case_id
            assert "fixture_invalid" not in case, case_id


def test_an_endless_loop_runs_a_few_passes_where_the_history_would_allow_thousands():
    asl = compiled(CASES["redocly/max-steps/infinite"])["infinite"]
    assert "maxIterationsAllowedByHistory" in json.dumps(asl)

    bounded = json.dumps(with_few_passes(asl))

    assert HISTORY_BOUND.findall(bounded) and set(HISTORY_BOUND.findall(bounded)) == {str(FEW_PASSES)}
    assert bounded.count(f'"NumericGreaterThanEquals": {FEW_PASSES}') >= 1


def test_a_path_scripted_twice_answers_in_turn_when_each_route_is_used_once():
    case = {"routes": [
        {"method": "GET", "path": "/user/{name}", "once": True, "responses": [{"status": 404}]},
        {"method": "get", "path": "/user/{name}", "once": True, "responses": [{"status": 200, "body": {"id": 1}}]},
        {"method": "POST", "path": "/login", "responses": [{"status": 200}]},
        {"method": "POST", "path": "/login", "responses": [{"status": 500}]},
    ]}

    routes = routes_of(case)

    assert routes == {"GET /user/{name}": [Reply(404), Reply(200, {"id": 1})], "POST /login": [Reply(200)]}
