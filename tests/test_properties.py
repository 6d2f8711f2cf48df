"""Property-based tests (hypothesis): random valid platforms and traces obey the simulator's
invariants; random invalid inputs are rejected with the documented error types.

Profiles (``HWSIM_HYPOTHESIS_PROFILE``): ``default`` (few examples, the normal test run),
``ci`` (a few hundred), ``thorough`` (thousands; minutes). Example:
``HWSIM_HYPOTHESIS_PROFILE=ci python -m pytest -q tests/test_properties.py``.

Invariants checked on every generated run (closed forms derived from the timing model in
``hwsim/sim/interconnect.py`` and ``hwsim/sim/engine.py``):

* attributed cycles (compute + stall + contention + programming + idle) equal the layer's
  cycles, which equal its span converted to reference-clock cycles;
* bytes moved per hop equal the mapper's plan expanded over the interconnect's staging hops
  (plus AIMC streams and crossbar programming);
* each layer's span is at least its roofline bound: max(compute-only time (each core tile
  stretched by its L1 bank conflicts, ``hwsim.sim.l1banks``), for every channel the layer's own
  bytes through it / bandwidth / capacity, a DRAM's at its peak data rate);
* the makespan is at most the fully serialised bound (every transfer, set-up, latency, DRAM
  worst-case service and compute step one after another, then inflated by DRAM refresh:
  ``(T + 2 tRFC) / (1 - tRFC/tREFI)``); per layer too when layers run strictly in sequence;
* memory stall and contention charged to resources sum to the layer's (exact ps), and the
  contention charged to ``<l1>.banks`` is exactly the bank-conflict stretch of its tiles;
* utilisation of every resource in [0, 1]; total energy equals the sum over layers and
  over components; layers start after their producers end;
* the Perfetto timeline's layer spans equal the report's, its transfer spans carry exactly
  the bytes of the report, and core compute spans add up to the compute cycles (plus the
  bank-conflict stalls inside them);
* after a run no channel is held or queued on (holder bookkeeping of every grant path and
  arbitration policy balances).

Generated platforms draw L1 banks (bank-conflict model on), arbitration policies, DMA
descriptor queues / read-write channels and an L3 that is a plain memory or a timed DRAM.
"""
from __future__ import annotations

import copy
import json
import math
import os
import tempfile
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import simpy
import yaml
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

