"""Runtime expressions the grammar allows but no value of a state machine's data stands for
are refused as not supported (not as invalid), at the parameter that holds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from arazzo_sfn.compiler import compile_document
from arazzo_sfn.errors import UnsupportedConstruct

FIXTURES = Path(__file__).parents[1] / "fixtures" / "documents" / "workflow-expressions"
DOCUMENT = FIXTURES / "unsupported-forms.arazzo.yaml"
ANSWER_OF_A_CALL = FIXTURES / "answer-of-a-call.arazzo.yaml"


@pytest.mark.parametrize(("index", "workflow_id", "reason"), [
    (0, "request-body", "what a step sent is known to its function only"),
    (1, "url", "the URL a step called is known to its function only"),
    (2, "method", "the method a step used is known to its function only"),
    (3, "components", "they name reusable objects of the document"),
    (4, "source-description", "they name an operation or workflow"),
    (5, "quoted-pointer", "it cannot be expressed as an ASL path"),
])
def test_a_form_no_state_data_stands_for_is_refused_as_not_supported_at_its_parameter(index, workflow_id, reason):
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(DOCUMENT, workflow_id)
    error = caught.value
    assert "not supported" in error.message and reason in error.message
    assert error.location is not None and error.location.pointer == f"/workflows/{index}/steps/0/parameters/0"


@pytest.mark.parametrize(("workflow_id", "expression", "at"), [
    ("status-code-criterion", "$statusCode", "/workflows/1/steps/0/successCriteria/0"),
    ("response-output", "$response.header.ETag", "/workflows/2/steps/0/outputs"),
    ("url-parameter", "$url", "/workflows/3/steps/0/parameters/0"),
    ("method-in-a-failure-action", "$method", "/workflows/4/steps/0/onFailure/0/criteria/0"),
])
def test_what_a_step_that_calls_a_workflow_reads_of_its_own_http_answer_is_refused_as_not_supported(workflow_id, expression, at):
    """Valid Arazzo (the specification's pet-coupons example judges such a step by
    `$statusCode == 200`), but such a step sends and receives nothing itself."""
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(ANSWER_OF_A_CALL, workflow_id)
    error = caught.value
    assert f"{expression!r} in a step that calls a workflow is not supported" in error.message
    assert "$outputs.<name>" in error.message
    assert error.location is not None and error.location.pointer == at
