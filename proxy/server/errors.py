"""Typed errors of the embedded Toxiproxy server, each mapped to an HTTP status.

Rules: messages are Toxiproxy's own wording (clients match on them); no IO here.
"""

from __future__ import annotations

from proxy.errors import ProxyError


class ProxyServerError(ProxyError):
    """Root of the embedded server's errors."""


class ApiError(ProxyServerError):
    """A request the API refuses, with the status and message Toxiproxy would send.

    Attributes:
        status: the HTTP status code.
        message: the text of the ``error`` field.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request_body(detail: str) -> ApiError:
    """The caller sent a body that does not decode (the caller's fault).

    Args:
        detail: the decoder's message.

    Returns:
        A 400 error.
    """
    return ApiError(400, f"bad request body: {detail}")


def missing_field(field: str) -> ApiError:
    """The caller left out a required field (the caller's fault).

    Args:
        field: the field, possibly with a position (``"name at proxy 2"``).

    Returns:
        A 400 error.
    """
    return ApiError(400, f"missing required field: {field}")


def internal(message: str) -> ApiError:
    """The server could not do what was asked (e.g. bind a port), with Go's wording.

    Args:
        message: what failed, e.g. ``listen tcp 127.0.0.1:1: bind: permission denied``.

    Returns:
        A 500 error.
    """
    return ApiError(500, message)


PROXY_NOT_FOUND = "proxy not found"
PROXY_EXISTS = "proxy already exists"
INVALID_STREAM = "stream was invalid, can be either upstream or downstream"
INVALID_TOXIC_TYPE = "invalid toxic type"
TOXIC_EXISTS = "toxic already exists"
TOXIC_NOT_FOUND = "toxic not found"


def proxy_not_found() -> ApiError:
    """Returns: the 404 for an unknown proxy name."""
    return ApiError(404, PROXY_NOT_FOUND)


def toxic_not_found() -> ApiError:
    """Returns: the 404 for an unknown toxic name."""
    return ApiError(404, TOXIC_NOT_FOUND)


class ConfigFileError(ProxyServerError):
    """A ``--config`` file that cannot be read or does not hold a valid proxy list."""
