"""Simulation faults: the run driver with limits, and deadlock / livelock reports.

:func:`drive` steps a SimPy environment like ``env.run()`` but can stop on

* a limit on **simulated time** (``max_sim_ps``: no event later than it is processed),
* a limit on **wall-clock time** (``max_wall_s``, checked every :data:`CHECK_EVERY` events,
  so it costs one ``perf_counter()`` call per few thousand events),
* a **livelock**: :data:`LIVELOCK_EVENTS` (default) events in a row without simulated time
  advancing, also checked every :data:`CHECK_EVERY` events.

When the event queue drains while layers remain, nothing can ever wake the waiting
processes: a **deadlock**. :func:`wait_report` then lists every arbitrated resource that is
held or queued on (its holders and waiters, recorded cheaply by
:meth:`hwsim.sim.interconnect.Channel.acquire`) and what each unfinished layer waits for.
Wall-clock time only decides *whether* a run stops; it never enters a report.
"""
from __future__ import annotations

import gc
import time
from contextlib import contextmanager
from heapq import heappop

__all__ = ["CHECK_EVERY", "LIVELOCK_EVENTS", "drive", "gc_paused", "describe_process", "wait_report",
           "procs_started"]

#: events between two wall-clock / livelock checks
CHECK_EVERY = 4096
#: events in a row at one simulated instant that count as a livelock
LIVELOCK_EVENTS = 1_000_000
#: the largest limits a run accepts: one year of simulated time (no TinyML inference comes
#: near it; ps counts stay exact integers) and one year of wall-clock time
MAX_SIM_S = 3.2e7
MAX_WALL_S = 3.2e7


def check_limits(until_ps=None, max_sim_s=None, max_wall_s=None):
    """The simulated-time limit in ps (or ``None``) after checking every limit is a finite
    number in range; a bad one raises :class:`~hwsim.base.errors.HwsimError` naming it."""
    import math

    from ..base.errors import HwsimError
    from ..base.units import PS_PER_S

    def num(name, v, hi):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (
                math.isfinite(v) and 0 <= v <= hi):
            raise HwsimError(f"{name}: expected a number of seconds >= 0 and <= {hi:g}, got {v!r}")
        return v

    limit_ps = None
    if until_ps is not None:
        if isinstance(until_ps, bool) or not isinstance(until_ps, int) or not (
                0 <= until_ps <= MAX_SIM_S * PS_PER_S):
            raise HwsimError(f"until_ps: expected a whole number of ps >= 0 and <= "
                             f"{MAX_SIM_S * PS_PER_S:g}, got {until_ps!r}")
        limit_ps = until_ps
    if max_sim_s is not None:
        # nearest ps: seconds * 1e12 in binary floating point can land just below a whole ps
        s_ps = round(num("max_sim_s", max_sim_s, MAX_SIM_S) * PS_PER_S)
        limit_ps = s_ps if limit_ps is None else min(limit_ps, s_ps)
    if max_wall_s is not None:
        num("max_wall_s", max_wall_s, MAX_WALL_S)
    return limit_ps


def drive(env, max_sim_ps: int | None = None, max_wall_s: float | None = None,
          livelock_events: int = LIVELOCK_EVENTS) -> tuple:
    """Run ``env`` until its queue drains or a limit hits.

    Returns ``(why, events)``: ``why`` is ``"drained"``, ``"sim_limit"``, ``"wall_limit"`` or
    ``"livelock"``; ``events`` the number of events processed.

    Each event is processed exactly as ``Environment.step`` (SimPy 4.1) does it: pop the
    earliest, run its callbacks, raise a copy of the exception of a failed event nobody
    defused; inlined here, which saves a method call and an exception frame per event.
    (``StopSimulation``, raised only by ``env.run(until=...)``, never occurs in a run.)

    Python's cyclic garbage collector is paused meanwhile: the run creates no reference
    cycles (its objects are freed by reference counting; ``tests/test_faults.py`` checks), so
    the collector would only re-scan the long-lived platform and mapping objects every few
    hundred allocations (2-6% of a run's CPU time).
    """
    with gc_paused():
        return _loop(env, max_sim_ps, max_wall_s, livelock_events)


