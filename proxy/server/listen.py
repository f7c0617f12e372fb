"""Listen and upstream addresses: Go's ``host:port`` parsing, binding and display.

Rules: mirrors what Go's ``net`` package does for Toxiproxy: ``127.0.0.1:0``
binds a free port and is shown with it, ``localhost`` is shown as
``127.0.0.1``, a wildcard host (``""``, ``0.0.0.0``, ``::``) binds dual-stack
and is shown as ``[::]:N``. Errors carry Go's wording. Only this module
resolves names or creates listening sockets.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import os
import socket
from dataclasses import dataclass

from proxy.errors import ProxyError

_WILDCARDS = {"", "0.0.0.0", "::"}  # the inputs Go treats as "any"


class AddressError(ProxyError):
    """An address Go would refuse; ``str(err)`` is Go's message (``address X: ...``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HostPort:
    """A split ``host:port`` (host without brackets; port 0 means "pick one")."""

    host: str
    port: int


def split(address: str) -> HostPort:
    """Split ``host:port`` like Go's ``net.SplitHostPort`` (empty address = any host, port 0).

    Args:
        address: e.g. ``127.0.0.1:8474``, ``[::1]:80``, ``:5000`` or ``""``.

    Returns:
        Host and numeric port.

    Raises:
        AddressError: for a missing or bad port, or a malformed host.
    """
    if address == "":
        return HostPort(host="", port=0)
    if address.startswith("["):
        end = address.find("]")
        if end < 0:
            raise AddressError(f"address {address}: missing ']' in address")
        host, rest = address[1:end], address[end + 1 :]
        if not rest.startswith(":"):
            raise AddressError(f"address {address}: missing port in address")
        port_text = rest[1:]
    else:
        host, colon, port_text = address.rpartition(":")
        if not colon:
            raise AddressError(f"address {address}: missing port in address")
        if ":" in host:
            raise AddressError(f"address {address}: too many colons in address")
    if "[" in host or "]" in host:
        raise AddressError(f"address {address}: unexpected '[' or ']' in address")
    if port_text == "":
        return HostPort(host=host, port=0)
    if not port_text.isdigit() or not port_text.isascii():
        raise AddressError(f"address {address}: unknown port")
    port = int(port_text)
    if port > 65535:
        raise AddressError(f"address {address}: invalid port")
    return HostPort(host=host, port=port)


def _format(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


async def _resolve_host(host: str) -> str:
    """Resolve a host name to one IP literal, IPv4 first (Go's preference for "tcp")."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as err:
        raise AddressError(f"lookup {host}: no such host") from err
    addresses = [str(info[4][0]) for info in infos]
    ipv4 = [a for a in addresses if ":" not in a]
    if not (ipv4 or addresses):
        raise AddressError(f"lookup {host}: no such host")
    return (ipv4 or addresses)[0]


async def canonical(address: str) -> str:
    """The address as Go's ``net.ResolveTCPAddr(...).String()`` prints it, for comparisons.

    Args:
        address: a listen address as a caller gave it.

    Returns:
        e.g. ``127.0.0.1:0`` for ``localhost:0``, ``:5000`` for ``:5000``.

    Raises:
        AddressError: when it does not parse or the host does not resolve.
    """
    parts = split(address)
    if parts.host == "":
        return f":{parts.port}"
    return _format(await _resolve_host(parts.host), parts.port)


def _bind_error(shown: str, err: OSError) -> str:
    text = os.strerror(err.errno).lower() if err.errno else str(err).lower()
    return f"listen tcp {shown}: bind: {text}"


async def bind(address: str) -> tuple[socket.socket, str]:
    """Create a listening socket for a Toxiproxy listen address.

    Args:
        address: the stored listen address.

    Returns:
        The listening (non-blocking) socket and the address to show from now on.

    Raises:
        AddressError: with Go's full ``listen tcp ...`` message when the address
            is bad or the bind fails.
    """
    try:
        parts = split(address)
        wildcard = parts.host in _WILDCARDS
        ip = "::" if wildcard else await _resolve_host(parts.host)
    except AddressError as err:
        raise AddressError(f"listen tcp: {err}") from None
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((ip, parts.port))
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
    except OSError as err:
        sock.close()
        if wildcard and err.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
            return await _bind_ipv4_any(parts.port)
        raise AddressError(_bind_error(_format(ip, parts.port), err)) from None
    return sock, _format(ip, sock.getsockname()[1])


async def _bind_ipv4_any(port: int) -> tuple[socket.socket, str]:
    """Fallback for hosts without IPv6: bind 0.0.0.0 but show ``[::]:N`` as Go would."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
    except OSError as err:
        sock.close()
        raise AddressError(_bind_error(f"0.0.0.0:{port}", err)) from None
    return sock, f"[::]:{sock.getsockname()[1]}"
