"""The official Arazzo examples, compiled and executed: each workflow is compiled to ASL,
run in moto's Step Functions engine with the operation function in-process, against a
server scripted the way the example's API would answer. Each test checks the execution's
status, its outputs or error, and the exact requests the server received.

A workflow the compiler refuses is marked with `refused(<the refusal>)`: an expected
failure while the compiler refuses it for that very reason; a different refusal fails the
test, and so does a scenario that compiles but does not run as the example says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arazzo_sfn import ArazzoError, compile_document
from arazzo_sfn.local_run import run_workflow
from arazzo_sfn.testing import Reply, ScriptedServer

EXAMPLES = Path(__file__).parent / "examples"
BNPL = EXAMPLES / "bnpl" / "bnpl-arazzo.yaml"
PET_COUPONS = EXAMPLES / "pet-coupons" / "pet-coupons.arazzo.yaml"
OAUTH = EXAMPLES / "oauth" / "oauth.arazzo.yaml"


def refused(reason: str):
    """The compiler refuses this workflow, saying `reason` (a part of its message)."""
    return pytest.mark.xfail(strict=True, raises=ArazzoError, reason=reason)


@pytest.fixture
def compile_example(request):
    def compile_(document: Path, workflow_id: str) -> dict:
        try:
            return compile_document(document, workflow_id)
        except ArazzoError as error:
            marker = request.node.get_closest_marker("xfail")
            expected = marker.kwargs.get("reason") if marker else None
            if expected and expected in str(error):
                raise
            pytest.fail(f"{document.name} ({workflow_id}) was refused, and not for the reason this test expects:\n{error}")

    return compile_


def run(asl: dict, inputs: dict, server: ScriptedServer):
    return run_workflow(asl, inputs, server.url, retry_sleep=lambda seconds: None, timeout_seconds=60)


def step_failure(result) -> dict:
    assert result.error == "StepFailed", (result.error, result.cause)
    return json.loads(result.cause)


# --- buy now, pay later -----------------------------------------------------------------------------
# Several values the published example sends are never defined (see the document's header),
# so requests are compared by route: method and path template.

# The published example's own errors, all reported at once by validation; the first is named.
BNPL_REFUSAL = "'$steps.authenticateCustomerAndAuthorizeLoan.outputs.redirectAuthToken': step 'authenticateCustomerAndAuthorizeLoan' has no output 'redirectAuthToken'"
NEW_CUSTOMER = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1990-12-10T00:00:00Z", "postalCode": "EC1A 1BB"}
ENROLLED_CUSTOMER = {"uri": "https://bnpl.example/customers/c-42"}
BASKET = [{"productCode": "TV-55", "purchaseAmount": {"currency": "GBP", "amount": 899.0}}]
TERMS = Reply(200, ["Repay in 3 monthly installments.", "No interest when paid on time."])
PLAN = {
    "customer": "https://bnpl.example/customers/c-42",
    "products": [{"productCode": "TV-55", "netAmount": 899.0}],
    "status": "Finalised",
    "totalAmount": {"currency": "GBP", "amount": 899.0},
    "paymentSchedule": [{"paymentDate": "2025-01-01", "amount": {"currency": "GBP", "amount": 299.67}, "lastPayment": False}],
}


def eligible_products(eligibility_check_required: bool) -> Reply:
    return Reply(200, {
        "products": ["TV-55"],
        "eligibilityCheckRequired": eligibility_check_required,
        "totalAmount": {"currency": "GBP", "amount": 899.0},
    })


def loan_started(redirect_auth_token: str | None) -> Reply:
    body = {"loanTransactionId": "loan-7", "links": {"self": "https://bnpl.example/loan-transactions/loan-7"}}
    if redirect_auth_token is not None:
        body["redirectAuthToken"] = redirect_auth_token
    return Reply(202, body)


def routes(server: ScriptedServer) -> list[str | None]:
    return [call.route for call in server.calls]


@refused(BNPL_REFUSAL)
def test_bnpl_new_customer_enrols_authorizes_and_completes_the_loan(compile_example):
    asl = compile_example(BNPL, "ApplyForLoanAtCheckout")
    with ScriptedServer({
        "POST /products": [eligible_products(eligibility_check_required=True)],
        "GET /terms-and-conditions": [TERMS],
        "POST /customers": [Reply(201, {"customerId": "c-43", "links": {"self": "https://bnpl.example/customers/c-43"}})],
        "POST /loan-transactions": [loan_started(redirect_auth_token="8d6e2f0a-5b7c-4d1e-9f3a-2c4b6d8e0f1a")],
        "GET /auth": [Reply(302, headers={"Location": "https://bnpl.example/login?session=s-1"})],
        "GET /loan-transactions/{loanTransactionId}": [Reply(200, PLAN)],
        "PATCH /loan-transactions/{loanTransactionId}/status": [Reply(204)],
    }) as server:
        result = run(asl, {"customer": NEW_CUSTOMER, "products": BASKET}, server)

    assert result.status == "SUCCEEDED", result.cause
    assert routes(server) == [
        "POST /products",
        "GET /terms-and-conditions",
        "POST /customers",
        "POST /loan-transactions",
        "GET /auth",
        "GET /loan-transactions/{loanTransactionId}",
        "PATCH /loan-transactions/{loanTransactionId}/status",
    ]
    created = server.calls[2].body
    assert created == {**NEW_CUSTOMER, "termsAndConditionsAccepted": True}
    assert server.calls[3].body["newCustomer"] == "https://bnpl.example/customers/c-43"
    assert server.calls[6].body == {"loanStatus": "Completed"}


@refused(BNPL_REFUSAL)
def test_bnpl_enrolled_customer_needs_no_check_nor_authorization(compile_example):
    asl = compile_example(BNPL, "ApplyForLoanAtCheckout")
    with ScriptedServer({
        "POST /products": [eligible_products(eligibility_check_required=False)],
        "GET /terms-and-conditions": [TERMS],
        "POST /loan-transactions": [loan_started(redirect_auth_token=None)],
        "GET /loan-transactions/{loanTransactionId}": [Reply(200, PLAN)],
        "PATCH /loan-transactions/{loanTransactionId}/status": [Reply(204)],
    }) as server:
        result = run(asl, {"customer": ENROLLED_CUSTOMER, "products": BASKET}, server)

    assert result.status == "SUCCEEDED", result.cause
    assert routes(server) == [
        "POST /products",
        "GET /terms-and-conditions",
        "POST /loan-transactions",
        "GET /loan-transactions/{loanTransactionId}",
        "PATCH /loan-transactions/{loanTransactionId}/status",
    ]
    assert server.calls[2].body["enrolledCustomer"] == ENROLLED_CUSTOMER["uri"]


@refused(BNPL_REFUSAL)
def test_bnpl_ends_after_the_check_when_no_product_qualifies(compile_example):
    asl = compile_example(BNPL, "ApplyForLoanAtCheckout")
    with ScriptedServer({"POST /products": [Reply(200, {"products": [], "eligibilityCheckRequired": True})]}) as server:
        result = run(asl, {"customer": NEW_CUSTOMER, "products": BASKET}, server)

    assert result.status == "SUCCEEDED", result.cause
    assert routes(server) == ["POST /products"]
    assert server.calls[0].body == {"customer": NEW_CUSTOMER, "products": BASKET}


@refused(BNPL_REFUSAL)
def test_bnpl_ends_when_the_new_customer_is_not_eligible(compile_example):
    asl = compile_example(BNPL, "ApplyForLoanAtCheckout")
    with ScriptedServer({
        "POST /products": [eligible_products(eligibility_check_required=True)],
        "GET /terms-and-conditions": [TERMS],
        "POST /customers": [Reply(200, {"reasonCode": "CREDIT_LIMIT"})],
    }) as server:
        result = run(asl, {"customer": NEW_CUSTOMER, "products": BASKET}, server)

    assert result.status == "SUCCEEDED", result.cause
    assert routes(server) == ["POST /products", "GET /terms-and-conditions", "POST /customers"]


@refused(BNPL_REFUSAL)
def test_bnpl_fails_when_the_loan_cannot_be_started(compile_example):
    asl = compile_example(BNPL, "ApplyForLoanAtCheckout")
    problem = {"type": "https://bnpl.example/problems/amount", "status": "422", "title": "Amount too high"}
    with ScriptedServer({
        "POST /products": [eligible_products(eligibility_check_required=False)],
        "GET /terms-and-conditions": [TERMS],
        "POST /loan-transactions": [Reply(422, problem)],
    }) as server:
        result = run(asl, {"customer": ENROLLED_CUSTOMER, "products": BASKET}, server)

    assert result.status == "FAILED"
    assert step_failure(result)["step"] == "initiateBnplTransaction"
    assert routes(server) == ["POST /products", "GET /terms-and-conditions", "POST /loan-transactions"]


# --- pet coupons -----------------------------------------------------------------------------------
# The published example supplies path parameter pet_id to GET /pet/{petId}/coupons, so the
# document is refused as a whole, place-order included.

PET_COUPONS_REFUSAL = "step 'find-coupons' does not supply path parameter 'petId' of getPetCoupons"
DALMATIAN = {"id": 7, "name": "Pongo", "photoUrls": [], "price": 450.0, "tags": [{"id": 1, "name": "dalmatian"}], "status": "available"}


def order(order_id: int, **fields) -> Reply:
    return Reply(200, {"id": order_id, "petId": 7, "status": "placed", "complete": False, **fields})


@refused(PET_COUPONS_REFUSAL)
def test_apply_coupon_finds_a_pet_and_its_coupon_then_orders_it(compile_example):
    asl = compile_example(PET_COUPONS, "apply-coupon")
    with ScriptedServer({
        "GET /pet/findByTags": [Reply(200, [DALMATIAN])],
        "GET /pet/{petId}/coupons": [Reply(200, {"id": 3, "description": "Summer Sale - 10% off!", "couponCode": "SUMMERSALE"})],
        "POST /store/order": [order(1001, couponCode="SUMMERSALE")],
    }) as server:
        result = run(asl, {"my_pet_tags": ["dalmatian", "puppy"]}, server)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"apply_coupon_pet_order_id": 1001}
    assert server.sequence() == ["GET /pet/findByTags", "GET /pet/7/coupons", "POST /store/order"]
    assert server.calls[2].body["petId"] == 7 and server.calls[2].body["couponCode"] == "SUMMERSALE"


@refused(PET_COUPONS_REFUSAL)
def test_apply_coupon_fails_without_ordering_when_no_coupon_is_available(compile_example):
    asl = compile_example(PET_COUPONS, "apply-coupon")
    with ScriptedServer({
        "GET /pet/findByTags": [Reply(200, [DALMATIAN])],
        "GET /pet/{petId}/coupons": [Reply(404, {"message": "no coupon for this pet"})],
        "POST /store/order": [order(1001)],
    }) as server:
        result = run(asl, {"my_pet_tags": ["dalmatian"]}, server)

    assert result.status == "FAILED"
    assert step_failure(result)["step"] == "find-coupons"
    assert server.sequence() == ["GET /pet/findByTags", "GET /pet/7/coupons"]


@refused(PET_COUPONS_REFUSAL)
def test_buy_available_pet_reads_the_first_page_then_orders(compile_example):
    asl = compile_example(PET_COUPONS, "buy-available-pet")
    with ScriptedServer({
        "GET /pet/findByStatus": [Reply(200, [DALMATIAN])],
        "POST /store/order": [order(1002)],
    }) as server:
        result = run(asl, {}, server)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"buy_pet_order_id": 1002}
    assert server.sequence() == ["GET /pet/findByStatus", "POST /store/order"]
    assert server.calls[0].query == {"status": ["available"], "page": ["1"], "pageSize": ["10"]}


@refused(PET_COUPONS_REFUSAL)
def test_place_order_sends_the_order_and_outputs_its_id(compile_example):
    asl = compile_example(PET_COUPONS, "place-order")
    with ScriptedServer({"POST /store/order": [order(1003, quantity=1, couponCode="SUMMERSALE")]}) as server:
        result = run(asl, {"pet_id": 7, "quantity": 1, "coupon_code": "SUMMERSALE"}, server)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"workflow_order_id": 1003}
    assert server.sequence() == ["POST /store/order"]
    assert server.calls[0].body == {"petId": 7, "quantity": 1, "couponCode": "SUMMERSALE", "status": "placed", "complete": False}


@refused(PET_COUPONS_REFUSAL)
def test_place_order_fails_when_the_store_rejects_the_order(compile_example):
    asl = compile_example(PET_COUPONS, "place-order")
    with ScriptedServer({"POST /store/order": [Reply(400, {"message": "Invalid input"})]}) as server:
        result = run(asl, {"pet_id": 7, "quantity": 1, "coupon_code": "EXPIRED"}, server)

    assert result.status == "FAILED"
    cause = step_failure(result)
    assert cause["step"] == "place-order" and cause["statusCode"] == 400
    assert server.sequence() == ["POST /store/order"]


# --- OAuth -----------------------------------------------------------------------------------------

CLIENT = {"client_id": "pet-app", "client_secret": "Zq8-client-secret"}
REDIRECT_URI = "https://pet-app.example/callback"
TOKENS = {"access_token": "at-1", "token_type": "Bearer", "refresh_token": "rt-1", "expires_in": 3600}


def form(**fields) -> dict[str, list[str]]:
    return {name: [value] for name, value in fields.items()}


def test_client_credentials_flow_exchanges_the_credentials_for_a_token(compile_example):
    asl = compile_example(OAUTH, "client-credentials-flow")
    with ScriptedServer({"POST /oauth/token": [Reply(200, {"access_token": "at-cc", "token_type": "Bearer", "expires_in": 3600})]}) as server:
        result = run(asl, CLIENT, server)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"access_token": "at-cc"}
    assert server.sequence() == ["POST /oauth/token"]
    call = server.calls[0]
    assert call.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert call.body == form(**CLIENT, grant_type="client_credentials")


def test_client_credentials_flow_fails_when_the_client_is_rejected(compile_example):
    asl = compile_example(OAUTH, "client-credentials-flow")
    with ScriptedServer({"POST /oauth/token": [Reply(401, {"error": "invalid_client"})]}) as server:
        result = run(asl, CLIENT, server)

    assert result.status == "FAILED"
    cause = step_failure(result)
    assert cause["step"] == "get-client-creds-token" and cause["statusCode"] == 401
    assert cause["response"] == {"error": "invalid_client"}
    assert result.output is None
    assert server.sequence() == ["POST /oauth/token"]


def test_client_credentials_flow_fails_when_the_token_is_null(compile_example):
    # 200, but the jsonpath criterion $[?@.access_token != null] does not hold.
    asl = compile_example(OAUTH, "client-credentials-flow")
    with ScriptedServer({"POST /oauth/token": [Reply(200, {"access_token": None})]}) as server:
        result = run(asl, CLIENT, server)

    assert result.status == "FAILED"
    cause = step_failure(result)
    assert cause["step"] == "get-client-creds-token" and cause["statusCode"] == 200
    assert server.sequence() == ["POST /oauth/token"]


def test_authorization_code_flow_authorizes_then_exchanges_the_code(compile_example):
    asl = compile_example(OAUTH, "authorization-code-flow")
    with ScriptedServer({
        "GET /authorize": [Reply(200, {"code": "code-1", "access_token": "at-browser"})],
        "POST /oauth/token": [Reply(200, TOKENS)],
    }) as server:
        result = run(asl, {**CLIENT, "redirect_uri": REDIRECT_URI}, server)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600}
    assert server.sequence() == ["GET /authorize", "POST /oauth/token"]
    authorize, token = server.calls
    assert authorize.query == form(client_id="pet-app", redirect_uri=REDIRECT_URI, response_type="code", scope="read", state="12345")
    assert token.body == form(grant_type="authorization_code", code="code-1", redirect_uri=REDIRECT_URI, **CLIENT)


def test_authorization_code_flow_fails_when_the_code_is_refused(compile_example):
    asl = compile_example(OAUTH, "authorization-code-flow")
    with ScriptedServer({
        "GET /authorize": [Reply(200, {"code": "code-1", "access_token": "at-browser"})],
        "POST /oauth/token": [Reply(400, {"error": "invalid_grant"})],
    }) as server:
        result = run(asl, {**CLIENT, "redirect_uri": REDIRECT_URI}, server)

    assert result.status == "FAILED"
    cause = step_failure(result)
    assert cause["step"] == "get-access-token" and cause["statusCode"] == 400
    assert server.sequence() == ["GET /authorize", "POST /oauth/token"]


def test_authorization_code_flow_stops_when_authorization_fails(compile_example):
    asl = compile_example(OAUTH, "authorization-code-flow")
    with ScriptedServer({
        "GET /authorize": [Reply(403, {"error": "access_denied"})],
        "POST /oauth/token": [Reply(200, TOKENS)],
    }) as server:
        result = run(asl, {**CLIENT, "redirect_uri": REDIRECT_URI}, server)

    assert result.status == "FAILED"
    assert step_failure(result)["step"] == "browser-authorize"
    assert server.sequence() == ["GET /authorize"]


MY_CLIENT = {"my_client_id": "pet-app", "my_client_secret": "Zq8-client-secret", "my_redirect_uri": REDIRECT_URI}


def test_refresh_token_flow_runs_the_code_flow_then_refreshes(compile_example):
    asl = compile_example(OAUTH, "refresh-token-flow")
    with ScriptedServer({
        "GET /authorize": [Reply(200, {"code": "code-1", "access_token": "at-browser"})],
        "POST /oauth/token": [Reply(200, TOKENS), Reply(200, {**TOKENS, "access_token": "at-2", "refresh_token": "rt-2"})],
    }) as server:
        result = run(asl, MY_CLIENT, server)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 3600}
    assert server.sequence() == ["GET /authorize", "POST /oauth/token", "POST /oauth/token"]
    assert server.calls[2].body == form(grant_type="refresh_token", refresh_token="rt-1")


def test_refresh_token_flow_fails_when_the_refresh_token_is_refused(compile_example):
    asl = compile_example(OAUTH, "refresh-token-flow")
    with ScriptedServer({
        "GET /authorize": [Reply(200, {"code": "code-1", "access_token": "at-browser"})],
        "POST /oauth/token": [Reply(200, TOKENS), Reply(400, {"error": "invalid_grant"})],
    }) as server:
        result = run(asl, MY_CLIENT, server)

    assert result.status == "FAILED"
    assert step_failure(result)["step"] == "do-the-refresh"
    assert server.sequence() == ["GET /authorize", "POST /oauth/token", "POST /oauth/token"]
