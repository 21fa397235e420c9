"""Where the functions get their Airbyte URL and credentials from.

The URL comes from the AIRBYTE_API_URL environment variable (a template parameter; it is
not secret). Credentials come only from the Secrets Manager secret named by
AIRBYTE_SECRET_ID, read through Powertools Parameters so warm invocations reuse it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airbyte_client.auth import Auth, BearerToken, ClientCredentials, NoAuth
from airbyte_client.errors import AirbyteConfigurationError
from arazzo_runtime.hosts import is_loopback

# How long a cached secret value is trusted before Secrets Manager is asked again.
SECRET_MAX_AGE_SECONDS = 300
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 20.0
# Airbyte holds a POST /jobs for up to 60 s before it answers (it waits for the job's id):
# a shorter read timeout would lose answers, and the retry would find a job it cannot be
# sure is its own.
CREATE_JOB_READ_TIMEOUT_SECONDS = 75.0


@dataclass(frozen=True)
class Settings:
    api_url: str
    auth: Auth
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS
    read_timeout: float = READ_TIMEOUT_SECONDS
    create_job_read_timeout: float = CREATE_JOB_READ_TIMEOUT_SECONDS


def load_settings() -> Settings:
    api_url = validate_api_url(os.environ.get("AIRBYTE_API_URL", ""))
    secret_id = os.environ.get("AIRBYTE_SECRET_ID", "").strip()
    auth = auth_from_secret(read_secret(secret_id)) if secret_id else NoAuth()
    return Settings(api_url=api_url, auth=auth, read_timeout=_seconds("AIRBYTE_READ_TIMEOUT_SECONDS", READ_TIMEOUT_SECONDS))


def _seconds(name: str, default: float) -> float:
    """An optional positive number of seconds from the environment."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise AirbyteConfigurationError(f"{name} must be a number of seconds, got {text[:20]!r}") from None
    if not 0 < value <= 900:
        raise AirbyteConfigurationError(f"{name} must be between 0 and 900 seconds")
    return value


def read_secret(secret_id: str) -> dict[str, Any]:
    # Imported here so the client stays importable (and testable) without Powertools.
    from aws_lambda_powertools.utilities import parameters

    try:
        value = parameters.get_secret(secret_id, transform="json", max_age=SECRET_MAX_AGE_SECONDS)
    except parameters.exceptions.TransformParameterError as exc:
        raise AirbyteConfigurationError(f"secret {secret_id!r} is not a JSON object") from exc
    except Exception as exc:
        raise AirbyteConfigurationError(
            f"cannot read secret {secret_id!r}: {type(exc).__name__}"
        ) from exc
    if not isinstance(value, dict):
        raise AirbyteConfigurationError(f"secret {secret_id!r} is not a JSON object")
    return value


def auth_from_secret(secret: dict[str, Any]) -> Auth:
    """Accept `{"clientId", "clientSecret"}` or `{"apiToken"}`; name the field that is wrong,
    never its value."""

    def text(field: str) -> str | None:
        value = secret.get(field)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise AirbyteConfigurationError(f"secret field {field!r} must be a string")
        return value

    client_id, client_secret, api_token = text("clientId"), text("clientSecret"), text("apiToken")
    if client_id or client_secret:
        if not (client_id and client_secret):
            missing = "clientSecret" if client_id else "clientId"
            raise AirbyteConfigurationError(f"secret field {missing!r} is missing")
        return ClientCredentials(client_id, client_secret)
    if api_token:
        return BearerToken(api_token)
    raise AirbyteConfigurationError(
        "secret holds no credentials: expected clientId and clientSecret, or apiToken"
    )


def validate_api_url(url: str) -> str:
    """Return the base URL without a trailing slash. HTTPS is required unless the host is
    loopback, so credentials never cross a network in clear text. Messages quote the URL
    only once it is known to carry no user or password."""
    url = url.strip()
    if not url:
        raise AirbyteConfigurationError("AIRBYTE_API_URL is not set")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise AirbyteConfigurationError("AIRBYTE_API_URL must not carry credentials")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AirbyteConfigurationError(f"AIRBYTE_API_URL {url!r} is not an http(s) URL")
    if parts.query or parts.fragment:
        raise AirbyteConfigurationError(f"AIRBYTE_API_URL {url!r} must not have a query or fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise AirbyteConfigurationError(
            f"AIRBYTE_API_URL must use https for the non-loopback host {parts.hostname!r}"
        )
    return url.rstrip("/")
