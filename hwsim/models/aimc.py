"""Analog in-memory-computing tile model (spec: :class:`hwsim.hardware.platform.AimcTile`).

Weights are stationary in crossbars, allocated over the whole network by the mapper
(:mod:`hwsim.mapping.aimc`: blocks, packing, bit slicing). A tile step: all crossbars of the
layer work in parallel on the tile's pixels; each runs ``tile.mvms`` MVM jobs of
``mvm_latency_cycles + job_overhead_cycles`` per block of the layer it holds (blocks sharing a
crossbar run one after another, :func:`hwsim.mapping.aimc.crossbar_mvms`) and streams its
blocks' inputs (``pixels x block rows`` bytes at the input width) from L1 and its outputs
(``mvms x block cols`` ADC values) back through its links: overlapped with the MVMs (``stream_mode: overlapped``: tile time =
max(MVMs, stream-in, stream-out)) or one after another (``sequential``: their sum). Streamer
time beyond the MVMs is the tile waiting for data (``memory_stall``, or ``contention`` when
queued). Row-split, input- and weight-slice partial sums are then added on the host cores
(``postprocessing`` energy). Energy: per MVM of a block of r rows and c columns
``energy_pj_per_mvm`` or ``mvm_fixed_pj + r pj_per_active_row + c pj_per_active_column``
(:func:`hwsim.mapping.aimc.tile_mvm_pj`); ``program_pj_per_row`` per programmed row. Peak:
``2 R C`` ops per MVM job; ``2 R C`` / a full-array MVM's energy TOPS/W.
"""
from __future__ import annotations

import math

from ..base.units import PS_PER_S, TERA
from ..hardware.platform import AimcTile
from ..hardware.registry import model_of
from ..mapping.aimc import (blocks_to_program, crossbar_mvms, crossbar_streams, layer_blocks,
                            mvm_job_cycles, peak_ops_per_s, peak_tops_per_w, stream_bytes_per_s,
                            tile_mvm_pj)
from .base import ComponentModel
from .cores import kernel_throughput, tile_work

__all__ = ["AimcModel"]


def _pixel_ps(platform, xb, l, lb) -> float:
    """ps of one output pixel on crossbar type ``xb``: ``islices`` jobs of
    :func:`hwsim.mapping.aimc.mvm_job_cycles`, each no shorter than streaming all blocks'
    inputs through L1's bandwidth (blocks run in parallel)."""
    bw = stream_bytes_per_s(platform, xb) / xb.clock.freq_hz     # bytes per tile cycle
    r = max(b[0] for b in lb.blocks)
    c = max(b[1] for b in lb.blocks)
    job = mvm_job_cycles(xb, r * l.bits_input / 8, c * xb.output_bits / 8, bw)
    tot_in = sum(b[0] for b in lb.blocks) * l.bits_input / 8 / bw
    return lb.islices * max(job, tot_in) / xb.clock.freq_hz * PS_PER_S


