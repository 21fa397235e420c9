"""The generic operation's transport, over real HTTP against a scripted loopback server:
how the request is built and sent, how the answer is read, and which failures are raised
as what."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from arazzo_runtime import transport
from arazzo_runtime.errors import InvalidRequest, ResponseTooLarge, TlsError, TransientHttpError
from arazzo_runtime.evaluate import Response
from arazzo_runtime.http import MAX_BODY_BYTES, build_request, perform, retry_after_seconds
from arazzo_runtime.step import MAX_KEPT_HEADER_CHARS, MAX_KEPT_HEADERS, kept_headers, response_dict

TIMEOUTS = (2.0, 2.0)
API_KEY = "key-4f9d1c7a-never-in-messages"


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Content-Type", "application/json")])
    body: bytes = b"{}"
    delay: float = 0.0  # before the status line
    drip: float = 0.0  # pause between body bytes
    declared_length: int | None = None  # a Content-Length larger than the body cuts it off


@dataclass
class Received:
    method: str
    target: str  # the request target exactly as sent: path and query
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ", ".join(values) if values else None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that hang up early are what several tests are about.
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            super().handle_error(request, client_address)


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 that answers with the queued replies in order
    (then `Reply()`), and records every request."""

    def __init__(self):
        self.replies: deque[Reply] = deque()
        self.received: list[Received] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.received.append(Received(self.command, self.path, list(self.headers.items()), body))
                reply = server.replies.popleft() if server.replies else Reply()
                time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                declared = reply.declared_length if reply.declared_length is not None else len(reply.body)
                self.send_header("Content-Length", str(declared))
                self.end_headers()
                if reply.drip:
                    for index in range(len(reply.body)):
                        self.wfile.write(reply.body[index : index + 1])
                        self.wfile.flush()
                        time.sleep(reply.drip)
                else:
                    self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_one

            def log_message(self, format, *args):
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reply(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def use_tls(self, certificate: str, key: str) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = self.url.replace("http://", "https://")


@pytest.fixture(scope="module")
def shared_server():
    with LoopbackServer() as running:
        yield running


@pytest.fixture
def server(shared_server):
    shared_server.replies.clear()
    shared_server.received.clear()
    return shared_server


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(path: str = "/pets", **parts) -> dict:
    return {"method": "GET", "path": path, **parts}


# ---------------------------------------------------------------- the URL


def test_path_parameters_are_encoded_whole_into_their_segment(server):
    for value, expected in [
        (7, "/pets/7"),
        ("a/b", "/pets/a%2Fb"),
        ("../x", "/pets/..%2Fx"),
        ("é x?#", "/pets/%C3%A9%20x%3F%23"),
        (True, "/pets/true"),
        (["a", "b/c"], "/pets/a,b%2Fc"),
    ]:
        perform(get("/pets/{petId}", pathParameters={"petId": value}), server.url, TIMEOUTS)
        assert server.received[-1].target == expected


def test_a_parameter_that_would_leave_its_segment_is_refused(server):
    for value in ("..", "."):
        with pytest.raises(InvalidRequest, match=re.escape("'.' or '..'")):
            perform(get("/pets/{petId}/toys", pathParameters={"petId": value}), server.url, TIMEOUTS)
    assert server.received == []


def test_a_missing_path_parameter_is_named(server):
    with pytest.raises(InvalidRequest, match="path parameter 'petId' is missing"):
        perform(get("/pets/{petId}", pathParameters={"other": 1}), server.url, TIMEOUTS)
    with pytest.raises(InvalidRequest, match="path parameter 'petId' is missing"):
        perform(get("/pets/{petId}", pathParameters={"petId": None}), server.url, TIMEOUTS)
    assert server.received == []


def test_a_path_parameter_without_a_placeholder_is_refused(server):
    with pytest.raises(InvalidRequest, match=r"'petId' has no \{petId\}"):
        perform(get("/pets", pathParameters={"petId": 1}), server.url, TIMEOUTS)


def test_the_server_url_may_carry_a_base_path(server):
    perform(get("/pets/{petId}", pathParameters={"petId": 3}), server.url + "/api/v3/", TIMEOUTS)
    assert server.received[-1].target == "/api/v3/pets/3"


def test_query_lists_repeat_the_key_and_nulls_are_left_out(server):
    query = {"status": ["sold", "available"], "limit": 5, "exact": False, "skip": None, "q": "a b&c"}
    perform(get(query=query), server.url, TIMEOUTS)
    assert server.received[-1].target == "/pets?status=sold&status=available&limit=5&exact=false&q=a+b%26c"


def test_an_object_as_query_value_is_refused(server):
    with pytest.raises(InvalidRequest, match="query parameter 'filter' must be a string, number or boolean"):
        perform(get(query={"filter": {"a": 1}}), server.url, TIMEOUTS)
    assert server.received == []


# ---------------------------------------------------------------- headers and cookies


def test_headers_are_sent_as_strings(server):
    perform(get(headers={"X-Api-Key": API_KEY, "X-Count": 3, "X-Flags": ["a", "b"], "X-None": None}), server.url, TIMEOUTS)
    received = server.received[-1]
    assert received.header("X-Api-Key") == API_KEY
    assert received.header("X-Count") == "3"
    assert received.header("X-Flags") == "a, b"
    assert received.header("X-None") is None


def test_a_header_value_with_a_line_break_is_refused_without_quoting_it(server):
    with pytest.raises(InvalidRequest) as refused:
        perform(get(headers={"X-Api-Key": API_KEY + "\r\nX-Injected: 1"}), server.url, TIMEOUTS)
    assert "X-Api-Key" in str(refused.value)
    assert API_KEY not in str(refused.value)
    assert server.received == []


def test_cookies_travel_in_one_cookie_header(server):
    perform(get(cookies={"session": "x y;z", "theme": "dark", "token": "YWJj=="}), server.url, TIMEOUTS)
    assert server.received[-1].header("Cookie") == "session=x%20y%3Bz; theme=dark; token=YWJj=="


def test_cookies_follow_a_given_cookie_header(server):
    perform(get(headers={"Cookie": "a=1"}, cookies={"b": 2}), server.url, TIMEOUTS)
    assert server.received[-1].header("Cookie") == "a=1; b=2"


# ---------------------------------------------------------------- bodies


def test_a_json_body(server):
    body = {"name": "Rex", "tags": ["good", "dog"], "age": 3, "vaccinated": True, "owner": None}
    perform({"method": "POST", "path": "/pets", "contentType": "application/json", "body": body}, server.url, TIMEOUTS)
    received = server.received[-1]
    assert received.header("Content-Type") == "application/json"
    assert json.loads(received.body) == body


def test_a_body_without_content_type_is_json(server):
    perform({"method": "PUT", "path": "/pets", "body": [1, "two"]}, server.url, TIMEOUTS)
    received = server.received[-1]
    assert received.header("Content-Type") == "application/json"
    assert json.loads(received.body) == [1, "two"]


def test_a_form_body(server):
    body = {"name": "Rex Jr", "tags": ["a", "b&c"], "age": 3, "skip": None}
    perform({"method": "POST", "path": "/pets", "contentType": "application/x-www-form-urlencoded", "body": body}, server.url, TIMEOUTS)
    received = server.received[-1]
    assert received.header("Content-Type") == "application/x-www-form-urlencoded"
    assert received.body == b"name=Rex+Jr&tags=a&tags=b%26c&age=3"


def test_a_form_body_must_be_flat(server):
    with pytest.raises(InvalidRequest, match="form field 'owner'"):
        perform({"method": "POST", "path": "/pets", "contentType": "application/x-www-form-urlencoded", "body": {"owner": {"id": 1}}}, server.url, TIMEOUTS)


def test_text_and_other_bodies(server):
    perform({"method": "POST", "path": "/notes", "contentType": "text/plain; charset=utf-8", "body": "héllo"}, server.url, TIMEOUTS)
    assert server.received[-1].body == "héllo".encode()
    perform({"method": "POST", "path": "/notes", "contentType": "application/xml", "body": "<pet><name>Rex</name></pet>"}, server.url, TIMEOUTS)
    assert server.received[-1].body == b"<pet><name>Rex</name></pet>"
    assert server.received[-1].header("Content-Type") == "application/xml"
    perform({"method": "POST", "path": "/notes", "contentType": "text/plain", "body": 42}, server.url, TIMEOUTS)
    assert server.received[-1].body == b"42"


def test_content_type_replaces_a_given_content_type_header(server):
    request = {"method": "POST", "path": "/pets", "headers": {"content-type": "text/plain"}, "contentType": "application/json", "body": {}}
    perform(request, server.url, TIMEOUTS)
    assert server.received[-1].header("Content-Type") == "application/json"


def test_no_body_member_sends_no_body(server):
    perform({"method": "DELETE", "path": "/pets/1"}, server.url, TIMEOUTS)
    received = server.received[-1]
    assert received.body == b""
    assert received.header("Content-Type") is None


def test_a_replacement_target_is_a_json_pointer_into_the_body():
    body = {"a/b": 1, "c~d": 2}
    request = {"method": "PUT", "path": "/x", "body": body, "replacements": [{"target": "/a~1b", "value": 3}, {"target": "/c~0d", "value": 4}]}
    assert build_request(request, "http://127.0.0.1:1").body_value == {"a/b": 3, "c~d": 4}
    with pytest.raises(InvalidRequest, match=r"request body pointer '/c~d': in a JSON pointer '~' is written only as '~0' or '~1'"):
        build_request({**request, "replacements": [{"target": "/c~d", "value": 4}]}, "http://127.0.0.1:1")


# ---------------------------------------------------------------- the answer


def test_a_json_answer_is_parsed_and_header_names_lower_cased(server):
    server.reply(Reply(201, [("Content-Type", "application/json; charset=utf-8"), ("X-Request-Id", "r-1")], b'{"id": 7, "name": "Rex"}'))
    response = perform(get(), server.url, TIMEOUTS)
    assert response.status_code == 201
    assert response.body == {"id": 7, "name": "Rex"}
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["x-request-id"] == "r-1"
    assert all(name == name.lower() for name in response.headers)


def test_a_plus_json_answer_is_parsed(server):
    server.reply(Reply(404, [("Content-Type", "application/problem+json")], b'{"title": "not found"}'))
    assert perform(get(), server.url, TIMEOUTS).body == {"title": "not found"}


def test_other_answers_are_text_and_empty_ones_null(server):
    server.reply(
        Reply(200, [("Content-Type", "text/plain; charset=utf-8")], "héllo".encode()),
        Reply(200, [("Content-Type", "application/xml")], b"<pet/>"),
        Reply(204, [], b""),
        Reply(200, [("Content-Type", "application/json")], b""),
        Reply(200, [("Content-Type", "application/json")], b"{not json"),
    )
    bodies = [perform(get(), server.url, TIMEOUTS).body for _ in range(5)]
    assert bodies == ["héllo", "<pet/>", None, None, "{not json"]


def test_error_statuses_are_answers_not_errors(server):
    server.reply(Reply(503, [("Content-Type", "application/json"), ("Retry-After", "30")], b'{"message": "busy"}'))
    response = perform({"method": "POST", "path": "/pets", "body": {}}, server.url, TIMEOUTS)
    assert (response.status_code, response.body) == (503, {"message": "busy"})


def test_redirects_are_not_followed(server):
    server.reply(Reply(302, [("Location", server.url + "/elsewhere")], b""))
    response = perform(get(headers={"X-Api-Key": API_KEY}), server.url, TIMEOUTS)
    assert response.status_code == 302
    assert response.headers["location"].endswith("/elsewhere")
    assert len(server.received) == 1


def test_a_head_answer_has_no_body(server):
    server.reply(Reply(200, [("Content-Type", "application/json")], b""))
    assert perform({"method": "HEAD", "path": "/pets"}, server.url, TIMEOUTS).body is None


def test_a_compressed_answer_is_decoded(server):
    server.reply(Reply(200, [("Content-Type", "application/json"), ("Content-Encoding", "gzip")], gzip.compress(b'{"name": "Rex"}')))
    assert perform(get(), server.url, TIMEOUTS).body == {"name": "Rex"}


def test_the_size_limit_applies_to_the_decoded_body(server):
    bomb = gzip.compress(b" " * (MAX_BODY_BYTES * 5))
    assert len(bomb) < MAX_BODY_BYTES
    server.reply(Reply(200, [("Content-Type", "text/plain"), ("Content-Encoding", "gzip")], bomb))
    with pytest.raises(ResponseTooLarge):
        perform(get(), server.url, TIMEOUTS)


def test_a_body_at_the_limit_is_kept_and_one_over_refused(server):
    server.reply(
        Reply(200, [("Content-Type", "text/plain")], b"x" * MAX_BODY_BYTES),
        Reply(200, [("Content-Type", "text/plain")], b"x" * (MAX_BODY_BYTES + 1)),
    )
    assert len(perform(get(), server.url, TIMEOUTS).body) == MAX_BODY_BYTES
    with pytest.raises(ResponseTooLarge, match=r"GET /pets on 127\.0\.0\.1: HTTP 200 with a body over"):
        perform(get(), server.url, TIMEOUTS)


# ---------------------------------------------------------------- transient trouble


def test_connection_refused_is_transient():
    with pytest.raises(TransientHttpError, match="connection failed"):
        perform({"method": "POST", "path": "/pets", "body": {}}, f"http://127.0.0.1:{closed_port()}", TIMEOUTS)


def test_a_read_timeout_is_transient(server):
    server.reply(Reply(delay=1.0))
    started = time.monotonic()
    with pytest.raises(TransientHttpError, match="timed out"):
        perform({"method": "POST", "path": "/pets", "body": {}}, server.url, (2.0, 0.2))
    assert time.monotonic() - started < 0.9


def test_a_body_trickling_past_the_read_timeout_is_transient(server):
    # 50 bytes, one every 50 ms: the whole body takes 2.5 s; the read timeout is 0.3 s for it all.
    server.reply(Reply(body=b'{"a": "' + b"x" * 40 + b'"}', drip=0.05))
    with pytest.raises(TransientHttpError, match="timed out reading the body"):
        perform(get(), server.url, (2.0, 0.3))


def test_a_cut_off_answer_is_transient_whatever_the_method(server):
    for method in ("GET", "POST"):
        server.reply(Reply(body=b'{"id": 1', declared_length=100))
        with pytest.raises(TransientHttpError, match="cut off"):
            perform({"method": method, "path": "/pets"}, server.url, TIMEOUTS)


def test_a_corrupt_compressed_body_is_transient(server):
    server.reply(Reply(200, [("Content-Type", "application/json"), ("Content-Encoding", "gzip")], b"not gzip at all"))
    with pytest.raises(TransientHttpError, match="cut off"):
        perform(get(), server.url, TIMEOUTS)


# ---------------------------------------------------------------- the server URL and TLS


def test_https_is_required_for_a_remote_host():
    with pytest.raises(InvalidRequest, match=re.escape("must use https for the non-loopback host 'pets.example.com'")):
        perform(get(), "http://pets.example.com", TIMEOUTS)


def test_a_server_url_with_credentials_is_refused_without_quoting_them():
    with pytest.raises(InvalidRequest) as refused:
        perform(get(), "http://admin:hunter2@127.0.0.1:9", TIMEOUTS)
    assert "hunter2" not in str(refused.value)


def test_other_methods_and_paths_are_refused(server):
    with pytest.raises(InvalidRequest, match=re.escape("request.method")):
        perform({"method": "CONNECT", "path": "/pets"}, server.url, TIMEOUTS)
    with pytest.raises(InvalidRequest, match=re.escape("request.path")):
        perform({"method": "GET", "path": "pets"}, server.url, TIMEOUTS)
    with pytest.raises(InvalidRequest, match=re.escape("request.path")):
        perform({"method": "GET", "path": "/pets?x=1"}, server.url, TIMEOUTS)
    assert server.received == []


def test_verification_is_always_on_and_environment_proxies_ignored(server, monkeypatch):
    dead_proxy = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    response = perform(get(), server.url, TIMEOUTS)
    assert response.status_code == 200
    context = transport.tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_certificates_come_from_a_bundle_found_without_importing_it():
    bundle = transport.ca_bundle()
    assert bundle is not None and bundle.endswith("cacert.pem")
    done = subprocess.run([sys.executable, "-c", "import sys; from arazzo_runtime import transport; transport.ca_bundle(); "
                           "assert not {'certifi', 'botocore'} & set(sys.modules), sorted(sys.modules)"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


NEEDS_OPENSSL = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")


def self_signed_certificate(directory) -> tuple[str, str]:
    """(certificate, key) files of a certificate for 127.0.0.1 that no authority signed."""
    certificate, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )
    return str(certificate), str(key)


@NEEDS_OPENSSL
def test_an_unverifiable_certificate_is_refused(tmp_path):
    with LoopbackServer() as tls_server:
        tls_server.use_tls(*self_signed_certificate(tmp_path))
        with pytest.raises(TlsError, match="certificate could not be verified"):
            perform(get(), tls_server.url, TIMEOUTS)


def test_error_messages_never_quote_query_or_header_values():
    with pytest.raises(TransientHttpError) as failed:
        perform(get(query={"api_key": API_KEY}, headers={"X-Api-Key": API_KEY}), f"http://127.0.0.1:{closed_port()}", TIMEOUTS)
    assert API_KEY not in str(failed.value)
    assert str(failed.value).startswith("GET /pets on 127.0.0.1: ")


# ---------------------------------------------------------------- Retry-After and the contract dict

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120),
        ("0", 0),
        ("1.2", 2),
        (" 7 ", 7),
        ("Sat, 01 Mar 2025 12:01:30 GMT", 90),
        ("Sat, 01 Mar 2025 11:00:00 GMT", 0),
        ("Saturday, 01-Mar-25 12:00:10 GMT", 10),
        ("-5", None),
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_seconds(value, seconds):
    assert retry_after_seconds({"retry-after": value}, NOW) == seconds


def test_retry_after_seconds_rounds_a_date_up():
    now = datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
    assert retry_after_seconds({"Retry-After": "Sat, 01 Mar 2025 12:00:05 GMT"}, now) == 5
    assert retry_after_seconds({}, now) is None


def test_the_contract_dict_from_a_real_answer(server):
    server.reply(Reply(429, [("Content-Type", "application/json"), ("Retry-After", "17"), ("X-Trace", "t-9")], b'{"status": "Busy"}'))
    response = perform(get(), server.url, TIMEOUTS)
    evaluate = {
        "c0": {"type": "simple", "condition": "$statusCode == 429 && $response.body#/status == 'busy'", "context": None},
        "c1": {"type": "regex", "condition": "^t-\\d+$", "context": "$response.header.x-trace"},
    }
    result = response_dict(response, evaluate, {})
    assert set(result) == {"statusCode", "headers", "body", "retryAfterSeconds", "criteria"}
    assert result["statusCode"] == 429
    assert result["body"] == {"status": "Busy"}
    assert result["retryAfterSeconds"] == 17
    assert result["headers"]["content-type"] == "application/json"
    assert result["headers"]["x-trace"] == "t-9"
    assert result["criteria"] == {"c0": True, "c1": True}
    assert json.loads(json.dumps(result)) == result


def test_the_contract_dict_without_criteria():
    result = response_dict(Response(204, {"Date": "x"}, None), None, None)
    assert result == {"statusCode": 204, "headers": {"date": "x"}, "body": None, "retryAfterSeconds": None, "criteria": {}}


def test_kept_headers_are_bounded_and_the_important_ones_kept_first():
    headers = {f"x-filler-{index:02}": "v" for index in range(60)}
    headers.update({"retry-after": "5", "content-type": "text/plain", "location": "/next"})
    kept = kept_headers(headers)
    assert len(kept) == MAX_KEPT_HEADERS
    assert list(kept)[:3] == ["content-type", "retry-after", "location"]

    big = {"x-big": "b" * MAX_KEPT_HEADER_CHARS, "content-type": "application/json", "x-small": "s"}
    assert kept_headers(big) == {"content-type": "application/json", "x-small": "s"}
