"""Which hosts may be spoken to in clear text."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """localhost or a loopback address: the only hosts plain http is allowed for."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
