"""The container healthcheck: one ``Admin.Health`` call and nothing else.

Rules: the standard library, grpc and the generated stubs only. Docker runs this every
few seconds in every node container, so its start-up is paid continuously: the
``chaoslab admin health`` command costs about three times the CPU (the CLI, click, the
async client), which on a 2-core host running five nodes was half a core. Exit 0 when
the node says it is healthy; 1 when it says it is not, or does not answer (the line
printed says why); 2 for a wrong command line.

    python3 -m nodes.rpc.healthcheck 127.0.0.1:7000 [TIMEOUT_S]
"""

from __future__ import annotations

import sys

import grpc

from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc

USAGE = "usage: python3 -m nodes.rpc.healthcheck HOST:PORT [TIMEOUT_S]\n"
DEFAULT_TIMEOUT_S = 2.0


def check(address: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> tuple[bool, str]:
    """Whether the node at ``address`` says it is healthy, and why not."""
    with grpc.insecure_channel(address) as channel:
        try:
            reply = pb_grpc.AdminStub(channel).Health(pb.HealthRequest(), timeout=timeout_s)
        except grpc.RpcError as exc:
            return False, f"{exc.code().name}: {exc.details()}"
    return reply.healthy, reply.reason


def main(argv: list[str] | None = None) -> int:
    """Check one node; the exit status is the verdict."""
    args = sys.argv[1:] if argv is None else argv
    try:
        address = args[0]
        timeout_s = float(args[1]) if len(args) == 2 else DEFAULT_TIMEOUT_S
        if len(args) > 2 or not address or not 0 < timeout_s <= 60:
            raise ValueError(address)
    except (IndexError, ValueError):
        sys.stderr.write(USAGE)
        return 2
    healthy, reason = check(address, timeout_s)
    sys.stdout.write(("healthy: " if healthy else "unhealthy: ") + reason + "\n")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
