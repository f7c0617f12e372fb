"""Requests whose bytes are not the protobuf message they claim to be: INVALID_ARGUMENT.

Rules: one server interceptor for every service of both listeners. gRPC runs a method's
deserializer before its handler and turns a ``DecodeError`` into UNKNOWN ("Unexpected
DecodeError"); this interceptor wraps each deserializer so that garbage becomes a
marker instead, and the handler answers it with INVALID_ARGUMENT naming the message
type, before any of the service's code runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

import grpc
from google.protobuf.message import DecodeError

Context = grpc.aio.ServicerContext[Any, Any]
Request = TypeVar("Request")
Response = TypeVar("Response")
if TYPE_CHECKING:
    Handler: TypeAlias = grpc.RpcMethodHandler[Request, Response]


@dataclass(frozen=True, slots=True)
class _Undecodable:
    """What the wrapped deserializer returns for bytes it cannot parse."""

    problem: str


def _tolerant(deserializer: Callable[[bytes], Any], method: str) -> Callable[[bytes], Any]:
    def parse(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except (DecodeError, ValueError, RuntimeError) as exc:
            return _Undecodable(f"{method}: the request is not a valid protobuf message ({exc})")

    return parse


async def _refuse(context: Context, bad: _Undecodable) -> Any:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, bad.problem)


def _unary(behaviour: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def checked(request: Any, context: Context) -> Any:
        if isinstance(request, _Undecodable):
            return await _refuse(context, request)
        return await behaviour(request, context)

    return checked


def _streaming(behaviour: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def checked(requests: AsyncIterator[Any], context: Context) -> Any:
        async def each() -> AsyncIterator[Any]:
            async for request in requests:
                if isinstance(request, _Undecodable):
                    await _refuse(context, request)
                yield request

        return await behaviour(each(), context)

    return checked


class DecodeGuard(grpc.aio.ServerInterceptor):
    """Answer undecodable requests with INVALID_ARGUMENT (unary and client-streaming calls)."""

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[Handler[Request, Response] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler[Request, Response] | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None or handler.response_streaming:
            return handler  # (no server-streaming method in chaoslab.v1)
        parse = _tolerant(handler.request_deserializer, handler_call_details.method)
        if handler.request_streaming and handler.stream_unary is not None:
            wrapped = grpc.stream_unary_rpc_method_handler(
                _streaming(handler.stream_unary), parse, handler.response_serializer
            )
        elif handler.unary_unary is not None:
            wrapped = grpc.unary_unary_rpc_method_handler(
                _unary(handler.unary_unary), parse, handler.response_serializer
            )
        else:
            return handler
        return cast("Handler[Request, Response]", wrapped)
