"""Sending a webhook over HTTP with the standard library, guarded against server-side request
forgery: unless settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS, a URL whose host resolves to a
private, loopback, link-local or otherwise non-public address is refused when it is registered,
and the address actually connected to is checked again before anything is sent (a host whose
DNS changes after registration gets nowhere). Redirects are not followed, and no proxy is used.
"""

import http.client
import ipaddress
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

ERROR_TEXT_LIMIT = 500


class BlockedAddressError(OSError):
    """The endpoint's address is not a public one."""


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def private_targets_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_TARGETS", False))


def url_problem(url: str) -> str | None:
    """Why this URL may not receive webhooks, in words for the form; None when it may."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return "Enter an http:// or https:// URL."
    if parts.scheme != "https" and getattr(settings, "WEBHOOKS_REQUIRE_HTTPS", True):
        return "Use an https:// URL: deliveries carry customer data."
    if private_targets_allowed():
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return f"The host name “{parts.hostname}” does not resolve."
    if not infos or not all(is_public_address(str(info[4][0])) for info in infos):
        return "This host is on a private or local network; use a public address."
    return None


def _check_peer(sock: socket.socket) -> None:
    if private_targets_allowed():
        return
    address = str(sock.getpeername()[0])
    if not is_public_address(address):
        sock.close()
        raise BlockedAddressError(f"refused to send to the non-public address {address}")


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _check_peer(self.sock)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()  # TCP and TLS; nothing of the request is sent yet
        _check_peer(self.sock)


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: Any) -> Any:
        return self.do_open(_GuardedHTTPConnection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: Any) -> Any:
        return self.do_open(_GuardedHTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx answer is a failed delivery, not a hop to another address


_opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), _GuardedHTTPHandler, _GuardedHTTPSHandler, _NoRedirect
)


@dataclass(frozen=True)
class PostResult:
    ok: bool
    status_code: int | None
    error: str
    duration_ms: int


def _snippet(text: str) -> str:
    return " ".join(text.split())[:ERROR_TEXT_LIMIT]


def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> PostResult:
    """POST the body; 2xx is success, anything else (or no answer) a failure with a reason."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - scheme checked by url_problem
    started = time.monotonic()
    status: int | None = None
    error = ""
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = int(response.status)
    except urllib.error.HTTPError as failure:
        status = failure.code
        try:
            detail = failure.read(ERROR_TEXT_LIMIT).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException):
            detail = ""
        error = _snippet(f"HTTP {failure.code} {failure.reason}. {detail}".strip())
    except urllib.error.URLError as failure:
        error = _snippet(f"Could not connect: {failure.reason}")
    except (OSError, http.client.HTTPException, ValueError) as failure:
        error = _snippet(f"{type(failure).__name__}: {failure}" if str(failure) else repr(failure))
    duration_ms = int((time.monotonic() - started) * 1000)
    ok = status is not None and 200 <= status < 300
    if not ok and not error:
        error = f"HTTP {status}"
    return PostResult(ok=ok, status_code=status, error=error, duration_ms=duration_ms)
