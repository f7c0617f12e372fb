"""Fault primitives as pure data: which proxies a fault touches and which toxics it adds.

Rules: no IO, no clock, no global randomness (an injected ``random.Random`` or a seed).
``proxy.injection`` applies these plans through ``proxy.control`` and undoes them.

What each fault does to the TCP connections crossing a proxy (Toxiproxy works on TCP
streams, never on packets; a link proxy ``n1_n2`` carries the connections n1 opens to n2,
with n1's requests *upstream* and n2's replies *downstream*):

``partition`` / ``isolate`` / ``bridge`` / ``one_way`` / ``majority_minority`` / ``random_halves``
    Cut the grudge's directed links. Mode ``drop`` (default) adds a ``timeout`` toxic with
    ``timeout: 0`` to both streams of each cut proxy: bytes vanish and connections stay
    open, so a gRPC call hangs until its deadline and keepalive pings go unanswered, as
    with a silently dropping network. Undoing it removes the toxics, and Toxiproxy then
    *closes* every connection of the proxy: peers see the connection reset and must
    reconnect (a blackholed HTTP/2 connection is unusable anyway). Mode ``refuse``
    disables the proxy: existing connections are closed at once and new ones refused
    (a gRPC peer sees UNAVAILABLE quickly), as with a host that is down. Client proxies
    are never cut by a partition: clients still reach every node.
``latency``
    A ``latency`` toxic (ms, uniform jitter in [-jitter, jitter)) on the chosen streams
    (both by default: each message *and* its reply wait, so an RPC round trip through one
    link grows by about 2·ms). Order and throughput are kept.
``bandwidth``
    A ``bandwidth`` toxic, ``rate`` KB/s (1 KB = 1000 B) per connection and stream; rate 0
    stalls the link without losing data.
``loss``
    *Not* per-packet loss, which Toxiproxy cannot do (TCP would retransmit it anyway).
    Emulated at the message level by flapping: time is cut into intervals of
    ``interval_ms``; in each interval each chosen link is cut (as in ``partition``, mode
    ``drop`` or ``refuse``) with probability ``p``, independently, from a seeded
    ``random.Random``, so a seed gives the same schedule every run. What a peer sees:
    during a cut interval every message on that link is lost (and its reply), an RPC
    fails by deadline; when the link comes back its connections are closed (drop) or
    were already closed (refuse) and the peer reconnects. So losses come in bursts of
    whole intervals and every heal costs a reconnect; there is no loss of single
    messages in the middle of a healthy stream, no reordering and no duplication.
    The schedule has at most ``max_steps`` intervals, then every link is restored.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from proxy import grudge as grudges
from proxy.control import STREAMS, Stream, Toxic
from proxy.errors import ProxyError
from proxy.grudge import Grudge
from proxy.topology import Link, Topology, node_name

TOXIC_PREFIX = "chaoslab"
"""Every toxic a fault adds is named ``chaoslab-<tag>-<stream>``."""


class FaultError(ProxyError, ValueError):
    """The caller asked for a fault that makes no sense (bad nodes, links or amounts)."""


class CutMode(enum.StrEnum):
    """How a link is cut (see the module docstring)."""

    DROP = "drop"
    """``timeout`` toxic with 0 on both streams: bytes vanish, connections hang."""
    REFUSE = "refuse"
    """Proxy disabled: connections closed and refused."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToxicPlacement:
    """One toxic on one proxy."""

    proxy: str
    toxic: Toxic


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultPlan:
    """What a fault changes: toxics to add and proxies to disable (undo reverses both).

    ``f`` names the fault in histories (``start-<f>`` / ``stop-<f>``); ``value`` is
    JSON-able and says exactly what was done.
    """

    f: str
    description: str
    value: Mapping[str, Any]
    toxics: tuple[ToxicPlacement, ...] = ()
    disable: tuple[str, ...] = ()

    @property
    def proxies(self) -> tuple[str, ...]:
        """Every proxy this plan touches, sorted."""
        return tuple(sorted({t.proxy for t in self.toxics} | set(self.disable)))


