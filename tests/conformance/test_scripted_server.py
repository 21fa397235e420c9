"""The scripted server the conformance tests run workflows against."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from arazzo_sfn.testing import NO_ROUTE, Reply, ScriptedServer


def test_replies_are_served_in_order_and_the_last_repeats():
    with ScriptedServer({"GET /jobs/{jobId}": [Reply(200, {"status": "running"}), Reply(200, {"status": "done"})]}) as server:
        answers = [requests.get(f"{server.url}/jobs/1", timeout=5).json()["status"] for _ in range(4)]

    assert answers == ["running", "done", "done", "done"]


def test_a_single_reply_can_stand_for_the_whole_list():
    with ScriptedServer({"DELETE /jobs/{jobId}": Reply(204)}) as server:
        statuses = [requests.delete(f"{server.url}/jobs/1", timeout=5).status_code for _ in range(2)]

    assert statuses == [204, 204]


def test_each_route_keeps_its_own_place_in_its_script():
    with ScriptedServer({
        "GET /a": [Reply(200, "a1"), Reply(200, "a2")],
        "GET /b": [Reply(200, "b1"), Reply(200, "b2")],
    }) as server:
        texts = [requests.get(f"{server.url}{path}", timeout=5).text for path in ("/a", "/b", "/a", "/b")]

    assert texts == ["a1", "b1", "a2", "b2"]


def test_a_template_variable_matches_exactly_one_segment():
    with ScriptedServer({"GET /pet/{petId}": [Reply(200, {"found": True})]}) as server:
        one = requests.get(f"{server.url}/pet/7", timeout=5)
        two = requests.get(f"{server.url}/pet/7/coupons", timeout=5)
        none = requests.get(f"{server.url}/pet/", timeout=5)

    assert one.status_code == 200
    assert two.status_code == 404 and none.status_code == 404
    assert [call.route for call in server.calls] == ["GET /pet/{petId}", None, None]


def test_a_concrete_path_wins_over_a_template():
    with ScriptedServer({
        "GET /pet/{petId}": [Reply(200, "by id")],
        "GET /pet/findByTags": [Reply(200, "by tags")],
    }) as server:
        text = requests.get(f"{server.url}/pet/findByTags", timeout=5).text

    assert text == "by tags"


def test_methods_are_part_of_the_route():
    with ScriptedServer({"POST /store/order": [Reply(200, {"id": 1})]}) as server:
        answer = requests.get(f"{server.url}/store/order", timeout=5)

    assert answer.status_code == 404


def test_an_unmatched_request_gets_404_no_route_and_is_recorded():
    with ScriptedServer({}) as server:
        answer = requests.put(f"{server.url}/nowhere?x=1", json={"a": 1}, timeout=5)

    assert answer.status_code == 404
    assert answer.json() == NO_ROUTE == {"error": "no route"}
    [call] = server.calls
    assert (call.method, call.path, call.query, call.body, call.route, call.status) == ("PUT", "/nowhere", {"x": ["1"]}, {"a": 1}, None, 404)


def test_every_part_of_a_request_is_recorded():
    with ScriptedServer({"POST /pets/{petId}/notes": [Reply(201, {"ok": True})]}) as server:
        requests.post(
            f"{server.url}/pets/7/notes?tag=a&tag=b&empty=",
            json={"text": "good dog", "stars": 5},
            headers={"X-Request-ID": "r-1"},
            cookies={"session": "s-9", "theme": "dark"},
            timeout=5,
        )

    [call] = server.calls
    assert call.method == "POST" and call.path == "/pets/7/notes"
    assert call.line == "POST /pets/7/notes"
    assert call.query == {"tag": ["a", "b"], "empty": [""]}
    assert call.headers["x-request-id"] == "r-1"
    assert all(name == name.lower() for name in call.headers)
    assert call.cookies == {"session": "s-9", "theme": "dark"}
    assert call.body == {"text": "good dog", "stars": 5}
    assert call.route == "POST /pets/{petId}/notes" and call.status == 201


@pytest.mark.parametrize(
    ("send", "expected"),
    [
        ({"data": {"grant_type": "refresh_token", "scope": "read"}}, {"grant_type": ["refresh_token"], "scope": ["read"]}),
        ({"data": "plain words", "headers": {"Content-Type": "text/plain"}}, "plain words"),
        ({"data": b'{"a": [1, 2]}', "headers": {"Content-Type": "application/problem+json"}}, {"a": [1, 2]}),
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, "{not json"),
        ({"data": b"\xff\xfe", "headers": {"Content-Type": "application/octet-stream"}}, b"\xff\xfe"),
        ({}, None),
    ],
    ids=["form", "text", "json-suffix", "bad-json-kept-as-text", "binary", "no-body"],
)
def test_the_body_is_parsed_by_its_content_type(send, expected):
    with ScriptedServer({"POST /echo": [Reply(204)]}) as server:
        requests.post(f"{server.url}/echo", timeout=5, **send)

    assert server.calls[0].body == expected


def test_reply_bodies_and_headers():
    with ScriptedServer({
        "GET /json": [Reply(200, {"a": 1})],
        "GET /text": [Reply(200, "hello")],
        "GET /empty": [Reply(302, headers={"Location": "https://example.com/next"})],
        "GET /xml": [Reply(200, "<a/>", headers={"Content-Type": "application/xml"})],
        "GET /null": [Reply(200, [None, 1])],
    }) as server:
        get = lambda path: requests.get(f"{server.url}{path}", allow_redirects=False, timeout=5)  # noqa: E731
        json_answer, text, empty, xml, array = get("/json"), get("/text"), get("/empty"), get("/xml"), get("/null")

    assert json_answer.headers["Content-Type"] == "application/json" and json_answer.json() == {"a": 1}
    assert text.headers["Content-Type"].startswith("text/plain") and text.text == "hello"
    assert empty.status_code == 302 and empty.headers["Location"] == "https://example.com/next" and empty.content == b""
    assert xml.headers["Content-Type"] == "application/xml" and xml.text == "<a/>"
    assert array.json() == [None, 1]


def test_concurrent_requests_are_all_answered_and_recorded():
    replies = [Reply(200, {"n": n}) for n in range(20)]
    with ScriptedServer({"GET /n": replies}) as server:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: requests.get(f"{server.url}/n", timeout=5).json()["n"], range(20)))

    assert sorted(answers) == list(range(20))
    assert len(server.calls) == 20 and server.sequence() == ["GET /n"] * 20


def test_the_server_listens_on_loopback_only_while_open():
    server = ScriptedServer({"GET /": [Reply(200, "up")]})
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        assert requests.get(server.url + "/", timeout=5).text == "up"
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/", timeout=5)


@pytest.mark.parametrize("routes", [{"/no-method": [Reply()]}, {"GET no-slash": [Reply()]}, {"GET /empty": []}, {"GET /x": ["not a Reply"]}])
def test_malformed_routes_are_refused(routes):
    with pytest.raises(ValueError):
        ScriptedServer(routes)
