"""The asyncio client against scripted in-process servers: redirects, retries, honesty."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from nodes.client import AsyncClient, InvalidRequest, Outcome
from nodes.kv import EmptyKey, ValueTooLarge
from nodes.rpc import chaoslab_pb2 as pb
from nodes.rpc import chaoslab_pb2_grpc as pb_grpc

S = pb.KvReply.Status
HANG = "hang"
Script = list[pb.KvReply | str]


@dataclass
class ScriptedKv(pb_grpc.KvServicer):
    """Answers each call with the next scripted reply (the last one repeats); records requests."""

    script: Script
    seen: list[Any] = field(default_factory=list)

    async def _next(self, request: Any) -> pb.KvReply:
        self.seen.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if step == HANG:
            await asyncio.sleep(30)
        assert isinstance(step, pb.KvReply)
        return step

    async def Get(self, request: Any, context: Any) -> pb.KvReply:
        return await self._next(request)

    async def Put(self, request: Any, context: Any) -> pb.KvReply:
        return await self._next(request)

    async def Delete(self, request: Any, context: Any) -> pb.KvReply:
        return await self._next(request)

    async def Cas(self, request: Any, context: Any) -> pb.KvReply:
        return await self._next(request)


async def _serve(*scripts: Script) -> tuple[list[grpc.aio.Server], list[str], list[ScriptedKv]]:
    servers, addresses, services = [], [], []
    for script in scripts:
        server = grpc.aio.server()
        service = ScriptedKv(script=list(script))
        pb_grpc.add_KvServicer_to_server(service, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        servers.append(server)
        addresses.append(f"127.0.0.1:{port}")
        services.append(service)
    return servers, addresses, services


def run(
    scripts: list[Script],
    op: Callable[[AsyncClient], Any],
    **options: Any,
) -> tuple[Any, list[ScriptedKv], list[str]]:
    """Serve the scripts, run ``op`` with a client of them, return its result and the servers."""

    async def main() -> tuple[Any, list[ScriptedKv], list[str]]:
        servers, addresses, services = await _serve(*scripts)
        try:
            settings = {"timeout_s": 3.0, "attempt_timeout_s": 0.5, "seed": 1, **options}
            async with AsyncClient(addresses, **settings) as client:
                result = await op(client)
        finally:
            for server in servers:
                await server.stop(None)
        return result, services, addresses

    return asyncio.run(main())


def reply(status: int, **fields: Any) -> pb.KvReply:
    return pb.KvReply(status=status, **fields)  # type: ignore[arg-type]


class TestRedirects:
    """Writes find the leader through NOT_LEADER redirects."""

    def test_follows_redirect_to_the_leader(self) -> None:
        """A follower's NOT_LEADER names the leader's address; the write goes there."""

        async def main() -> tuple[Outcome[None], list[ScriptedKv], list[str]]:
            servers, addresses, services = await _serve([], [reply(S.OK)])
            follower, leader = addresses
            services[0].script.append(reply(S.NOT_LEADER, leader_id=2, leader_address=leader))
            try:
                async with AsyncClient([follower], timeout_s=3.0, seed=1) as client:
                    outcome = await client.put("k", "v")
            finally:
                for server in servers:
                    await server.stop(None)
            return outcome, services, addresses

        outcome, services, addresses = asyncio.run(main())

        assert ("ok", addresses[1]) == (outcome.status, outcome.node)
        assert (1, 1) == (len(services[0].seen), len(services[1].seen))


class TestHonesty:
    """Outcomes say ok, fail or info exactly as the cluster's answers allow."""

    def test_write_timeout_is_info(self) -> None:
        """A write whose every attempt times out may have applied: info."""
        outcome, _, _ = run([[HANG]], lambda c: c.put("k", "v"), timeout_s=1.0)

        assert "info" == outcome.status

    def test_read_timeout_is_fail(self) -> None:
        """A read that never got an answer observed nothing: fail."""
        outcome, _, _ = run([[HANG]], lambda c: c.get("k"), timeout_s=1.0)

        assert "fail" == outcome.status

    def test_unknown_then_ok_is_ok_with_the_same_sequence(self) -> None:
        """A retry after UNKNOWN reuses the sequence number; its OK makes the write ok."""
        outcome, services, _ = run([[reply(S.UNKNOWN), reply(S.OK)]], lambda c: c.put("k", "v"))
        seqs = {(r.client_id, r.seq) for r in services[0].seen}

        assert ("ok", 1, 2) == (outcome.status, len(seqs), len(services[0].seen))

    def test_definite_refusals_until_deadline_are_fail(self) -> None:
        """Only definite refusals (UNAVAILABLE replies) mean the write certainly failed."""
        outcome, services, _ = run(
            [[reply(S.UNAVAILABLE, error="no quorum")]], lambda c: c.put("k", "v"), timeout_s=0.5
        )

        assert "fail" == outcome.status
        assert len(services[0].seen) >= 1

    def test_unknown_then_refusals_stay_info(self) -> None:
        """Once an attempt may have applied, later refusals cannot make the write fail."""
        outcome, _, _ = run(
            [[reply(S.UNKNOWN), reply(S.UNAVAILABLE)]], lambda c: c.put("k", "v"), timeout_s=0.5
        )

        assert "info" == outcome.status

    def test_cas_mismatch_is_fail_with_the_current_value(self) -> None:
        """A cas that found another value fails with error 'mismatch' and that value."""
        outcome, _, _ = run(
            [[reply(S.MISMATCH, value="other", error="mismatch")]], lambda c: c.cas("k", "a", "b")
        )

        assert ("fail", "mismatch", "other") == (outcome.status, outcome.error, outcome.value)

    def test_missing_key_reads_as_ok_none(self) -> None:
        """NOT_FOUND on a get is a successful read of nothing."""
        outcome, _, _ = run([[reply(S.NOT_FOUND)]], lambda c: c.get("k"))

        assert ("ok", None) == (outcome.status, outcome.value)

    def test_refused_connection_write_is_fail(self) -> None:
        """A write that could not even connect anywhere certainly did not apply."""

        async def main() -> Outcome[None]:
            async with AsyncClient(["127.0.0.1:1"], timeout_s=0.5, seed=2) as client:
                return await client.put("k", "v")

        outcome = asyncio.run(main())

        assert "fail" == outcome.status