@dataclass(frozen=True, slots=True, kw_only=True)
class LossPlan:
    """Message loss by flapping links (see the module docstring for what it emulates)."""

    f: str = "loss"
    description: str
    value: Mapping[str, Any]
    proxies: tuple[str, ...]
    p: float
    interval_ms: int
    seed: int
    max_steps: int
    mode: CutMode = CutMode.DROP
    tag: str = "loss"

    def schedule(self) -> Iterator[frozenset[str]]:
        """Yield, per interval, the proxies cut during it: the same sequence for a seed."""
        rng = random.Random(self.seed)
        for _ in range(self.max_steps):
            yield frozenset(name for name in self.proxies if rng.random() < self.p)

    def cut_of(self, proxy: str) -> FaultPlan:
        """The plan that cuts one of this fault's proxies for one interval.

        Raises:
            FaultError: if ``proxy`` is not one of this fault's proxies.
        """
        if proxy not in self.proxies:
            msg = f"loss: {proxy!r} is not one of its proxies {list(self.proxies)}"
            raise FaultError(msg)
        return _cut_proxies(
            [proxy],
            mode=self.mode,
            f=self.f,
            description=f"{self.f} cut {proxy}",
            value={"proxy": proxy},
            tag=self.tag,
        )


def toxic_name(tag: str, stream: Stream) -> str:
    """The name a fault's toxic gets on one stream: ``chaoslab-<tag>-<stream>``."""
    return f"{TOXIC_PREFIX}-{tag}-{stream}"


def _targets(topology: Topology, targets: Iterable[Link | str]) -> tuple[str, ...]:
    names: set[str] = set()
    for target in targets:
        try:
            spec = (
                topology.link_proxy(target) if isinstance(target, Link) else topology.proxy(target)
            )
        except ValueError as exc:
            raise FaultError(str(exc)) from exc
        names.add(spec.name)
    if not names:
        msg = "no links given: a fault needs at least one link or proxy"
        raise FaultError(msg)
    return tuple(sorted(names))


def _streams(streams: Sequence[Stream]) -> tuple[Stream, ...]:
    chosen = tuple(dict.fromkeys(streams))
    bad = [s for s in chosen if s not in STREAMS]
    if bad or not chosen:
        msg = f"streams={list(streams)}: choose one or both of upstream, downstream"
        raise FaultError(msg)
    return chosen


def _toxic_plan(
    *,
    f: str,
    description: str,
    value: Mapping[str, Any],
    proxies: Sequence[str],
    toxic_type: str,
    attributes: Mapping[str, int],
    streams: Sequence[Stream],
    tag: str,
) -> FaultPlan:
    toxics = tuple(
        ToxicPlacement(
            proxy=name,
            toxic=Toxic(
                type=toxic_type,
                name=toxic_name(tag, stream),
                stream=stream,
                attributes=dict(attributes),
            ),
        )
        for name in proxies
        for stream in streams
    )
    return FaultPlan(f=f, description=description, value=value, toxics=toxics)


def _cut_proxies(
    proxies: Sequence[str],
    *,
    mode: CutMode,
    f: str,
    description: str,
    value: Mapping[str, Any],
    tag: str,
) -> FaultPlan:
    if mode is CutMode.REFUSE:
        return FaultPlan(f=f, description=description, value=value, disable=tuple(proxies))
    return _toxic_plan(
        f=f,
        description=description,
        value=value,
        proxies=proxies,
        toxic_type="timeout",
        attributes={"timeout": 0},
        streams=STREAMS,
        tag=tag,
    )


def cut(
    topology: Topology,
    grudge: Grudge,
    *,
    mode: CutMode = CutMode.DROP,
    f: str = "partition",
    description: str = "",
    extra: Mapping[str, Any] | None = None,
    tag: str | None = None,
) -> FaultPlan:
    """Cut every link of ``grudge`` (the building block of the partition faults).

    Args:
        topology: the cluster's proxies.
        grudge: which directed links to cut.
        mode: ``drop`` or ``refuse``.
        f: the fault's name in histories.
        description: for people; defaults to the cut links.
        extra: more JSON-able facts for ``value`` (e.g. the groups).
        tag: names the toxics (default ``f``); overlapping faults need distinct tags.

    Raises:
        FaultError: if the grudge is empty or names nodes outside the topology.
    """
    mode = CutMode(mode)
    if not grudge.cuts:
        msg = f"{f}: the grudge cuts no link"
        raise FaultError(msg)
    proxies = _targets(topology, grudge.links())
    value = {"mode": mode.value, "cut": grudge.to_json(), **(extra or {})}
    text = description or f"{f} {', '.join(grudge.to_json())}"
    return _cut_proxies(
        proxies,
        mode=mode,
        f=f,
        description=f"{text} ({mode.value})",
        value=value,
        tag=tag or f,
    )


