"""One short handler per scenario command, each returning the lines it prints.

Rules: no IO; handlers drive a ``Network`` and describe what happened with the
stable text of ``nodes.raft.describe``. Every loop is bounded.
"""

from __future__ import annotations

from collections.abc import Callable

from nodes.raft.config import Config
from nodes.raft.describe import describe_entries, describe_message
from nodes.raft.errors import RaftError
from nodes.raft.messages import Message, NodeId
from nodes.raft.testing.network import Network, encode_commands
from nodes.raft.testing.script import Args, Handler

MAX_ROUNDS = 500
"""Upper bound on delivery rounds for ``stabilize`` and per tick of ``tick-all``."""

_BOOL_OPTIONS = {
    "pre_vote",
    "check_quorum",
    "unsafe_commit_prior_term_by_count",
    "unsafe_leader_read_without_quorum",
    "unsafe_skip_leader_noop",
}
_INT_OPTIONS = {
    "election_tick",
    "heartbeat_tick",
    "max_entries_per_msg",
    "max_bytes_per_msg",
    "max_inflight_msgs",
}


def add_nodes(env: Network, args: Args) -> list[str]:
    """``add-nodes N [seed=S] [config_field=value ...]``: create nodes 1..N."""
    opts: dict[str, bool | int] = {}
    for key, raw in args.options.items():
        if key == "seed":
            env.seed = int(raw)
        elif key in _BOOL_OPTIONS:
            opts[key] = raw == "true"
        elif key in _INT_OPTIONS:
            opts[key] = int(raw)
        else:
            msg = f"unknown option {key!r}"
            raise ValueError(msg)

    def make(i: NodeId, voters: tuple[NodeId, ...]) -> Config:
        return Config(id=i, voters=voters, **opts)  # type: ignore[arg-type]

    env.add_nodes(args.int_at(0), make)
    return [env.nodes[i].live.describe() for i in sorted(env.nodes)]


def _node_input(action: Callable[[Network, Args], str | None]) -> Handler:
    """Wrap an input to one node: run it, process that node's Ready, print the events."""

    def handler(env: Network, args: Args) -> list[str]:
        try:
            out = action(env, args)
        except RaftError as exc:
            out = f"error: {type(exc).__name__}: {exc}"
        env.process_ready(args.int_at(0))
        return ([out] if out else []) + env.take_events()

    return handler


def _campaign(env: Network, args: Args) -> None:
    env.nodes[args.int_at(0)].live.campaign()


def _propose(env: Network, args: Args) -> str:
    index, term = env.nodes[args.int_at(0)].live.propose(args.words[1].encode())
    return f"index={index} term={term}"


def _read_index(env: Network, args: Args) -> None:
    env.read_index(args.int_at(0), args.words[1].encode())


def _transfer_leader(env: Network, args: Args) -> None:
    env.nodes[args.int_at(0)].live.transfer_leader(args.int_at(1))


def _compact(env: Network, args: Args) -> str:
    node = env.nodes[args.int_at(0)]
    index = args.int_at(1)
    data = encode_commands(c for c in node.commands if c[0] <= index)
    snap = node.live.compact(index, data)
    node.storage.compact(snap)
    return f"snapshot={snap.meta.term}/{snap.meta.index} first_index={node.live.first_index}"


def tick(env: Network, args: Args) -> list[str]:
    """``tick ID [N]``: tick one node N times (messages stay queued)."""
    i = args.int_at(0)
    for _ in range(args.int_at(1, 1)):
        env.tick(i)
    return env.take_events()


def tick_all(env: Network, args: Args) -> list[str]:
    """``tick-all N``: N rounds of ticking every node, then delivering until quiet.

    Only events are printed (role changes, reads, violations), not messages.
    """
    for _ in range(args.int_at(0)):
        for i in sorted(env.nodes):
            env.tick(i)
        env.settle(MAX_ROUNDS)
    return env.take_events()


