"""The bearer token a serving process bound beyond loopback requires, checked before anything else runs.

``MLOPS_MAGIC_TOKEN`` in the serving process's environment sets it (the kernel passes ``--token`` so, never
on a command line). Every path then needs ``Authorization: Bearer <token>`` and answers 401 without it,
except the health checks orchestrators probe: ``/ping``, ``/health``, ``/ready`` and ``/v2/health/*``.
"""

from __future__ import annotations

import hmac
import ipaddress

import orjson

TOKEN_VARIABLE = "MLOPS_MAGIC_TOKEN"
OPEN_PATHS = frozenset({"/ping", "/health", "/ready", "/v2/health/live", "/v2/health/ready"})


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the port on this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refusal(host: str, token: str | None) -> str | None:
    """Why a serving process must not start on ``host`` with ``token``, or None."""
    if token is not None and not token.strip():
        return f"an empty token: set {TOKEN_VARIABLE} (or --token) to a secret, e.g. the output of: openssl rand -hex 32."
    if token is None and not is_loopback(host):
        return (f"serving on {host} reaches beyond this machine and needs a token: pass --token (or set {TOKEN_VARIABLE}); "
                "clients then send Authorization: Bearer <token>.")  # fmt: skip
    return None


class RequireToken:
    """ASGI middleware answering 401 to a request without the bearer token (the open paths aside)."""

    def __init__(self, app, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.refused = orjson.dumps({"error": "missing or wrong bearer token: send Authorization: Bearer <token>.", "status": 401})

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            given = next((value for key, value in scope["headers"] if key == b"authorization"), b"")
            if not hmac.compare_digest(given, self.expected):
                headers = [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"), (b"content-length", str(len(self.refused)).encode())]
                await send({"type": "http.response.start", "status": 401, "headers": headers})
                await send({"type": "http.response.body", "body": self.refused})
                return
        await self.app(scope, receive, send)
