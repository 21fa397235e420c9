"""The generic operation: send one step's HTTP request as the state machine describes it,
and read the answer into a `Response`.

Transport policy:
- TLS certificates are always verified and proxy settings from the environment are
  ignored (`arazzo_runtime.transport`).
- Plain HTTP is refused unless the server is on a loopback address, and a server URL
  that carries a user or password is refused.
- Redirects are not followed: a 3xx is an answer like any other, and following it could
  carry the step's headers (API keys among them) to another host.
- Every HTTP answer is returned as data, whatever its status; deciding whether it is a
  success is the workflow's job. Only failing to get an answer is raised:
  `TransientHttpError` for a connection that fails, a timeout, or an answer cut off,
  whatever the method.
- The body must be read completely within the read timeout, counted from the arrival of
  the headers, and may not exceed `MAX_BODY_BYTES` (`ResponseTooLarge`): it travels in
  Step Functions state, which holds 256 KiB in all.

Nothing here logs, and no message quotes a header, cookie or query value or a full URL.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from arazzo_runtime import transport
from arazzo_runtime.errors import InvalidRequest, ResponseTooLarge, TlsError, TransientHttpError
from arazzo_runtime.evaluate import Response, SentRequest
from arazzo_runtime.expressions import ExpressionSyntaxError, parse_pointer
from arazzo_runtime.hosts import is_loopback
from arazzo_runtime.nodes import MISSING
from arazzo_runtime.select import JSONPOINTER, SelectorError, apply_selections, compile_selector, set_at

__all__ = [
    "DEFAULT_TIMEOUTS",
    "MAX_BODY_BYTES",
    "HttpRequest",
    "InvalidRequest",
    "ResponseTooLarge",
    "TlsError",
    "TransientHttpError",
    "build_request",
    "parse_body",
    "perform",
    "retry_after_seconds",
    "sent_request",
    "validate_server_url",
]

# (connect, read) seconds.
DEFAULT_TIMEOUTS = (5.0, 20.0)
# Leaves room in the 256 KiB of Step Functions state for headers and the step's other data.
MAX_BODY_BYTES = 200_000
# The methods OpenAPI describes operations for.
METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"})
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Characters RFC 6265 allows in a cookie value, except '%' (kept for the escapes).
_COOKIE_SAFE = "!#$&'()*+-./:<=>?@[]^_`{|}~"
# A header value may not contain line breaks or NUL (they would split the request).
_BAD_HEADER_VALUE = re.compile(r"[\r\n\x00]")
_READ_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class HttpRequest:
    """A step request ready to send. `path_template` is what messages name."""

    method: str
    url: str
    path_template: str
    host: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes | None
    body_value: Any = None  # the body before it is encoded: after replacements, None when none is sent
    query_string: str | None = None  # Arazzo 1.1 `in: querystring`: the whole query, already formatted
    # The step request this was built from, its `selections` resolved: what `sent_request` reads.
    request: Mapping[str, Any] = field(default_factory=dict)

    @property
    def full_url(self) -> str:
        parts = [part for part in (self.query_string, urlencode(self.query) if self.query else "") if part]
        return self.url + (f"?{'&'.join(parts)}" if parts else "")


def perform(request: Mapping[str, Any], server_url: str, timeouts: tuple[float, float] = DEFAULT_TIMEOUTS) -> Response:
    """Send `request` (the payload's `request` object) to `server_url` and return the answer.

    Everything about the request is checked before anything is sent (`InvalidRequest`).
    The answer carries what was sent (`Response.request`), which `$url`, `$method` and
    `$request` expressions read."""
    outgoing = build_request(request, server_url)
    where = f"{outgoing.method} {outgoing.path_template} on {outgoing.host}"
    url = outgoing.full_url
    try:
        with transport.send(outgoing.method, url, headers=outgoing.headers, body=outgoing.body, timeouts=timeouts) as answer:
            content = _read_body(answer, where, deadline=time.monotonic() + timeouts[1])
    except transport.TransportError as exc:
        if exc.kind == "tls":
            raise TlsError(f"{where}: the server's certificate could not be verified") from None
        if exc.kind == "cut_off":
            raise TransientHttpError(f"{where}: the answer was cut off ({exc.cause})") from None
        if exc.kind in ("connect_timeout", "read_timeout"):
            raise TransientHttpError(f"{where}: timed out ({exc.cause})") from None
        if exc.kind == "invalid":
            # A URL or header that slipped past the checks; the exception's own message may
            # quote it, so only its class is named.
            raise InvalidRequest(f"{where}: the request could not be sent ({exc.cause})") from None
        raise TransientHttpError(f"{where}: connection failed ({exc.cause})") from None
    return Response(answer.status, answer.headers, parse_body(content, answer.headers.get("content-type")), sent_request(outgoing))


def sent_request(outgoing: HttpRequest) -> SentRequest:
    """What `outgoing` sends, as runtime expressions read it: query and path parameters as
    the step gave them (a null one is not sent, so it is left out), after its selections."""
    def given(name: str) -> dict[str, Any]:
        return {key: value for key, value in _object(outgoing.request, name).items() if value is not None}

    query = given("query")
    query_string = outgoing.request.get("queryString")
    if isinstance(query_string, str):
        # A query string given whole (Arazzo 1.1 `in: querystring`): `$request.query.<name>`
        # reads its form-encoded pairs, the first value of a name given more than once.
        for name, text in urllib.parse.parse_qsl(query_string, keep_blank_values=True):
            query.setdefault(name, text)
    return SentRequest(
        method=outgoing.method, url=outgoing.full_url, headers=dict(outgoing.headers),
        query=query, path=given("pathParameters"), body=MISSING if outgoing.body is None else outgoing.body_value,
    )


def _read_body(answer: transport.Answer, where: str, deadline: float) -> bytes:
    """The body, decoded, read as it arrives (one read of the socket at a time, so the
    deadline can stop a server that trickles its body under the per-read timeout)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = answer.read_chunk()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ResponseTooLarge(f"{where}: HTTP {answer.status} with a body over {MAX_BODY_BYTES} bytes")
        if time.monotonic() > deadline:
            raise TransientHttpError(f"{where}: timed out reading the body")
        chunks.append(chunk)


# --------------------------------------------------------------------------- request


def build_request(request: Mapping[str, Any], server_url: str) -> HttpRequest:
    """Check a step request and turn it into what is sent.

    - URL: the server URL (without trailing slash) followed by the path, each `{name}`
      replaced by its path parameter, percent-encoded with no safe characters, so a value
      such as `a/b` or `../x` stays inside its segment. A value that would make a whole
      segment `.` or `..` is refused: clients normalise those away. Arrays are joined with
      commas (OpenAPI's default `simple` style). Every placeholder needs a parameter and
      every parameter a placeholder.
    - Query: arrays repeat the key; nulls are left out.
    - Headers: values as strings (arrays joined with `, `); nulls are left out.
    - Cookies: one `Cookie` header (after any given one), values percent-encoded where
      RFC 6265 does not allow the character.
    - Body, sent when the request has a `body` member (after `prepared_body`) that is not
      null: JSON media types (`application/json`,
      `*/*+json`) get `json.dumps`; `application/x-www-form-urlencoded` gets an object
      form-encoded (arrays repeat the key) or a string as it is; anything else gets a
      string as it is and other values as JSON text. Without `contentType`, JSON. Text is
      encoded in the `charset` parameter's encoding, else UTF-8. `contentType` sets the
      Content-Type header, replacing any given one.
    Scalars become strings as JSON writes them: `true`, `false`, `7`, `2.5`.
    """
    if not isinstance(request, Mapping):
        raise InvalidRequest("request must be a JSON object")
    if request.get("selections"):
        request = resolved_selections(request)  # once: what is sent, and what `sent_request` reads, is what they selected
    method = request.get("method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise InvalidRequest(f"request.method must be one of {', '.join(sorted(METHODS))}")
    method = method.upper()
    path = request.get("path")
    if not isinstance(path, str) or not path.startswith("/") or "?" in path or "#" in path:
        raise InvalidRequest("request.path must be a string starting with '/', without query or fragment")
    base_url, host = validate_server_url(server_url)

    path_parameters = _object(request, "pathParameters")
    query = _object(request, "query")
    query_string = request.get("queryString")
    if query_string is not None and not isinstance(query_string, str):
        raise InvalidRequest("request.queryString (a parameter `in: querystring`) must resolve to a string: the whole query string")
    headers = _object(request, "headers")
    cookies = _object(request, "cookies")

    outgoing_headers: dict[str, str] = {}
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            raise InvalidRequest(f"request.headers: {name!r} is not a valid header name")
        if value is None:
            continue
        text = _header_text(value, f"request.headers.{name}")
        if _BAD_HEADER_VALUE.search(text):
            raise InvalidRequest(f"request.headers.{name}: the value contains a line break or NUL")
        outgoing_headers[name] = text

    if cookies:
        outgoing_headers = _with_cookies(outgoing_headers, cookies)

    body = None
    sent, value = prepared_body(request)
    if sent:
        content_type = request.get("contentType")
        if content_type is None:
            content_type = "application/json"
        if not isinstance(content_type, str) or not content_type.strip() or _BAD_HEADER_VALUE.search(content_type):
            raise InvalidRequest("request.contentType must be a media type string")
        body = encode_body(value, content_type)
        outgoing_headers = {name: value for name, value in outgoing_headers.items() if name.lower() != "content-type"}
        outgoing_headers["Content-Type"] = content_type

    return HttpRequest(
        method=method,
        url=base_url + _expand_path(path, path_parameters),
        path_template=path,
        host=host,
        query=_query_pairs(query),
        headers=outgoing_headers,
        body=body,
        body_value=value if body is not None else None,
        query_string=_query_string(query_string) if query_string else None,
        request=request,
    )


# RFC 3986's query: pchar / "/" / "?", pchar = unreserved / pct-encoded / sub-delims / ":" / "@".
_QUERY_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?")
_HEX = frozenset("0123456789ABCDEFabcdef")


def _query_string(text: str) -> str:
    """The value of a parameter `in: querystring` as the query it is (Arazzo 1.1, Parameter
    Object: "a string representing the complete query string", already formatted, as OpenAPI
    3.2's `querystring` with `application/x-www-form-urlencoded` gives it): every character
    RFC 3986 allows in a query, `&` and `=` included, is sent as it is, and so is an escape
    (`%` and two hex digits); any other character (a space, `#`, `"`, `{`, non-ASCII, a lone
    `%`) is percent-encoded as UTF-8, so the text cannot end the query or break the URL."""
    out: list[str] = []
    for index, char in enumerate(text):
        if char in _QUERY_CHARACTERS or (char == "%" and set(text[index + 1 : index + 3]) <= _HEX and len(text[index + 1 : index + 3]) == 2):
            out.append(char)
        else:
            out.append("".join(f"%{byte:02X}" for byte in char.encode("utf-8")))
    return "".join(out)


def resolved_selections(request: Mapping[str, Any]) -> dict[str, Any]:
    """The request with its Arazzo 1.1 `selections` resolved (`arazzo_runtime.select.
    apply_selections`; `parse_payload` has done it for a parsed payload's request).
    InvalidRequest naming the selection when one cannot be applied."""
    try:
        return apply_selections(request)
    except SelectorError as error:
        raise InvalidRequest(f"request.selections: {error}") from None


def prepared_body(request: Mapping[str, Any]) -> tuple[bool, Any]:
    """(whether a body is sent, the body) once the request's run-time parts are applied:

    - `replacements`, `[{target, value}]`: each value put at its JSON Pointer target, in
      order (a target of `-` in an array appends), for a payload that is only known at run
      time (a runtime expression); every target must be a place in the body. With
      `targetType: jsonpath` (Arazzo 1.1 `targetSelectorType`) the target is a JSONPath
      query (`targetVersion`, RFC 9535 by default) and the value is put at every node it
      selects in the body as the replacements before left it; one that selects none
      changes nothing (its nodelist is empty: there is no place to set);
    - `omitNull`, `[pointer]`: the members given by runtime expressions; one that is null
      (an absent input, an output that did not resolve) is left out, and a body that is
      itself such a value and null is not sent.
    The request's own body is never changed: a copy is."""
    if "body" not in request:
        return False, None
    body = request["body"]
    replacements = request.get("replacements") or []
    omit = request.get("omitNull") or []
    if not isinstance(replacements, list) or not all(isinstance(r, Mapping) and isinstance(r.get("target"), str) for r in replacements):
        raise InvalidRequest("request.replacements must be a list of {target, value} with JSON Pointer or JSONPath targets")
    if not isinstance(omit, list) or not all(isinstance(p, str) for p in omit):
        raise InvalidRequest("request.omitNull must be a list of JSON Pointers")
    if replacements or omit:
        body = json.loads(json.dumps(body))
    for index, replacement in enumerate(replacements):
        if replacement.get("targetType", JSONPOINTER) == JSONPOINTER:
            body = _replaced(body, replacement["target"], replacement.get("value"))
            continue
        try:
            query = compile_selector(replacement["target"], replacement.get("targetType"), replacement.get("targetVersion"))
        except SelectorError as error:
            raise InvalidRequest(f"request.replacements.{index}.target: {error}") from None
        for place in query.locations(body):
            body = set_at(body, place, json.loads(json.dumps(replacement.get("value"))))
    for pointer in sorted(omit, key=lambda p: -p.count("/")):
        if pointer == "":
            if body is None:
                return False, None
            continue
        try:
            parent, last = _parent(body, pointer)
        except InvalidRequest:
            continue  # inside a member already left out
        if isinstance(parent, dict) and last in parent and parent[last] is None:
            del parent[last]
    return True, body


def _replaced(body: Any, target: str, value: Any) -> Any:
    if target == "":
        return value
    parent, last = _parent(body, target)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and (last == "-" or (last.isdigit() and int(last) <= len(parent))):
        index = len(parent) if last == "-" else int(last)
        if index == len(parent):
            parent.append(value)
        else:
            parent[index] = value
    else:
        raise InvalidRequest(f"request.replacements: target {target!r} is not a place in the body")
    return body


def _parent(body: Any, pointer: str) -> tuple[Any, str]:
    """The container holding the member `pointer` names, and that member's token."""
    if not pointer.startswith("/"):
        raise InvalidRequest(f"request body pointer {pointer!r} must start with '/'")
    try:
        tokens = parse_pointer(pointer)
    except ExpressionSyntaxError as error:
        raise InvalidRequest(f"request body pointer {error}") from None
    parent = body
    for token in tokens[:-1]:
        if isinstance(parent, dict) and token in parent:
            parent = parent[token]
        elif isinstance(parent, list) and token.isdigit() and int(token) < len(parent):
            parent = parent[int(token)]
        else:
            raise InvalidRequest(f"request body pointer {pointer!r} is not a place in the body")
    return parent, tokens[-1]


def validate_server_url(server_url: str) -> tuple[str, str]:
    """(base URL without trailing slash, host). HTTPS is required unless the host is
    loopback; a URL with a user or password, a query or a fragment is refused. Messages
    quote the host only."""
    if not isinstance(server_url, str) or not server_url.strip():
        raise InvalidRequest("the server URL is empty")
    parts = urlsplit(server_url.strip())
    if "@" in parts.netloc:
        raise InvalidRequest("the server URL must not carry credentials")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest("the server URL is not an http(s) URL")
    if parts.query or parts.fragment:
        raise InvalidRequest(f"the server URL for {parts.hostname!r} must not have a query or fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise InvalidRequest(f"the server URL must use https for the non-loopback host {parts.hostname!r}")
    return server_url.strip().rstrip("/"), parts.hostname


def _object(request: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = request.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"request.{name} must be a JSON object")
    return value


def _expand_path(template: str, parameters: Mapping[str, Any]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in parameters or parameters[name] is None:
            raise InvalidRequest(f"path parameter {name!r} is missing for the path {template}")
        value = parameters[name]
        if isinstance(value, list):
            return ",".join(quote(_scalar_text(item, f"path parameter {name!r}"), safe="") for item in value)
        return quote(_scalar_text(value, f"path parameter {name!r}"), safe="")

    path = _PLACEHOLDER.sub(replace, template)
    names = _PLACEHOLDER.findall(template)
    for name in parameters:
        if name not in names:
            raise InvalidRequest(f"path parameter {name!r} has no {{{name}}} in the path {template}")
    template_segments = template.split("/")
    for index, segment in enumerate(path.split("/")):
        if segment in (".", "..") and (index >= len(template_segments) or template_segments[index] != segment):
            raise InvalidRequest(f"a path parameter makes a segment of {template} '.' or '..'")
    return path


def _query_pairs(query: Mapping[str, Any], what: str = "query parameter") -> list[tuple[str, str]]:
    pairs = []
    for name, value in query.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if item is not None:
                pairs.append((name, _scalar_text(item, f"{what} {name!r}")))
    return pairs


def _header_text(value: Any, where: str) -> str:
    if isinstance(value, list):
        return ", ".join(_scalar_text(item, where) for item in value)
    return _scalar_text(value, where)


def _with_cookies(headers: dict[str, str], cookies: Mapping[str, Any]) -> dict[str, str]:
    pairs = []
    for name, value in cookies.items():
        if not _TOKEN.fullmatch(name):
            raise InvalidRequest(f"request.cookies: {name!r} is not a valid cookie name")
        if value is None:
            continue
        pairs.append(f"{name}={quote(_scalar_text(value, f'cookie {name!r}'), safe=_COOKIE_SAFE)}")
    if not pairs:
        return headers
    merged = {name: value for name, value in headers.items() if name.lower() != "cookie"}
    given = [value for name, value in headers.items() if name.lower() == "cookie"]
    merged["Cookie"] = "; ".join(given + pairs)
    return merged


def _scalar_text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    raise InvalidRequest(f"{where} must be a string, number or boolean")


def encode_body(body: Any, content_type: str) -> bytes:
    """The bytes sent for `body` under `content_type` (see `build_request`)."""
    media_type, charset = _media_type(content_type)
    encoding = charset or "utf-8"
    try:
        if is_json_media_type(media_type):
            return json.dumps(body, ensure_ascii=False).encode(encoding)
        if media_type == "application/x-www-form-urlencoded":
            if isinstance(body, str):
                return body.encode(encoding)
            if not isinstance(body, Mapping):
                raise InvalidRequest("a form body must be a JSON object or a string")
            return urlencode(_query_pairs(body, "form field"), encoding=encoding).encode("ascii")
        if isinstance(body, str):
            return body.encode(encoding)
        return json.dumps(body, ensure_ascii=False).encode(encoding)
    except LookupError:
        raise InvalidRequest(f"request.contentType names an unknown charset {charset!r}") from None
    except UnicodeEncodeError:
        raise InvalidRequest(f"the request body cannot be written in {charset!r}") from None


# --------------------------------------------------------------------------- answer


def parse_body(content: bytes, content_type: str | None) -> Any:
    """The answer's body: None when empty; parsed JSON when the media type is JSON
    (`application/json` or `*/*+json`) — or its text when it does not parse, since the
    workflow, not the transport, decides what a bad answer means; otherwise text, decoded
    with the `charset` parameter or else UTF-8, undecodable bytes replaced."""
    media_type, charset = _media_type(content_type or "")
    try:
        text = content.decode(charset or "utf-8", errors="replace")
    except LookupError:
        text = content.decode("utf-8", errors="replace")
    if is_json_media_type(media_type):
        if not text.strip():
            return None
        try:
            return json.loads(text.lstrip("\ufeff"))
        except ValueError:
            return text
    return text if content else None


def is_json_media_type(media_type: str) -> bool:
    media_type = _media_type(media_type)[0]
    return media_type == "application/json" or (media_type.count("/") == 1 and media_type.endswith("+json"))


def _media_type(content_type: str) -> tuple[str, str | None]:
    """(lower-case media type, charset parameter or None)."""
    media_type, _, parameters = content_type.partition(";")
    charset = None
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return media_type.strip().lower(), charset


def retry_after_seconds(headers: Mapping[str, str], now: datetime | None = None) -> int | None:
    """Seconds to wait as a `Retry-After` header says: a number of seconds (a decimal is
    rounded up) or an HTTP-date (seconds from `now`, rounded up; a past date gives 0).
    None when the header is absent or unreadable. Header names are matched
    case-insensitively."""
    value = next((text for name, text in headers.items() if name.lower() == "retry-after"), None)
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", value):
        return math.ceil(float(value)) if "." in value else int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP-dates are in GMT
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0, math.ceil((when - now).total_seconds()))