class AimcModel(ComponentModel, spec=AimcTile):
    kind = "aimc"
    weights_move = False
    crossbar = True

    def accepts(self, comp, layer) -> bool:
        return layer.is_weighted and layer_blocks(layer, comp).n_blocks > 0

    def estimate_ps(self, platform, xb, l, host) -> float:
        """``pixels * islices`` jobs of :func:`hwsim.mapping.aimc.mvm_job_cycles` (blocks in
        parallel, their streams sharing L1's bandwidth) plus ``(partials - 1)`` additions per
        output on the host cores (ASSUMED 0.5 add/cycle/core without an ``add`` kernel)."""
        lb = layer_blocks(l, xb) if l.is_weighted else None
        if lb is None or lb.n_blocks == 0:
            return math.inf
        pix = l.out_hw[0] * l.out_hw[1] * l.batch
        ps = pix * _pixel_ps(platform, xb, l, lb)
        if lb.partials > 1:
            thr = kernel_throughput(host, "add", 8) or 0.5
            ps += (pix * l.out_channels * (lb.partials - 1) / (host.cores * thr)
                   / host.clock.freq_hz * PS_PER_S)
        return ps

    def tile_estimate_ps(self, platform, xb, l, host, ops, channels, rows) -> float:
        """A tile as the engine runs it: its pixels' MVM jobs, then the host adding the partial
        sums of those ``channels`` x ``rows`` (:func:`hwsim.models.cores.tile_work` of ``add``:
        split over cores by rows, so a tile of few rows leaves cores idle) plus the host's
        ``tile_overhead_cycles``."""
        lb = layer_blocks(l, xb) if l.is_weighted else None
        if lb is None or lb.n_blocks == 0:
            return 0.0
        pix = rows * l.out_hw[1] * l.batch
        ps = pix * _pixel_ps(platform, xb, l, lb)
        if lb.partials > 1 and host is not None:
            acc = pix * channels * (lb.partials - 1)
            if kernel_throughput(host, "add", l.bits_key):
                cycles = tile_work(host, l, "add", acc, channels, rows).cycles
            else:
                cycles = acc / (host.cores * 0.5)   # as estimate_ps: ASSUMED 0.5 add/cycle/core
            ps += (cycles + host.tile_overhead_cycles) / host.clock.freq_hz * PS_PER_S
        return ps

    # -- engine ----------------------------------------------------------------------------
    def prepare(self, sim, comp, plan, acct):
        """A layer that (re)programs its crossbars owns them from programming to its last
        MVM: another layer must not rewrite them in between. Layers with stationary weights
        hold their crossbars per tile step only, so layers packed on one crossbar, or
        pipelined, interleave their MVMs."""
        if plan.holds_engine:
            for xb in plan.aimc.tiles:
                yield from sim.hold(xb, acct)
            yield from self._program(sim, plan, acct)

    def finish(self, sim, comp, plan) -> None:
        if plan.holds_engine:
            for xb in plan.aimc.tiles:
                sim.release(xb, 0)

    def step(self, sim, comp, plan, tile, i: int, acct):
        env = sim.env
        comps = sim.platform.components
        pl = plan.aimc
        own = not plan.holds_engine     # else the layer holds them already
        key = (comp.name, plan.layer.name, tile.mvms,
               None if plan.tile_blocks is None else plan.tile_blocks[i])
        figs = sim.memo.get(key)
        if figs is None:   # pure functions of the tile's active blocks and MVMs, worked out once
            per = crossbar_streams(plan, i, tile, comps)   # crossbar -> [bytes in, bytes out]
            active = pl.blocks if plan.tile_blocks is None else [pl.blocks[k] for k in plan.tile_blocks[i]]
            n_mvm = crossbar_mvms(active)  # blocks of this layer on one crossbar: MVMs one after another
            # per crossbar in one global order (no hold cycles): (its spec, [bytes in, out], MVM ps)
            jobs = tuple((comps[n], tuple(per[n]), comps[n].clock.cycles_to_ps(
                n_mvm[n] * tile.mvms * (comps[n].mvm_latency_cycles + comps[n].job_overhead_cycles)))
                for n in sorted(per))
            figs = sim.memo[key] = (tuple(sorted(per)), jobs,
                                    max((j[2] for j in jobs), default=0),
                                    tuple(sorted(tile_mvm_pj(plan, i, tile, comps).items())))
        names, jobs, mvm_ps, energy = figs
        if own:
            for xb in names:
                yield from sim.hold(xb, acct)
        t0 = env._now
        xfers: list = []
        procs = [env.process(self._job(sim, plan, xb, nbytes, mps, i, xfers, acct))
                 for xb, nbytes, mps in jobs]
        for xb_name, pj in energy:
            acct.add_energy("compute", xb_name, pj)
        yield sim.all_of(procs)
        span = env._now - t0
        for xb in names:
            if own:
                sim.release(xb, span)
            else:
                sim.busy(xb, span)
        acct.ps["compute"] += mvm_ps
        sim.charge_wait(acct, xfers, t0, span - mvm_ps)
        if sim.timeline is not None:
            for xb in names:
                sim.timeline.compute(xb, plan.layer.name, i, "mvm", t0, env.now, {"mvm_jobs": tile.mvms})
        if tile.acc_ops:
            host = comps[plan.cluster]
            yield from model_of(host).run_ops(sim, host, plan, tile.acc_ops, "add", i, acct,
                                              "accumulate")

    def _job(self, sim, plan, xb, nbytes, mvm_ps: int, i: int, xfers: list, acct):
        """One crossbar's share of a tile: stream in, MVMs, stream out (see ``stream_mode``)."""
        env, name = sim.env, plan.layer.name
        b_in, b_out = nbytes
        if sim.ideal_act:   # fidelity.ideal_activation_memory: activations stream for free
            sim.free_move(plan.l1, xb.name, b_in, acct)
            sim.free_move(xb.name, plan.l1, b_out, acct)
            b_in = b_out = 0

        if xb.stream_mode == "sequential":
            if b_in:
                yield from sim.move(plan.l1, xb.name, b_in, (name, f"t{i}", "stream-in"), xfers, acct)
            yield env.timeout(mvm_ps)
            if b_out:
                yield from sim.move(xb.name, plan.l1, b_out, (name, f"t{i}", "stream-out"), xfers, acct)
        else:
            s_in = self._stream(sim, plan.l1, xb.name, b_in, (name, f"t{i}", "stream-in"), xfers, acct)
            s_out = self._stream(sim, xb.name, plan.l1, b_out, (name, f"t{i}", "stream-out"), xfers,
                                 acct)
            yield sim.all_of([env.timeout(mvm_ps), env.process(s_in), env.process(s_out)])

    @staticmethod
    def _stream(sim, src: str, dst: str, nbytes: int, tag, xfers: list, acct):
        """A streamer's transfer as a process of its own (``stream_mode: parallel``)."""
        if nbytes:
            yield from sim.move(src, dst, nbytes, tag, xfers, acct)

    def _program(self, sim, plan, acct):
        """Write the layer's weights into its crossbars (already held by the layer): DMA each
        block's weights to its tile, then program its rows (``program_cycles_per_row`` each;
        tiles in parallel, the blocks of one tile one after another)."""
        env = sim.env
        comps = sim.platform.components
        t0 = env.now
        procs = []
        by_xb: dict = {}
        for xb_name, rows, nbytes in blocks_to_program(plan):
            by_xb.setdefault(xb_name, []).append((rows, nbytes))
        for xb_name, blocks in by_xb.items():

            def one(xb_name=xb_name, blocks=blocks):
                xb = comps[xb_name]
                for rows, nbytes in blocks:
                    yield from sim.move(plan.weight_mem, xb_name, nbytes,
                                        (plan.layer.name, "weights"), [], acct)
                    dur = xb.clock.cycles_to_ps(rows * xb.program_cycles_per_row)
                    yield env.timeout(dur)
                    acct.add_energy("programming", xb_name, rows * xb.program_pj_per_row)

            procs.append(env.process(one()))
        yield sim.all_of(procs)
        acct.ps["programming"] += env.now - t0
        for xb in plan.aimc.tiles:
            sim.busy(xb, env.now - t0)
        if sim.timeline is not None:
            for xb in plan.aimc.tiles:
                sim.timeline.compute(xb, plan.layer.name, "weights", "program", t0, env.now, {})

    def setup_cost(self, platform, plan) -> list:
        """One-time programming of a layer whose crossbars keep their weights (before the
        first inference, not in latency): ``[(crossbar, ps, pJ)]``."""
        out = []
        for xb_name, rows, _ in blocks_to_program(plan):
            xb = platform.components[xb_name]
            out.append((xb_name, xb.clock.cycles_to_ps(rows * xb.program_cycles_per_row),
                        rows * xb.program_pj_per_row))
        return out

    # -- reports ---------------------------------------------------------------------------
    def peak(self, comp) -> dict | None:
        return {"tops": peak_ops_per_s(comp) / TERA, "tops_per_w": peak_tops_per_w(comp)}
