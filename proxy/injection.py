"""Apply fault plans through a Toxiproxy server, undo them, and heal everything.

Rules: every effect goes through ``proxy.control``; plans come from ``proxy.faults``
(pure). Time comes from an injectable clock (monotonic nanoseconds) so start and stop
times can go into a history as nemesis operations. The only thread is the loss flapper:
one daemon thread per ``FlappingFault``, with a stop event, bounded by the plan's
``max_steps`` and stopped by ``undo()`` or at interpreter exit (it restores its links
before it ends). The runner is expected to call ``ToxiproxyControl.reset()`` at the end
of every run as well.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import functools
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import structlog

from proxy.control import ProxyApiError, ProxyNotFound, ToxiproxyControl
from proxy.faults import FaultPlan, LossPlan
from proxy.topology import Topology

log = structlog.get_logger()

Clock = Callable[[], int]
"""Returns monotonic nanoseconds (``time.monotonic_ns`` by default)."""

NemesisOp = dict[str, Any]
"""A history line: ``{"process": "nemesis", "type": "info", "f", "value", "time"}``."""


def nemesis_op(f: str, value: Any, time_ns: int) -> NemesisOp:
    """Return a nemesis operation for a history (``process`` is ``"nemesis"``)."""
    return {"process": "nemesis", "type": "info", "f": f, "value": value, "time": time_ns}


def apply_plan(control: ToxiproxyControl, plan: FaultPlan) -> None:
    """Add the plan's toxics and disable its proxies; on failure, undo what was done.

    Raises:
        ProxyApiError: the first failure (after rolling back).
    """
    undo: list[Callable[[], None]] = []
    try:
        for placed in plan.toxics:
            control.add_toxic(placed.proxy, placed.toxic)
            undo.append(
                functools.partial(control.remove_toxic, placed.proxy, placed.toxic.effective_name)
            )
        for name in plan.disable:
            control.set_enabled(name, False)
            undo.append(functools.partial(control.set_enabled, name, True))
    except ProxyApiError:
        for step in reversed(undo):
            with contextlib.suppress(ProxyApiError):
                step()
        raise


def revert_plan(control: ToxiproxyControl, plan: FaultPlan) -> None:
    """Remove the plan's toxics and re-enable its proxies.

    What is already gone (a reset, a deleted proxy) is skipped; other failures are
    raised after every step was tried.

    Raises:
        ProxyApiError: the first failure other than "not found".
    """
    steps: list[Callable[[], None]] = [
        functools.partial(control.remove_toxic, placed.proxy, placed.toxic.effective_name)
        for placed in plan.toxics
    ]
    steps.extend(functools.partial(control.set_enabled, name, True) for name in plan.disable)
    first: ProxyApiError | None = None
    for step in steps:
        try:
            step()
        except ProxyNotFound:
            continue
        except ProxyApiError as exc:
            first = first or exc
    if first is not None:
        raise first


class Fault(ABC):
    """A fault that can be started once and undone once, recording when.

    Use as a context manager, or call ``start()`` and ``undo()`` (both idempotent).
    """

    f: str
    description: str
    value: Any

    def __init__(self, control: ToxiproxyControl, *, clock: Clock = time.monotonic_ns) -> None:
        self.control = control
        self.clock = clock
        self.started_ns: int | None = None
        self.stopped_ns: int | None = None
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        """Started and not yet undone."""
        return self.started_ns is not None and self.stopped_ns is None

    def start(self) -> Fault:
        """Apply the fault (once; later calls do nothing).

        Returns:
            self, for chaining.

        Raises:
            ProxyApiError: if the server refused; nothing stays applied then.
        """
        with self._lock:
            if self.started_ns is not None:
                return self
            began = self._apply()
            self.started_ns = self.clock() if began is None else began
        log.info("fault.start", f=self.f, description=self.description)
        return self

    def undo(self) -> None:
        """Restore what ``start`` changed (once; later calls, or before start, do nothing).

        Raises:
            ProxyApiError: if a link could not be restored (heal or reset will be needed).
        """
        with self._lock:
            if self.started_ns is None or self.stopped_ns is not None:
                return
            ended: int | None = None
            try:
                ended = self._revert()
            finally:
                self.stopped_ns = self.clock() if ended is None else ended
        log.info("fault.stop", f=self.f, description=self.description)

    def history(self) -> list[NemesisOp]:
        """The ``start-<f>`` and (once stopped) ``stop-<f>`` nemesis operations."""
        ops: list[NemesisOp] = []
        if self.started_ns is not None:
            ops.append(nemesis_op(f"start-{self.f}", copy.deepcopy(self.value), self.started_ns))
        if self.stopped_ns is not None:
            ops.append(nemesis_op(f"stop-{self.f}", copy.deepcopy(self.value), self.stopped_ns))
        return ops

    def __enter__(self) -> Fault:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.undo()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r}, active={self.active})"

    @abstractmethod
    def _apply(self) -> int | None:
        """Apply; return when the fault began if that was before now, else None."""

    @abstractmethod
    def _revert(self) -> int | None:
        """Restore; return when the fault really ended if earlier than now, else None."""


class StaticFault(Fault):
    """A fault that holds one ``FaultPlan`` from start to undo (partitions, latency...)."""

    def __init__(
        self, plan: FaultPlan, control: ToxiproxyControl, *, clock: Clock = time.monotonic_ns
    ) -> None:
        super().__init__(control, clock=clock)
        self.plan = plan
        self.f, self.description, self.value = plan.f, plan.description, dict(plan.value)

    def _apply(self) -> int | None:
        apply_plan(self.control, self.plan)
        return None

    def _revert(self) -> int | None:
        revert_plan(self.control, self.plan)
        return None


_LIVE_FLAPPERS: weakref.WeakSet[FlappingFault] = weakref.WeakSet()


class FlappingFault(Fault):
    """Message loss by flapping links on a background thread (see ``proxy.faults.loss``).

    Args:
        plan: the loss plan (proxies, p, interval, seed, max_steps).
        control: the server.
        clock: monotonic nanoseconds.
        on_step: called on the worker thread after interval ``i``'s cuts are in place,
            with ``i`` and the cut proxies (for tests and traces; keep it short).
    """

    def __init__(
        self,
        plan: LossPlan,
        control: ToxiproxyControl,
        *,
        clock: Clock = time.monotonic_ns,
        on_step: Callable[[int, frozenset[str]], None] | None = None,
    ) -> None:
        super().__init__(control, clock=clock)
        self.plan = plan
        self.f, self.description, self.value = plan.f, plan.description, dict(plan.value)
        self.on_step = on_step
        self.steps: list[frozenset[str]] = []
        """The cut set of every interval that was applied, in order."""
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cut: set[str] = set()
        self._ended_ns: int | None = None

    def _apply(self) -> int | None:
        self._thread = threading.Thread(
            target=self._run, name=f"chaoslab-{self.plan.tag}-flapper", daemon=True
        )
        _LIVE_FLAPPERS.add(self)
        began = self.clock()  # before the worker's first cut, so start <= first effect
        self._thread.start()
        return began

    def _revert(self) -> int | None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            # Each API call is bounded by the control's timeout; restoring every link
            # costs at most two calls per proxy.
            limit = self.control.timeout_s * (2 * len(self.plan.proxies) + 4) + 1.0
            thread.join(limit)
            if thread.is_alive():
                msg = f"loss flapper did not stop within {limit:g} s"
                raise ProxyApiError(
                    status=None, message=msg, url=self.control.url, request="(flapper)"
                )
        if self.error is not None:
            msg = f"loss flapper failed: {self.error}"
            raise ProxyApiError(
                status=None, message=msg, url=self.control.url, request="(flapper)"
            ) from self.error
        return self._ended_ns

    def join(self, timeout_s: float) -> bool:
        """Wait until the worker has ended (schedule run out, or undone) and restored its links.

        Args:
            timeout_s: the most to wait.

        Returns:
            True if the worker has ended (or never started).
        """
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    def _set(self, target: frozenset[str]) -> None:
        for name in sorted(self._cut - target):
            revert_plan(self.control, self.plan.cut_of(name))
            self._cut.discard(name)
        for name in sorted(target - self._cut):
            apply_plan(self.control, self.plan.cut_of(name))
            self._cut.add(name)

    def _run(self) -> None:
        interval_s = self.plan.interval_ms / 1000
        try:
            for index, target in enumerate(self.plan.schedule()):
                if self._stop.is_set():
                    break
                self._set(target)
                self.steps.append(target)
                if self.on_step is not None:
                    self.on_step(index, target)
                if self._stop.wait(interval_s):
                    break
        except Exception as exc:  # reported by undo(), and logged here
            self.error = exc
            log.error("fault.flapper_failed", f=self.f, error=str(exc))
        finally:
            try:
                self._set(frozenset())
            except ProxyApiError as exc:
                self.error = self.error or exc
                log.error("fault.flapper_restore_failed", f=self.f, error=str(exc))
            self._ended_ns = self.clock()


def start(
    plan: FaultPlan | LossPlan, control: ToxiproxyControl, *, clock: Clock = time.monotonic_ns
) -> Fault:
    """Build the fault for ``plan`` and start it.

    Returns:
        The started fault; call ``undo()`` to restore.
    """
    if isinstance(plan, LossPlan):
        return FlappingFault(plan, control, clock=clock).start()
    return StaticFault(plan, control, clock=clock).start()


@dataclass(frozen=True, slots=True, kw_only=True)
class HealReport:
    """What ``heal`` changed."""

    time_ns: int
    enabled: tuple[str, ...]
    """Proxies that were disabled and are enabled again."""
    removed: tuple[tuple[str, str], ...]
    """``(proxy, toxic)`` pairs removed."""
    missing: tuple[str, ...]
    """Proxies of the topology the server does not have."""

    def nemesis_op(self) -> NemesisOp:
        """The ``heal`` nemesis operation."""
        value = {"enabled": list(self.enabled), "removed": [f"{p}/{t}" for p, t in self.removed]}
        return nemesis_op("heal", value, self.time_ns)


def heal(
    control: ToxiproxyControl,
    topology: Topology,
    *,
    faults: Iterable[Fault] = (),
    clock: Clock = time.monotonic_ns,
) -> HealReport:
    """Restore every link of ``topology``: undo ``faults``, then enable every proxy and
    remove every toxic on it (including toxics that no fault here added).

    Proxies outside the topology are left alone (``control.reset()`` clears everything).

    Raises:
        ProxyApiError: if the server fails (an undo error is raised after the sweep).
    """
    first: ProxyApiError | None = None
    for fault in faults:
        try:
            fault.undo()
        except ProxyApiError as exc:
            first = first or exc
    present = control.proxies()
    enabled: list[str] = []
    removed: list[tuple[str, str]] = []
    missing: list[str] = []
    for spec in topology.proxies():
        info = present.get(spec.name)
        if info is None:
            missing.append(spec.name)
            continue
        for toxic in info.toxics:
            with contextlib.suppress(ProxyNotFound):
                control.remove_toxic(spec.name, toxic.name)
            removed.append((spec.name, toxic.name))
        if not info.enabled:
            control.set_enabled(spec.name, True)
            enabled.append(spec.name)
    report = HealReport(
        time_ns=clock(), enabled=tuple(enabled), removed=tuple(removed), missing=tuple(missing)
    )
    log.info("fault.heal", enabled=len(enabled), removed=len(removed), missing=len(missing))
    if first is not None:
        raise first
    return report


@atexit.register
def _stop_flappers_at_exit() -> None:
    for fault in list(_LIVE_FLAPPERS):
        with contextlib.suppress(Exception):
            fault.undo()
