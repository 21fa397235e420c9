"""Runtime expressions the grammar allows but no value of a state machine's data stands for
are refused as not supported (not as invalid), at the parameter that holds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from arazzo_sfn.compiler import compile_document
from arazzo_sfn.errors import UnsupportedConstruct

DOCUMENT = Path(__file__).parents[1] / "fixtures" / "documents" / "workflow-expressions" / "unsupported-forms.arazzo.yaml"


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