def _names(nodes: Iterable[int]) -> list[str]:
    return [node_name(n) for n in nodes]


def _grudge(topology: Topology, make: Callable[..., Grudge], *args: Any) -> Grudge:
    try:
        made = make(*args)
    except ValueError as exc:
        raise FaultError(str(exc)) from exc
    for link in made.cuts:
        try:
            topology.link_proxy(link)
        except ValueError as exc:
            raise FaultError(str(exc)) from exc
    return made


def partition(
    topology: Topology, groups: Sequence[Iterable[int]], *, mode: CutMode = CutMode.DROP
) -> FaultPlan:
    """Split the cluster into ``groups``; links between groups are cut both ways.

    Nodes in no group are a group of their own together (so ``[[1, 2]]`` of 5 nodes
    is ``[[1, 2], [3, 4, 5]]``).
    """
    parts = [sorted(set(g)) for g in groups]
    rest = [n for n in topology.node_ids if all(n not in p for p in parts)]
    if rest and parts:
        parts.append(rest)
    made = _grudge(topology, grudges.partition, parts)
    shown = " | ".join(",".join(_names(p)) for p in parts)
    return cut(
        topology,
        made,
        mode=mode,
        f="partition",
        description=f"partition {shown}",
        extra={"groups": [_names(p) for p in parts]},
    )


def isolate(topology: Topology, node: int, *, mode: CutMode = CutMode.DROP) -> FaultPlan:
    """Cut ``node`` from every peer, both ways (its client proxy stays up)."""
    made = _grudge(topology, grudges.isolate, node, topology.node_ids)
    return cut(
        topology,
        made,
        mode=mode,
        f="isolate",
        description=f"isolate {node_name(node)}",
        extra={"node": node_name(node)},
    )


def bridge(
    topology: Topology,
    left: Iterable[int],
    right: Iterable[int],
    via: int,
    *,
    mode: CutMode = CutMode.DROP,
) -> FaultPlan:
    """Cut ``left`` from ``right`` both ways; ``via`` still talks to both sides."""
    lhs, rhs = sorted(left), sorted(right)
    made = _grudge(topology, grudges.bridge, lhs, rhs, via)
    return cut(
        topology,
        made,
        mode=mode,
        f="bridge",
        description=f"bridge {','.join(_names(lhs))} <{node_name(via)}> {','.join(_names(rhs))}",
        extra={"left": _names(lhs), "right": _names(rhs), "via": node_name(via)},
    )


def one_way(topology: Topology, src: int, dst: int, *, mode: CutMode = CutMode.DROP) -> FaultPlan:
    """Cut what ``src`` sends to ``dst`` (the ``src_dst`` proxy); ``dst`` still reaches ``src``."""
    made = _grudge(topology, grudges.one_way, src, dst)
    return cut(
        topology,
        made,
        mode=mode,
        f="one-way",
        description=f"one-way {node_name(src)}-/->{node_name(dst)}",
    )


def majority_minority(
    topology: Topology, rng: random.Random, *, mode: CutMode = CutMode.DROP
) -> FaultPlan:
    """Cut a random minority from the majority (see ``proxy.grudge.majority_minority``)."""
    made = _grudge(topology, grudges.majority_minority, topology.node_ids, rng)
    return cut(topology, made, mode=mode, f="majority-minority")


def random_halves(
    topology: Topology, rng: random.Random, *, mode: CutMode = CutMode.DROP
) -> FaultPlan:
    """Cut the cluster into two random halves (see ``proxy.grudge.random_halves``)."""
    made = _grudge(topology, grudges.random_halves, topology.node_ids, rng)
    return cut(topology, made, mode=mode, f="random-halves")


