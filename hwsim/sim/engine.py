"""The engine: runs a mapped trace on a built system as SimPy processes.

Each layer is a process that waits for its producers, then runs its tiles through a
double-buffered pipeline: a loader process (DMA in), the engine step (cores or AIMC tiles) in
the layer process itself, and a storer process (DMA out). Buffer ``i`` can be refilled only
once tile ``i-2`` has been computed (inputs) or stored (outputs): with two buffers an isolated
layer of n tiles takes ``in + compute + out + (n - 1) * max(in, compute, out)``.

The layer process attributes every picosecond of its span (see :mod:`hwsim.report.stats`): when it
waits for a tile's data, the part of the wait during which that data sat in a queue is
``contention``, the rest ``memory_stall``.
"""
from __future__ import annotations

import dataclasses
import time as _time

from ..base.errors import DeadlockError, Interrupted, SimulationLimitError
from ..hardware.fidelity import fidelity_of
from ..hardware.platform import Platform
from ..hardware.registry import model_of
from ..mapping.mapper import map_trace
from ..mapping.plan import LayerPlan, Mapping
from ..mapping.tiling import tile_bytes
from ..report.stats import CATEGORIES, SimulationResult
from ..report.timeline import Timeline
from ..workload.trace import ELEMENTWISE_OPS, TRAIN_OPS, Trace
from .collect import collect
from .faults import LIVELOCK_EVENTS, check_limits, drive, gc_paused, wait_report
from .interconnect import Channel, Interconnect, Transfer
from .kernel import AllDone, Env, Signal, fire
from .l1banks import conflict_overhead
from .pipeline import RowProgress, rows_needed, tile_rows

__all__ = ["Simulation", "simulate"]


class _Acct:
    """Per-layer accumulator: ps by category, bytes by route, energy by category."""

    __slots__ = ("ps", "bytes", "energy", "waits", "comp_energy", "by_res")

    def __init__(self):
        self.ps = dict.fromkeys(CATEGORIES, 0)
        self.bytes: dict = {}
        self.energy = {"compute": 0.0, "data_movement": 0.0, "programming": 0.0, "leakage": 0.0,
                       "postprocessing": 0.0}
        self.waits: dict = {}     # resource -> ps this layer's transfers queued on it
        self.comp_energy: dict = {}
        # category ("memory_stall" | "contention") -> resource -> ps of the layer's time in
        # that category charged to the resource (each sums to the category's ps)
        self.by_res: dict = {"memory_stall": {}, "contention": {}}

    def add_stall(self, resource: str, ps: int, category: str = "contention") -> None:
        if ps:
            d = self.by_res[category]
            d[resource] = d.get(resource, 0) + ps

    def add_energy(self, category: str, component: str, pj: float) -> None:
        self.energy[category] += pj
        self.comp_energy[component] = self.comp_energy.get(component, 0.0) + pj


class _Buffers:
    """Events and transfers of a layer's double-buffered tile pipeline, one slot per tile."""

    __slots__ = ("loaded", "computed", "stored", "load_x", "store_x")

    def __init__(self, env, n: int):
        self.loaded = [Signal(env) for _ in range(n)]
        self.computed = [Signal(env) for _ in range(n)]
        self.stored = [Signal(env) for _ in range(n)]
        self.load_x = [[] for _ in range(n)]     # transfers loading tile i
        self.store_x = [[] for _ in range(n)]    # transfers storing tile i


