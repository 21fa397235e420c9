"""The Airbyte credentials a local run gives its functions, as the stack's secret holds them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Credentials:
    """What the functions will find in the Airbyte secret."""

    client_id: str | None = None
    client_secret: str | None = None
    api_token: str | None = None

    def secret_value(self) -> dict[str, str] | None:
        if self.client_id and self.client_secret:
            return {"clientId": self.client_id, "clientSecret": self.client_secret}
        if self.api_token:
            return {"apiToken": self.api_token}
        return None

    def __repr__(self) -> str:  # never print a secret by accident
        return f"Credentials(client_id={self.client_id!r}, client_secret={'***' if self.client_secret else None}, api_token={'***' if self.api_token else None})"
