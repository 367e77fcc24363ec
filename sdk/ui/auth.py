"""Who may talk to the viewer: a token on every request, or loopback only.

With a token (required for any --host other than loopback), each request
carries it as ``?token=``, ``Authorization: Bearer``, or the cookie this
middleware sets (HttpOnly, SameSite=Strict) the first time it arrives in the
query, so the page's own requests and its <img>/<video> URLs need no token.
Tokens are compared with `hmac.compare_digest`.

Without a token the server listens on loopback only, and still refuses a
request whose Host header is not a loopback name: a web page elsewhere can
point its own domain name at 127.0.0.1 (DNS rebinding) and would otherwise
read the viewer's API as same-origin.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# URL- and cookie-safe, and long enough not to be guessed (secrets.token_urlsafe(32) gives 43).
_TOKEN = re.compile(r"^[A-Za-z0-9_.~-]{16,256}$")


def check_token(token: str) -> str:
    """Return `token` if it can be one.

    Raises
    ------
    ValueError: shorter than 16 characters, or with characters other than letters, digits and ``_.~-``.
    """
    if not _TOKEN.match(token):
        raise ValueError(f"a viewer token must be 16-256 letters, digits, '_', '.', '~' or '-'; got "
                         f"{len(token)} characters{'' if token.isascii() else ' (not ASCII)'}")
    return token


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or ``localhost``, IPv6 with or without brackets) is this machine only.

    Strict: ``127.0.0.1.example.com`` is a name anyone's DNS can answer, not loopback.
    """
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


def cookie_name(port: int | None) -> str:
    # Cookies are shared across ports of one host: one name per port keeps two
    # viewers on one machine from overwriting each other's token.
    return f"darkroom_ui_token_{port or 0}"


class TokenGate:
    """ASGI middleware: 401 without the token (or 403 for a foreign Host when there is none)."""

    def __init__(self, app: Any, token: str | None):
        self.app = app
        self.token = check_token(token).encode() if token is not None else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.token is None:
            host = _host_name(headers.get("host", ""))
            if not is_loopback(host):
                await _refuse(send, 403, f"Host {host!r} is not a loopback name; this viewer has no token, so "
                              "it answers only http://127.0.0.1 or http://localhost (start it with --token to "
                              "reach it by another name)")
                return
            await self.app(scope, receive, send)
            return
        port = (scope.get("server") or (None, None))[1]
        name = cookie_name(port)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [])
        auth = headers.get("authorization", "")
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except CookieError:  # a malformed Cookie header counts as none
            cookie = SimpleCookie()
        given = [*query, auth[7:].strip() if auth[:7].lower() == "bearer " else None,
                 cookie[name].value if name in cookie else None]
        if not any(t is not None and hmac.compare_digest(t.encode(), self.token) for t in given):
            await _refuse(send, 401, "this viewer needs its token: open the URL `darkroom ui` printed "
                          "(…/?token=…), or send Authorization: Bearer <token>")
            return
        if not query or not any(hmac.compare_digest(t.encode(), self.token) for t in query):
            await self.app(scope, receive, send)
            return
        set_cookie = (f"{name}={self.token.decode()}; Path=/; HttpOnly; SameSite=Strict").encode("latin-1")

        async def send_with_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", set_cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _host_name(host: str) -> str:
    if host.startswith("["):  # [::1]:8765
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _refuse(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