class Simulation:
    """One simulation of ``trace`` on ``platform`` (build, run, collect)."""

    def __init__(self, platform: Platform, trace: Trace, mapping: Mapping | None = None,
                 timeline=None):
        self.platform, self.trace = platform, trace
        self.mapping = mapping or map_trace(platform, trace)
        self.env = Env()
        # a path, or a Timeline made by the caller (e.g. full resolution)
        self.timeline = (timeline if isinstance(timeline, Timeline) or not timeline
                         else Timeline(timeline, platform))
        self.ic = Interconnect(self.env, platform, observer=self.timeline)
        self.engines = {c.name: Channel(self.env, c.name, "engine", c.clock, None, 1, owner=c.name)
                        for c in platform.engines()}
        self.done = {p.layer.name: Signal(self.env) for p in self.mapping.plans}
        self.engine_busy_ps = dict.fromkeys(self.engines, 0)
        self.accts: dict = {}
        self.spans: dict = {}
        self.dram_cursor: dict = {}  # timed memory -> next byte address (see _address)
        self.progress = {p.layer.name: RowProgress(self.env, p.layer.out_hw[0])
                         for p in self.mapping.plans}
        self.plan_of = {p.layer.name: p for p in self.mapping.plans}
        self._rows: dict = {}    # layer -> tile_rows of each tile (see rows)
        self._needs: dict = {}   # layer -> per tile ((producer's RowProgress, rows), ...)
        #: the models' memo of pure per-tile figures (durations, energies) within this run
        self.memo: dict = {}
        self.fidelity = fidelity_of(platform)
        self.ideal_act = self.fidelity.ideal_activation_memory

    # ------------------------------------------------------------------------------------
    def run(self, until_ps: int | None = None, max_sim_s: float | None = None,
            max_wall_s: float | None = None, livelock_events: int = LIVELOCK_EVENTS) -> SimulationResult:
        """Run to completion. Limits (see :mod:`hwsim.sim.faults`): ``until_ps`` / ``max_sim_s``
        on simulated time, ``max_wall_s`` on wall-clock time; hitting one with layers left
        raises :class:`SimulationLimitError`. A drained event queue (deadlock) or
        ``livelock_events`` events without time advancing raise :class:`DeadlockError`."""
        # the collector paused once for the events and the report's records (both make no
        # cycles): one collection after the run, not one after each
        with gc_paused():
            return self._run(until_ps, max_sim_s, max_wall_s, livelock_events)

    def _run(self, until_ps, max_sim_s, max_wall_s, livelock_events) -> SimulationResult:
        wall0 = _time.perf_counter()
        self.procs = {plan.layer.name: self.env.process(self._layer(plan))
                      for plan in self.mapping.plans}
        limit_ps = check_limits(until_ps, max_sim_s, max_wall_s)
        if limit_ps is not None:   # burst ends past the limit stay queued, as every event does
            self.ic.horizon = min(self.ic.horizon, limit_ps)
        try:
            why, events = drive(self.env, limit_ps, max_wall_s, livelock_events)
        except KeyboardInterrupt:
            why, events = "interrupted", 0
        except BaseException:
            if self.timeline is not None:
                self.timeline.close({"reason": "error", "at_ps": self.env._now})
            raise
        events += self.ic.in_place   # burst ends and latencies processed in place by trains
        unfinished = [n for n, ev in self.done.items() if not ev.processed]
        if self.timeline is not None:
            self.timeline.close({"reason": why, "at_ps": self.env._now,
                                 "layers_done": len(self.done) - len(unfinished),
                                 "layers_total": len(self.done)} if unfinished else None)
        if unfinished:
            self._fault(why, unfinished, limit_ps, max_wall_s)
        wall = _time.perf_counter() - wall0
        result = collect(self)
        result.perf = {"wall_s": wall, "events": events, "events_per_s": events / wall if wall else 0,
                       "sim_cycles_per_s": result.cycles / wall if wall else 0}
        return result

    def _fault(self, why: str, unfinished: list, limit_ps, max_wall_s):
        """Raise the error that says why the run stopped with ``unfinished`` layers."""
        now, total = self.env._now, len(self.done)
        done_n = total - len(unfinished)
        running = [n for n in unfinished if n in self.accts]
        got = (f"{done_n} of {total} layers done, simulated time reached {now} ps "
               f"({self.platform.reference_clock.ps_to_cycles(now):,} cycles of "
               f"{self.platform.reference_clock.name})")
        if running:
            got += "; running: " + ", ".join(running[:5]) + (" ..." if len(running) > 5 else "")
        if why == "interrupted":
            kept = f"; timeline {self.timeline.path} marked incomplete" if self.timeline else ""
            raise Interrupted(f"interrupted: {got}{kept}")
        if why in ("sim_limit", "wall_limit"):
            what = (f"simulated-time limit {limit_ps} ps" if why == "sim_limit"
                    else f"wall-clock limit {max_wall_s} s")
            raise SimulationLimitError(f"{what} reached: {got}", why[:-6], now, done_n, total, running)
        report = wait_report(self.ic.channels + list(self.engines.values()), self.done, self.procs,
                             {p.layer.name: p.depends_on for p in self.mapping.plans})
        if why == "livelock":
            raise DeadlockError(f"livelock: simulated time stopped advancing at {now} ps while "
                                f"layers remain ({got})", report, now, done_n, total, "livelock")
        raise DeadlockError(f"deadlock: no event left to process while layers remain ({got})",
                            report, now, done_n, total, "deadlock")

    # ------------------------------------------------------------------------------------
    def move(self, src: str, dst: str, nbytes: int, tag, xfers: list, acct: _Acct):
        """Move bytes from ``src`` to ``dst`` (staged over intermediate memories if needed)."""
        for route in self.ic.hops(src, dst):
            t = Transfer(tag, nbytes, route,
                         self._address(route, nbytes) if route.svc_channels else None)
            xfers.append(t)
            yield from self.ic.transfer(route, nbytes, tag, t)
            key = route.label
            acct.bytes[key] = acct.bytes.get(key, 0) + nbytes
            energy, by_comp = acct.energy, acct.comp_energy
            for comp, pj in route.energy_pj_per_byte:   # acct.add_energy, inlined
                e = nbytes * pj
                energy["data_movement"] += e
                by_comp[comp] = by_comp.get(comp, 0.0) + e
            if t.waits:
                for k, v in t.waits.items():
                    acct.waits[k] = acct.waits.get(k, 0) + v

    def free_move(self, src: str, dst: str, nbytes: int, acct: _Acct) -> None:
        """``fidelity.ideal_activation_memory``: count the bytes on every hop, in no time and
        for no energy."""
        if nbytes:
            for route in self.ic.hops(src, dst):
                key = route.label
                acct.bytes[key] = acct.bytes.get(key, 0) + nbytes

    def _ideal_loads(self, plan: LayerPlan, i: int, tile, acct: _Acct):
        """Tile ``i`` with its activation loads made free (ideal activation memory): only the
        weight bytes it loads from ``plan.weight_mem`` still move (a tile cut along other
        dimensions than channels x rows keeps its whole load from the weight memory)."""
        l = plan.layer
        w = 0
        if plan.weight_mem is not None:
            if l.op in TRAIN_OPS or "rows" not in plan.tile_shape:
                w = sum(n for m, n in tile.loads if m == plan.weight_mem)
            else:
                ci, h0, h1, _ = self.rows(plan)[i]
                co = plan.tile_shape["channels"]
                if h0 == 0:
                    w = tile_bytes(l, min(co, l.out_channels - ci * co), h0, h1, True)[1]
        loads = []
        for mem, nb in tile.loads:
            keep = min(nb, w) if mem == plan.weight_mem else 0
            w -= keep
            self.free_move(mem, plan.l1, nb - keep, acct)
            if keep:
                loads.append((mem, keep))
        return dataclasses.replace(tile, loads=tuple(loads))

    def _address(self, route, nbytes: int):
        """Byte address of a transfer in the timed memory (DRAM) it touches, else None.

        Deterministic layout: each timed memory hands out consecutive addresses in the order
        transfers touch it (tensors and tiles streamed in program order), wrapping at its
        size. A first-order stand-in for a tensor allocator: streaming keeps row locality.
        Called for routes with a timed channel (``svc_channels``) only."""
        for name in (route.src, route.dst):
            ch = self.ic.port.get(name)
            if ch is not None and ch.service is not None:
                size = self.platform.components[name].size_bytes
                a = self.dram_cursor.get(name, 0)
                self.dram_cursor[name] = (a + nbytes) % size if size else a + nbytes
                return a
        return None

    def _wait(self, event, xfers: list, acct: _Acct, why=None):
        """Wait for a tile's data; split the wait into contention and memory stall.
        ``why``: (plan, tile, "in"|"out"), for the timeline's wait slice."""
        if event.callbacks is None:   # processed already
            return
        env = self.env
        t0 = env._now
        q0 = 0
        for t in xfers:
            q = t.queued_until(t0)
            if q > q0:
                q0 = q
        snap = _queued_by_resource(xfers, t0)
        yield event
        waited = env._now - t0
        cont = min(waited, max(0, _most_queued(xfers) - q0))
        acct.ps["contention"] += cont
        acct.ps["memory_stall"] += waited - cont
        before = {c: dict(acct.by_res[c]) for c in ("memory_stall", "contention")} if self.timeline else None
        _attribute(acct, xfers, snap, t0, env._now, cont, waited - cont)
        if before is not None and why is not None:
            self._timeline_wait(why, acct, before, t0, cont, waited - cont)

    def _timeline_wait(self, why, acct: _Acct, before: dict, t0: int, cont: int, stall: int):
        """Draw a wait on the layer's engines that are free (or held by the layer itself),
        named by the resource this wait was charged to most."""
        plan, i, what = why
        charged = {}
        for c, was in before.items():
            for k, v in acct.by_res[c].items():
                if v - was.get(k, 0) > 0:
                    charged[k] = charged.get(k, 0) + v - was.get(k, 0)
        resource = max(sorted(charged), key=charged.get) if charged else "memory"
        me = self.env.active_process
        engines = [e for e in (plan.aimc.tiles if plan.aimc is not None else (plan.engine,))
                   if e in self.engines and (self.engines[e].in_use == 0 or me in self.engines[e].holders)]
        self.timeline.wait(engines, plan.layer.name, i, what, t0, self.env._now,
                           "contention" if cont > stall else "memory_stall", resource, stall, cont)

    def hold(self, name: str, acct: _Acct):
        """Take engine ``name``'s slot: use as ``yield from sim.hold(name, acct)``. When the
        slot is free it is taken at once and the result is ``()`` (no generator to run);
        else a generator that waits for it, the wait being contention on the engine."""
        ev = self.engines[name].acquire()
        return () if ev is None else self._hold_wait(ev, name, acct)

    def _hold_wait(self, ev, name: str, acct: _Acct):
        t0 = self.env._now
        yield ev
        waited = self.env._now - t0
        acct.ps["contention"] += waited
        acct.waits[name] = acct.waits.get(name, 0) + waited
        acct.add_stall(name, waited)

    # ------------------------------------------------------------------------------------
    def _layer(self, plan: LayerPlan):
        """The layer process: wait for its inputs, let its engine's model prepare, run the
        tiles through the double-buffered pipeline (loader, engine steps, storer), finish."""
        env, name = self.env, plan.layer.name
        yield from self._ready(plan)
        start = env._now
        acct = _Acct()
        self.accts[name] = acct
        comp = self.platform.components[plan.engine]
        model = model_of(comp)
        yield from model.prepare(self, comp, plan, acct)
        buf = _Buffers(env, len(plan.tiles))
        env.process(self._loader(plan, buf, acct))
        env.process(self._storer(plan, buf, acct))
        yield from self._compute(plan, comp, model, buf, acct)
        model.finish(self, comp, plan)
        self.spans[name] = (start, env._now)
        self.progress[name].advance(self.progress[name].total)
        if self.timeline is not None:
            self.timeline.layer(name, start, env._now, acct.ps)
        fire(self.done[name])

    def _ready(self, plan: LayerPlan):
        """Wait for the producers: all of them, or (pipelined) the rows the first tile needs."""
        if plan.pipelined:
            yield from self._await_rows(plan, 0)
        else:
            deps = [self.done[d] for d in plan.depends_on if not self.done[d].processed]
            if deps:
                yield AllDone(self.env, deps)

    def _loader(self, plan: LayerPlan, buf: _Buffers, acct: _Acct):
        """DMA tile ``i``'s inputs into L1 once buffer ``i % 2`` is free (tile ``i - 2`` computed)."""
        env, name = self.env, plan.layer.name
        for i, tile in enumerate(plan.tiles):
            if i >= 2 and buf.computed[i - 2].callbacks is not None:   # not processed yet
                yield buf.computed[i - 2]
            if plan.pipelined:
                yield from self._await_rows(plan, i)
            if self.ideal_act:
                tile = self._ideal_loads(plan, i, tile, acct)
            if len(tile.loads) == 1:
                mem, nb = tile.loads[0]
                yield from self.move(mem, plan.l1, nb, (name, f"t{i}", "in"), buf.load_x[i], acct)
            elif tile.loads:
                yield AllDone(env, [env.process(self.move(
                    mem, plan.l1, nb, (name, f"t{i}", "in"), buf.load_x[i], acct))
                    for mem, nb in tile.loads])
            fire(buf.loaded[i])

    def _storer(self, plan: LayerPlan, buf: _Buffers, acct: _Acct):
        """DMA tile ``i``'s outputs out of L1 once computed; publish rows for pipelining."""
        name = plan.layer.name
        rows = self.rows(plan)
        for i, tile in enumerate(plan.tiles):
            if not buf.computed[i].processed:
                yield buf.computed[i]
            for mem, nb in tile.stores:
                if self.ideal_act and (mem != plan.weight_mem or plan.layer.op not in TRAIN_OPS):
                    # an activation (training ops also store parameters): free
                    self.free_move(plan.l1, mem, nb, acct)
                    continue
                yield from self.move(plan.l1, mem, nb, (name, f"t{i}", "out"), buf.store_x[i], acct)
            fire(buf.stored[i])
            _, _, h1, last = rows[i]
            if last:
                self.progress[name].advance(h1)

    def _compute(self, plan: LayerPlan, comp, model, buf: _Buffers, acct: _Acct):
        """The engine's side: for each tile wait for its inputs and a free output buffer, then
        the model's step; finally wait for the last store."""
        loaded, stored = buf.loaded, buf.stored
        for i, tile in enumerate(plan.tiles):
            if plan.pipelined:   # waiting for the producer's rows is idle time, not a memory stall
                yield from self._await_rows(plan, i)
            # (an event already processed has no callbacks: no wait, no generator for it)
            if loaded[i].callbacks is not None:
                yield from self._wait(loaded[i], buf.load_x[i], acct, (plan, i, "in"))
            if i >= 2 and stored[i - 2].callbacks is not None:
                yield from self._wait(stored[i - 2], buf.store_x[i - 2], acct, (plan, i - 2, "out"))
            if plan.ring is not None:   # fused: the reader must be done with the rows overwritten
                yield from self._await_ring(plan, i)
            yield from model.step(self, comp, plan, tile, i, acct)
            fire(buf.computed[i])
        n = len(plan.tiles)
        yield from self._wait(buf.stored[n - 1], buf.store_x[n - 1], acct, (plan, n - 1, "out"))

    def rows(self, plan: LayerPlan) -> list:
        """:func:`tile_rows` of each tile of ``plan``, worked out once (the loader, the engine
        step, the storer and the models each read them)."""
        r = self._rows.get(plan.layer.name)
        if r is None:
            r = self._rows[plan.layer.name] = tile_rows(plan)
        return r

    def _await_rows(self, plan: LayerPlan, i: int):
        """Pipelining: wait until every producer has written the rows tile ``i`` needs (use as
        ``yield from``; like :meth:`hold`, ``()`` when there is nothing to wait for)."""
        needs = self._needs.get(plan.layer.name)
        if needs is None:   # (producer progress, rows) per tile, worked out once
            h1s = [h1 for _, _, h1, _ in self.rows(plan)]
            per_producer = [[(self.progress[d], r) for r in
                             rows_needed(plan.layer, self.plan_of[d].layer, h1s)]
                            for d in plan.depends_on]
            needs = self._needs[plan.layer.name] = (list(zip(*per_producer)) if per_producer
                                                    else [()] * len(h1s))
        for prog, need in needs[i]:
            if need > prog.rows:   # (RowProgress.wait's test, without the call when written)
                return self._rows_wait(needs[i])
        return ()   # written already: nothing to wait for, no generator

    @staticmethod
    def _rows_wait(needs: tuple):
        for prog, need in needs:   # one producer after another, as each is written
            if need > prog.rows:
                yield prog.wait(need)

    def _await_ring(self, plan: LayerPlan, i: int):
        """Fusion (:mod:`hwsim.mapping.fusion`): the output lives in a window of ``W`` rows of
        L1; tile ``i`` writes rows up to ``h1``, overwriting rows below ``h1 - W``. The reader
        has no more use for producer row ``x`` once it has written ``P`` output rows with
        ``P * stride - pad_top > x``; until then this tile waits (idle time)."""
        w, reader = plan.ring
        free_below = self.rows(plan)[i][2] - w
        if free_below <= 0:
            return ()
        c = self.plan_of[reader].layer
        s, pt = (1, 0) if c.op in ELEMENTWISE_OPS else (c.stride[0], c.padding[0])
        ev = self.progress[reader].wait(-(-(free_below + pt) // s))
        return () if ev is None else (ev,)   # for ``yield from``: no generator

    # -- services to the models' steps (hwsim.models.base.StepContext) -------------------------
    def release(self, name: str, busy_ps: int) -> None:
        """Free engine ``name``'s slot, booking ``busy_ps`` of work on it."""
        self.engines[name].release()
        self.engine_busy_ps[name] += busy_ps

    def busy(self, name: str, ps: int) -> None:
        """Book ``ps`` of work on engine ``name`` (its slot already held by the layer)."""
        self.engine_busy_ps[name] += ps

    def charge_wait(self, acct: _Acct, xfers: list, t0: int, rest: int) -> None:
        """An engine step's ``rest`` ps beyond its compute since ``t0`` waited on ``xfers``:
        the part they queued is contention, the rest memory stall (charged to resources)."""
        cont = min(rest, _most_queued(xfers))
        acct.ps["contention"] += cont
        acct.ps["memory_stall"] += rest - cont
        _attribute(acct, xfers, {}, t0, self.env._now, cont, rest - cont)

    def all_of(self, events) -> AllDone:
        """An event for a model's step to wait for all of ``events`` (see :class:`AllDone`)."""
        return AllDone(self.env, events)

    def bank_conflict_ps(self, cl, op: str, kernel_cycles: int, dur: int) -> int:
        """Extra ps the cores stall on L1 bank conflicts during a tile of ``kernel_cycles``
        conflict-free cycles (model per the L1's ``bank_model``, see :mod:`hwsim.sim.l1banks`)."""
        l1 = self.platform.components[cl.l1]
        if kernel_cycles <= 0:
            return 0
        ov = conflict_overhead(op, cl.cores, l1.banks, l1.bank_model, kernel_cycles)
        if not ov:
            return 0
        return cl.clock.cycles_to_ps(int(cl.clock.ps_to_cycles(dur) + round(kernel_cycles * ov))) - dur


def _most_queued(xfers: list) -> int:
    """The longest queueing time (ps) of ``xfers``, 0 for none (a loop: a generator
    expression under ``max`` costs more for these few transfers)."""
    q = 0
    for t in xfers:
        if t.queued_ps > q:
            q = t.queued_ps
    return q


def _queued_by_resource(xfers: list, now: int) -> dict:
    """Queueing time of ``xfers`` so far, by resource (waits in progress included)."""
    d: dict = {}
    for t in xfers:
        if t.waits:
            for k, v in t.waits.items():
                d[k] = d.get(k, 0) + v
        if t.waiting_since is not None:
            d[t.waiting_on] = d.get(t.waiting_on, 0) + now - t.waiting_since
    return d


def _attribute(acct: _Acct, xfers: list, snap: dict, t0: int, now: int, cont: int,
               stall: int) -> None:
    """Charge a wait of the layer, ``[t0, now)``, to resources: the contention part to the
    resources its transfers queued on meanwhile (in proportion to their queueing), the
    memory-stall part to the rate-limiting resource of each transfer in flight meanwhile (in
    proportion to its overlap with the wait: a staged L3 -> L2 -> L1 load charges mostly the
    slow hop). Shares are integer ps by largest remainder, so they sum exactly."""
    if cont:
        delta = {k: v - snap.get(k, 0) for k, v in _queued_by_resource(xfers, now).items()}
        if not _split(acct, {k: v for k, v in delta.items() if v > 0}, cont):
            stall += cont
    if stall:
        # overlap of each transfer with the wait, by bottleneck; no dict while there is one
        # bottleneck (the common case: it takes the whole stall, as _split would give it)
        one, one_ps, overlap = None, 0, None
        for t in xfers:
            start = t.start_ps
            if start is None:
                continue
            end = t.end_ps
            o = (now if end is None or end > now else end) - (t0 if t0 > start else start)
            if o > 0:
                k = t.route.bottleneck
                if overlap is None:
                    if one is None or k == one:
                        one, one_ps = k, one_ps + o
                        continue
                    overlap = {one: one_ps}
                overlap[k] = overlap.get(k, 0) + o
        if overlap is not None:
            _split(acct, overlap, stall, "memory_stall")
        else:
            acct.add_stall("memory" if one is None else one, stall, "memory_stall")


def _split(acct: _Acct, weights: dict, amount: int, category: str = "contention") -> bool:
    if len(weights) == 1:   # the common case: one resource takes it all
        for k, v in weights.items():
            if not v:
                return False
            acct.add_stall(k, amount, category)
            return True
    total = sum(weights.values())
    if not total:
        return False
    shares = {k: amount * v // total for k, v in weights.items()}
    left = amount - sum(shares.values())
    for k in sorted(weights, key=lambda k: (-(amount * weights[k] % total), k))[:left]:
        shares[k] += 1
    for k, v in shares.items():
        acct.add_stall(k, v, category)
    return True


def simulate(platform: Platform, trace: Trace, timeline=None, until_ps: int | None = None,
             max_sim_s: float | None = None, max_wall_s: float | None = None) -> SimulationResult:
    """Map ``trace`` onto ``platform``, run it, and return the :class:`SimulationResult`.

    Args:
        timeline: optional timeline to write: a path (Chrome trace JSON, or Perfetto protobuf
            if it ends in ``.pftrace``) or a :class:`~hwsim.report.timeline.Timeline` (e.g.
            ``Timeline(path, platform, full=True)`` for full resolution).
        until_ps / max_sim_s: optional limit on simulated time (ps / seconds).
        max_wall_s: optional limit on wall-clock seconds.

    Raises (all :class:`~hwsim.base.errors.HwsimError`, see ``docs/errors.md``):
        MappingError: the trace cannot be mapped onto the platform.
        SimulationLimitError: a limit hit with layers left (says how far the run got).
        DeadlockError: deadlock or livelock, with a report of who waits on whom.
    """
    return Simulation(platform, trace, timeline=timeline).run(until_ps, max_sim_s, max_wall_s)