def _matcher(args: Args) -> Callable[[Message], bool]:
    frm, to = args.ids("from"), args.ids("to")
    return lambda m: (frm is None or m.frm in frm) and (to is None or m.to in to)


def deliver(env: Network, args: Args) -> list[str]:
    """``deliver [from=IDS] [to=IDS] [drop=(IDS)]``: deliver the matching queued messages
    once; those addressed to a node in ``drop`` are lost instead."""
    lost = args.ids("drop") or set()
    lines = []
    for m in env.take(_matcher(args)):
        ok = m.to not in lost and env.deliver(m)
        lines.append(describe_message(m) if ok else f"dropped {describe_message(m)}")
    env.process_all()
    return lines + env.take_events()


def drop(env: Network, args: Args) -> list[str]:
    """``drop [from=IDS] [to=IDS]``: discard the matching queued messages."""
    return [f"dropped {describe_message(m)}" for m in env.take(_matcher(args))]


def stabilize(env: Network, args: Args) -> list[str]:
    """``stabilize``: deliver rounds of messages until none is left, printing each."""
    del args
    lines: list[str] = []
    for _ in range(MAX_ROUNDS):
        env.process_all()
        lines.extend(env.take_events())
        if not env.queue:
            return lines
        for m in env.take(lambda _: True):
            ok = env.deliver(m)
            lines.append(describe_message(m) if ok else f"dropped {describe_message(m)}")
    lines.append(f"not stable after {MAX_ROUNDS} rounds")
    return lines


def partition(env: Network, args: Args) -> list[str]:
    """``partition 1 | 2 3``: only nodes on the same side can talk."""
    groups = " ".join(args.words).split("|")
    env.partition([int(x) for x in g.split()] for g in groups)
    return []


def heal(env: Network, args: Args) -> list[str]:
    """``heal``: remove every partition."""
    del args
    env.heal()
    return []


def crash(env: Network, args: Args) -> list[str]:
    """``crash ID``: stop a node; what it did not persist is lost."""
    env.crash(args.int_at(0))
    return []


def restart(env: Network, args: Args) -> list[str]:
    """``restart ID``: rebuild a crashed node from its storage."""
    i = args.int_at(0)
    env.restart(i)
    return [env.nodes[i].live.describe(), *env.take_events()]


def state(env: Network, args: Args) -> list[str]:
    """``state``: every node's full description (crashed nodes say so)."""
    del args
    return [
        n.core.describe() if n.core is not None else f"{i} crashed"
        for i, n in sorted(env.nodes.items())
    ]


def raft_state(env: Network, args: Args) -> list[str]:
    """``raft-state``: one short line per node: role, term, leader."""
    del args
    return [
        f"{i}: {n.core.role.value} term={n.core.term} lead={n.core.leader_id}"
        if n.core is not None
        else f"{i}: crashed"
        for i, n in sorted(env.nodes.items())
    ]


def log(env: Network, args: Args) -> list[str]:
    """``log ID``: a node's durable log and its state machine's commands."""
    node = env.nodes[args.int_at(0)]
    snap = node.storage.snapshot
    applied = ", ".join(f"{t}/{i} {d.decode()}" for i, t, d in node.commands)
    return [
        f"snapshot={snap.meta.term}/{snap.meta.index}" if snap else "snapshot=none",
        f"entries={describe_entries(tuple(node.storage.entries))}",
        f"applied=[{applied}]",
    ]


HANDLERS: dict[str, Handler] = {
    "add-nodes": add_nodes,
    "campaign": _node_input(_campaign),
    "propose": _node_input(_propose),
    "read-index": _node_input(_read_index),
    "transfer-leader": _node_input(_transfer_leader),
    "compact": _node_input(_compact),
    "tick": tick,
    "tick-all": tick_all,
    "deliver": deliver,
    "drop": drop,
    "stabilize": stabilize,
    "partition": partition,
    "heal": heal,
    "crash": crash,
    "restart": restart,
    "state": state,
    "raft-state": raft_state,
    "log": log,
}
"""Every scenario command by name."""
