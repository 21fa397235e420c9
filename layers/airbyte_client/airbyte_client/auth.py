"""Authentication: client credentials (token exchange), a static bearer token, or none."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Renew this long before the announced expiry: tokens have been seen to die early.
RENEW_MARGIN_SECONDS = 60
# Exchanges client credentials for (access token, seconds it lives).
TokenFetcher = Callable[["ClientCredentials"], tuple[str, float]]


class Auth:
    def authorization(self, fetch_token: TokenFetcher) -> str | None:
        """The Authorization header value to send, or None."""
        raise NotImplementedError

    def invalidate(self) -> bool:
        """Forget a rejected credential. True when a retry may succeed with a fresh one."""
        return False

    @property
    def fingerprint(self) -> str:
        """Identifies the credential without revealing it (for caching clients)."""
        raise NotImplementedError


@dataclass(frozen=True)
class NoAuth(Auth):
    def authorization(self, fetch_token: TokenFetcher) -> str | None:
        return None

    @property
    def fingerprint(self) -> str:
        return "none"


@dataclass(frozen=True)
class BearerToken(Auth):
    token: str = field(repr=False)

    def authorization(self, fetch_token: TokenFetcher) -> str | None:
        return f"Bearer {self.token}"

    @property
    def fingerprint(self) -> str:
        return f"bearer:{hash(self.token)}"


@dataclass(eq=False)
class ClientCredentials(Auth):
    client_id: str
    client_secret: str = field(repr=False)
    _token: str | None = field(default=None, init=False, repr=False)
    _renew_at: float = field(default=0.0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def authorization(self, fetch_token: TokenFetcher) -> str | None:
        with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                token, expires_in = fetch_token(self)
                self._token = token
                self._renew_at = time.monotonic() + max(expires_in - RENEW_MARGIN_SECONDS, 0)
            return f"Bearer {self._token}"

    def invalidate(self) -> bool:
        with self._lock:
            self._token = None
        return True

    @property
    def fingerprint(self) -> str:
        return f"client:{self.client_id}:{hash(self.client_secret)}"
