"""The quick start: a 3-node cluster survives the SIGKILL of its leader.

Rules: drives ``LocalCluster`` and ``Client`` and prints with rich; every wait is
bounded; the cluster is always torn down, success or not.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from experiments.cluster.local import LocalCluster, UpOptions
from experiments.cluster.state import ClusterError
from experiments.cluster.table import print_table
from nodes.client import Client


def run_demo(data_dir: Path, *, writes: int = 20, console: Console) -> int:
    """Run the demo in ``data_dir``.

    Returns:
        0 when every acknowledged write is readable after the leader's crash, 1 otherwise.
    """
    cluster = LocalCluster(data_dir)
    try:
        return _run(cluster, writes, console)
    except ClusterError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        return 1
    finally:
        if cluster.exists():
            cluster.down()
            console.print("cluster stopped")


def _run(cluster: LocalCluster, writes: int, console: Console) -> int:
    console.print(f"[bold]1.[/bold] starting 3 nodes in {cluster.data_dir} ...")
    state = cluster.up(UpOptions(nodes=3), wait_s=30)
    leader = cluster.wait_for_leader()
    print_table(cluster.status(), console)
    console.print(f"[bold]2.[/bold] writing {writes} keys through the cluster ...")
    acknowledged: dict[str, str] = {}
    with Client(state.client_addresses, timeout_s=5.0) as client:
        for i in range(writes):
            key, value = f"demo-{i}", f"value-{i}"
            if client.put(key, value).ok:
                acknowledged[key] = value
        console.print(f"   {len(acknowledged)} of {writes} writes acknowledged")
        console.print(f"[bold]3.[/bold] SIGKILL the leader, node {leader.id} ...")
        cluster.kill(leader.id)
        new_leader = cluster.wait_for_leader(30)
        console.print(f"   new leader: node [bold green]{new_leader.id}[/bold green]")
        print_table(cluster.status(), console)
        console.print("[bold]4.[/bold] reading every acknowledged write back (linearizable) ...")
        lost = []
        for key, value in acknowledged.items():
            outcome = client.get(key)
            if outcome.status != "ok" or outcome.value != value:
                lost.append((key, value, outcome))
    if lost or not acknowledged:
        for key, value, outcome in lost:
            console.print(f"   [red]{key}: expected {value!r}, got {outcome}[/red]")
        console.print("[red bold]FAILED[/red bold]: an acknowledged write is not readable")
        return 1
    console.print(
        f"[green bold]OK[/green bold]: all {len(acknowledged)} acknowledged writes survived "
        f"the crash of node {leader.id}"
    )
    return 0
