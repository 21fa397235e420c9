"""HTTP for the functions, on the standard library alone (http.client and ssl): TLS
certificates always verified, no proxy read from the environment, no redirect followed, no
retry (the state machine retries, visibly), one connection per request. A function makes one
or two requests per invocation, minutes apart, so a pool would keep nothing worth keeping,
and an HTTP library would cost more at each cold start than everything else the function
imports.

A failure to get an answer is raised as `TransportError`, whose `kind` says what went wrong
(see there); its message never quotes the URL, a header or a body."""

from __future__ import annotations

import http.client
import importlib.util
import socket
import ssl
import zlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

READ_CHUNK_BYTES = 64 * 1024


class TransportError(Exception):
    """No (whole) answer. `kind` is one of:

    - `tls`: the server's certificate could not be verified;
    - `unresolvable`: the host name does not resolve;
    - `refused`: nothing listens there;
    - `connect_timeout`: no connection within the connect timeout;
    - `read_timeout`: no answer, or no more of it, within the read timeout;
    - `dropped`: the connection was closed or reset before the answer's status line;
    - `cut_off`: the answer broke off, or its compressed body is corrupt;
    - `connection`: any other failure to connect or to talk;
    - `invalid`: a request that cannot be sent (a malformed URL or header value).
    `cause` names the exception underneath (its class, never its message)."""

    def __init__(self, kind: str, cause: BaseException | None = None):
        self.kind = kind
        self.cause = type(cause).__name__ if cause is not None else kind
        super().__init__(f"{kind} ({self.cause})")


@lru_cache(maxsize=1)
def ca_bundle() -> str | None:
    """The CA certificates servers are verified against: certifi's where it is installed,
    else the copy botocore ships (every Lambda Python runtime has botocore), else the
    system's (None). Found without importing either package."""
    for package in ("certifi", "botocore"):
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            bundle = Path(folder) / "cacert.pem"
            if bundle.is_file():
                return str(bundle)
    return None


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """Verifies the certificate chain and the host name; nothing can turn that off."""
    return ssl.create_default_context(cafile=ca_bundle())


class Answer:
    """An answer whose status line and headers are in; the body is read with `read_chunk`
    (as it arrives, decoded) or `read_all`. Close it when done."""

    def __init__(self, connection: http.client.HTTPConnection, response: http.client.HTTPResponse):
        self._connection, self._response = connection, response
        self.status = response.status
        headers: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        self.headers = headers  # names lower-cased, a repeated header's values joined with ", "
        encoding = headers.get("content-encoding", "").strip().lower()
        # gzip or zlib-wrapped deflate, told apart by their headers (wbits 32 + 15).
        self._decoder = zlib.decompressobj(32 + zlib.MAX_WBITS) if encoding in ("gzip", "x-gzip", "deflate") else None
        self._ended = False

    def read_chunk(self, size: int = READ_CHUNK_BYTES) -> bytes:
        """What one read of the socket brings, decoded; b"" at the end of the body."""
        while not self._ended:
            try:
                raw = self._response.read1(size)
            except TimeoutError as exc:
                raise TransportError("read_timeout", exc) from None
            except (http.client.HTTPException, OSError) as exc:
                raise TransportError("cut_off", exc) from None
            if not raw:
                self._ended = True
                if self._response.length:  # Content-Length promised more than came
                    raise TransportError("cut_off", http.client.IncompleteRead(b"", self._response.length))
                return self._flush()
            decoded = self._decode(raw)
            if decoded:
                return decoded
        return b""

    def read_all(self) -> bytes:
        chunks = []
        while chunk := self.read_chunk():
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._response.close()
        self._connection.close()

    def __enter__(self) -> Answer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _decode(self, raw: bytes) -> bytes:
        if self._decoder is None:
            return raw
        try:
            return self._decoder.decompress(raw)
        except zlib.error as exc:
            raise TransportError("cut_off", exc) from None

    def _flush(self) -> bytes:
        if self._decoder is None:
            return b""
        try:
            rest = self._decoder.flush()
        except zlib.error as exc:
            raise TransportError("cut_off", exc) from None
        if not self._decoder.eof:
            raise TransportError("cut_off", zlib.error("the compressed body ends early"))
        return rest


def send(method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, timeouts: tuple[float, float]) -> Answer:
    """Send one request and wait for its status line and headers; (connect, read) timeouts
    in seconds, the read timeout applying to each read. The answer is compressed only in the
    encodings `Answer` decodes (asked for unless `headers` say otherwise). The caller reads the
    body and closes the answer (`with send(...) as answer:`). Raises `TransportError`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError("invalid")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        port = parts.port
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(parts.hostname, port, timeout=timeouts[0], context=tls_context())
        else:
            connection = http.client.HTTPConnection(parts.hostname, port, timeout=timeouts[0])
    except ValueError as exc:  # a port that is not a number
        raise TransportError("invalid", exc) from None
    try:
        _connect(connection)
        connection.sock.settimeout(timeouts[1])
        try:
            connection.request(method, target, body=body, headers={"Accept-Encoding": "gzip, deflate", **headers, "Connection": "close"})
            response = connection.getresponse()
        except TimeoutError as exc:
            raise TransportError("read_timeout", exc) from None
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError) as exc:
            raise TransportError("dropped", exc) from None
        except ValueError as exc:  # http.client refuses a header value or the target
            raise TransportError("invalid", exc) from None
        except (http.client.HTTPException, OSError) as exc:
            raise TransportError("cut_off" if isinstance(exc, http.client.HTTPException) else "connection", exc) from None
    except BaseException:
        connection.close()
        raise
    return Answer(connection, response)


def _connect(connection: http.client.HTTPConnection) -> None:
    try:
        connection.connect()
    except ssl.SSLCertVerificationError as exc:
        raise TransportError("tls", exc) from None
    except ssl.SSLError as exc:
        raise TransportError("tls", exc) from None
    except socket.gaierror as exc:
        raise TransportError("unresolvable", exc) from None
    except ConnectionRefusedError as exc:
        raise TransportError("refused", exc) from None
    except TimeoutError as exc:
        raise TransportError("connect_timeout", exc) from None
    except (ConnectionResetError, http.client.RemoteDisconnected) as exc:
        raise TransportError("dropped", exc) from None
    except (OSError, ValueError) as exc:
        raise TransportError("connection", exc) from None