def _stream_toxics(
    topology: Topology,
    links: Iterable[Link | str],
    streams: Sequence[Stream],
    *,
    f: str,
    toxic_type: str,
    attributes: Mapping[str, int],
    facts: Mapping[str, Any],
    summary: str,
    tag: str,
) -> FaultPlan:
    """One ``toxic_type`` toxic per chosen stream on every proxy of ``links``."""
    proxies = _targets(topology, links)
    chosen = _streams(streams)
    return _toxic_plan(
        f=f,
        description=f"{summary} on {len(proxies)} proxies",
        value={"proxies": list(proxies), **facts, "streams": list(chosen)},
        proxies=proxies,
        toxic_type=toxic_type,
        attributes=attributes,
        streams=chosen,
        tag=tag,
    )


def latency(
    topology: Topology,
    links: Iterable[Link | str],
    ms: int,
    jitter: int = 0,
    *,
    streams: Sequence[Stream] = STREAMS,
    tag: str = "latency",
) -> FaultPlan:
    """Delay every chunk crossing ``links`` by ``ms`` ± ``jitter`` milliseconds.

    Args:
        topology: the cluster's proxies.
        links: directed links, or proxy names (e.g. ``client_n1``).
        ms: added delay, 0 or more.
        jitter: uniform spread, 0 or more.
        streams: which streams of each proxy (both by default).
        tag: names the toxics; overlapping latency faults need distinct tags.

    Raises:
        FaultError: for a negative amount or unknown links.
    """
    if ms < 0 or jitter < 0:
        msg = f"latency ms={ms} jitter={jitter}: both must be 0 or more"
        raise FaultError(msg)
    return _stream_toxics(
        topology,
        links,
        streams,
        f="latency",
        toxic_type="latency",
        attributes={"latency": ms, "jitter": jitter},
        facts={"ms": ms, "jitter": jitter},
        summary=f"latency {ms}±{jitter} ms",
        tag=tag,
    )


def bandwidth(
    topology: Topology,
    links: Iterable[Link | str],
    rate_kbps: int,
    *,
    streams: Sequence[Stream] = STREAMS,
    tag: str = "bandwidth",
) -> FaultPlan:
    """Limit each connection crossing ``links`` to ``rate_kbps`` KB/s per stream (0 stalls).

    Raises:
        FaultError: for a negative rate or unknown links.
    """
    if rate_kbps < 0:
        msg = f"bandwidth rate={rate_kbps} KB/s: must be 0 or more"
        raise FaultError(msg)
    return _stream_toxics(
        topology,
        links,
        streams,
        f="bandwidth",
        toxic_type="bandwidth",
        attributes={"rate": rate_kbps},
        facts={"rate_kbps": rate_kbps},
        summary=f"bandwidth {rate_kbps} KB/s",
        tag=tag,
    )


def loss(
    topology: Topology,
    links: Iterable[Link | str],
    p: float,
    *,
    seed: int,
    interval_ms: int = 200,
    max_steps: int = 300,
    mode: CutMode = CutMode.DROP,
    tag: str = "loss",
) -> LossPlan:
    """Flap ``links``: each interval each link is cut with probability ``p`` (seeded).

    Args:
        topology: the cluster's proxies.
        links: directed links or proxy names.
        p: the chance, per link and interval, that the link is cut, in [0, 1].
        seed: seeds the schedule; the same seed gives the same flaps.
        interval_ms: length of one interval, 1 or more.
        max_steps: the schedule's length in intervals; then every link is restored.
        mode: how a link is cut (``drop`` or ``refuse``).
        tag: names the toxics.

    Raises:
        FaultError: for ``p`` outside [0, 1], a non-positive interval or step count.
    """
    if not 0.0 <= p <= 1.0:
        msg = f"loss p={p}: a probability lies in [0, 1]"
        raise FaultError(msg)
    if interval_ms < 1 or max_steps < 1:
        msg = f"loss interval_ms={interval_ms} max_steps={max_steps}: both must be 1 or more"
        raise FaultError(msg)
    mode = CutMode(mode)
    proxies = _targets(topology, links)
    return LossPlan(
        description=f"loss p={p:g} every {interval_ms} ms on {len(proxies)} proxies "
        f"({mode.value}, seed {seed})",
        value={
            "proxies": list(proxies),
            "p": p,
            "interval_ms": interval_ms,
            "seed": seed,
            "max_steps": max_steps,
            "mode": mode.value,
        },
        proxies=proxies,
        p=p,
        interval_ms=interval_ms,
        seed=seed,
        max_steps=max_steps,
        mode=mode,
        tag=tag,
    )
