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

import time as _time

import simpy

from ..base.errors import DeadlockError, Interrupted, SimulationError, SimulationLimitError
from .faults import LIVELOCK_EVENTS, check_limits, drive, wait_report
from ..mapping.aimc import blocks_to_program, crossbar_streams
from .interconnect import Channel, Interconnect, Transfer
from ..hardware.dw_accel import DwAccelerator
from ..report.efficiency import efficiency_totals
from .l1banks import conflict_overhead
from .pipeline import RowProgress, rows_needed, steady_state, tile_rows
from ..mapping.mapper import LayerPlan, Mapping, kernel_throughput, map_trace
from ..hardware.platform import AimcTile, CoreCluster, Memory, Platform
from ..report.stats import CATEGORIES, LayerRecord, ResourceStats, SimulationResult, split_cycles
from ..report.timeline import Timeline
from ..workload.trace import Trace
from ..base.units import PS_PER_S


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


class Simulation:
    """One simulation of ``trace`` on ``platform`` (build, run, collect)."""

    def __init__(self, platform: Platform, trace: Trace, mapping: Mapping | None = None,
                 timeline=None):
        self.platform, self.trace = platform, trace
        self.mapping = mapping or map_trace(platform, trace)
        self.env = simpy.Environment()
        self.timeline = Timeline(timeline, platform.name, platform.reference_clock) if timeline else None
        self.ic = Interconnect(self.env, platform, observer=self.timeline)
        self.engines = {c.name: Channel(self.env, c.name, "engine", c.clock, None, 1, owner=c.name)
                        for c in platform.components.values() if isinstance(c, (CoreCluster, AimcTile))}
        self.done = {p.layer.name: self.env.event() for p in self.mapping.plans}
        self.engine_busy_ps = dict.fromkeys(self.engines, 0)
        self.accts: dict = {}
        self._route_pj: dict = {}   # Route -> [(component, pJ/byte)]
        self.spans: dict = {}
        self.dram_cursor: dict = {}  # timed memory -> next byte address (see _address)
        self.progress = {p.layer.name: RowProgress(self.env, p.layer.out_hw[0])
                         for p in self.mapping.plans}
        self.plan_of = {p.layer.name: p for p in self.mapping.plans}

    # ------------------------------------------------------------------------------------
    def run(self, until_ps: int | None = None, max_sim_s: float | None = None,
            max_wall_s: float | None = None, livelock_events: int = LIVELOCK_EVENTS) -> SimulationResult:
        """Run to completion. Limits (see :mod:`hwsim.sim.faults`): ``until_ps`` / ``max_sim_s``
        on simulated time, ``max_wall_s`` on wall-clock time; hitting one with layers left
        raises :class:`SimulationLimitError`. A drained event queue (deadlock) or
        ``livelock_events`` events without time advancing raise :class:`DeadlockError`."""
        wall0 = _time.perf_counter()
        self.procs = {plan.layer.name: self.env.process(self._layer(plan))
                      for plan in self.mapping.plans}
        limit_ps = check_limits(until_ps, max_sim_s, max_wall_s)
        try:
            why = drive(self.env, limit_ps, max_wall_s, livelock_events)
        except KeyboardInterrupt:
            why = "interrupted"
        except BaseException:
            if self.timeline is not None:
                self.timeline.close({"reason": "error", "at_ps": self.env.now})
            raise
        unfinished = [n for n, ev in self.done.items() if not ev.processed]
        if self.timeline is not None:
            self.timeline.close({"reason": why, "at_ps": self.env.now,
                                 "layers_done": len(self.done) - len(unfinished),
                                 "layers_total": len(self.done)} if unfinished else None)
        if unfinished:
            self._fault(why, unfinished, limit_ps, max_wall_s)
        wall = _time.perf_counter() - wall0
        events = next(self.env._eid)  # SimPy numbers every scheduled event
        result = self._collect()
        result.perf = {"wall_s": wall, "events": events, "events_per_s": events / wall if wall else 0,
                       "sim_cycles_per_s": result.cycles / wall if wall else 0}
        return result

    def _fault(self, why: str, unfinished: list, limit_ps, max_wall_s):
        """Raise the error that says why the run stopped with ``unfinished`` layers."""
        now, total = self.env.now, len(self.done)
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
    def _move(self, src: str, dst: str, nbytes: int, tag, xfers: list, acct: _Acct):
        """Move bytes from ``src`` to ``dst`` (staged over intermediate memories if needed)."""
        for route in self.ic.hops(src, dst):
            t = Transfer(tag, nbytes, route, self._address(route, nbytes))
            xfers.append(t)
            yield from self.ic.transfer(route, nbytes, tag, t)
            key = f"{route.src}->{route.dst}"
            acct.bytes[key] = acct.bytes.get(key, 0) + nbytes
            self._transfer_energy(route, nbytes, acct)
            if t.waits:
                for k, v in t.waits.items():
                    acct.waits[k] = acct.waits.get(k, 0) + v

    def _transfer_energy(self, route, nbytes, acct: _Acct) -> None:
        """Source read, destination write and link energy of moving ``nbytes`` on ``route``."""
        costs = self._route_pj.get(route)
        if costs is None:   # (component, pJ/byte) of a route, worked out once
            comps = self.platform.components
            src, dst = comps[route.src], comps[route.dst]
            costs = []
            if isinstance(src, Memory) and src.read_pj_per_byte:
                costs.append((src.name, src.read_pj_per_byte))
            if isinstance(dst, Memory) and dst.write_pj_per_byte:
                costs.append((dst.name, dst.write_pj_per_byte))
            costs += [(c.owner, c.pj_per_byte) for c in route.channels
                      if c.kind == "link" and c.pj_per_byte]
            self._route_pj[route] = costs
        for name, pj in costs:
            acct.add_energy("data_movement", name, nbytes * pj)

    def _address(self, route, nbytes: int):
        """Byte address of a transfer in the timed memory (DRAM) it touches, else None.

        Deterministic layout: each timed memory hands out consecutive addresses in the order
        transfers touch it (tensors and tiles streamed in program order), wrapping at its
        size. A first-order stand-in for a tensor allocator: streaming keeps row locality."""
        for name in (route.src, route.dst):
            ch = self.ic.port.get(name)
            if ch is not None and ch.service is not None:
                size = self.platform.components[name].size_bytes
                a = self.dram_cursor.get(name, 0)
                self.dram_cursor[name] = (a + nbytes) % size if size else a + nbytes
                return a
        return None

    def _wait(self, event, xfers: list, acct: _Acct):
        """Wait for a tile's data; split the wait into contention and memory stall."""
        if event.processed:
            return
        env = self.env
        t0 = env.now
        q0 = max((t.queued_until(t0) for t in xfers), default=0)
        snap = _queued_by_resource(xfers, t0)
        yield event
        waited = env.now - t0
        q1 = max((t.queued_ps for t in xfers), default=0)
        cont = min(waited, max(0, q1 - q0))
        acct.ps["contention"] += cont
        acct.ps["memory_stall"] += waited - cont
        _attribute(acct, xfers, snap, t0, env.now, cont, waited - cont)

    def _hold_engine(self, name: str, acct: _Acct):
        ev = self.engines[name].acquire()
        if ev is not None:
            t0 = self.env.now
            yield ev
            acct.ps["contention"] += self.env.now - t0
            acct.waits[name] = acct.waits.get(name, 0) + self.env.now - t0
            acct.add_stall(name, self.env.now - t0)

    # ------------------------------------------------------------------------------------
    def _layer(self, plan: LayerPlan):
        env, layer = self.env, plan.layer
        pipelined = plan.pipelined
        if pipelined:   # start once the rows the first tile needs are written
            yield from self._await_rows(plan, 0)
        else:
            deps = [self.done[d] for d in plan.depends_on if not self.done[d].processed]
            if deps:
                yield simpy.AllOf(env, deps)
        start = env.now
        acct = _Acct()
        self.accts[layer.name] = acct
        if plan.aimc is not None and plan.aimc.program_each_inference:
            # A layer that (re)programs its crossbars owns them from programming to its last
            # MVM: another layer must not rewrite them in between. Layers with stationary
            # weights hold their crossbars per tile step only, so layers packed on one
            # crossbar, or pipelined, interleave their MVMs.
            for xb in plan.aimc.tiles:
                yield from self._hold_engine(xb, acct)
            yield from self._program(plan, acct)

        tiles, n = plan.tiles, len(plan.tiles)
        loaded = [env.event() for _ in range(n)]
        computed = [env.event() for _ in range(n)]
        stored = [env.event() for _ in range(n)]
        load_x = [[] for _ in range(n)]
        store_x = [[] for _ in range(n)]
        name = layer.name

        def loader():
            for i, tile in enumerate(tiles):
                if i >= 2 and not computed[i - 2].processed:
                    yield computed[i - 2]
                if pipelined:
                    yield from self._await_rows(plan, i)
                if len(tile.loads) == 1:
                    mem, nb = tile.loads[0]
                    yield from self._move(mem, plan.l1, nb, (name, f"t{i}", "in"), load_x[i], acct)
                elif tile.loads:
                    yield simpy.AllOf(env, [env.process(self._move(
                        mem, plan.l1, nb, (name, f"t{i}", "in"), load_x[i], acct))
                        for mem, nb in tile.loads])
                loaded[i].succeed()

        def storer():
            for i, tile in enumerate(tiles):
                if not computed[i].processed:
                    yield computed[i]
                for mem, nb in tile.stores:
                    yield from self._move(plan.l1, mem, nb, (name, f"t{i}", "out"), store_x[i], acct)
                stored[i].succeed()
                _, _, h1, last = tile_rows(plan, i)
                if last:
                    self.progress[name].advance(h1)

        env.process(loader())
        env.process(storer())
        for i, tile in enumerate(tiles):
            if pipelined:   # waiting for the producer's rows is idle time, not a memory stall
                yield from self._await_rows(plan, i)
            yield from self._wait(loaded[i], load_x[i], acct)
            if i >= 2:
                yield from self._wait(stored[i - 2], store_x[i - 2], acct)
            if plan.engine_kind == "aimc":
                yield from self._aimc_step(plan, tile, i, acct)
            else:
                yield from self._core_step(plan, tile.ops, layer.op, i, acct)
            computed[i].succeed()
        yield from self._wait(stored[n - 1], store_x[n - 1], acct)
        if plan.aimc is not None and plan.aimc.program_each_inference:
            for xb in plan.aimc.tiles:
                self.engines[xb].release()
        self.spans[name] = (start, env.now)
        self.progress[name].advance(self.progress[name].total)
        if self.timeline is not None:
            self.timeline.span("layers", "layers", name, start, env.now, "layer",
                               {k: v for k, v in acct.ps.items() if v})
        self.done[name].succeed()

    def _await_rows(self, plan: LayerPlan, i: int):
        """Pipelining: wait until every producer has written the rows tile ``i`` needs."""
        _, h0, h1, _ = tile_rows(plan, i)
        for d in plan.depends_on:
            need = rows_needed(plan.layer, self.plan_of[d].layer, h0, h1)
            ev = self.progress[d].wait(need)
            if ev is not None:
                yield ev

    def _core_step(self, plan: LayerPlan, ops: int, op: str, i: int, acct: _Acct, label="compute"):
        on_accel = plan.engine_kind == "dw_accelerator" and label == "compute"
        cl: CoreCluster = self.platform.components[plan.engine if on_accel else plan.cluster]
        thr = kernel_throughput(cl, op, plan.layer.bits_key)
        cycles = -(-ops // (cl.cores * thr)) + cl.tile_overhead_cycles
        yield from self._hold_engine(cl.name, acct)
        t0 = self.env.now
        dur = cl.clock.cycles_to_ps(int(cycles))
        conflict_ps = self._bank_conflict_ps(cl, op, int(cycles) - cl.tile_overhead_cycles, dur)
        yield self.env.timeout(dur + conflict_ps)
        self.engines[cl.name].release()
        self.engine_busy_ps[cl.name] += dur + conflict_ps
        acct.ps["compute"] += dur
        if conflict_ps:
            acct.ps["contention"] += conflict_ps
            acct.add_stall(f"{cl.l1}.banks", conflict_ps)
        e = cl.energy_pj_per_op.get(op, cl.energy_pj_per_op.get("default", 0.0))
        acct.add_energy("postprocessing" if label == "accumulate" else "compute", cl.name, ops * e)
        if self.timeline is not None:
            self.timeline.span("engines", cl.name, f"{plan.layer.name} t{i} {label}", t0,
                               self.env.now, "compute", {"ops": ops})

    def _bank_conflict_ps(self, cl: CoreCluster, op: str, kernel_cycles: int, dur: int) -> int:
        """Extra ps the cores stall on L1 bank conflicts during a tile of ``kernel_cycles``
        conflict-free cycles (model per the L1's ``bank_model``, see :mod:`hwsim.sim.l1banks`)."""
        if isinstance(cl, DwAccelerator):
            # a fixed-function datapath, not cores running the bundled kernels' access
            # patterns (hwsim.sim.l1banks): no conflict model for it
            return 0
        l1 = self.platform.components[cl.l1]
        if l1.banks <= 1 or l1.bank_model == "off" or kernel_cycles <= 0:
            return 0
        ov = conflict_overhead(op, cl.cores, l1.banks, l1.bank_model, kernel_cycles)
        if not ov:
            return 0
        return cl.clock.cycles_to_ps(int(cl.clock.ps_to_cycles(dur) + round(kernel_cycles * ov))) - dur

    def _aimc_step(self, plan: LayerPlan, tile, i: int, acct: _Acct):
        """All crossbars of the layer work in parallel on the tile's pixels. Each runs
        ``tile.mvms`` MVM jobs of ``mvm_latency_cycles + job_overhead_cycles`` and streams its
        block's inputs (``pixels x block rows`` bytes at the input width) from L1 and its outputs
        (``mvms x block cols`` ADC values) back through its links: overlapped with the MVMs
        (``stream_mode: overlapped``: tile time = max(MVMs, stream-in, stream-out)) or one
        after another (``sequential``: their sum). Streamer time beyond the MVMs is the tile
        waiting for data (``memory_stall``, or ``contention`` when queued). Row-split, input- and
        weight-slice partial sums are then added on the cores (``postprocessing`` energy)."""
        env = self.env
        comps = self.platform.components
        pl = plan.aimc
        own = not pl.program_each_inference     # else the layer holds them already
        per = crossbar_streams(plan, i, tile, comps)   # crossbar -> [bytes in, bytes out]
        names = tuple(sorted(per))   # one global order: no hold cycles
        if own:
            for xb in names:
                yield from self._hold_engine(xb, acct)
        t0 = env.now
        xfers: list = []
        procs = []
        mvm_ps = 0
        snap: dict = {}
        for xb_name in names:
            xb: AimcTile = comps[xb_name]
            mps = xb.clock.cycles_to_ps(tile.mvms * (xb.mvm_latency_cycles + xb.job_overhead_cycles))
            mvm_ps = max(mvm_ps, mps)
            procs.append(env.process(self._xbar_job(plan, xb, per[xb_name], mps, i, xfers, acct)))
            acct.add_energy("compute", xb_name, tile.mvms * xb.energy_pj_per_mvm)
        yield simpy.AllOf(env, procs)
        span = env.now - t0
        for xb in names:
            if own:
                self.engines[xb].release()
            self.engine_busy_ps[xb] += span
        acct.ps["compute"] += mvm_ps
        rest = span - mvm_ps
        q = max((t.queued_ps for t in xfers), default=0)
        cont = min(rest, q)
        acct.ps["contention"] += cont
        acct.ps["memory_stall"] += rest - cont
        _attribute(acct, xfers, snap, t0, env.now, cont, rest - cont)
        if self.timeline is not None:
            for xb in names:
                self.timeline.span("engines", xb, f"{plan.layer.name} t{i} mvm", t0, env.now,
                                   "compute", {"mvms": tile.mvms})
        if tile.acc_ops:
            yield from self._core_step(plan, tile.acc_ops, "add", i, acct, "accumulate")

    def _xbar_job(self, plan, xb: AimcTile, nbytes, mvm_ps: int, i: int, xfers: list, acct: _Acct):
        """One crossbar's share of a tile: stream in, MVMs, stream out (see ``stream_mode``)."""
        env, name = self.env, plan.layer.name
        b_in, b_out = nbytes

        def s_in():
            if b_in:
                yield from self._move(plan.l1, xb.name, b_in, (name, f"t{i}", "stream-in"), xfers, acct)

        def s_out():
            if b_out:
                yield from self._move(xb.name, plan.l1, b_out, (name, f"t{i}", "stream-out"), xfers, acct)

        if xb.stream_mode == "sequential":
            yield from s_in()
            yield env.timeout(mvm_ps)
            yield from s_out()
        else:
            yield simpy.AllOf(env, [env.timeout(mvm_ps), env.process(s_in()), env.process(s_out())])

    def _program(self, plan: LayerPlan, acct: _Acct):
        """Write the layer's weights into its crossbars (already held by the layer): DMA each
        block's weights to its tile, then program its rows (``program_cycles_per_row`` each;
        tiles in parallel)."""
        env = self.env
        comps = self.platform.components
        t0 = env.now
        procs = []
        for xb_name, rows, nbytes in blocks_to_program(plan):

            def one(xb_name=xb_name, rows=rows, nbytes=nbytes):
                xb: AimcTile = comps[xb_name]
                yield from self._move(plan.weight_mem, xb_name, nbytes,
                                      (plan.layer.name, "weights"), [], acct)
                dur = xb.clock.cycles_to_ps(rows * xb.program_cycles_per_row)
                yield env.timeout(dur)
                acct.add_energy("programming", xb_name, rows * xb.program_pj_per_row)

            procs.append(env.process(one()))
        yield simpy.AllOf(env, procs)
        acct.ps["programming"] += env.now - t0
        for xb in plan.aimc.tiles:
            self.engine_busy_ps[xb] += env.now - t0
        if self.timeline is not None:
            for xb in plan.aimc.tiles:
                self.timeline.span("engines", xb, f"{plan.layer.name} program", t0, env.now,
                                   "programming")

    # ------------------------------------------------------------------------------------
    def _collect(self) -> SimulationResult:
        p, ref = self.platform, self.platform.reference_clock
        makespan = self.env.now
        level = {m.name: m.level for m in p.of_type(Memory)}
        # Leakage: total power x makespan, split over layers by completion order.
        leak_mw = {c.name: c.leakage_mw for c in p.components.values() if c.leakage_mw}
        leak_total_mw = sum(leak_mw.values())
        order = sorted(self.mapping.plans, key=lambda pl: (self.spans[pl.layer.name][1],
                                                           self.mapping.plans.index(pl)))
        prev_end = 0
        for pl in order:
            end = self.spans[pl.layer.name][1]
            self.accts[pl.layer.name].energy["leakage"] = leak_total_mw * (end - prev_end) * 1e-3  # mW x ps = 1e-3 pJ
            prev_end = end
        records = []
        for pl in self.mapping.plans:
            l, acct = pl.layer, self.accts[pl.layer.name]
            start, end = self.spans[l.name]
            total = end - start
            attributed = sum(acct.ps[c] for c in CATEGORIES if c != "idle")
            if attributed > total:
                raise SimulationError(f"layer {l.name}: attributed {attributed} ps > span {total} ps")
            acct.ps["idle"] = total - attributed
            cyc = split_cycles(ref, [acct.ps[c] for c in CATEGORIES], total)
            by_level: dict = {}
            for key, nb in acct.bytes.items():
                for mem in key.split("->"):
                    if mem in level:
                        by_level[level[mem]] = by_level.get(level[mem], 0) + nb
            worst = max(CATEGORIES, key=lambda c: acct.ps[c])
            bottleneck = worst
            top, top_ps = "", 0
            both = dict(acct.by_res["memory_stall"])
            for k, v in acct.by_res["contention"].items():
                both[k] = both.get(k, 0) + v
            if both:  # the resource the layer waited on most (stall + contention)
                top = max(sorted(both), key=lambda k: both[k])
                top_ps = both[top]
            if worst in ("memory_stall", "contention") and acct.by_res[worst]:
                d = acct.by_res[worst]
                bottleneck = f"{worst}:{max(sorted(d), key=lambda k: d[k])}"
            records.append(LayerRecord(
                name=l.name, op=l.op, engine=pl.engine, engine_kind=pl.engine_kind,
                start_ps=start, end_ps=end, cycles=sum(cyc),
                compute_cycles=cyc[0], memory_stall_cycles=cyc[1], contention_cycles=cyc[2],
                programming_cycles=cyc[3], idle_cycles=cyc[4], macs=l.macs, ops=l.ops,
                n_tiles=pl.n_tiles, tile_shape=pl.tile_shape, input_in=pl.input_mem,
                weights_in=(pl.weight_mem or ("crossbar" if pl.aimc else "-")),
                output_in=pl.output_mem, l1_bytes=pl.l1_bytes, bytes_moved=dict(sorted(acct.bytes.items())),
                bytes_by_level=dict(sorted(by_level.items())), energy_pj=dict(acct.energy),
                waits_ps=dict(sorted(acct.by_res["contention"].items())), bottleneck=bottleneck,
                stall_ps=dict(sorted(acct.by_res["memory_stall"].items())),
                queued_ps=dict(sorted(acct.waits.items())), top_wait=top,
                top_wait_cycles=ref.ps_to_cycles(top_ps),
                crossbar_utilisation=pl.aimc.utilisation if pl.aimc else None))
        # Energy by component: dynamic (from every layer) + leakage over the makespan.
        by_comp: dict = {}
        for acct in self.accts.values():
            for k, v in acct.comp_energy.items():
                by_comp[k] = by_comp.get(k, 0.0) + v
        for name, mw in leak_mw.items():
            by_comp[name] = by_comp.get(name, 0.0) + mw * 1e-3 * makespan
        resources = []
        for ch in self.ic.channels + list(self.engines.values()):
            busy = self.engine_busy_ps[ch.name] if ch.kind == "engine" else ch.busy_ps
            clock = ch.clock or ref
            resources.append(ResourceStats(
                name=ch.name, kind=ch.kind, capacity=ch.capacity,
                utilisation=busy / (ch.capacity * makespan) if makespan else 0.0, bytes=ch.bytes,
                grants=ch.n_grants, waits=ch.n_waits,
                mean_wait_cycles=(clock.ps_to_cycles_floor(ch.wait_ps) / ch.n_waits) if ch.n_waits else 0.0,
                max_queue=ch.max_queue, **_wait_stats(ch, clock, makespan)))
        l3 = sum(r.bytes_by_level.get("L3", 0) for r in records)
        setup = self._setup_cost()
        busy = dict(self.engine_busy_ps)
        busy.update({ch.name: ch.busy_ps / ch.capacity for ch in self.ic.channels})
        setup.update(steady_state(busy, makespan, stages=set(self.engine_busy_ps)))
        setup.update(efficiency_totals(p, records, makespan, sum(by_comp.values())))
        return SimulationResult(
            platform=p.name, trace=self.trace.name, reference_clock=ref, layers=records,
            makespan_ps=makespan, resources=resources,
            energy_by_component_pj=dict(sorted(by_comp.items())),
            totals={"l3_bytes": l3, "l2_bytes": sum(r.bytes_by_level.get("L2", 0) for r in records),
                    "weights_in_l3_bytes": self.mapping.weights_in_l3_bytes, **setup},
            mapping=dict(self.mapping.summary))

    def _setup_cost(self) -> dict:
        """One-time AIMC programming when every AIMC layer keeps its crossbars (not in latency)."""
        per_xb: dict = {}
        pj = 0.0
        for pl in self.mapping.program_once:
            for xb_name, rows, _ in blocks_to_program(pl):
                xb = self.platform.components[xb_name]
                per_xb[xb_name] = per_xb.get(xb_name, 0) + xb.clock.cycles_to_ps(rows * xb.program_cycles_per_row)
                pj += rows * xb.program_pj_per_row
        ps = max(per_xb.values(), default=0)
        return {"setup_programming_s": ps / PS_PER_S, "setup_programming_pj": pj}


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
        overlap: dict = {}
        for t in xfers:
            if t.start_ps is None:
                continue
            o = min(now, t.end_ps if t.end_ps is not None else now) - max(t0, t.start_ps)
            if o > 0:
                k = t.route.bottleneck
                overlap[k] = overlap.get(k, 0) + o
        if not _split(acct, overlap, stall, "memory_stall"):
            acct.add_stall("memory", stall, "memory_stall")


def _split(acct: _Acct, weights: dict, amount: int, category: str = "contention") -> bool:
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


def _wait_stats(ch: Channel, clock, makespan: int) -> dict:
    """Waiting-time distribution (over all grants, zero waits included) and queue depth."""
    cyc = clock.ps_to_cycles_floor
    n = ch.n_grants
    return {"policy": ch.policy,
            "mean_wait_all_cycles": cyc(ch.wait_ps) / n if n else 0.0,
            "p50_wait_cycles": cyc(ch.wait_percentile_ps(0.50)),
            "p95_wait_cycles": cyc(ch.wait_percentile_ps(0.95)),
            "max_wait_cycles": cyc(max(ch.wait_samples, default=0)),
            "mean_queue": ch.queue_area / makespan if makespan else 0.0}


def simulate(platform: Platform, trace: Trace, timeline=None, until_ps: int | None = None,
             max_sim_s: float | None = None, max_wall_s: float | None = None) -> SimulationResult:
    """Map ``trace`` onto ``platform``, run it, and return the :class:`SimulationResult`.

    Args:
        timeline: optional path of a Chrome-trace/Perfetto JSON file to write.
        until_ps / max_sim_s: optional limit on simulated time (ps / seconds).
        max_wall_s: optional limit on wall-clock seconds.

    Raises (all :class:`~hwsim.base.errors.HwsimError`, see ``docs/errors.md``):
        MappingError: the trace cannot be mapped onto the platform.
        SimulationLimitError: a limit hit with layers left (says how far the run got).
        DeadlockError: deadlock or livelock, with a report of who waits on whom.
    """
    return Simulation(platform, trace, timeline=timeline).run(until_ps, max_sim_s, max_wall_s)
