"""`$url`, `$method` and `$request.<source>` resolved by a step's function against the
request it sent: in the answer's outputs and reads, and in the criteria it evaluates."""

from __future__ import annotations

from typing import Any

import pytest

from arazzo_runtime.evaluate import Response, evaluate_criteria, request_value
from arazzo_runtime.expressions import parse_expression
from arazzo_runtime.http import build_request, sent_request
from arazzo_runtime.nodes import MISSING
from arazzo_runtime.payload import PAYLOAD_VERSION, parse_payload
from arazzo_runtime.step import resolve, step_answer

SERVER = "http://127.0.0.1:8080/api/"

REQUEST: dict[str, Any] = {
    "method": "post",
    "path": "/pets/{petId}/visits",
    "pathParameters": {"petId": "a/b"},
    "query": {"page": 2, "tags": ["x", "y"], "absent": None},
    "headers": {"X-Trace": "t-1"},
    "cookies": {"session": "s 1"},
    "contentType": "application/json",
    "body": {"petId": None, "note": "hello", "gone": None},
    "replacements": [{"target": "/petId", "value": 7}],
    "omitNull": ["/gone"],
}


def answered(request: dict[str, Any] = REQUEST) -> Response:
    """An answer to `request` as the generic operation gives it: what was sent attached."""
    return Response(201, {"content-type": "application/json"}, {"id": 1}, sent_request(build_request(request, SERVER)))


def value(text: str, response: Response | None = None) -> Any:
    return request_value(parse_expression(text), (response or answered()).request)


def test_url_is_the_full_url_called_with_its_query():
    assert value("$url") == "http://127.0.0.1:8080/api/pets/a%2Fb/visits?page=2&tags=x&tags=y"


def test_method_is_the_method_sent_upper_case():
    assert value("$method") == "POST"


@pytest.mark.parametrize("name", ["X-Trace", "x-trace", "X-TRACE"])
def test_a_request_header_is_matched_ignoring_case(name):
    assert value(f"$request.header.{name}") == "t-1"


def test_the_headers_the_function_adds_are_headers_sent():
    assert value("$request.header.content-type") == "application/json"
    assert value("$request.header.Cookie") == "session=s%201"


def test_query_and_path_parameters_are_the_values_the_step_gave():
    assert value("$request.query.page") == 2
    assert value("$request.query.tags") == ["x", "y"]
    assert value("$request.path.petId") == "a/b"


def test_the_names_of_a_query_string_given_whole_are_query_parameters():
    """Arazzo 1.1 `in: querystring`: the query string's form-encoded pairs are what
    `$request.query.<name>` reads (the first value of a name given twice)."""
    request = {"method": "get", "path": "/pets", "queryString": "category=cats%20%26%20dogs&inStock=true&inStock=false&empty="}
    sent = answered(request)
    assert value("$url", sent) == "http://127.0.0.1:8080/api/pets?category=cats%20%26%20dogs&inStock=true&inStock=false&empty="
    assert value("$request.query.category", sent) == "cats & dogs"
    assert value("$request.query.inStock", sent) == "true"
    assert value("$request.query.empty", sent) == ""
    assert value("$request.query.other", sent) is MISSING


def test_a_parameter_not_sent_does_not_resolve():
    assert value("$request.query.missing") is MISSING
    assert value("$request.query.absent") is MISSING  # null: not sent
    assert value("$request.path.other") is MISSING
    assert value("$request.header.X-Missing") is MISSING


def test_the_body_is_read_after_its_replacements_and_omissions():
    assert value("$request.body") == {"petId": 7, "note": "hello"}
    assert value("$request.body#/petId") == 7
    assert value("$request.body#/gone") is MISSING


def test_without_a_body_the_body_does_not_resolve():
    request = {"method": "GET", "path": "/pets"}
    assert value("$request.body", answered(request)) is MISSING
    assert value("$url", answered(request)) == "http://127.0.0.1:8080/api/pets"


def test_an_answer_that_does_not_say_what_was_sent_resolves_nothing():
    bare = Response(200, {}, None)
    assert value("$method", bare) is MISSING
    assert resolve("$request.body#/petId", bare) is MISSING


def payload(**keep: Any) -> dict[str, Any]:
    return {
        "payloadVersion": PAYLOAD_VERSION, "step": "visit", "operationId": "addVisit", "source": "pets",
        "request": REQUEST, "keep": keep,
        "evaluate": {
            "c0": {"type": "simple", "condition": "$method == 'post'", "context": None},
            "c1": {"type": "simple", "condition": "$request.query.page == 2 && $request.header.x-trace == 'T-1'", "context": None},
            "c2": {"type": "jsonpath", "condition": "$.petId == 7", "context": "$request.body"},
            "c3": {"type": "regex", "condition": "^http://127\\.0\\.0\\.1:8080/api/pets/", "context": "$url"},
            "c4": {"type": "simple", "condition": "$request.query.missing == null", "context": None},
        },
    }


def test_outputs_and_reads_of_the_answer_resolve_what_was_sent():
    event = payload(
        outputs={"url": "$url", "method": "$method", "petId": "$request.body#/petId", "trace": "$request.header.x-TRACE", "page": "$request.query.missing"},
        reads={"r0": "$request.path.petId"},
    )
    answer = step_answer(answered(), parse_payload(event))
    assert answer["outputs"] == {
        "url": "http://127.0.0.1:8080/api/pets/a%2Fb/visits?page=2&tags=x&tags=y",
        "method": "POST", "petId": 7, "trace": "t-1", "page": None,
    }
    assert answer["reads"] == {"r0": "a/b"}


def test_criteria_the_function_evaluates_read_what_was_sent():
    answer = step_answer(answered(), parse_payload(payload()))
    # c4: a parameter that was not sent is missing, not null.
    assert answer["criteria"] == {"c0": True, "c1": True, "c2": True, "c3": True, "c4": False}


def test_success_criteria_read_what_was_sent():
    criteria = {"s": {"type": "simple", "condition": "$method == 'GET'", "context": None}}
    assert evaluate_criteria(criteria, None, answered()) == {"s": False}


def test_the_payload_accepts_request_expressions_in_outputs_and_reads():
    parsed = parse_payload(payload(outputs={"u": "$url"}, reads={"r0": "$request.query.page", "r1": "$method"}))
    assert parsed.keep is not None
    assert parsed.keep.outputs == {"u": "$url"}