@contextmanager
def gc_paused():
    """Python's cyclic garbage collector paused (then restored as it was) for work that
    makes no reference cycles but many objects: the run's events, the report's records (on
    a large mesh the collector would re-scan the whole simulation for them)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _loop(env, max_sim_ps, max_wall_s, livelock_events) -> tuple:
    queue = env._queue
    limited = max_sim_ps is not None
    deadline = time.perf_counter() + max_wall_s if max_wall_s is not None else None
    same, last = 0, env._now
    done = 0
    while True:
        for k in range(CHECK_EVERY):
            if not queue:
                return "drained", done + k
            if limited and queue[0][0] > max_sim_ps:
                return "sim_limit", done + k
            env._now, _, _, event = heappop(queue)
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
        done += CHECK_EVERY
        if deadline is not None and time.perf_counter() > deadline:
            return "wall_limit", done
        if env._now == last:
            same += CHECK_EVERY
            if same >= livelock_events:
                return "livelock", done
        else:
            same, last = 0, env._now


def describe_process(proc) -> str:
    """A readable name for a SimPy process of the engine: the layer (or transfer tag) it works
    for and the chain of generator functions it is suspended in."""
    if proc is None:
        return "<no process>"
    gen = getattr(proc, "_generator", None)
    label, chain, extra = None, [], ""
    while gen is not None and getattr(gen, "gi_frame", None) is not None:
        chain.append(gen.__name__)
        loc = gen.gi_frame.f_locals
        if label is None and loc.get("tag") is not None:
            tag = loc["tag"]
            label = "transfer " + (" ".join(map(str, tag)) if isinstance(tag, tuple) else str(tag))
        if label is None and "plan" in loc and hasattr(loc["plan"], "layer"):
            label = f"layer {loc['plan'].layer.name}"
        if "route" in loc and hasattr(loc["route"], "nodes"):
            extra = " via " + " > ".join(loc["route"].nodes)
        gen = getattr(gen, "gi_yieldfrom", None)
    if label is None:
        label = getattr(proc, "name", repr(proc))
    return f"{label} [{' > '.join(chain)}]{extra}" if chain else label


def wait_report(channels, done: dict, procs: dict, depends_on: dict) -> str:
    """Who waits on what: held/queued resources, then each unfinished layer.

    Args:
        channels: every :class:`~hwsim.sim.interconnect.Channel` (links, ports, DMA slots, engines).
        done: layer name -> its completion event.
        procs: layer name -> its SimPy process.
        depends_on: layer name -> producer layer names.
    """
    waiting_on = {}
    lines = ["resources held or queued on:"]
    for ch in channels:
        held = ch.held_by()
        if not ch.queue and not held:
            continue
        holders = ", ".join(describe_process(h) for h in held) or "nobody"
        waiters = [describe_process(getattr(ev, "who", None)) for ev in ch.queue]
        for ev in ch.queue:
            waiting_on[id(ev)] = ch.name
        lines.append(f"  {ch.name} ({ch.kind}, {ch.in_use}/{ch.capacity} servers in use): "
                     f"held by {holders}" + (f"; waiting: {'; '.join(waiters)}" if waiters else ""))
    if len(lines) == 1:
        lines.append("  (none)")
    lines.append("unfinished layers:")
    blocked = 0
    for name, ev in done.items():
        if ev.processed:
            continue
        pending = [d for d in depends_on.get(name, ()) if not done[d].processed]
        if pending and name not in procs_started(procs, name):
            blocked += 1
            if blocked > 3:
                continue
        proc = procs.get(name)
        if pending:
            what = "not started: waits for producers " + ", ".join(pending)
        elif proc is None or not proc.is_alive:
            what = "its process ended without completing the layer"
        else:
            target = proc.target
            # a transfer's process waits on its burst train, which may wait for a grant
            train = getattr(target, "train", None)
            if train is not None and id(train) in waiting_on:
                target = train
            res = waiting_on.get(id(target))
            what = (f"waits for {res}" if res else
                    f"waits on {type(target).__name__}") + f" in {describe_process(proc)}"
        lines.append(f"  {name}: {what}")
    if blocked > 3:
        lines.append(f"  ... and {blocked - 3} more layers waiting for their producers")
    return "\n".join(lines)


def procs_started(procs: dict, name: str) -> tuple:
    """``(name,)`` if the layer's process got past waiting for its producers, else ``()``."""
    proc = procs.get(name)
    gen = getattr(proc, "_generator", None)
    frame = getattr(gen, "gi_frame", None)
    return (name,) if frame is not None and "start" in frame.f_locals else ()