import hwsim
from hwsim.mapping.aimc import blocks_to_program, crossbar_streams
from hwsim.base.errors import ConfigError, HwsimError
from hwsim.sim.interconnect import DEFAULT_BURST_BYTES, Interconnect
from hwsim.sim.l1banks import conflict_overhead
from hwsim.mapping.mapper import map_trace
from hwsim.models.cores import kernel_throughput
from hwsim.hardware.platform import COMPONENT_TYPES
from hwsim.report.stats import CATEGORIES
from hwsim.workload.trace import OPS

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                     HealthCheck.filter_too_much])
settings.register_profile("default", max_examples=12, **_COMMON)
settings.register_profile("ci", max_examples=300, **_COMMON)
settings.register_profile("thorough", max_examples=3000, **_COMMON)
settings.load_profile(os.environ.get("HWSIM_HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------
# Generators of valid inputs
# ------------------------------------------------------------------------------------------
ARBITRATIONS = st.sampled_from(["fifo", "fifo", "round_robin", "fixed_priority"])


@st.composite
def dma_queue_fields(draw) -> dict:
    """Descriptor queue, separate read/write burst channels and priority of a DMA engine
    (often left at their defaults)."""
    if draw(st.booleans()):
        return {}
    return {"queue_depth": draw(st.integers(0, 3)), "max_outstanding_bursts": draw(st.integers(0, 3)),
            "bandwidth_bytes_per_cycle": draw(st.sampled_from([0, 2, 4, 16, 3.5])),
            "priority": draw(st.integers(0, 3))}


@st.composite
def drams(draw) -> dict:
    """A valid L3 ``dram`` (timing model hwsim.sim.dram): the bundled HyperRAM parameters or a
    random open/closed-page device (every constraint of ``_check_dram`` met by construction)."""
    if draw(st.booleans()):   # platforms/pulp_cluster.yaml's HyperRAM
        return {"type": "dram", "level": "L3", "size_bytes": 8_000_000, "data_bus_bits": 8,
                "transfers_per_cycle": 2, "burst_length": 2, "row_bytes": 1024, "banks": 1,
                "page_policy": "closed", "t_rcd_cycles": 3, "t_cl_cycles": 6, "t_refi_cycles": 781,
                "t_rfc_cycles": 4, "max_transaction_bytes": 782}
    bus = draw(st.sampled_from([8, 16, 32]))
    bl = draw(st.sampled_from([2, 8, 16]))
    atom = bus // 8 * bl
    refi = draw(st.sampled_from([0, 500, 3000, 8000]))
    return {"type": "dram", "level": "L3", "size_bytes": draw(st.integers(8 * 10**6, 64 * 10**6)),
            "data_bus_bits": bus, "transfers_per_cycle": draw(st.integers(1, 2)), "burst_length": bl,
            "row_bytes": atom * draw(st.sampled_from([4, 16, 64])),
            "banks": draw(st.sampled_from([1, 2, 4, 8])),
            "page_policy": draw(st.sampled_from(["open", "closed"])),
            "address_map": draw(st.sampled_from(["row_bank_col", "bank_row_col"])),
            "t_rcd_cycles": draw(st.integers(0, 40)), "t_cl_cycles": draw(st.integers(0, 40)),
            "t_rp_cycles": draw(st.integers(0, 40)), "t_ras_cycles": draw(st.integers(0, 80)),
            "t_refi_cycles": refi, "t_rfc_cycles": draw(st.integers(1, min(300, refi - 1))) if refi else 0,
            "max_transaction_bytes": atom * draw(st.sampled_from([0, 1, 8, 64])),
            "arbitration": draw(ARBITRATIONS)}


@st.composite
def platforms(draw, aimc=None, l3=None, spill=None) -> dict:
    """A random valid platform document: 1-3 clock domains, an L1/L2 (optional L3), a
    cluster DMA, L2->L1 through a direct link, a router or a chain of routers, L3 staged
    through L2 or routed straight to the fabric, optional AIMC tiles (directly on L1 or
    behind a bus)."""
    n_clk = draw(st.integers(1, 3))
    clocks = {f"c{i}": draw(st.one_of(st.integers(10, 1000).map(lambda m: m * 10**6),
                                      st.integers(10**7, 2 * 10**9)))
              for i in range(n_clk)}
    clk = st.sampled_from(sorted(clocks))
    thr = st.sampled_from([0.25, 0.5, 1.0, 1.5, 1.9375, 2.0, 4.0])
    comps = {
        "cluster": {"type": "core_cluster", "clock": draw(clk), "cores": draw(st.integers(1, 16)),
                    "l1": "l1", "kernels": {op: draw(thr) for op in OPS},
                    "tile_overhead_cycles": draw(st.integers(0, 300)),
                    "energy_pj_per_op": {"default": draw(st.floats(0, 5))},
                    "leakage_mw": draw(st.floats(0, 1))},
        "l1": {"type": "memory", "level": "L1", "clock": draw(clk),
               "size_bytes": draw(st.integers(16 * 1024, 256 * 1024)),
               "ports": draw(st.integers(1, 4)),
               "port_bandwidth_bytes_per_cycle": draw(st.sampled_from([4, 8, 16, 32, 64, 12.5])),
               "latency_cycles": draw(st.integers(0, 5)), "read_pj_per_byte": draw(st.floats(0, 2)),
               "write_pj_per_byte": draw(st.floats(0, 2)),
               # banked L1: the cores' bank-conflict model (hwsim.sim.l1banks) stretches compute
               "banks": draw(st.sampled_from([1, 8, 16, 32])),
               "bank_model": draw(st.sampled_from(["fast", "fast", "off"])),
               "arbitration": draw(ARBITRATIONS)},
        "l2": {"type": "memory", "level": "L2", "clock": draw(clk),
               "size_bytes": draw(st.integers(256 * 1024, 4 * 2**20)),
               "ports": draw(st.integers(1, 2)),
               "port_bandwidth_bytes_per_cycle": draw(st.sampled_from([2, 4, 8, 16, 6.4])),
               "latency_cycles": draw(st.integers(0, 20)), "read_pj_per_byte": draw(st.floats(0, 5)),
               "write_pj_per_byte": draw(st.floats(0, 5)), "leakage_mw": draw(st.floats(0, 1)),
               "arbitration": draw(ARBITRATIONS)},
        "dma": {"type": "dma", "clock": draw(clk), "max_outstanding": draw(st.integers(1, 4)),
                "setup_cycles": draw(st.integers(0, 50)),
                "burst_bytes": draw(st.sampled_from([64, 256, 1000, 1024, 4096])),
                **draw(dma_queue_fields())},
    }

    def link(a, b):
        return {"between": [a, b], "clock": draw(clk),
                "bandwidth_bytes_per_cycle": draw(st.sampled_from([1, 2, 4, 8, 16, 32, 3.2])),
                "latency_cycles": draw(st.integers(0, 10)),
                "duplex": draw(st.sampled_from(["full", "half"])), "pj_per_byte": draw(st.floats(0, 1)),
                "arbitration": draw(ARBITRATIONS)}

    links = []
    topo = draw(st.sampled_from(["direct", "router", "chain"]))
    n_routers = {"direct": 0, "router": 1, "chain": draw(st.integers(2, 4))}[topo]
    chain = ["l2"] + [f"r{i}" for i in range(n_routers)] + ["dma", "l1"]
    for i in range(n_routers):
        comps[f"r{i}"] = {"type": "router", "clock": draw(clk)}
    links += [link(a, b) for a, b in zip(chain, chain[1:])]
    if l3 is None:
        l3 = draw(st.sampled_from([None, "memory", "dram"]))
    if l3 == "memory":
        comps["l3"] = {"type": "memory", "level": "L3", "clock": draw(clk),
                       "size_bytes": draw(st.integers(8 * 10**6, 64 * 10**6)),
                       "port_bandwidth_bytes_per_cycle": draw(st.sampled_from([1, 2, 4])),
                       "latency_cycles": draw(st.integers(0, 50)),
                       "read_pj_per_byte": draw(st.floats(0, 400)), "write_pj_per_byte": draw(st.floats(0, 400))}
    elif l3 == "dram":
        comps["l3"] = {"clock": draw(clk), **draw(drams()),
                       "read_pj_per_byte": draw(st.floats(0, 400)), "write_pj_per_byte": draw(st.floats(0, 400))}
    if l3:
        if draw(st.booleans()) if spill is None else spill:   # a small L2: data spill to L3
            comps["l2"]["size_bytes"] = draw(st.integers(256, 8 * 1024))
        comps["udma"] = {"type": "dma", "clock": draw(clk), "max_outstanding": draw(st.integers(1, 2)),
                         "setup_cycles": draw(st.integers(0, 30)),
                         "burst_bytes": draw(st.sampled_from([256, 1024])), **draw(dma_queue_fields())}
        links.append(link("l3", "udma"))
        # staged through L2, or straight onto the fabric (a direct L3 -> L1 route)
        links.append(link("udma", draw(st.sampled_from(["l2"] + [f"r{i}" for i in range(n_routers)]))))
    use_aimc = draw(st.booleans()) if aimc is None else aimc
    if use_aimc:
        n = draw(st.integers(1, 4))
        rows, cols = draw(st.sampled_from([32, 64, 128, 256])), draw(st.sampled_from([32, 64, 128, 256]))
        bus = draw(st.booleans())
        if bus:
            comps["xbus"] = {"type": "router", "clock": draw(clk)}
            links.append(link("xbus", "l1"))
        for i in range(n):
            comps[f"xb{i}"] = {"type": "aimc_tile", "clock": draw(clk), "l1": "l1", "rows": rows,
                               "cols": cols, "mvm_latency_cycles": draw(st.integers(10, 200)),
                               "program_cycles_per_row": draw(st.integers(0, 100)),
                               "input_bits": 8, "output_bits": draw(st.sampled_from([4, 8])),
                               "energy_pj_per_mvm": draw(st.floats(0, 100)),
                               "program_pj_per_row": draw(st.floats(0, 10)),
                               "priority": draw(st.integers(0, 3))}
            links.append(link(f"xb{i}", "xbus" if bus else "l1"))
    return {"format": "hwsim-platform/1", "name": "generated",
            "reference_clock": draw(clk), "clocks": clocks, "components": comps, "links": links}


def _conv_out(n, k, s, p0, p1):
    return (n + p0 + p1 - k) // s + 1


@st.composite
def traces(draw, max_layers=6, branches=True) -> dict:
    """A random trace, consistent by construction: every layer's input is its producer's
    output; spatial sizes follow kernel/stride/padding; residual adds join equal shapes."""
    batch = draw(st.sampled_from([1, 1, 1, 2]))
    shape = [draw(st.integers(1, 16)), draw(st.integers(1, 12)), draw(st.integers(1, 12))]
    bits = draw(st.sampled_from([8, 8, 8, 4, 16]))
    layers, outs = [], []   # outs: (name, output shape)
    n = draw(st.integers(1, max_layers))
    for i in range(n):
        name = f"l{i}"
        src = outs[-1] if outs else None
        if branches and len(outs) >= 2 and draw(st.integers(0, 4)) == 0:
            src = draw(st.sampled_from(outs[:-1]))  # a branch from an earlier layer
        cur = src[1] if src else shape
        inputs = [src[0]] if src and src is not (outs[-1] if outs else None) else []
        if len(cur) == 1:
            op = "linear"
        else:
            same = [o for o in outs[:-1] if o[1] == cur and src is outs[-1]]
            choices = ["conv2d", "pointwise", "depthwise", "maxpool", "avgpool", "linear"]
            if same:
                choices.append("add")
            op = draw(st.sampled_from(choices))
        rec = {"name": name, "op": op, "input_shape": list(cur), "bits": bits}
        if op == "linear":
            rec["output_shape"] = [draw(st.integers(1, 64))]
        elif op == "add":
            other = draw(st.sampled_from(same))
            inputs = [outs[-1][0], other[0]]
            rec["output_shape"] = list(cur)
        else:
            c, h, w = cur
            k = 1 if op == "pointwise" else draw(st.sampled_from([1, 2, 3, 5]))
            s = draw(st.integers(1, 2))
            p = 0 if op == "pointwise" else draw(st.integers(0, k // 2))
            if k > min(h, w) + 2 * p:
                k, p = 1, 0
            ho, wo = _conv_out(h, k, s, p, p), _conv_out(w, k, s, p, p)
            if op in ("conv2d", "pointwise"):
                cout = draw(st.integers(1, 40))
            elif op == "depthwise":
                cout = c * draw(st.sampled_from([1, 2]))
                rec["groups"] = c
            else:
                cout = c
            rec.update(kernel=[k, k], stride=[s, s], padding=[p, p, p, p], output_shape=[cout, ho, wo])
        if inputs:
            rec["inputs"] = inputs
        if batch != 1:
            rec["batch"] = batch
        layers.append(rec)
        outs.append((name, rec["output_shape"]))
    return {"format": "hwsim-trace/1", "name": "generated", "layers": layers}


# ------------------------------------------------------------------------------------------
# The invariants
# ------------------------------------------------------------------------------------------
def _transfers(plan, platform):
    """(src, dst, bytes) moves of one layer as the engine performs them (before staging)."""
    out = []
    for i, t in enumerate(plan.tiles):
        out += [(m, plan.l1, n) for m, n in t.loads]
        if plan.aimc is not None:
            for xb, (b_in, b_out) in crossbar_streams(plan, i, t, platform.components).items():
                out += [(plan.l1, xb, b_in), (xb, plan.l1, b_out)]
        out += [(plan.l1, m, n) for m, n in t.stores]
    if plan.aimc is not None and plan.aimc.program_each_inference:
        out += [(plan.weight_mem, xb, nb) for xb, _, nb in blocks_to_program(plan)]
    return out


def _hold_ps(ch, n):
    return ch.clock.cycles_to_ps(int(-(-n // ch.bandwidth)))


def _dram_atom(d):
    """(bytes, ps) of one column burst of DRAM ``d``: ``data_bus_bits / 8 x burst_length``
    bytes in ``burst_length / transfers_per_cycle`` clocks (ps rounded up, as the model)."""
    return (d.data_bus_bits // 8 * d.burst_length,
            -(-d.burst_length * 10**12 // (d.transfers_per_cycle * d.clock.freq_hz)))


def _dram_min_ps(d, n):
    """Lower bound of the data-bus time of ``n`` bytes: every byte at the peak rate."""
    atom, atom_ps = _dram_atom(d)
    return n * atom_ps // atom


def _dram_max_ps(d, n, burst):
    """Upper bound of the DRAM service time of an isolated ``n``-byte transfer in bursts of
    ``burst`` bytes, refresh excluded (see docs/memory_models.md): every segment (a row's part
    under the open-page policy, a transaction of at most ``max_transaction_bytes`` under the
    closed one) at worst waits tRAS (the bank's last activate) + tRP + tRCD + tCL before its
    ``ceil(bytes / atom)`` column bursts."""
    atom, atom_ps = _dram_atom(d)
    cyc = d.clock.cycles_to_ps
    per_seg = cyc(d.t_ras_cycles) + cyc(d.t_rp_cycles) + cyc(d.t_rcd_cycles) + cyc(d.t_cl_cycles)
    ps, sent = 0, 0
    while sent < n:
        b = min(burst, n - sent)
        if d.page_policy == "open":
            segs = b // d.row_bytes + 2          # rows touched by b bytes at any alignment
        else:
            segs = -(-b // (d.max_transaction_bytes or b))
        ps += segs * (per_seg + atom_ps) + -(-b // atom) * atom_ps
        sent += b
    return ps


def _route_drams(route, comps):
    return [comps[c.owner] for c in route.channels if c.service is not None]


def _serial_ps(route, n, comps):
    """Upper bound of one isolated transfer hop: set-up, every bandwidth channel's full
    occupancy and every DRAM's worst-case service one after another, latency."""
    ps = 0
    if route.dma is not None and route.dma.setup_cycles:
        ps += route.dma.clock.cycles_to_ps(route.dma.setup_cycles)
    if n:
        ps += sum(_hold_ps(c, n) for c in route.channels if c.bandwidth)
        burst = route.dma.burst_bytes if route.dma is not None else DEFAULT_BURST_BYTES
        ps += sum(_dram_max_ps(d, n, burst) for d in _route_drams(route, comps))
    return ps + route.latency_ps


def _core_tile_ps(cl, l1, op, bits, ops):
    """Bounds on a core-cluster tile of ``ops`` operations, from the documented models, not
    the engine's code: the kernel takes ``ceil(ops / (cores x ops/cycle)) + tile_overhead``
    cycles (:class:`hwsim.hardware.platform.CoreCluster`), and L1 bank conflicts stretch it by
    ``overhead x kernel cycles`` stall cycles (:mod:`hwsim.sim.l1banks`; the overhead itself
    is validated against the cycle-by-cycle model in tests/test_l1banks.py), in whole cycles.
    Returns (conflict-free ps, expected conflict ps, tolerance ps: a cycle of rounding)."""
    kernel = math.ceil(Fraction(ops) / (cl.cores * Fraction(kernel_throughput(cl, op, bits))))
    base = cl.clock.cycles_to_ps(kernel + cl.tile_overhead_cycles)
    period = Fraction(10**12, cl.clock.freq_hz)
    if l1.banks <= 1 or l1.bank_model == "off" or kernel <= 0:
        return base, 0, 0
    ov = Fraction(conflict_overhead(op, cl.cores, l1.banks, l1.bank_model, kernel))
    return base, kernel * ov * period, period + 1 if ov else 0


def check_invariants(platform, trace, result, mapping, timeline_path, sim=None):
    ref = platform.reference_clock
    comps = platform.components
    # refresh steals at most t_rfc of every t_refi of a DRAM (hwsim.sim.dram): a bound on a
    # span T that holds without refresh becomes (T + 2 t_rfc) / (1 - max t_rfc / t_refi)
    drams = [c for c in comps.values() if getattr(c, "TYPE", "") == "dram" and c.t_refi_cycles]
    refresh = max((d.t_rfc_cycles / d.t_refi_cycles for d in drams), default=0.0)
    refresh_ps = max((2 * d.clock.cycles_to_ps(d.t_rfc_cycles) for d in drams), default=0)

    def with_refresh(ps):
        return (ps + refresh_ps) / (1 - refresh) if drams else ps

    ic = Interconnect(simpy.Environment(), platform)
    plans = {p.layer.name: p for p in mapping.plans}
    recs = {r.name: r for r in result.layers}
    sequential = all(not p.depends_on or p.depends_on[0] == mapping.plans[i - 1].layer.name
                     for i, p in enumerate(mapping.plans) if i) and all(
        len(set(p.depends_on) - {mapping.plans[i - 1].layer.name}) == 0 or
        all(recs[d].end_ps <= recs[mapping.plans[i - 1].layer.name].end_ps for d in p.depends_on)
        for i, p in enumerate(mapping.plans) if i) and not any(p.pipelined for p in mapping.plans)
    total_serial = 0
    for name, r in recs.items():
        plan = plans[name]
        span = r.end_ps - r.start_ps
        # 1. attribution
        cats = [getattr(r, f"{c}_cycles") for c in CATEGORIES]
        assert all(c >= 0 for c in cats), (name, cats)
        assert sum(cats) == r.cycles == ref.ps_to_cycles(r.end_ps) - ref.ps_to_cycles(r.start_ps), (name, cats)
        # 2. bytes moved == plan over the interconnect's hops
        want: dict = {}
        moves = _transfers(plan, platform)
        for src, dst, n in moves:
            for route in ic.hops(src, dst):
                k = f"{route.src}->{route.dst}"
                want[k] = want.get(k, 0) + n
        got = {k: v for k, v in r.bytes_moved.items() if v}
        assert got == {k: v for k, v in want.items() if v}, (name, got, want)
        planned = plan.planned_bytes()
        for k, v in planned.items():   # the mapper's own view: first and last hop carry it all
            src, dst = k.split("->")
            hops = ic.hops(src, dst)
            assert r.bytes_moved.get(f"{hops[0].src}->{hops[0].dst}", 0) >= v
        # 3. roofline lower bound on the span (compute steps of a layer run one after
        # another on its engine, each stretched by its L1 bank conflicts)
        cl = comps[plan.cluster]
        l1 = comps[cl.l1]
        bits = plan.layer.bits_key
        if plan.engine_kind == "cores":
            steps = [_core_tile_ps(cl, l1, plan.layer.op, bits, t.ops) for t in plan.tiles]
            compute = sum(d for d, _, _ in steps)
        else:
            compute = sum(max(comps[x].clock.cycles_to_ps(t.mvms * comps[x].mvm_latency_cycles)
                              for x in plan.aimc.tiles) for t in plan.tiles)
            steps = [_core_tile_ps(cl, l1, "add", bits, t.acc_ops)
                     for t in plan.tiles if t.acc_ops]   # partial sums added on the cores
            compute += sum(d for d, _, _ in steps)
        conflicts = sum(c for _, c, _ in steps)
        tol = sum(e for _, _, e in steps)
        lo_compute = compute + max(0, math.floor(conflicts - tol))
        compute += math.ceil(conflicts + tol)   # the upper bound of the compute steps
        per_channel: dict = {}
        serial = compute
        for src, dst, n in moves:
            for route in ic.hops(src, dst):
                serial += _serial_ps(route, n, comps)
                for c in route.channels:
                    if not c.bandwidth:
                        continue
                    per_channel[c] = per_channel.get(c, 0) + _hold_ps(c, n)
                for c in route.svc_channels:   # a DRAM's data bus at its peak rate
                    per_channel[c] = per_channel.get(c, 0) + _dram_min_ps(comps[c.owner], n)
        if plan.aimc is not None and plan.aimc.program_each_inference:
            rows = -(-plan.aimc.rows_used // len(plan.aimc.tiles))
            serial += sum(comps[x].clock.cycles_to_ps(rows * comps[x].program_cycles_per_row)
                          for x in plan.aimc.tiles)
        memory = max((-(-ps // c.capacity) for c, ps in per_channel.items()), default=0)
        assert span >= max(lo_compute, memory), (name, span, lo_compute, memory)
        # 4. fully serialised upper bound (per layer when layers run one after another)
        if sequential:
            assert span <= with_refresh(serial), (name, span, serial)
        total_serial += serial
        # producers finish before consumers start (a pipelined or fused reader starts on
        # the rows already written)
        for d in () if plan.pipelined else plan.depends_on:
            assert recs[d].end_ps <= r.start_ps
        # the layer's memory stall and contention, charged to resources, sum exactly
        if sim is not None:
            acct = sim.accts[name]
            assert sum(r.waits_ps.values()) == acct.ps["contention"], (name, r.waits_ps)
            assert sum(r.stall_ps.values()) == acct.ps["memory_stall"], (name, r.stall_ps)
            banks = r.waits_ps.get(f"{l1.name}.banks", 0)
            assert abs(banks - conflicts) <= tol, (name, r.waits_ps, float(conflicts), tol)
    assert result.makespan_ps <= with_refresh(total_serial)
    # 5. utilisation
    for res in result.resources:
        assert 0.0 <= res.utilisation <= 1.0, (res.name, res.utilisation)
    # 6. energy
    by_layers = sum(r.energy_total_pj for r in result.layers)
    assert math.isclose(result.energy_pj, by_layers, rel_tol=1e-9, abs_tol=1e-6), (result.energy_pj, by_layers)
    link_names = {l.name for l in platform.links}
    assert set(result.energy_by_component_pj) <= set(comps) | link_names
    # 7. timeline agrees with the report
    doc = json.loads(Path(timeline_path).read_text(), parse_float=Decimal)
    ev = [e for e in doc["traceEvents"] if e["ph"] == "X"]

    def ps(x):
        return int(Decimal(x) * 10**6)

    layer_spans = {e["name"]: (ps(e["ts"]), ps(e["ts"]) + ps(e["dur"])) for e in ev if e["cat"] == "layer"}
    assert layer_spans == {n: (r.start_ps, r.end_ps) for n, r in recs.items()}
    xfer = [e for e in ev if e["cat"] == "transfer"]
    assert sum(e["args"]["size_bytes"] for e in xfer) == sum(sum(r.bytes_moved.values()) for r in result.layers)
    assert len(xfer) == sum(len(ic.hops(s, d)) for p in mapping.plans for s, d, _ in _transfers(p, platform))
    for name, r in recs.items():
        if plans[name].engine_kind != "cores":
            continue
        # a compute span covers the kernel and its L1 bank-conflict stalls (contention
        # charged to "<l1>.banks")
        comp = sum(ps(e["dur"]) for e in ev if e["cat"] == "compute"
                   and e["name"].rsplit(" ", 2)[0] == name)
        banks = r.waits_ps.get(f"{comps[plans[name].cluster].l1}.banks", 0)
        assert (ref.ps_to_cycles(r.start_ps + comp - banks) - ref.ps_to_cycles(r.start_ps)
                == r.compute_cycles), (name, comp, banks, r.compute_cycles)
    # 8. every grant recorded its holder and every release removed it
    if sim is not None:
        for ch in sim.ic.channels + list(sim.engines.values()):
            assert ch.held_by() == [] and not ch.queue and ch.in_use == 0, (ch.name, ch.held_by(), ch.in_use)


def _run(pdata: dict, tdata: dict):
    platform = hwsim.platform_from_dict(copy.deepcopy(pdata))
    trace = hwsim.trace_from_dict(copy.deepcopy(tdata))
    try:
        mapping = map_trace(platform, trace)
    except hwsim.MappingError as e:
        note(f"unmappable: {e}")
        assume(False)
    with tempfile.TemporaryDirectory() as d:
        tl = Path(d) / "tl.json"
        sim = hwsim.Simulation(platform, trace, mapping=mapping, timeline=tl)
        result = sim.run()
        check_invariants(platform, trace, result, mapping, tl, sim)
    # what the example exercised (--hypothesis-show-statistics)
    l3 = pdata["components"].get("l3")
    event(f"L3: {l3['type'] if l3 else 'none'}")
    if l3 and l3["type"] == "dram" and sim.ic.port["l3"].bytes:
        event("DRAM traffic")
    if any(r.waits_ps.get("l1.banks") for r in result.layers):
        event("L1 bank conflicts")
    if any(ch.n_waits and ch.policy != "fifo" for ch in sim.ic.channels):
        event("contended non-FIFO arbitration")
    if sim.ic.dma_queue:
        event("DMA descriptor queue")
    return result


@given(platforms(), traces())
def test_invariants_random_platforms_and_traces(pdata, tdata):
    _run(pdata, tdata)


@given(platforms(aimc=True), traces(max_layers=4, branches=False))
def test_invariants_with_aimc(pdata, tdata):
    _run(pdata, tdata)


@given(platforms(l3="dram", spill=True), traces(max_layers=4))
def test_invariants_with_dram(pdata, tdata):
    """An L3 DRAM (timing model hwsim.sim.dram) behind a small L2, so tensors and weights stream
    from it."""
    _run(pdata, tdata)


@given(platforms(aimc=False), traces(max_layers=4, branches=False))
def test_determinism_random(pdata, tdata):
    """Two runs of the same random inputs give the same report bytes."""
    a, b = _run(pdata, tdata), _run(pdata, tdata)
    assert a.to_json() == b.to_json()


# ------------------------------------------------------------------------------------------
# Invalid inputs
# ------------------------------------------------------------------------------------------
BAD_VALUES = st.sampled_from([-1, 0, -0.5, 1e400, float("nan"), "", "abc", "1 parsec", "-3 KiB",
                              None, [], {}, [1, 2], {"a": 1}, True, 10**30, 0.1, "64 KiB", "Z"])


def _paths(node, prefix=()):
    """Every (path) to a mapping value or list item in a document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, doc_strategy):
    doc = copy.deepcopy(draw(doc_strategy))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        how = draw(st.sampled_from(["value", "value", "delete", "rename", "add"]))
        if how == "value":
            parent[key] = copy.deepcopy(draw(BAD_VALUES))
        elif how == "delete":
            del parent[key]
        elif how == "rename" and isinstance(parent, dict):
            parent[str(key) + draw(st.sampled_from(["x", "_", "s"]))] = parent.pop(key)
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["bandwith", "colour", "size", "type"]))] = copy.deepcopy(draw(BAD_VALUES))
    return doc


def _never_other_exceptions(pdata, tdata):
    try:
        platform = hwsim.platform_from_dict(pdata)
        trace = hwsim.trace_from_dict(tdata)
    except ConfigError:
        return "rejected"
    try:
        hwsim.simulate(platform, trace)
    except HwsimError:
        return "rejected"
    return "accepted"


@given(mutated(platforms()), traces(max_layers=3))
def test_mutated_platforms_only_raise_documented_errors(pdata, tdata):
    event(_never_other_exceptions(pdata, tdata))


@given(platforms(aimc=False), mutated(traces(max_layers=4)))
def test_mutated_traces_only_raise_documented_errors(pdata, tdata):
    event(_never_other_exceptions(pdata, tdata))


@st.composite
def out_of_bounds(draw):
    """A valid platform with one numeric field of one component set below its bound (from
    the field's own spec() metadata), and the field path the error must name."""
    import dataclasses

    pdata = draw(platforms())
    name = draw(st.sampled_from(sorted(pdata["components"])))
    cls = COMPONENT_TYPES[pdata["components"][name]["type"]]
    fields = [f for f in dataclasses.fields(cls) if f.metadata.get("gt") is not None
              or f.metadata.get("min") is not None]
    assume(fields)
    f = draw(st.sampled_from(fields))
    bound = f.metadata["gt"] if f.metadata.get("gt") is not None else f.metadata["min"]
    below = bound if f.metadata.get("gt") is not None else bound - draw(st.sampled_from([1, 0.5, 1e6]))
    pdata["components"][name][f.name] = draw(st.sampled_from([below, bound - 7, f"{below - 1}"]))
    return pdata, f"components.{name}.{f.name}"


@given(out_of_bounds())
def test_out_of_bounds_fields_are_rejected_naming_the_field(case):
    pdata, field = case
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "p.yaml"
        f.write_text(yaml.safe_dump(pdata, sort_keys=False))
        with pytest.raises(ConfigError) as ei:
            hwsim.load_platform(f)
        assert ei.value.field == field
        assert ei.value.line is not None
        assert field.rsplit(".", 1)[1] in f.read_text().splitlines()[ei.value.line - 1]


@given(platforms(), st.data())
def test_cutting_a_link_is_rejected_or_still_routable(pdata, data):
    """Removing a random link either leaves a routable platform (it simulates) or is
    rejected at load time with a ConfigError about links or routes, never mid-run."""
    i = data.draw(st.integers(0, len(pdata["links"]) - 1))
    del pdata["links"][i]
    try:
        p = hwsim.platform_from_dict(pdata)
    except ConfigError as e:
        assert e.field == "links" and ("no route" in e.problem or "no link" in e.problem), str(e)
        return
    ic = Interconnect(simpy.Environment(), p)
    for eng in ("cluster",) + tuple(n for n in pdata["components"] if n.startswith("xb")):
        l1 = p.components[eng].l1
        for m in [c.name for c in p.components.values() if getattr(c, "level", "") in ("L2", "L3")]:
            ic.hops(m, l1), ic.hops(l1, m)  # must not raise
        if eng.startswith("xb"):
            ic.hops(l1, eng), ic.hops(eng, l1)