class TestSessions:
    """Writes carry sessions; concurrent writes never share one."""

    def test_sequential_writes_increase_the_sequence(self) -> None:
        """Three writes in a row use one session with seq 1, 2, 3."""

        async def op(client: AsyncClient) -> None:
            for i in range(3):
                await client.put(f"k{i}", "v")

        _, services, _ = run([[reply(S.OK)]], op)
        sessions = [(r.client_id, r.seq) for r in services[0].seen]

        assert 1 == len({cid for cid, _ in sessions})
        assert [1, 2, 3] == [seq for _, seq in sessions]

    def test_concurrent_writes_use_distinct_sessions(self) -> None:
        """Writes in flight at once get different client ids."""

        async def op(client: AsyncClient) -> None:
            await asyncio.gather(*(client.put(f"k{i}", "v") for i in range(4)))

        _, services, _ = run([[reply(S.OK)]], op)

        assert 4 == len({r.client_id for r in services[0].seen})


class TestInvalidInput:
    """Invalid input raises before anything is sent."""

    def test_empty_key_raises(self) -> None:
        """An empty key is the caller's fault: EmptyKey."""
        with pytest.raises(EmptyKey):
            run([[reply(S.OK)]], lambda c: c.put("", "v"))

    def test_oversized_value_raises(self) -> None:
        """A value over 1 MiB raises ValueTooLarge."""
        with pytest.raises(ValueTooLarge):
            run([[reply(S.OK)]], lambda c: c.put("k", "v" * (1024 * 1024 + 1)))

    def test_unknown_consistency_raises(self) -> None:
        """Only linearizable and stale reads exist."""
        with pytest.raises(InvalidRequest, match="eventual"):
            run([[reply(S.OK)]], lambda c: c.get("k", "eventual"))

    def test_no_addresses_raises(self) -> None:
        """A client needs somewhere to send."""
        with pytest.raises(InvalidRequest):
            AsyncClient([])
