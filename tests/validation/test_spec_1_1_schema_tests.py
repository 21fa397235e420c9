"""The Arazzo 1.1 specification's own schema tests (tests/schema in OAI/Arazzo-Specification),
each document read by this compiler's validation of the document itself: the schema of its
version (mended) and its runtime expressions by the 1.1 grammar. Their source descriptions are
remote and not copied, so the checks that read operations are not run here.

Every `fail` document is refused. Every `pass` document is accepted, except where the schema
lets through what the specification's text forbids: those are refused, each listed in
BREAKS_THE_TEXT with the reason (where the schema and the text disagree, the text decides)."""

from __future__ import annotations

from pathlib import Path

import pytest

from arazzo_sfn.errors import ArazzoError, LoadError
from arazzo_sfn.loader import LoadedDocument, load_yaml
from arazzo_sfn.validation.document import Document
from arazzo_sfn.validation.expressions import expression_problems
from arazzo_sfn.validation.schema import schema_problems
from tests.validation.support import FIXTURES

SUITE = FIXTURES / "arazzo-1.1-schema"
PASS = sorted(path.name for path in (SUITE / "pass").glob("*.yaml"))
FAIL = sorted(path.name for path in (SUITE / "fail").glob("*.yaml"))

_PAYLOAD_ABNF = "the ABNF has `source = ... / payload-reference` with `#` and a JSON pointer after it, never '.<member>'"
BREAKS_THE_TEXT = {
    "async-depends-on.arazzo.yaml": f"'$message.payload.userId': {_PAYLOAD_ABNF}",
    "async-depends-on-cross-workflow.arazzo.yaml": (
        f"'$message.payload.userId': {_PAYLOAD_ABNF}; and '$workflows.producerWorkflow.steps.waitForEvent.outputs.userId' "
        "names a workflow's step, which `$workflows.<id>.` (inputs or outputs only) cannot"
    ),
    "openapi-and-asyncapi.arazzo.yaml": f"'$message.payload.orderId': {_PAYLOAD_ABNF}",
    "bnpl-example.yaml": (
        "'$response.body.redirectAuthToken' and '$response.body.links.self' (a body member is '#/<pointer>'), "
        "'$response.headers.Location' (the source is 'header.', singular): outside the runtime-expression ABNF"
    ),
    "payload-replacement-using-selector.arazzo.yaml": (
        "the Selector Object's context '$steps.previous.outputs' names no output: the ABNF has "
        "'$steps.<stepId>.outputs.<name>', and there is no step 'previous'"
    ),
    "asyncapi-success-criteria.arazzo.yaml": (
        "the jsonpath condition `$.status == 'accepted'` is not an RFC 9535 query (Criterion Object, JSONPath Conditions: "
        "a comparison is allowed only inside a filter)"
    ),
    "oauth-example.yaml": (
        "the jsonpath condition `$.access_token != null` is not an RFC 9535 query (Criterion Object, JSONPath Conditions: "
        "a comparison is allowed only inside a filter)"
    ),
}


def own_problems(path: Path) -> list[ArazzoError]:
    """What validation finds in the document itself (schema, then expressions)."""
    written = load_yaml(path)
    if not isinstance(written.data, dict):
        return [LoadError("an Arazzo document must be a mapping", written.source_map.locate(""))]
    document = Document(LoadedDocument(written, {}))
    return list(schema_problems(document)) or list(expression_problems(document))


@pytest.mark.parametrize("name", FAIL)
def test_every_fail_document_is_refused(name):
    assert own_problems(SUITE / "fail" / name)


@pytest.mark.parametrize("name", PASS)
def test_every_pass_document_is_accepted_unless_it_breaks_the_text(name):
    problems = own_problems(SUITE / "pass" / name)
    if name in BREAKS_THE_TEXT:
        assert problems, f"listed as breaking the text ({BREAKS_THE_TEXT[name]}) but accepted"
        return
    assert not problems, "\n".join(map(str, problems))


def test_the_suite_is_whole_and_every_listed_document_is_in_it():
    assert (len(PASS), len(FAIL)) == (35, 27)
    assert set(BREAKS_THE_TEXT) <= set(PASS)


def test_a_1_1_document_is_read_by_the_1_1_schema():
    """The documents declare 1.1.0: the 1.0 schema would refuse every one at /arazzo."""
    document = Document(LoadedDocument(load_yaml(SUITE / "pass" / "minimal.arazzo.yaml"), {}))
    assert document.version == "1.1"
