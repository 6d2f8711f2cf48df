"""Independent oracles: hand-computed numbers on tiny platforms and traces.

Every expected value below is worked out in the comment next to it from the model's documented
definition (the docstrings of :mod:`hwsim.sim.dram`, :class:`hwsim.hardware.platform.CoreCluster`,
:class:`~hwsim.hardware.platform.AimcTile`, :mod:`hwsim.sim.engine`, :mod:`hwsim.sim.l1banks`,
:mod:`hwsim.mapping.mapper`), never by calling the code under test. The platforms use
asymmetric parameters on purpose (read != write energy, per-op energies that differ from the
default, several banks, tRP != tRCD != tCL != tRAS, a core count that does not divide the work)
so that a swapped, dropped or mis-rounded term changes the number. docs/testing.md lists which
rule each test pins.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import hwsim
from hwsim.base.units import Clock
from hwsim.hardware.platform import Dram, platform_from_dict
from hwsim.mapping.plan import Tile
from hwsim.sim.dram import DramTiming
from hwsim.sim.interconnect import Transfer
from hwsim.sim.l1banks import Stream, detailed, fast
from hwsim.workload.trace import trace_from_dict

from .test_aimc import L, trace, xbar_platform

NS = 1000          # ps
C100 = 10 * NS     # one cycle at 100 MHz, in ps


# ---------------------------------------------------------------------------------------------
# DRAM timing (hwsim.sim.dram): 1 GHz device, 1 byte/cycle data bus, 4-byte column bursts
# ---------------------------------------------------------------------------------------------
def _dram(**kw) -> DramTiming:
    """tRCD 3, tCL 5, tRP 7, tRAS 20 cycles (all different, so each term shows); 2 banks of
    64-byte rows; data bus 8 bits SDR, BL 4: one 4-byte column burst every 4 cycles."""
    d = dict(name="d", clock=Clock("d", 10**9), level="L3", size_bytes=1 << 20, banks=2,
             data_bus_bits=8, transfers_per_cycle=1, burst_length=4, row_bytes=64,
             t_rcd_cycles=3, t_cl_cycles=5, t_rp_cycles=7, t_ras_cycles=20)
    d.update(kw)
    return DramTiming(Dram(**d))


def _burst(dt, now_cyc, addr, nbytes):
    """Cycles the data bus is busy for ``nbytes`` at ``addr`` requested at ``now_cyc``."""
    ps = dt.burst_ps(now_cyc * NS, Transfer(None, nbytes, None, addr), 0, nbytes)
    assert ps % NS == 0
    return ps // NS


def test_dram_open_page_empty_bank_then_row_conflict_waits_for_tras():
    dt = _dram()
    # addr 0 = bank 0, row 0 (row | bank | col). Empty bank: activate at 0, data after
    # tRCD + tCL = 8, 4 bytes = one burst of 4 cycles -> busy until 12.
    assert _burst(dt, 0, 0, 4) == 12
    # addr 128 = bank 0, row 1, requested at 12: precharge no earlier than the activate (0)
    # + tRAS (20), then tRP: activate at 27, data at 27 + 3 + 5 = 35, ends at 39 -> 27 cycles.
    assert _burst(dt, 12, 128, 4) == 27
    # the same row again (a row hit, new transfer pays tCL only): 39 + 5 + 4 = 48 -> 9
    assert _burst(dt, 39, 136, 4) == 9


def test_dram_open_page_late_conflict_pays_trp_plus_trcd():
    dt = _dram()
    assert _burst(dt, 0, 0, 4) == 12
    # long after tRAS: precharge at 100, activate at 107, data at 107 + 3 + 5, 4 cycles -> 119
    assert _burst(dt, 100, 128, 4) == 19


def test_dram_open_page_streaming_hides_the_next_banks_activate():
    dt = _dram()
    # 128 bytes from 0: row 0 of bank 0 (64 B) then row 0 of bank 1 (64 B). First segment:
    # 3 + 5 + 16 bursts x 4 = 72. Bank 1's activate is issued while bank 0 streams
    # (look-ahead), so the second segment follows back to back: 72 + 64 = 136 cycles
    # = tRCD + tCL + 128 bytes at 1 byte/cycle.
    assert _burst(dt, 0, 0, 128) == 136
    assert (dt.n_empty, dt.n_hits, dt.n_misses) == (2, 0, 0)
    # 65 bytes on a fresh device: row 0 of bank 0 (72 cycles, as above)
    # then 1 byte of bank 1's row 0: one more 4-cycle column burst, activate hidden: 76
    assert _burst(_dram(), 0, 0, 65) == 76


def test_dram_closed_page_multibank_pays_trcd_tcl_and_respects_tras_trp():
    dt = _dram(page_policy="closed")
    assert not dt.simple   # two banks: the general closed-page path
    # at 100 (past any start-up precharge): activate, tRCD 3 + tCL 5 + 4 data -> 12
    assert _burst(dt, 100, 0, 4) == 12
    # bank 0 again at 112: precharge after the data (112) + tRP = 119, and no earlier than
    # activate 100 + tRAS 20 + tRP 7 = 127 -> activate 127, done 127 + 12 = 139 -> 27
    assert _burst(dt, 112, 128, 4) == 27
    # bank 1 (addr 64) at 139: idle bank, no wait -> 12
    assert _burst(dt, 139, 64, 4) == 12


def test_dram_closed_page_transactions_cut_at_max_transaction_bytes():
    dt = _dram(page_policy="closed", max_transaction_bytes=8)
    # 16 bytes in bank 0 at 100: two 8-byte transactions. First: 100 + 3 + 5 + 8 = 116.
    # Second (same bank): activate at max(116 + tRP = 123, 100 + tRAS + tRP = 127) = 127,
    # done 127 + 3 + 5 + 8 = 143 -> 43 cycles.
    assert _burst(dt, 100, 0, 16) == 43
    # 9 bytes at 200: 8 (200 + 16 = 216), then the last byte: activate at max(216 + 7, 200 +
    # 27) = 227, 3 + 5 + one 4-byte burst: 239 -> 39 cycles
    assert _burst(dt, 200, 0, 9) == 39


def test_dram_closed_page_single_bank_with_precharge():
    """One bank, closed page, tRP 7 and tRAS 20 (the general path, not the HyperRAM one): at
    100, 4 bytes take tRCD 3 + tCL 5 + 4 = 12; the next at 112 activates no earlier than
    max(112 + tRP, 100 + tRAS + tRP) = 127: 27 cycles."""
    dt = _dram(banks=1, page_policy="closed")
    assert not dt.simple
    assert _burst(dt, 100, 0, 4) == 12
    assert _burst(dt, 112, 4, 4) == 27


def test_hyperram_like_single_bank_transactions():
    dt = _dram(banks=1, page_policy="closed", t_rp_cycles=0, t_ras_cycles=0,
               max_transaction_bytes=8)
    assert dt.simple
    # 20 bytes: transactions of 8, 8, 4 bytes, each tRCD + tCL = 8 then its data:
    # (8 + 8) + (8 + 8) + (8 + 4) = 44 cycles
    assert _burst(dt, 0, 0, 20) == 44
    assert (dt.n_misses, dt.n_hits) == (3, 0)     # every transaction activates


def test_hyperram_refresh_falls_between_transactions():
    """HyperRAM-like, transactions of 8, 8 and 4 bytes (16, 16 and 12 cycles, as above) and a
    refresh of tRFC 2 every tREFI cycles, due at a transaction's start or postponed to its end:
    * tREFI 16: refreshes due at 16 (the second transaction's start) and 32 (during it, so
      after it ends at 34): 44 + 2 + 2 = 48 cycles.
    * tREFI 32: the refresh is due exactly at the last transaction's start (32): 46 cycles.
    * tREFI 33: due after the last transaction starts: none in this burst, 44 cycles.
    * tREFI 16, requested at 100 after idling: the refreshes at 16 .. 96 fell in the idle
      past (6, no delay); then at 112 (postponed to the first transaction's end, 116) and at
      128 (to the second's, 134): 100 + 48 = 148, 8 refreshes in all."""
    def hyperram(refi):
        return _dram(banks=1, page_policy="closed", t_rp_cycles=0, t_ras_cycles=0,
                     max_transaction_bytes=8, t_refi_cycles=refi, t_rfc_cycles=2)

    dt = hyperram(16)
    assert dt.simple
    assert _burst(dt, 0, 0, 20) == 48 and dt.n_refresh == 2
    assert _burst(hyperram(32), 0, 0, 20) == 46
    dt = hyperram(33)
    assert _burst(dt, 0, 0, 20) == 44 and dt.n_refresh == 0
    dt = hyperram(16)
    assert _burst(dt, 100, 0, 20) == 48 and dt.n_refresh == 8


@pytest.mark.parametrize("link_bw,slowest", [(4096, "d"), (0.125, "d--dma")])
def test_a_waits_resource_is_the_routes_slowest_channel(link_bw, slowest):
    """A DRAM of 1 GB/s peak (1 byte per 1 GHz cycle) behind a 4 GHz link: at 4096 B/cycle
    (16 TB/s) the DRAM limits the route, at 0.125 B/cycle (0.5 GB/s) the link does."""
    import simpy
    from hwsim.sim.interconnect import Interconnect
    dram = dict(type="dram", clock="d", level="L3", size_bytes=1 << 20, banks=2, data_bus_bits=8,
                transfers_per_cycle=1, burst_length=4, row_bytes=64)
    p = platform_from_dict({"name": "bn", "clocks": {"d": "1 GHz", "f": "4 GHz"}, "components": {
        "cluster": {"type": "core_cluster", "clock": "f", "l1": "l1", "kernels": {"add": 1}},
        "l1": {"type": "memory", "level": "L1", "clock": "f", "size_bytes": 1 << 16,
               "port_bandwidth_bytes_per_cycle": 4096},
        "d": dram, "dma": {"type": "dma", "clock": "f"}},
        "links": [{"between": ["d", "dma"], "clock": "f",
                   "bandwidth_bytes_per_cycle": link_bw},
                  {"between": ["dma", "l1"], "clock": "f", "bandwidth_bytes_per_cycle": 4096}]})
    (route,) = Interconnect(simpy.Environment(), p).hops("d", "l1")
    assert route.bottleneck == slowest


# ---------------------------------------------------------------------------------------------
# A core-cluster layer end to end: time split, data-movement / compute energy, leakage
# ---------------------------------------------------------------------------------------------
def _digital(l3_only=False, banks=1, cores=3, tile_overhead=4, fidelity=None, core_cycle_pj=None,
             l1_size=1 << 20, kernel_model="table"):
    """100 MHz. L2 (or an L3 when ``l3_only``) -> DMA -> L1 over an 8 B/cycle link with 5
    cycles latency and a 1024 B/cycle link (latency 0). Energies all different per byte:
    L1 read 0.5 / write 0.75, L2 read 3 / write 5, L3 read 20 / write 30, links 0.125 and
    0.0625; cores 1 pointwise / 0.5 conv2d MAC/cycle each, 2 pJ per pointwise MAC, 7 pJ default;
    2 mW leakage on the cluster; ``tile_overhead`` cycles per tile (4 unless a test needs one
    tile to be the tiler's cheapest choice)."""
    far = "l3" if l3_only else "l2"
    energy = ({"energy_pj_per_op": {"pointwise": 2.0, "default": 7.0}} if core_cycle_pj is None else
              dict(zip(("pj_per_active_core_cycle", "pj_per_idle_core_cycle"), core_cycle_pj)))
    comps = {
        "cluster": {"type": "core_cluster", "clock": "c", "cores": cores, "l1": "l1",
                    "kernels": {"pointwise": 1, "conv2d": 0.5, "add": 1, "maxpool": 1},
                    "tile_overhead_cycles": tile_overhead, "kernel_model": kernel_model,
                    **energy, "leakage_mw": 2.0},
        "l1": {"type": "memory", "level": "L1", "clock": "c", "size_bytes": l1_size, "ports": 4,
               "port_bandwidth_bytes_per_cycle": 1024, "read_pj_per_byte": 0.5,
               "write_pj_per_byte": 0.75, "banks": banks},
        far: {"type": "memory", "level": far.upper(), "clock": "c", "size_bytes": 1 << 24,
              "ports": 4, "port_bandwidth_bytes_per_cycle": 1024,
              "read_pj_per_byte": 20.0 if l3_only else 3.0,
              "write_pj_per_byte": 30.0 if l3_only else 5.0},
        "dma": {"type": "dma", "clock": "c", "max_outstanding": 4, "burst_bytes": 64},
    }
    links = [{"between": [far, "dma"], "clock": "c", "bandwidth_bytes_per_cycle": 8,
              "latency_cycles": 5, "pj_per_byte": 0.125},
             {"between": ["dma", "l1"], "clock": "c", "bandwidth_bytes_per_cycle": 1024,
              "pj_per_byte": 0.0625}]
    return platform_from_dict({"name": "oracle", "clocks": {"c": "100 MHz"}, "components": comps,
                               "links": links, **({"fidelity": fidelity} if fidelity else {})})


def _pointwise():
    """8 -> 8 channels on 4x4 pixels, 8-bit, no bias: 1,024 MACs; input 128 B, weights 64 B,
    output 128 B."""
    return trace_from_dict({"name": "pw", "input_shape": [8, 4, 4], "layers": [
        {"name": "pw", "op": "pointwise", "input_shape": [8, 4, 4], "output_shape": [8, 4, 4],
         "bias": False}]})


def test_core_layer_time_split_by_hand():
    r = hwsim.simulate(_digital(), _pointwise())
    (rec,) = r.layers
    # one tile: load 192 B over the 8 B/cycle link = 24 cycles + 5 latency = 29; compute
    # ceil(1024 MACs / (3 cores x 1 MAC/cycle)) = 342 (not 341) + 4 overhead = 346; store
    # 128 B = 16 + 5 = 21; nothing overlaps: 29 + 346 + 21 = 396.
    # two tiles of 2 rows (the tiler takes the faster): tile 0 loads 64 B input + 64 B weights
    # = 16 + 5 = 21; each computes ceil(512 / 3) = 171 + 4 = 175; tile 1's 64 B load (13) hides
    # under tile 0's compute, tile 0's store (8 + 5 = 13) under tile 1's; the last store 13:
    # 21 + 175 + 175 + 13 = 384 < 396.
    assert rec.bytes_moved == {"l2->l1": 192, "l1->l2": 128}
    assert rec.n_tiles == 2
    assert (rec.compute_cycles, rec.memory_stall_cycles, rec.contention_cycles,
            rec.programming_cycles, rec.idle_cycles) == (350, 34, 0, 0, 0)
    assert rec.cycles == r.cycles == 384
    # the 34 stall cycles wait on the 8 B/cycle link (the routes' rate-limiting channel), the
    # resource the layer waited on most; compute is the largest category
    assert rec.stall_ps == {"l2--dma": 34 * C100} and rec.waits_ps == {}
    assert (rec.top_wait, rec.top_wait_cycles, rec.bottleneck) == ("l2--dma", 34, "compute")


def test_core_layer_energy_by_hand():
    r = hwsim.simulate(_digital(), _pointwise())
    e = r.layers[0].energy_pj
    # loads 192 B: L2 read 3 x 192 = 576, L1 write 0.75 x 192 = 144, links (0.125 + 0.0625)
    # x 192 = 36; store 128 B: L1 read 0.5 x 128 = 64, L2 write 5 x 128 = 640, links 24.
    assert e["data_movement"] == pytest.approx(576 + 144 + 36 + 64 + 640 + 24)
    # 1,024 pointwise MACs at 2 pJ (the op's own entry, not the 7 pJ default)
    assert e["compute"] == pytest.approx(2048)
    # leakage: 2 mW over 384 cycles (two tiles, see above) x 10 ns = 3.84 us -> 7.68 nJ
    assert e["leakage"] == pytest.approx(7680)
    by = r.energy_by_component_pj
    assert by["l2"] == pytest.approx(576 + 640) and by["l1"] == pytest.approx(144 + 64)
    assert by["cluster"] == pytest.approx(2048 + 7680)
    assert r.energy_pj == pytest.approx(576 + 144 + 36 + 64 + 640 + 24 + 2048 + 7680)


def test_l3_read_and_write_energy_by_hand():
    """Without an L2 every tensor and the weights live in the L3 (mapper placement rule)."""
    r = hwsim.simulate(_digital(l3_only=True), _pointwise())
    (rec,) = r.layers
    assert rec.bytes_moved == {"l3->l1": 192, "l1->l3": 128}
    # L3 read 20 x 192 = 3840, write 30 x 128 = 3840; L1 144 + 64; links 36 + 24
    assert rec.energy_pj["data_movement"] == pytest.approx(3840 + 3840 + 144 + 64 + 36 + 24)
    assert r.energy_by_component_pj["l3"] == pytest.approx(7680)
    assert (r.totals["l3_bytes"], r.totals["l2_bytes"]) == (192 + 128, 0)


def test_bank_conflict_stalls_stretch_the_core_tile():
    """The engine stretches a core tile by ``overhead x kernel cycles`` (whole cycles) and
    reports it as contention on ``<l1>.banks``. With 4 cores on 2 banks the overhead of the
    bundled matmul pattern is the l1banks model's (checked by hand in the l1banks tests
    below). The tiler makes two tiles of 2 rows (as in the time-split test above): kernel
    cycles 512 / 4 = 128 each."""
    from hwsim.sim.l1banks import conflict_overhead
    ov = conflict_overhead("pointwise", 4, 2)
    assert ov > 0.05
    r = hwsim.simulate(_digital(banks=2, cores=4), _pointwise())
    rec = r.layers[0]
    assert rec.n_tiles == 2
    assert rec.compute_cycles == 2 * (128 + 4)
    assert rec.contention_cycles == 2 * round(128 * ov)
    assert rec.waits_ps == {"l1.banks": 2 * round(128 * ov) * C100}
    # first load 128 B (16 + 5), two stretched tiles, last store 64 B (8 + 5)
    assert rec.cycles == 21 + 2 * (132 + round(128 * ov)) + 13
    # the cluster is busy for its kernel and its bank stalls: (264 + stalls) / makespan
    util = {res.name: res.utilisation for res in r.resources}["cluster"]
    assert util == pytest.approx(2 * (132 + round(128 * ov)) / rec.cycles)
    # peaks: 4 cores x 1 MAC/cycle x 100 MHz x 2 ops = 0.8 GOPS; 2 ops per 2 pJ = 1 TOPS/W
    d = r.summary_dict()
    assert (d["peak_tops"], d["peak_tops_per_w"]) == (pytest.approx(8e-4), pytest.approx(1.0))
    # waited on most: the banks when their stall exceeds the 34 cycles on the link
    assert rec.stall_ps == {"l2--dma": 34 * C100}
    if 2 * round(128 * ov) > 34:
        assert (rec.top_wait, rec.top_wait_cycles) == ("l1.banks", 2 * round(128 * ov))


# ---------------------------------------------------------------------------------------------
# L1 bank conflicts (hwsim.sim.l1banks), by hand
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [2, 3, 4])
def test_all_cores_on_one_bank_stall_n_minus_1_cycles_per_access(n):
    """n cores hitting one bank every cycle: the bank serves one access per cycle, so each
    access waits for the n - 1 others (round robin): overhead = n - 1 stall cycles per
    conflict-free cycle."""
    streams = [Stream(base=0, stride=8, activity=1) for _ in range(n)]
    assert fast(streams, 8).overhead == pytest.approx(n - 1)
    # the round robin's state repeats every n cycles: n presentations a cycle, one served
    f = fast(streams, 8)
    assert (f.cycles, f.presented, f.conflicts, f.accesses) == (n, n * n, n * (n - 1), [1] * n)
    res = detailed(streams, 8, 30)
    assert res.overhead == pytest.approx(n - 1, rel=0.05)
    assert res.accesses == [30] * n


def test_disjoint_banks_never_conflict_and_half_duty_pairs_interleave():
    assert fast([Stream(base=i, stride=4, activity=1) for i in range(4)], 4).overhead == 0
    # two half-duty cores on one bank: after the first collision the round robin keeps them
    # out of phase, each stalls once in its first access only -> overhead 0 in steady state
    assert fast([Stream(base=0, stride=2, activity=0.5)] * 2, 2).overhead == 0


# ---------------------------------------------------------------------------------------------
# AIMC tiles: MVM timing, streamer contention, programming
# ---------------------------------------------------------------------------------------------
def test_aimc_mvm_time_is_mvms_times_latency_plus_job_overhead():
    """16 pixels x 1 MVM, 10 + 2 cycles each at 100 MHz, wide streamers: compute 192 cycles;
    energy 16 MVMs x 1000 pJ."""
    d = xbar_platform(mvm=10, stream_bw=4096)
    d["components"]["xb0"]["job_overhead_cycles"] = 2
    r = hwsim.simulate(platform_from_dict(d), trace(L("a", "pointwise", 32, 32, hw=4)))
    rec = r.layers[0]
    assert rec.engine_kind == "aimc"
    assert rec.compute_cycles == 16 * 12
    assert rec.energy_pj["compute"] == pytest.approx(16 * 1000.0)


def _shared_stream_platform():
    """Two 32x16 crossbars behind one router, one 4 B/cycle link from the router to L1: both
    streamers of a column-split layer share it."""
    d = xbar_platform(rows=32, cols=16, tiles=2, mvm=1, stream_bw=4096)
    d["components"]["bus"] = {"type": "router", "clock": "c"}
    d["links"] = [l for l in d["links"] if "xb0" not in l["between"] and "xb1" not in l["between"]]
    d["links"] += [{"between": ["xb0", "bus"], "clock": "c", "bandwidth_bytes_per_cycle": 4096},
                   {"between": ["xb1", "bus"], "clock": "c", "bandwidth_bytes_per_cycle": 4096},
                   {"between": ["bus", "l1"], "clock": "c", "bandwidth_bytes_per_cycle": 4}]
    return platform_from_dict(d)


def test_aimc_streamers_queueing_on_a_shared_link_is_contention():
    """A 32 -> 32 pointwise layer on 8x8 pixels splits into two 32x16 column blocks, one per
    crossbar. Each streams 64 pixels x 32 B = 2048 B in (and 64 x 16 B = 1024 B out, the other
    direction) over the shared 4 B/cycle bus->l1 link: alone 512 cycles, together 1024
    (bursts of 1024 B interleave FIFO). MVMs take 64 cycles. So the tile's time beyond its MVMs
    is about 1024 - 64 cycles, of which one crossbar's share (~512) is queueing behind the
    other (contention) and the rest waiting for data (memory stall)."""
    p = _shared_stream_platform()
    r = hwsim.simulate(p, trace(L("a", "pointwise", 32, 32, hw=8)))
    rec = r.layers[0]
    assert rec.engine_kind == "aimc"
    assert rec.compute_cycles == 64
    assert 1024 <= rec.cycles <= 1024 + 64
    assert 256 <= rec.contention_cycles <= 512 + 64, rec
    assert rec.memory_stall_cycles >= 1024 - 64 - rec.contention_cycles - 1
    assert sum(rec.waits_ps.values()) == rec.contention_cycles * C100


def test_program_once_setup_is_the_longest_crossbar():
    """pointwise 96 -> 64 on 64x64 crossbars: a row split into blocks of 64 and 32 rows on two
    crossbars, programmed in parallel before inference: 64 rows x 1000 cycles at 100 MHz =
    640 us (the longer block), energy (64 + 32) rows x 50 pJ."""
    p = platform_from_dict(xbar_platform(64, 64, tiles=2, prog_cycles=1000, prog_pj=50.0))
    t = trace(L("a", "pointwise", 96, 64, hw=4))
    sim = hwsim.Simulation(p, t)
    r = sim.run()
    assert sorted(rows for _, rows, _ in sim.mapping.plans[0].aimc.blocks) == [32, 64]
    d = r.summary_dict()
    assert d["setup_programming_s"] == pytest.approx(640e-6)
    assert d["setup_programming_pj"] == pytest.approx(96 * 50.0)


def test_programming_each_inference_takes_rows_times_cycles_per_row():
    """Three 64x64 crossbars, two layers of two blocks (64 rows each) and the reprogram
    policy: each layer programs 64 rows per crossbar in parallel, 64 x 1000 cycles, after
    DMA-ing its 128 x 64 B of weights."""
    p = platform_from_dict(xbar_platform(64, 64, tiles=3, prog_cycles=1000, prog_pj=50.0,
                                         stream_bw=4096, mapping={"overflow": "reprogram"}))
    t = trace(L("a", "pointwise", 128, 64, hw=4), L("b", "pointwise", 128, 64, hw=4, inputs=["input"]))
    r = hwsim.simulate(p, t)
    for rec in r.layers:
        # 64,000 cycles of programming after the weight DMA: 4096 B per block, staged
        # L2 -> L1 -> crossbar over 4096 B/cycle links and ports: 1 cycle per hop and block,
        # at most 2 x 2 hops if the two blocks went one after the other, + rounding
        assert 64_000 <= rec.programming_cycles <= 64_000 + 8
        assert (rec.compute_cycles + rec.memory_stall_cycles + rec.contention_cycles
                + rec.programming_cycles + rec.idle_cycles) == rec.cycles
        assert rec.energy_pj["programming"] == pytest.approx(2 * 64 * 50.0)


# ---------------------------------------------------------------------------------------------
# Placement: the live-range spill picks the tensor read furthest in the future (Belady)
# ---------------------------------------------------------------------------------------------
def test_live_range_spill_moves_the_tensor_read_furthest_ahead():
    """A tensor occupies L2 from its producer to its last reader; when the live set exceeds
    L2, the one read again furthest in the future goes to L3 (mapper docstring)."""
    def lay(name, op, inputs):
        return {"name": name, "op": op, "input_shape": [4, 4, 4], "output_shape": [4, 4, 4],
                "inputs": inputs}
    # x -> a -> b -> c; d = add(c, a); e = add(d, x): 64 B tensors, L2 = 192 B. At layer
    # c the live tensors are x (next read by e, layer 4), a (next read by d, layer 3), b
    # (c's input) and c: 256 B. c's own input and output stay, so x or a must go: x, read
    # furthest ahead. After that: at d {a, c, d} = 192 B and at e {d, e} fit.
    tr = trace_from_dict({"name": "skips", "input_shape": [4, 4, 4], "layers": [
        lay("a", "maxpool", ["input"]), lay("b", "maxpool", ["a"]), lay("c", "maxpool", ["b"]),
        lay("d", "add", ["c", "a"]), lay("e", "add", ["d", "input"])]})
    for l in tr.layers:
        if l.op == "maxpool":
            assert l.kernel == (1, 1) and l.output_bytes == 64
    base = {"name": "spill", "clocks": {"c": "100 MHz"},
            "mapping": {"l1_residency": "off", "fusion": "off"},   # L2 placement alone
            "components": {
        "cluster": {"type": "core_cluster", "clock": "c", "cores": 1, "l1": "l1",
                    "kernels": {"maxpool": 1, "add": 1}},
        "l1": {"type": "memory", "level": "L1", "clock": "c", "size_bytes": 1 << 16},
        "l2": {"type": "memory", "level": "L2", "clock": "c", "size_bytes": 192},
        "l3": {"type": "memory", "level": "L3", "clock": "c", "size_bytes": 1 << 20},
        "dma": {"type": "dma", "clock": "c"}},
        "links": [{"between": [a, b], "clock": "c", "bandwidth_bytes_per_cycle": 8}
                  for a, b in (("l2", "dma"), ("l3", "dma"), ("dma", "l1"))]}
    m = hwsim.mapping.mapper.map_trace(platform_from_dict(base), tr)
    plans = {p.layer.name: p for p in m.plans}
    # x = the network input: read by a and by e (second operand) from L3
    assert plans["a"].input_mem == "l3"
    assert [mem for mem, _ in plans["e"].tiles[0].loads] == ["l2", "l3"]
    # a stays in L2: b and d read it (and c) from there; every output lives in L2
    assert plans["b"].input_mem == "l2"
    assert [mem for mem, _ in plans["d"].tiles[0].loads] == ["l2"]
    assert {plans[n].output_mem for n in "abcde"} == {"l2"}


# ---------------------------------------------------------------------------------------------
# Bundled platform figures pinned to their sources, derived quantities to their formulas
# ---------------------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1] / "platforms"
IMA_PLATFORMS = ["pulp_imc_cluster.yaml", "pulp_imc_cluster_multi.yaml", "mesh_imc.yaml"]


@pytest.mark.parametrize("pf", IMA_PLATFORMS)
def test_ima_figures_follow_the_gvsoc_model(pf):
    """GVSoC IMA model (pulp/ima/ima_v1_impl.cpp @8956100b, cited in the platform files):
    256x256 crossbar; compute phase int(130 ns / T_clk) + 1 cycles (= 66 at 500 MHz, 130 ns
    rounded up past the edge); plot_write 1000 ns per 8 cells -> 32 us per 256-cell row
    (16,000 cycles at 500 MHz); job overhead idle 2 + two FIFO fills of 2; 64 B/cycle
    streamers. Energies are ASSUMED (50 TOPS/W per full MVM, 100 pJ per cell write)."""
    # read from the file (expanding the 10x10 mesh generator is not what is tested here)
    raw = yaml.safe_load((ROOT / pf).read_text())
    imas = list(_aimc_specs(raw))
    assert imas
    for spec in imas:
        d = {"name": "ima", "clocks": {"clk": raw["clocks"][spec["clock"]]},
             "components": {"ima": {**spec, "clock": "clk", "l1": "l1"},
                            "l1": {"type": "memory", "level": "L1", "clock": "clk",
                                   "size_bytes": 1024},
                            "l2": {"type": "memory", "level": "L2", "clock": "clk",
                                   "size_bytes": 1024}},
             "links": [{"between": [a, "l1"], "clock": "clk", "bandwidth_bytes_per_cycle": 1}
                       for a in ("ima", "l2")]}
        x = platform_from_dict(d).components["ima"]
        f = x.clock.freq_hz
        assert (x.rows, x.cols) == (256, 256)
        assert x.mvm_latency_cycles == 130 * f // 10**9 + 1
        assert x.clock.cycles_to_ps(x.mvm_latency_cycles) >= 130 * NS
        assert x.program_cycles_per_row == x.cols // 8 * 1000 * f // 10**9
        assert x.clock.cycles_to_ps(x.program_cycles_per_row) == 32 * 10**6   # 32 us
        assert x.job_overhead_cycles == 2 + 2 + 2
        assert x.energy_pj_per_mvm == round(2 * x.rows * x.cols / 50)    # 50 TOPS/W
        assert x.program_pj_per_row == 100 * x.cols
    if pf == "pulp_imc_cluster.yaml":
        p = hwsim.load_platform(ROOT / pf)
        assert p.components["ima"].clock.freq_hz == 500_000_000
        (bw,) = [l.bandwidth_bytes_per_cycle for l in p.links if set((l.a, l.b)) == {"ima", "l1"}]
        assert bw == 16 * 4      # 16 of the 32 32-bit master ports per phase


def _aimc_specs(node):
    """Every ``type: aimc_tile`` mapping in a platform file (generator templates included)."""
    if isinstance(node, dict):
        if node.get("type") == "aimc_tile":
            yield node
        for v in node.values():
            yield from _aimc_specs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _aimc_specs(v)


@pytest.mark.parametrize("pf", ["pulp_cluster.yaml", "pulp_imc_cluster.yaml", "diana_soc.yaml"])
def test_hyperram_figures_follow_the_datasheet(pf):
    """S27KS HyperRAM: 8-bit DDR bus; 8192 rows refreshed every 64 ms -> one row every
    7.8125 us = 781 clocks at 100 MHz; command/address 48 bits over 8 DDR lines = 3 clocks;
    initial latency 6 clocks; energy 1.8 V x 60 mA / 333 MB/s = 324 pJ/byte."""
    d = hwsim.load_platform(ROOT / pf).components["l3"]
    f = d.clock.freq_hz
    assert (d.data_bus_bits, d.transfers_per_cycle, d.page_policy) == (8, 2, "closed")
    assert d.t_refi_cycles == 64 * f // 1000 // 8192
    assert d.t_rcd_cycles == 48 // (d.data_bus_bits * d.transfers_per_cycle)
    assert d.t_cl_cycles == 6
    assert d.read_pj_per_byte == round(1.8 * 60e-3 / 333e6 * 1e12)
    # derived: peak bus rate 2 B/cycle, first-access latency tRCD + tCL
    assert d.port_bandwidth_bytes_per_cycle == 2 and d.latency_cycles == 9


def test_lpddr4_figures_follow_ramulator():
    """Ramulator LPDDR4-3200 (tCK 0.625 ns): nRCD 29, nCL 32, nRPpb 27, nRAS 68; tREFI
    3904 ns and tRFCab 180 ns (8 Gb) in clocks rounded up; BL16 on 16 DQ, 2 KiB rows."""
    d = hwsim.load_platform(ROOT / "pulp_cluster_lpddr4.yaml").components["l3"]
    assert d.clock.freq_hz == 1_600_000_000
    assert (d.t_rcd_cycles, d.t_cl_cycles, d.t_rp_cycles, d.t_ras_cycles) == (29, 32, 27, 68)
    assert d.t_refi_cycles == -(-3904 * 16 // 10) and d.t_rfc_cycles == 180 * 16 // 10
    assert (d.data_bus_bits, d.burst_length, d.row_bytes, d.banks) == (16, 16, 2048, 8)
    # derived peak: 16 bits x 2 transfers x 1.6 GHz = 6.4 GB/s; one BL16 burst = 32 B in 8 clocks
    dt = DramTiming(d)
    assert dt.peak_bytes_per_ps * 1e12 == pytest.approx(6.4e9)
    assert (dt.atom, dt.atom_ps) == (32, 5000)


# ---------------------------------------------------------------------------------------------
# Attribution details
# ---------------------------------------------------------------------------------------------
def test_depthwise_accelerator_has_no_bank_conflict_model():
    """A fixed-function depthwise datapath is not cores running the bundled kernels' access
    patterns: on an 8-bank L1 its layer has no ``l1.banks`` contention; 16 channels x 8x8
    pixels x 9 taps = 9,216 MACs at 16 MAC/cycle: 576 cycles of compute, plus the rounding
    of each tile the tiler cuts."""
    d = xbar_platform(tiles=1, dw=True, mapping={"depthwise": "dw_accelerator"})
    d["components"]["l1"]["banks"] = 8
    r = hwsim.simulate(platform_from_dict(d), trace(L("dw", "depthwise", 16, 16, hw=8, k=3)))
    rec = r.layers[0]
    assert rec.engine_kind == "dw_accelerator"
    # per tile of c channels x r rows: ceil(c * r * 8 px * 9 taps / 16) cycles (no overhead)
    co, rows = rec.tile_shape["channels"], rec.tile_shape["rows"]
    assert rec.compute_cycles == sum(-(-min(co, 16 - c0) * min(rows, 8 - h0) * 72 // 16)
                                     for c0 in range(0, 16, co) for h0 in range(0, 8, rows))
    assert rec.compute_cycles >= 9216 // 16
    assert rec.contention_cycles == 0 and "l1.banks" not in rec.waits_ps


def test_waits_are_split_by_largest_remainder():
    """2 ps of waiting shared by queueing weights 1 : 2 (total 3): exact shares 2/3 and 4/3;
    integer parts 0 and 1, the leftover ps goes to the larger remainder (2/3 > 1/3): 1 and 1.
    Weights 1 : 1 : 1 and 2 ps: equal remainders, ties by name: a and b get one each."""
    from hwsim.sim.engine import _Acct, _split
    acct = _Acct()
    assert _split(acct, {"x": 1, "y": 2}, 2)
    assert acct.by_res["contention"] == {"x": 1, "y": 1}
    acct = _Acct()
    assert _split(acct, {"c": 1, "b": 1, "a": 1}, 2, "memory_stall")
    assert acct.by_res["memory_stall"] == {"a": 1, "b": 1}
    assert not _split(_Acct(), {}, 5)


def test_waiting_for_a_busy_engine_is_contention_on_it():
    """Two independent 1,024-MAC layers (both read the network input) on one 3-core cluster:
    one computes 350 cycles (see above) while the other, loaded within a few cycles, queues
    for the cluster. That wait is contention charged to the cluster, and the same ps appear
    in its queueing record."""
    tr = trace_from_dict({"name": "pair", "input_shape": [8, 4, 4], "layers": [
        {"name": n, "op": "pointwise", "input_shape": [8, 4, 4], "output_shape": [8, 4, 4],
         "bias": False, "inputs": ["input"]} for n in ("a", "b")]})
    r = hwsim.simulate(_digital(), tr)
    a, b = r.layers
    # each in two tiles of 175 cycles (see above): the cluster is busy 350 cycles with the
    # other layer's tiles while the later one waits
    assert a.compute_cycles == b.compute_cycles == 350
    # the tiles interleave (FIFO): the layer that ends first waits at most one of the other's
    # tiles (175 cycles), the later one for all of the first's compute
    first, second = sorted((a, b), key=lambda rec: rec.end_ps)
    assert first.waits_ps.get("cluster", 0) <= 175 * C100
    wait = second.waits_ps["cluster"]
    assert 350 * C100 - 30 * C100 <= wait <= 350 * C100
    assert second.queued_ps["cluster"] == wait


def test_every_transfer_leaves_the_channels_idle():
    """After a run no channel has a server held (by a process or a burst train) or a queue entry."""
    sim = hwsim.Simulation(_digital(banks=2, cores=4), _pointwise())
    sim.run()
    for ch in sim.ic.channels:
        assert (ch.in_use, len(ch.queue), ch.held_by()) == (0, 0, []), ch.name


@pytest.mark.parametrize("n,banks", [(2, 4), (4, 8), (8, 16)])
def test_fast_random_model_conflict_probability_is_the_closed_form(n, banks):
    """n requesters presenting every cycle (activity 1) to uniform random banks: a request
    loses with probability 1 - B (1 - (1 - 1/B)^n) / n (balls into bins), and loses 1/p - 1
    cycles per access with p that winning probability."""
    res = fast([Stream(random=True, activity=1)] * n, banks)
    win = banks * (1 - (1 - 1 / banks) ** n) / n
    assert res.conflict_probability == pytest.approx(1 - win, rel=1e-9)
    assert res.overhead == pytest.approx(1 / win - 1, rel=1e-9)


def test_round_robin_grants_rotate_over_requesters():
    """Requests A1 A2 B1 C1 A3 queued at once: grants rotate A, B, C in first-seen order,
    then back to A: A1 B1 C1 A2 A3. Fixed priority: lowest number first, FIFO among equals."""
    from types import SimpleNamespace as Ev
    from hwsim.sim.arbitration import PriorityQueue, RoundRobinQueue
    q = RoundRobinQueue()
    for name in ("A1", "A2", "B1", "C1", "A3"):
        q.append(Ev(requester=name[0], name=name))
    assert len(q) == 5
    assert [q.popleft().name for _ in range(5)] == ["A1", "B1", "C1", "A2", "A3"]
    pq = PriorityQueue()
    for name, prio in (("x", 2), ("y", 1), ("z", 2), ("w", 1)):
        pq.append(Ev(priority=prio, name=name))
    assert [e.name for e in pq] == ["y", "w", "x", "z"]
    assert [pq.popleft().name for _ in range(4)] == ["y", "w", "x", "z"]


def test_stream_bank_sequence_of_interleaved_arrays():
    """Two arrays read in turn, (base 0, stride 3) and (base 100, stride 1), on 8 banks:
    access k goes to array k mod 2 at index k // 2: banks 0, 4, 3, 5, 6, 6, 1, 7; the pattern
    repeats after 2 x lcm(8 / gcd(3, 8), 8 / gcd(1, 8)) = 16 accesses, every bank twice."""
    s = Stream(arrays=((0, 3), (100, 1)))
    assert [s.bank(k, 8) for k in range(8)] == [0, 4, 3, 5, 6, 6, 1, 7]
    assert s.period(8) == 16
    assert s.bank_probabilities(8) == pytest.approx([1 / 8] * 8)
    assert Stream(base=2, stride=2).period(8) == 4 and Stream(base=5, stride=8).period(8) == 1


def test_missing_op_energy_without_default_is_zero():
    """An op with no entry and no ``default`` costs nothing (documented: the op's entry, else
    the default entry, else 0)."""
    p = platform_from_dict({"name": "e", "clocks": {"c": "100 MHz"}, "components": {
        "cluster": {"type": "core_cluster", "clock": "c", "cores": 2, "l1": "l1",
                    "kernels": {"pointwise": 1}, "energy_pj_per_op": {"conv2d": 3.0}},
        "l1": {"type": "memory", "level": "L1", "clock": "c", "size_bytes": 1 << 16},
        "l2": {"type": "memory", "level": "L2", "clock": "c", "size_bytes": 1 << 16},
        "dma": {"type": "dma", "clock": "c"}},
        "links": [{"between": [a, b], "clock": "c", "bandwidth_bytes_per_cycle": 8}
                  for a, b in (("l2", "dma"), ("dma", "l1"))]})
    r = hwsim.simulate(p, _pointwise())
    assert r.layers[0].energy_pj["compute"] == 0.0
    assert r.layers[0].compute_cycles == 1024 // 2


@pytest.mark.parametrize("l2,weights_in", [(320, "l2"), (319, "l3")])
def test_weights_take_what_l2_leaves_after_the_live_activations(l2, weights_in):
    """The pointwise layer's input (128 B) and output (128 B) live in L2 together: 256 B. Its
    64 B of weights fit in what is left of a 320 B L2 exactly, not of a 319 B one (then L3)."""
    d = {"name": "w", "clocks": {"c": "100 MHz"}, "components": {
        "cluster": {"type": "core_cluster", "clock": "c", "cores": 1, "l1": "l1",
                    "kernels": {"pointwise": 1}},
        "l1": {"type": "memory", "level": "L1", "clock": "c", "size_bytes": 1 << 16},
        "l2": {"type": "memory", "level": "L2", "clock": "c", "size_bytes": l2},
        "l3": {"type": "memory", "level": "L3", "clock": "c", "size_bytes": 1 << 20},
        "dma": {"type": "dma", "clock": "c"}},
        "links": [{"between": [a, b], "clock": "c", "bandwidth_bytes_per_cycle": 8}
                  for a, b in (("l2", "dma"), ("l3", "dma"), ("dma", "l1"))]}
    (plan,) = hwsim.mapping.mapper.map_trace(platform_from_dict(d), _pointwise()).plans
    assert (plan.input_mem, plan.weight_mem, plan.output_mem) == ("l2", weights_in, "l2")
    loads: dict = {}   # over all tiles: the input once per channel tile, the weights once
    for tile in plan.tiles:
        for mem, nbytes in tile.loads:
            loads[mem] = loads.get(mem, 0) + nbytes
    n_co = -(-8 // plan.tile_shape["channels"])
    assert loads == ({"l2": 128 * n_co + 64} if weights_in == "l2" else {"l2": 128 * n_co, "l3": 64})


def test_a_layer_larger_than_l3_is_a_mapping_error():
    """in 128 B + out 128 B = 256 B exceed both a 100 B L2 and a 200 B L3."""
    d = {"name": "big", "clocks": {"c": "100 MHz"}, "components": {
        "cluster": {"type": "core_cluster", "clock": "c", "cores": 1, "l1": "l1",
                    "kernels": {"pointwise": 1}},
        "l1": {"type": "memory", "level": "L1", "clock": "c", "size_bytes": 1 << 16},
        "l2": {"type": "memory", "level": "L2", "clock": "c", "size_bytes": 100},
        "l3": {"type": "memory", "level": "L3", "clock": "c", "size_bytes": 200},
        "dma": {"type": "dma", "clock": "c"}},
        "links": [{"between": [a, b], "clock": "c", "bandwidth_bytes_per_cycle": 8}
                  for a, b in (("l2", "dma"), ("l3", "dma"), ("dma", "l1"))]}
    with pytest.raises(hwsim.MappingError) as e:
        hwsim.mapping.mapper.map_trace(platform_from_dict(d), _pointwise())
    assert "input+output 256 B exceed l3 (200 B)" in str(e.value)
    assert "to at least 256" in str(e.value)


def test_single_tile_conv_loads_its_whole_input_once():
    """conv2d 3x3, padding 1, 8 -> 8 channels on 4x4, 8-bit, no bias, one tile (L1 is large):
    input rows = the 4 map rows (the halo is padding, not data): 8 x 4 x 4 = 128 B, weights
    8 x 8 x 9 = 576 B; 8 x 16 x 72 = 9,216 MACs on 3 cores at 0.5 MAC/cycle: 6,144 cycles +
    the tile overhead. A 10,000-cycle overhead per tile makes one tile the cheapest: a second
    tile pays it again to hide at most the 704 B load (88 + 5 cycles)."""
    tr = trace_from_dict({"name": "conv", "input_shape": [8, 4, 4], "layers": [
        {"name": "c", "op": "conv2d", "input_shape": [8, 4, 4], "output_shape": [8, 4, 4],
         "kernel": [3, 3], "padding": [1, 1, 1, 1], "bias": False}]})
    sim = hwsim.Simulation(_digital(tile_overhead=10_000), tr)
    r = sim.run()
    (plan,) = sim.mapping.plans
    assert plan.n_tiles == 1 and dict(plan.tiles[0].loads) == {"l2": 128 + 576}
    assert r.layers[0].bytes_moved == {"l2->l1": 704, "l1->l2": 128}
    assert r.layers[0].compute_cycles == 6144 + 10_000


def test_inputs_wider_than_the_dacs_take_one_mvm_pass_per_slice():
    """8-bit inputs on 4-bit DACs: two MVM passes per pixel (bit-serial input slices), so a
    32 -> 32 pointwise layer on 4x4 pixels runs 2 x 16 = 32 MVMs of 10 cycles = 320 cycles
    and 32 x 1000 pJ. The two partial results per output are then added on the 8 cores
    (1 add/cycle each, 2 pJ): 16 x 32 additions = 64 cycles and 1,024 pJ of postprocessing."""
    p = platform_from_dict(xbar_platform(mvm=10, stream_bw=4096, input_bits=4))
    r = hwsim.simulate(p, trace(L("a", "pointwise", 32, 32, hw=4)))
    rec = r.layers[0]
    assert rec.engine_kind == "aimc"
    assert rec.compute_cycles == 320 + 64
    assert rec.energy_pj["compute"] == pytest.approx(32 * 1000.0)
    assert rec.energy_pj["postprocessing"] == pytest.approx(512 * 2.0)


def test_achieved_fraction_of_peak_and_energy_gap_by_hand():
    """The hand-computed pointwise layer on 3 cores (two tiles, 384 cycles = 3.84 us, see
    test_core_layer_time_split_by_hand): 2,048 ops / 3.84 us over a 0.6 GOPS peak; ideal
    energy at the peak 1 TOPS/W (2 ops per 2 pJ) = 2,048 pJ = the compute energy, so the
    compute excess is 0 and the gap is data movement (1,484 pJ) and leakage (2 mW x 3.84 us
    = 7,680 pJ)."""
    d = hwsim.simulate(_digital(), _pointwise()).summary_dict()
    assert d["peak_tops"] == pytest.approx(6e-4)
    assert d["tops_fraction_of_peak"] == pytest.approx(2048 / 3.84e-6 / 6e8)
    gap = d["energy_gap_pj"]
    assert gap["ideal_at_peak"] == pytest.approx(2048)
    assert gap["compute_excess"] == pytest.approx(0, abs=1e-9)
    assert gap["data_movement"] == pytest.approx(1484) and gap["leakage"] == pytest.approx(7680)
    assert (gap["programming"], gap["postprocessing"]) == (0, 0)
    assert sum(gap.values()) == pytest.approx(d["energy_pj"])


def test_a_layer_larger_than_l2_without_l3_is_a_mapping_error():
    """in 128 B + out 128 B = 256 B exceed a 100 B L2 and there is no L3: the error gives the
    size needed."""
    d = {"name": "small", "clocks": {"c": "100 MHz"}, "components": {
        "cluster": {"type": "core_cluster", "clock": "c", "cores": 1, "l1": "l1",
                    "kernels": {"pointwise": 1}},
        "l1": {"type": "memory", "level": "L1", "clock": "c", "size_bytes": 1 << 16},
        "l2": {"type": "memory", "level": "L2", "clock": "c", "size_bytes": 100},
        "dma": {"type": "dma", "clock": "c"}},
        "links": [{"between": [a, b], "clock": "c", "bandwidth_bytes_per_cycle": 8}
                  for a, b in (("l2", "dma"), ("dma", "l1"))]}
    with pytest.raises(hwsim.MappingError) as e:
        hwsim.mapping.mapper.map_trace(platform_from_dict(d), _pointwise())
    msg = str(e.value)
    assert "input+output 256 B exceed l2 (100 B) and the platform has no L3" in msg
    assert "to at least 256 or add an L3 memory" in msg


# ---------------------------------------------------------------------------------------------
# The AIMC estimate behind the "fastest" depthwise policy (AimcModel.estimate_ps), by hand
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode,mvm,cycles", [("sequential", 100, 61_184), ("overlapped", 10, 18_432)])
@pytest.mark.parametrize("add,add_cycles", [({8: 2, "any": 1}, 1024), (None, 4096)])
def test_aimc_estimate_by_hand(mode, mvm, cycles, add, add_cycles):
    """Documented estimate: ``pixels x islices`` MVM jobs (:func:`mvm_job_cycles` of the
    tallest block's stream-in and the widest block's stream-out at the tile's link bandwidth,
    capped by L1's port), but no faster than streaming all blocks' inputs; plus
    ``partials - 1`` additions per output on the host cores (the ``add`` kernel's 8-bit entry,
    else ASSUMED 0.5 add/cycle/core).

    Depthwise 3x3, 64 channels, 16x16 = 256 pixels, 8-bit, on 256x256 crossbars with 4-bit
    DACs: 9 rows per channel, 256 // 9 = 28 channels per crossbar: blocks 252x28, 252x28 and
    72x8; islices 8 / 4 = 2, so partials 2. The tile's link: 16 B/cycle (the L2 link and L1's
    port: 4096). Per job: stream-in 252 B / 16 = 15.75, MVM 10 or 100 + 2 overhead, stream-out
    28 B / 16 = 1.75 cycles; all blocks' stream-in (252 + 252 + 72) / 16 = 36 cycles.
    - sequential, MVM 100: 15.75 + 102 + 1.75 = 119.5 > 36: 256 x 2 x 119.5 = 61,184 cycles
    - overlapped, MVM 10: max(12, 15.75, 1.75) = 15.75 < 36: 256 x 2 x 36 = 18,432 cycles
    Additions: 256 px x 64 outputs x (2 - 1) / (8 cores x 2 add/cycle at 8 bits) = 1,024
    cycles; without an add kernel / (8 x 0.5) = 4,096."""
    from hwsim.hardware.registry import model_of
    from hwsim.mapping.hetero_mapper import host_clusters
    d = xbar_platform(tiles=3, mvm=mvm, stream_bw=16, mode=mode, input_bits=4)
    d["components"]["xb0"]["job_overhead_cycles"] = 2
    if add is None:
        del d["components"]["cluster"]["kernels"]["add"]
    else:
        d["components"]["cluster"]["kernels"]["add"] = add
    p = platform_from_dict(d)
    cl = host_clusters(p)[0]
    l = trace(L("dw", "depthwise", 64, 64, hw=16, k=3)).layers[0]
    est = model_of(cl.tiles[0]).estimate_ps(p, cl.tiles[0], l, cl.core)
    assert est == pytest.approx((cycles + add_cycles) * C100)
    # a 16 x 8 map: half the pixels, half the time
    half = trace(L("dw", "depthwise", 64, 64, k=3, input_shape=[64, 16, 8],
                   output_shape=[64, 16, 8])).layers[0]
    est = model_of(cl.tiles[0]).estimate_ps(p, cl.tiles[0], half, cl.core)
    assert est == pytest.approx((cycles + add_cycles) / 2 * C100)
    # a 3x3 kernel does not fit 8-row crossbars: no estimate (the policy cannot pick them)
    small = platform_from_dict(xbar_platform(rows=8, cols=8, tiles=1))
    (t,) = host_clusters(small)[0].tiles
    assert model_of(t).estimate_ps(small, t, l, cl.core) == float("inf")


def _hand_plan(platform, tiles, layer=None, tile_shape=None):
    """A one-layer mapping with hand-chosen tiles (the engine's pipeline, not the tiler)."""
    from hwsim.mapping.plan import LayerPlan, Mapping
    from hwsim.workload.trace import Layer, Trace
    layer = layer or Layer(name="L", op="pointwise", input_shape=(8, 1, 1), output_shape=(8, 1, 1))
    plan = LayerPlan(layer=layer, engine="cluster", engine_kind="cores", cluster="cluster",
                     l1="l1", input_mem="l2", weight_mem=None, output_mem="l2",
                     tile_shape=tile_shape or {}, tiles=tuple(tiles), l1_bytes=0, depends_on=())
    return hwsim.Simulation(platform, Trace("t", (layer,)),
                            mapping=Mapping(plans=[plan], program_once=[], weights_in_l3_bytes=0,
                                            summary={}))


def test_loader_refills_a_buffer_only_after_its_tile_was_computed():
    """Two L1 buffers: tile i loads into buffer i % 2 once tile i - 2 is computed. Unequal
    tiles on one core (1 MAC/cycle + 4 cycles per tile), loads over the 8 B/cycle link with 5
    cycles latency (the oracle platform above), no stores:
      tile 0: 40 B in 5 + 5 = 10 cycles, 96 MACs: 100 cycles
      tile 1: 40 B in 10 cycles, 6 MACs: 10 cycles
      tile 2: 360 B in 5 + 45 = 50 cycles, 6 MACs: 10 cycles
    load 0 [0, 10], load 1 [10, 20], compute 0 [10, 110], compute 1 [110, 120]; load 2 waits
    for buffer 0, i.e. for compute 0: [110, 160]; compute 2 [160, 170]. 170 cycles: compute
    120, memory stall 10 (load 0) + 40 (compute 2 waiting from 120 to 160). (A third buffer
    would load tile 2 at [20, 70] and finish at 130.)"""
    tiles = [Tile(loads=(("l2", 40),), ops=96, stores=()), Tile(loads=(("l2", 40),), ops=6, stores=()),
             Tile(loads=(("l2", 360),), ops=6, stores=())]
    rec = _hand_plan(_digital(cores=1), tiles).run().layers[0]
    assert (rec.cycles, rec.compute_cycles, rec.memory_stall_cycles, rec.contention_cycles) == \
        (170, 120, 50, 0)


def test_energy_gap_terms_add_up_with_absent_categories():
    """An absent energy category is no energy of that kind. 8 ops at a 2 TOPS/W peak (2 ops
    per pJ) ideally cost 4 pJ: of 10 pJ of compute, 6 are excess; leakage 3; the terms add up
    to the 13 pJ spent. Without a peak efficiency the ideal is 0 and compute is all excess."""
    from hwsim.report.efficiency import energy_gap
    assert energy_gap({"compute": 10.0, "leakage": 3.0}, 8, 2.0) == {
        "ideal_at_peak": 4.0, "compute_excess": 6.0, "data_movement": 0.0,
        "postprocessing": 0.0, "programming": 0.0, "leakage": 3.0}
    assert energy_gap({"programming": 5.0}, 8, None) == {
        "ideal_at_peak": 0.0, "compute_excess": 0.0, "data_movement": 0.0,
        "postprocessing": 0.0, "programming": 5.0, "leakage": 0.0}


def test_a_channel_tells_its_observer_every_queue_length_change():
    """One server, three users arriving at 0 holding it 10, 20 and 30 ps: A is served at once,
    B and C queue (lengths 1, 2); A leaves at 10, B is granted (1); B leaves at 30, C is
    granted (0). Queue-length integral: 2 x 10 + 1 x 20 = 40 request-ps."""
    import simpy
    from hwsim.sim.interconnect import Channel
    env = simpy.Environment()
    ch = Channel(env, "c", "link")
    seen = []

    class Observer:
        def queue_depth(self, c, ts, depth):
            seen.append((c.name, ts, depth))
    ch.observer = Observer()

    def user(hold):
        ev = ch.acquire()
        if ev is not None:
            yield ev
        yield env.timeout(hold)
        ch.release()
    for hold in (10, 20, 30):
        env.process(user(hold))
    env.run()
    assert seen == [("c", 0, 1), ("c", 0, 2), ("c", 10, 1), ("c", 30, 0)]
    assert (ch.n_grants, ch.n_waits, ch.max_queue, ch.queue_area) == (3, 2, 2, 40)
    assert (ch.in_use, len(ch.queue)) == (0, 0)


@pytest.mark.parametrize("weight_bits", [8, 4])
def test_depthwise_channel_tiles_run_only_the_crossbars_holding_their_channels(weight_bits):
    """Diagonal mapping of a 3x3 depthwise layer, 64 channels on 256x256 crossbars: 256 // 9
    = 28 channels per crossbar (with 4-bit cells each channel takes 2 columns: min(28, 256 //
    2) is still 28), so crossbar k holds channels [28k, min(28k + 28, 64)): [0, 28), [28, 56),
    [56, 64). An L1 of 4 KiB forces channel tiles; a tile of channels [c0, c1) runs exactly
    the crossbars whose channels overlap it, each ``pixels`` MVMs at 1000 pJ."""
    from hwsim.mapping.plan import tile_rows
    p = platform_from_dict(xbar_platform(tiles=3, e_mvm=1000.0, l1_size=4096,
                                         weight_bits=weight_bits, mapping={"depthwise": "crossbar"}))
    sim = hwsim.Simulation(p, trace(L("dw", "depthwise", 64, 64, hw=16, k=3)))
    r = sim.run()
    (plan,) = sim.mapping.plans
    co = plan.tile_shape["channels"]
    assert plan.engine_kind == "aimc" and co < 64
    held = [(0, 28), (28, 56), (56, 64)]
    pj = 0.0
    for i, t in enumerate(plan.tiles):
        c0 = tile_rows(plan)[i][0] * co
        c1 = min(64, c0 + co)
        need = tuple(k for k, (lo, hi) in enumerate(held) if lo < c1 and hi > c0)
        assert plan.tile_blocks[i] == need, (i, c0, c1)
        pj += t.mvms * len(need) * 1000.0
    assert r.layers[0].energy_pj["compute"] == pytest.approx(pj)
    # e.g. 32-channel tiles: [0, 32) needs crossbars 0 and 1, [32, 64) crossbars 1 and 2:
    # 256 pixels x 2 channel tiles x 2 crossbars x 1000 pJ
    if co == 32:
        assert pj == 256 * 2 * 2 * 1000.0


def test_two_dmas_reads_queue_on_a_single_port_dram():
    """A HyperRAM-like DRAM (1 bank, closed page, one port; tRCD 3 + tCL 5 cycles per 8-byte
    transaction, 1 B/cycle, 1 GHz) read at once into two memories (wide links and ports
    elsewhere): A's 8 B take 3 + 5 + 8 = 16 cycles; B's 12 B queue on the DRAM's port for those
    16, then 8 B (16 cycles) + 4 B (3 + 5 + 4 = 12): B ends at 16 + 28 = 44 cycles."""
    import simpy
    from hwsim.sim.interconnect import Interconnect
    dram = dict(type="dram", clock="d", level="L3", size_bytes=1 << 20, banks=1, data_bus_bits=8,
                transfers_per_cycle=1, burst_length=4, row_bytes=64, page_policy="closed",
                t_rcd_cycles=3, t_cl_cycles=5, t_rp_cycles=0, t_ras_cycles=0,
                max_transaction_bytes=8)
    wide = {"clock": "d", "bandwidth_bytes_per_cycle": 4096}
    p = platform_from_dict({"name": "dp", "clocks": {"d": "1 GHz"}, "components": {
        "cluster": {"type": "core_cluster", "clock": "d", "l1": "l1", "kernels": {"add": 1}},
        **{m: {"type": "memory", "level": m.upper(), "clock": "d", "size_bytes": 1 << 16,
               "port_bandwidth_bytes_per_cycle": 4096} for m in ("l1", "l2")},
        "d": dram, "dma": {"type": "dma", "clock": "d", "max_outstanding": 2, "burst_bytes": 8}},
        "links": [{"between": ["d", "dma"], **wide}, {"between": ["dma", "l1"], **wide},
                  {"between": ["dma", "l2"], **wide}]})
    env = simpy.Environment()
    ic = Interconnect(env, p)
    done = {}

    def read(dst, n):
        (route,) = ic.hops("d", dst)
        t = yield from ic.transfer(route, n)
        done[dst] = (t.end_ps // NS, t.queued_ps // NS, t.waits)
    env.process(read("l1", 8))
    env.process(read("l2", 12))
    env.run()
    assert done == {"l1": (16, 0, None), "l2": (44, 16, {"d": 16 * NS})}
    # the port is granted once per 8-byte DMA burst (A one, B two), B's first after a wait
    port = ic.port["d"]
    assert (port.n_grants, port.n_waits, port.wait_ps, port.busy_ps) == (3, 1, 16 * NS, 44 * NS)


def test_a_routes_requester_is_its_dma_else_the_streaming_engine():
    """Arbitration names the master of a transfer: the DMA engine on a DMA route, else the
    endpoint that is not a memory (an AIMC tile's streamer, either direction, also behind a
    router), with that master's priority; between two memories without a DMA, the source at
    priority 0."""
    import simpy
    from hwsim.sim.interconnect import Interconnect
    d = xbar_platform(tiles=2)
    d["components"]["bus"] = {"type": "router", "clock": "c"}
    d["components"]["xb1"]["priority"] = 3
    d["links"] = [l for l in d["links"] if "xb1" not in l["between"]]
    d["links"] += [{"between": ["xb1", "bus"], "clock": "c", "bandwidth_bytes_per_cycle": 64},
                   {"between": ["bus", "l1"], "clock": "c", "bandwidth_bytes_per_cycle": 64},
                   {"between": ["sp", "l1"], "clock": "c", "bandwidth_bytes_per_cycle": 64}]
    d["components"]["sp"] = {"type": "memory", "level": "L2", "clock": "c", "size_bytes": 4096}
    ic = Interconnect(simpy.Environment(), platform_from_dict(d))
    who = {(a, b): (r.requester, r.priority) for a, b in
           (("l1", "xb0"), ("xb0", "l1"), ("l1", "xb1"), ("xb1", "l1"), ("l2", "l1"),
            ("sp", "l1"), ("l1", "sp"))
           for (r,) in [ic.hops(a, b)]}
    assert who == {("l1", "xb0"): ("xb0", 0), ("xb0", "l1"): ("xb0", 0),
                   ("l1", "xb1"): ("xb1", 3), ("xb1", "l1"): ("xb1", 3), ("l2", "l1"): ("dma", 0),
                   ("sp", "l1"): ("sp", 0), ("l1", "sp"): ("l1", 0)}


def test_matmul_kernel_layout_bank_sequence():
    """The ASSUMED matmul layout (``kernel_streams`` docstring) on 16 banks: core i's access k
    reads its im2col buffer (word 37 i + k // 2) when k is even, the weight row (word
    512 + 18 i + k // 2) when odd; bank = word mod 16.
    core 0: 0, 512 -> banks 0, 0, 1, 1, 2, 2
    core 1: 37 = 2 x 16 + 5, 530 = 33 x 16 + 2 -> 5, 2, 6, 3, 7, 4
    core 2: 74 = 4 x 16 + 10, 548 = 34 x 16 + 4 -> 10, 4, 11, 5, 12, 6
    DMA: words 5, 6, ... -> 5, 6, 7, 8, 9, 10. Cores access every 2nd cycle, the DMA every
    4th, and only the cores count towards the overhead."""
    from fractions import Fraction
    from hwsim.sim.l1banks import kernel_streams
    streams = kernel_streams("matmul", 3)
    assert [[s.bank(k, 16) for k in range(6)] for s in streams] == [
        [0, 0, 1, 1, 2, 2], [5, 2, 6, 3, 7, 4], [10, 4, 11, 5, 12, 6], [5, 6, 7, 8, 9, 10]]
    assert [(s.activity, s.core) for s in streams] == [(Fraction(1, 2), True)] * 3 + [
        (Fraction(1, 4), False)]
    assert len(kernel_streams("matmul", 3, dma=False)) == 3


def test_bundled_kernel_layouts_bank_sequences():
    """The other ASSUMED layouts (``kernel_streams`` docstring), core 1 and the DMA port on 16
    banks, first 6 accesses (bank = word mod 16):
    matvec: weight row from 64 (bank 0), vector from 4101 = 256 x 16 + 5: 0, 5, 1, 6, 2, 7;
      DMA from 7
    depthwise: plane from 100 = 6 x 16 + 4 at stride 3, weights from 2057 = 128 x 16 + 9:
      4, 9, 7, 10, 10, 11; DMA from 11
    elementwise: from 1, 1001 = 62 x 16 + 9, 3001 = 187 x 16 + 9, each at stride 8:
      1, 9, 9, 9, 1, 1; DMA from 13
    pool: from 51 (bank 3) at stride 2: 3, 5, 7, 9, 11, 13; DMA from 9
    random: random banks; DMA from 0."""
    from fractions import Fraction as F
    from hwsim.sim.l1banks import kernel_streams
    want = {"matvec": ([0, 5, 1, 6, 2, 7], F(2, 3), 7), "depthwise": ([4, 9, 7, 10, 10, 11], F(1, 2), 11),
            "elementwise": ([1, 9, 9, 9, 1, 1], F(3, 4), 13), "pool": ([3, 5, 7, 9, 11, 13], F(1, 2), 9)}
    for kernel, (banks, act, dma) in want.items():
        core1, dma_port = kernel_streams(kernel, 2)[1:]
        assert [core1.bank(k, 16) for k in range(6)] == banks, kernel
        assert core1.activity == act and core1.core and not core1.random
        assert [dma_port.bank(k, 16) for k in range(3)] == [dma, dma + 1, dma + 2], kernel
        assert (dma_port.activity, dma_port.core) == (F(1, 4), False)
    core1, dma_port = kernel_streams("random", 2)[1:]
    assert (core1.random, core1.activity, dma_port.base, dma_port.activity) == (True, F(1, 2), 0, F(1, 4))


def test_dma_descriptor_queue_programs_ahead_then_waits_for_the_slot():
    """One DMA slot, a descriptor queue of 1 more (2 entries), 2 setup cycles per descriptor,
    three 8-byte reads at once over a 1 B/cycle link (1 GHz):
    A: entry at 0, setup to 2, slot at 2, data 2..10.
    B: entry at 0, setup to 2, slot queued until A ends at 10, data 10..18 (queued 8).
    C: no entry until A frees one at 10, setup to 12, slot queued until B ends at 18, data
    18..26 (queued 10 + 6 = 16, all on the DMA)."""
    import simpy
    from hwsim.sim.interconnect import Interconnect
    p = platform_from_dict({"name": "dq", "clocks": {"d": "1 GHz"}, "components": {
        "cluster": {"type": "core_cluster", "clock": "d", "l1": "l1", "kernels": {"add": 1}},
        **{m: {"type": "memory", "level": m.upper(), "clock": "d", "size_bytes": 1 << 16,
               "port_bandwidth_bytes_per_cycle": 4096} for m in ("l1", "l2")},
        "dma": {"type": "dma", "clock": "d", "max_outstanding": 1, "queue_depth": 1,
                "setup_cycles": 2, "burst_bytes": 8}},
        "links": [{"between": ["l2", "dma"], "clock": "d", "bandwidth_bytes_per_cycle": 1},
                  {"between": ["dma", "l1"], "clock": "d", "bandwidth_bytes_per_cycle": 4096}]})
    env = simpy.Environment()
    ic = Interconnect(env, p)
    (route,) = ic.hops("l2", "l1")
    done = {}

    def read(name):
        t = yield from ic.transfer(route, 8)
        done[name] = (t.end_ps // NS, t.queued_ps // NS, {k: v // NS for k, v in (t.waits or {}).items()})
    for name in "ABC":
        env.process(read(name))
    env.run()
    assert done == {"A": (10, 0, {}), "B": (18, 8, {"dma": 8}), "C": (26, 16, {"dma": 16})}
    assert ic.dma_slots["dma"].busy_ps == 3 * 8 * NS     # the slot holds each transfer's data


def test_channel_round_robin_and_priority_grants_through_acquire():
    """Requests queued on a busy one-server channel in the order a1 (requester A), a2 (A),
    b1 (B): FIFO serves a1 a2 b1, round robin over requesters a1 b1 a2. With fixed priority
    (lower wins) requests p2 (priority 2) then p1 (1) are served p1, p2."""
    import simpy
    from hwsim.sim.interconnect import Channel

    def order(policy, reqs):
        env = simpy.Environment()
        ch = Channel(env, "c", "link", policy=policy)
        out = []

        def user(name, who, prio):
            ev = ch.acquire(who, prio)
            if ev is not None:
                yield ev
            out.append(name)
            yield env.timeout(10)
            ch.release()
        for name, who, prio in [("x", "X", 0)] + reqs:   # x holds the server first
            env.process(user(name, who, prio))
        env.run()
        return out[1:]
    reqs = [("a1", "A", 0), ("a2", "A", 0), ("b1", "B", 0)]
    assert order("fifo", reqs) == ["a1", "a2", "b1"]
    assert order("round_robin", reqs) == ["a1", "b1", "a2"]
    assert order("fixed_priority", [("p2", "P", 2), ("p1", "P", 1)]) == ["p1", "p2"]


def test_dram_closed_page_first_activate_has_no_tras_constraint():
    """A bank never activated has no tRAS to respect; the closed-page rule "precharge tRP
    after the bank's last data" counts the start (time 0) as its last data. Two banks, 4 bytes
    at time 0: activate at tRP 7, then tRCD 3 + tCL 5 + 4 data cycles: 19. Bank 1 at 19 (its
    tRP long over): 12."""
    dt = _dram(page_policy="closed")
    assert _burst(dt, 0, 0, 4) == 19
    assert _burst(dt, 19, 64, 4) == 12


def test_timed_memory_addresses_are_consecutive_in_transfer_order():
    """The engine's DRAM layout: each timed memory hands out consecutive byte addresses in
    the order transfers touch it, wrapping at its size (a 100-byte DRAM here); untimed
    memories have none."""
    d = xbar_platform()
    d["clocks"]["d"] = "1 GHz"
    d["components"]["l3"] = dict(type="dram", clock="d", level="L3", size_bytes=100, banks=2,
                                 data_bus_bits=8, transfers_per_cycle=1, burst_length=4,
                                 row_bytes=64)
    d["links"].append({"between": ["l3", "dma"], "clock": "c", "bandwidth_bytes_per_cycle": 8})
    sim = hwsim.Simulation(platform_from_dict(d), trace(L("a", "pointwise", 8, 8)))
    (to_l2,) = sim.ic.hops("l3", "l2")
    (from_l2,) = sim.ic.hops("l2", "l3")
    assert [sim._address(r, n) for r, n in ((to_l2, 30), (from_l2, 50), (to_l2, 40), (to_l2, 1))] \
        == [0, 30, 80, 20]     # 80 + 40 = 120 wraps to 20
    (l2_l1,) = sim.ic.hops("l2", "l1")
    assert sim._address(l2_l1, 8) is None


def test_ideal_activation_memory_moves_only_the_weights_by_hand():
    """``fidelity.ideal_activation_memory`` on the hand-computed pointwise layer: the 128 B
    input and the 128 B output move in no time and for no energy, but are still counted; the
    64 B of weights still load: 5 + 64 / 8 = 13 cycles, the only wait.
    Energy: L2 read 3 x 64 + L1 write 0.75 x 64 + links 0.1875 x 64 = 192 + 48 + 12 = 252 pJ."""
    real = hwsim.simulate(_digital(), _pointwise()).layers[0]
    rec = hwsim.simulate(_digital(fidelity={"ideal_activation_memory": True}), _pointwise()).layers[0]
    assert rec.bytes_moved == real.bytes_moved == {"l2->l1": 192, "l1->l2": 128}
    # (however the tiler cuts it: the weights are the only wait)
    assert (rec.memory_stall_cycles, rec.cycles) == (13, rec.compute_cycles + 13)
    assert rec.energy_pj["data_movement"] == pytest.approx(252)


def test_run_reports_its_wall_time():
    """``perf``: the wall-clock seconds of the run (within the time measured around it) and
    the events per second over it."""
    import time
    t0 = time.perf_counter()
    r = hwsim.simulate(_digital(), _pointwise())
    dt = time.perf_counter() - t0
    assert 0 < r.perf["wall_s"] <= dt
    assert r.perf["events_per_s"] == pytest.approx(r.perf["events"] / r.perf["wall_s"])


def _conv():
    """conv2d 3x3, padding 1, 8 -> 8 channels on 4x4, 8-bit, no bias: 9,216 MACs."""
    return trace_from_dict({"name": "conv", "input_shape": [8, 4, 4], "layers": [
        {"name": "c", "op": "conv2d", "input_shape": [8, 4, 4], "output_shape": [8, 4, 4],
         "kernel": [3, 3], "padding": [1, 1, 1, 1], "bias": False}]})


def test_core_energy_per_active_and_idle_core_cycle_by_hand():
    """Per core-cycle energy (1.5 pJ active, 0.25 pJ idle) on 3 cores: every core is active
    during the tile overhead (10,000 cycles: one tile is the tiler's cheapest) and for its share
    of the kernel (ops / (MAC/cycle) core-cycles in all); the rest of 3 x span idles.
    pointwise, 1,024 MACs at 1 MAC/cycle: span 342 + T, 3 x span = 1,026 + 3T core-cycles,
    active 1,024 + 3T, idle 2: (1,024 + 30,000) x 1.5 + 2 x 0.25 = 46,536.5 pJ.
    conv2d, 9,216 MACs at 0.5 MAC/cycle: 18,432 active core-cycles + 3T = 3 x (6,144 + T)
    (no idle): 48,432 x 1.5 pJ. Peak: 2 ops per 1.5 pJ / 1 MAC/cycle (the best kernel) = 4/3
    TOPS/W."""
    p = _digital(core_cycle_pj=(1.5, 0.25), tile_overhead=10_000)
    r = hwsim.simulate(p, _pointwise())
    assert r.layers[0].energy_pj["compute"] == pytest.approx(46_536.5)
    assert r.summary_dict()["peak_tops_per_w"] == pytest.approx(4 / 3)
    rc = hwsim.simulate(p, _conv()).layers[0]
    assert rc.compute_cycles == 6144 + 10_000
    assert rc.energy_pj["compute"] == pytest.approx(48_432 * 1.5)
    # 4 cores on 2 banks: every core is active while stalled on a bank too; 1,024 MACs:
    # 256 + T cycles + S stall cycles, all 4 cores busy throughout: 4 x (256 + T + S) x 1.5 pJ
    from hwsim.sim.l1banks import conflict_overhead
    stall = round(256 * conflict_overhead("pointwise", 4, 2))
    rb = hwsim.simulate(_digital(banks=2, cores=4, core_cycle_pj=(1.5, 0.25), tile_overhead=10_000),
                        _pointwise()).layers[0]
    assert stall > 0 and rb.energy_pj["compute"] == pytest.approx(4 * (10_256 + stall) * 1.5)
    # a best kernel of 2 MAC/cycle: 0.75 pJ per MAC, 2 ops per 0.75 pJ = 8/3 TOPS/W
    from hwsim.hardware.registry import model_of
    d = xbar_platform(tiles=0)
    del d["components"]["cluster"]["energy_pj_per_op"]
    d["components"]["cluster"]["pj_per_active_core_cycle"] = 1.5
    cl = platform_from_dict(d).components["cluster"]
    assert model_of(cl).peak(cl)["tops_per_w"] == pytest.approx(8 / 3)


def test_a_tile_cut_along_other_dimensions_runs_at_the_table_rate():
    """A hand-built tile (no channels x rows tiling) on the table kernel model takes
    ceil(ops / (cores x MAC/cycle)) + overhead: 97 ops on 3 cores: 33 + 4 = 37 cycles (not the
    layer's rate scaled to the tile: the layer has 64 MACs)."""
    rec = _hand_plan(_digital(), [Tile(loads=(("l2", 8),), ops=97, stores=())]).run().layers[0]
    assert rec.compute_cycles == 37


def test_crossbars_programmed_each_inference_are_busy_programming_and_computing():
    """Two layers of two 64-row blocks on the same two crossbars, reprogrammed per layer:
    each crossbar is busy, per layer, for its programming span (64,000 cycles + the weight
    DMA, as reported) and the layer's 16 MVMs x 10 cycles; the third crossbar never."""
    p = platform_from_dict(xbar_platform(64, 64, tiles=3, prog_cycles=1000, prog_pj=50.0,
                                         stream_bw=4096, mapping={"overflow": "reprogram"}))
    t = trace(L("a", "pointwise", 128, 64, hw=4), L("b", "pointwise", 128, 64, hw=4, inputs=["input"]))
    sim = hwsim.Simulation(p, t)
    r = sim.run()
    assert [pl.aimc.tiles for pl in sim.mapping.plans] == [("xb0", "xb1")] * 2
    want = sum((rec.programming_cycles + 16 * 10) * C100 for rec in r.layers)
    assert sim.engine_busy_ps["xb0"] == sim.engine_busy_ps["xb1"] == want
    assert sim.engine_busy_ps["xb2"] == 0
    idle = {res.name: res for res in r.resources}["xb2"]
    assert (idle.grants, idle.utilisation, idle.mean_wait_cycles, idle.mean_wait_all_cycles) == (0, 0, 0, 0)


def test_aimc_accepts_weighted_layers_that_fit_and_states_its_peak():
    """A 3x3 depthwise kernel needs 9 rows per channel: an 8-row crossbar cannot take it, a
    1x1 (pointwise) layer it can; a pooling layer has no weights. Peak of a 256 x 256
    crossbar at 100 MHz, 10-cycle MVMs: 2 x 65,536 ops / 100 ns = 1.31072 TOPS; 2 x 65,536
    ops per 1000 pJ = 131.072 TOPS/W. The 8-core cluster: 2 ops x 8 cores x 2 MAC/cycle (its
    best weighted kernel) x 100 MHz = 3.2 GOPS, 2 ops per 2 pJ = 1 TOPS/W."""
    from hwsim.hardware.registry import model_of
    from hwsim.report.efficiency import engine_peaks
    from hwsim.workload.trace import layer_from_dict
    small = platform_from_dict(xbar_platform(rows=8, cols=8))
    xb = small.components["xb0"]
    m = model_of(xb)
    assert not m.accepts(xb, layer_from_dict(L("dw", "depthwise", 4, 4, hw=4, k=3)))
    assert m.accepts(xb, layer_from_dict(L("pw", "pointwise", 4, 4, hw=4)))
    assert not m.accepts(xb, layer_from_dict(L("mp", "maxpool", 4, 4, hw=4, k=3)))
    pk = engine_peaks(platform_from_dict(xbar_platform()))
    assert pk["xb0"]["tops"] == pytest.approx(1.31072)
    assert pk["xb0"]["tops_per_w"] == pytest.approx(131.072)
    assert pk["cluster"]["tops"] == pytest.approx(3.2e-3)
    assert pk["cluster"]["tops_per_w"] == pytest.approx(1.0)
    # 6 cycles of job overhead: one job per 16 cycles, 2 x 65,536 / 160 ns = 0.8192 TOPS
    d = xbar_platform()
    d["components"]["xb0"]["job_overhead_cycles"] = 6
    p = platform_from_dict(d)
    assert engine_peaks(p)["xb0"]["tops"] == pytest.approx(0.8192)
    # the platform's peaks: all engines (summed TOPS, best TOPS/W), or the ones a mapping uses
    from hwsim.report.efficiency import platform_peaks
    assert platform_peaks(p) == {"peak_tops": pytest.approx(0.8192 + 3.2e-3),
                                 "peak_tops_per_w": pytest.approx(131.072)}
    assert platform_peaks(p, {"cluster"}) == {"peak_tops": pytest.approx(3.2e-3),
                                              "peak_tops_per_w": pytest.approx(1.0)}
    # derived once per platform and shared: what a caller gets is its own copy
    engine_peaks(p)["xb0"]["tops"] = 0.0
    assert engine_peaks(p)["xb0"]["tops"] == pytest.approx(0.8192)
    assert platform_peaks(p)["peak_tops"] == pytest.approx(0.8192 + 3.2e-3)


def test_weight_free_layers_have_no_weight_memory():
    """A max-pooling layer stores no parameters: its plan has no weight memory (and leaves
    L2 to the others); the pointwise layer before it keeps its weights in L2."""
    tr = trace_from_dict({"name": "pp", "input_shape": [8, 4, 4], "layers": [
        {"name": "pw", "op": "pointwise", "input_shape": [8, 4, 4], "output_shape": [8, 4, 4],
         "bias": False},
        {"name": "mp", "op": "maxpool", "input_shape": [8, 4, 4], "output_shape": [8, 2, 2],
         "kernel": [2, 2], "stride": [2, 2]}]})
    pw, mp = hwsim.mapping.mapper.map_trace(_digital(), tr).plans
    assert (pw.weight_mem, mp.weight_mem) == ("l2", None)


def test_single_tile_working_set_is_double_buffered_activations_plus_weights():
    """L1 working set of a one-tile layer: input and output double-buffered, weights once.
    pointwise: 2 x (128 + 128) + 64 = 576 B; conv2d 3x3: 2 x (128 + 128) + 576 = 1,088 B."""
    for tr, need in ((_pointwise(), 576), (_conv(), 1088)):
        (plan,) = hwsim.mapping.mapper.map_trace(_digital(tile_overhead=10_000), tr).plans
        assert (plan.n_tiles, plan.l1_bytes) == (1, need)


def test_shelf_packing_fills_a_shelf_with_blocks_as_tall_as_it():
    """Three single-block layers of 128 rows x 100 columns on 256 x 256 crossbars: the first
    opens a 128-row shelf, the second (as tall) sits beside it (columns 100-199), the third
    does not fit the row (300 > 256 columns) and opens a second shelf below (rows 128-255):
    one crossbar. A 129-row block does not fit a 128-row shelf."""
    from hwsim.mapping.aimc import layer_blocks, pack
    from hwsim.workload.trace import layer_from_dict
    xb = platform_from_dict(xbar_platform()).components["xb0"]
    lbs = [(n, layer_blocks(layer_from_dict(L(n, "pointwise", 128, 100)), xb)) for n in "abc"]
    assign, n = pack(lbs, 256, 256)
    assert n == 1 and {a[0][0] for a in assign.values()} == {0}
    taller = lbs[:2] + [("d", layer_blocks(layer_from_dict(L("d", "pointwise", 129, 100)), xb))]
    assert pack(taller, 256, 256)[1] == 2   # d: not on shelf 1; shelf 2 would end at row 257


def test_wait_attribution_by_queueing_and_overlap_by_hand():
    """``_queued_by_resource``: completed waits plus waits in progress, by resource.
    T1 waited 5 on a and 2 on b; T2 waited 1 on a and waits on a since 9; T3 waits on b
    since 12. At 14: a = 5 + 1 + (14 - 9) = 11, b = 2 + (14 - 12) = 4.
    ``_attribute`` of a wait [10, 60) with 20 ps contention and 30 ps stall: the transfers
    queued meanwhile 30 - 10 = 20 on x and 10 on y: 20 x 2/3 = 13.33 and 20 x 1/3 = 6.67,
    the spare ps to the larger remainder (y): x 13, y 7. In flight meanwhile: T1 [0, 50)
    overlaps 40 on its bottleneck p, T2 [30, now) 30 on q: 30 x 4/7 = 17.14 and 30 x 3/7 =
    12.86, the spare ps to q: p 17, q 13."""
    from types import SimpleNamespace as T
    from hwsim.sim.engine import _Acct, _attribute, _queued_by_resource
    xs = [T(waits={"a": 5, "b": 2}, waiting_since=None, waiting_on=None),
          T(waits={"a": 1}, waiting_since=9, waiting_on="a"),
          T(waits=None, waiting_since=12, waiting_on="b")]
    assert _queued_by_resource(xs, 14) == {"a": 11, "b": 4}
    acct = _Acct()
    xs = [T(waits={"x": 30}, waiting_since=None, start_ps=0, end_ps=50, route=T(bottleneck="p")),
          T(waits={"y": 10}, waiting_since=None, start_ps=30, end_ps=None, route=T(bottleneck="q"))]
    _attribute(acct, xs, {"x": 10}, 10, 60, 20, 30)
    assert acct.by_res["contention"] == {"x": 13, "y": 7}
    assert acct.by_res["memory_stall"] == {"p": 17, "q": 13}


def test_fast_random_model_fixed_point_at_half_activity():
    """Two random requesters at activity 1/2 on 2 banks. The other one presents with
    probability q, at my bank with q / 2, so I win with p = 1 - q / 4; I present when I have
    an access pending: q = a / (1 - (1 - a)(1 - p)) = 1 / (1 + p). Hence 4 p (1 + p) =
    4 (1 + p) - 1, p^2 = 3/4, p = sqrt(3) / 2. Per access 1/p - 1 stall cycles over 1/a = 2
    conflict-free cycles: overhead (2 / sqrt(3) - 1) / 2; a presentation loses with 1 - p."""
    import math
    res = fast([Stream(random=True, activity=0.5)] * 2, 2)
    assert res.overhead == pytest.approx((2 / math.sqrt(3) - 1) / 2, rel=1e-9)
    assert res.conflict_probability == pytest.approx(1 - math.sqrt(3) / 2, rel=1e-9)
    # one requester at activity 1 (always presents, q = 1), one at 1/2, 2 banks:
    # p_half = 1 - 1/4 = 3/4; q_half = (1/2) / (1 - (1/2)(1/4)) = 4/7; p_one = 1 - (4/7) / 4
    # = 6/7. Overhead ((7/6 - 1) + (4/3 - 1)) / (1 + 2) = 1/6; presentations 1 + 4/7 = 11/7 of
    # which 6/7 + (4/7)(3/4) = 9/7 win: 2/11 lose
    res = fast([Stream(random=True, activity=1), Stream(random=True, activity=0.5)], 2)
    assert (res.cycles, res.accesses) == (1, [1, 1])     # rates per access of each requester
    assert res.overhead == pytest.approx(1 / 6, rel=1e-9)
    assert res.conflict_probability == pytest.approx(2 / 11, rel=1e-9)


def _pool_platform(l1_size=1 << 16, **cluster):
    """A core cluster with only a max-pooling kernel (1 read/cycle/core), L1, L2, a DMA."""
    return platform_from_dict({"name": "pool", "clocks": {"c": "100 MHz"}, "components": {
        "cluster": {"type": "core_cluster", "clock": "c", "l1": "l1", "kernels": {"maxpool": 1},
                    **cluster},
        "l1": {"type": "memory", "level": "L1", "clock": "c", "size_bytes": l1_size},
        "l2": {"type": "memory", "level": "L2", "clock": "c", "size_bytes": 1 << 16},
        "dma": {"type": "dma", "clock": "c"}},
        "links": [{"between": [a, b], "clock": "c", "bandwidth_bytes_per_cycle": 8}
                  for a, b in (("l2", "dma"), ("dma", "l1"))]})


def _maxpool():
    """Max-pooling 8 channels 4x4 -> 2x2 with 2x2 windows."""
    return trace_from_dict({"name": "mp", "input_shape": [8, 4, 4], "layers": [
        {"name": "mp", "op": "maxpool", "input_shape": [8, 4, 4], "output_shape": [8, 2, 2],
         "kernel": [2, 2], "stride": [2, 2]}]})


def test_energy_gap_sums_the_layers_and_a_platform_without_peak():
    """Two independent copies of the hand-computed pointwise layer: each moves 1,484 pJ of
    data and computes 2,048 pJ at exactly the 1 TOPS/W peak, so the run's gap is 2 x 1,484 pJ
    of data movement, no compute excess, and its ideal 2 x 2,048 pJ. A cluster with only a
    pooling kernel has no MAC peak: its fraction of peak is 0, its peak TOPS/W none."""
    tr = trace_from_dict({"name": "pair", "input_shape": [8, 4, 4], "layers": [
        {"name": n, "op": "pointwise", "input_shape": [8, 4, 4], "output_shape": [8, 4, 4],
         "bias": False, "inputs": ["input"]} for n in ("a", "b")]})
    d = hwsim.simulate(_digital(), tr).summary_dict()
    gap = d["energy_gap_pj"]
    assert gap["data_movement"] == pytest.approx(2 * 1484)
    assert gap["ideal_at_peak"] == pytest.approx(2 * 2048)
    assert gap["compute_excess"] == pytest.approx(0, abs=1e-9)
    d = hwsim.simulate(_pool_platform(cores=2), _maxpool()).summary_dict()
    assert (d["peak_tops"], d["peak_tops_per_w"], d["tops_fraction_of_peak"]) == (0, None, 0.0)


def test_pulp_nn_pooling_splits_output_rows_over_the_cores():
    """``kernel_model: pulp_nn``: PULP-NN's pooling kernel gives each core whole output rows
    at the table's rate, so the core with most rows sets the time. Max-pooling 8 channels
    4x4 -> 2x2 (2x2 windows): 8 x 2 x 2 x 4 = 128 window reads at 1 per cycle. On 3 cores the
    2 output rows go to 2 cores: ceil(2 / 3) = 1 row x 64 reads = 64 cycles (not 128 / 3),
    + the tile overhead (10,000: one tile); the mapper's estimate is the same 64 cycles."""
    from hwsim.hardware.registry import model_of
    p = _pool_platform(cores=3, kernel_model="pulp_nn", tile_overhead_cycles=10_000)
    mp = _maxpool()
    sim = hwsim.Simulation(p, mp)
    rec = sim.run().layers[0]
    assert sim.mapping.plans[0].n_tiles == 1 and rec.compute_cycles == 64 + 10_000
    cl = p.components["cluster"]
    assert model_of(cl).estimate_ps(p, cl, mp.layers[0], cl) == pytest.approx(64 * C100)
    # tiles of one output row each on 2 cores: the row goes to one core, 64 reads = 64 cycles
    # per tile (the layer's 2 rows would take 1 row per core, 32 cycles per half)
    rows = [Tile(loads=(("l2", 64),), ops=64, stores=(("l2", 16),))] * 2
    rec = _hand_plan(_pool_platform(cores=2, kernel_model="pulp_nn", tile_overhead_cycles=4), rows,
                     mp.layers[0], {"channels": 8, "rows": 1}).run().layers[0]
    assert rec.compute_cycles == 2 * (64 + 4)


def test_a_timeline_wait_is_named_by_the_resource_charged_most():
    """A wait charged x: 30 ps stall + 10 ps contention (40 in all) and y: 20 ps contention
    (on top of what the layer had charged before: x 5 stall, y 50 contention) is drawn as a
    wait on x; with 30 ps of contention against 30 of stall it is a memory stall."""
    from hwsim.sim.engine import _Acct
    sim = hwsim.Simulation(_digital(), _pointwise())
    seen = []

    class Recorder:
        def wait(self, engines, layer, tile, what, t0, t1, category, resource, stall, cont):
            seen.append((tuple(engines), layer, tile, what, category, resource, stall, cont))
    sim.timeline = Recorder()
    acct = _Acct()
    acct.by_res["memory_stall"] = {"x": 35}
    acct.by_res["contention"] = {"x": 10, "y": 70}
    before = {"memory_stall": {"x": 5}, "contention": {"y": 50}}
    (plan,) = sim.mapping.plans
    sim._timeline_wait((plan, 0, "in"), acct, before, 0, 30, 30)
    assert seen == [(("cluster",), "pw", 0, "in", "memory_stall", "x", 30, 30)]


def test_row_tiles_working_set_counts_the_interior_halo():
    """conv2d 3x3, padding 1, 8 -> 8 channels on 8x8, 8-bit (weights 576 B) in a 1,400 B L1
    with a 10,000-cycle tile overhead (few tiles are cheapest): row tiles of all 8 channels. A tile of r output rows needs r + 1 input rows at the borders but r + 2 inside;
    the working set holds the largest input and the output tile twice, the weights once:
    2 x ((r + 2) x 64 + r x 64) + 576 B (1,344 B for r = 2), within the L1."""
    tr = trace_from_dict({"name": "conv", "input_shape": [8, 8, 8], "layers": [
        {"name": "c", "op": "conv2d", "input_shape": [8, 8, 8], "output_shape": [8, 8, 8],
         "kernel": [3, 3], "padding": [1, 1, 1, 1], "bias": False}]})
    (plan,) = hwsim.mapping.mapper.map_trace(_digital(l1_size=1400, tile_overhead=10_000), tr).plans
    r = plan.tile_shape["rows"]
    assert plan.tile_shape["channels"] == 8 and plan.n_tiles >= 3     # an interior tile exists
    assert plan.l1_bytes == 2 * ((r + 2) * 64 + r * 64) + 576 <= 1400


def test_ideal_activation_memory_channel_tiles_still_load_each_weight_once():
    """pointwise 256 -> 19 channels on 2x2 with a 3,000 B L1: channel tiles (the 4,864 B of
    weights do not fit), the last channel group smaller than the others. With activations free
    only the weights move, each byte once: 4,864 B x (L2 read 3 + L1 write 0.75 + links 0.1875
    pJ)."""
    tr = trace_from_dict({"name": "pw", "input_shape": [256, 2, 2], "layers": [
        {"name": "pw", "op": "pointwise", "input_shape": [256, 2, 2], "output_shape": [19, 2, 2],
         "bias": False}]})
    sim = hwsim.Simulation(_digital(l1_size=3000, fidelity={"ideal_activation_memory": True}), tr)
    rec = sim.run().layers[0]
    co = sim.mapping.plans[0].tile_shape["channels"]
    assert 19 % co and "rows" in sim.mapping.plans[0].tile_shape   # a remainder channel group
    assert rec.energy_pj["data_movement"] == pytest.approx(256 * 19 * 3.9375)


def test_two_layers_queue_on_the_link_and_the_cluster_by_hand():
    """Two copies of the hand-computed pointwise layer start together: their 192 B loads
    interleave 64 B bursts FIFO on the 8 B/cycle link: a1 [0, 8], b1 [8, 16], a2, b2, a3
    [32, 40], b3 [40, 48], + 5 latency: a loaded at 45 having queued 16 cycles, b at 53 having
    queued 24. With a 10,000-cycle tile overhead (one tile each), a computes 10,342 cycles
    [45, 10,387] and stores 128 B in 21: ends at 10,408. b queues for the cluster from 53 to
    10,387 (10,334 cycles), computes to 20,729, stores: ends at 20,750."""
    tr = trace_from_dict({"name": "pair", "input_shape": [8, 4, 4], "layers": [
        {"name": n, "op": "pointwise", "input_shape": [8, 4, 4], "output_shape": [8, 4, 4],
         "bias": False, "inputs": ["input"]} for n in ("a", "b")]})
    r = hwsim.simulate(_digital(tile_overhead=10_000), tr)
    a, b = r.layers
    assert (a.end_ps, b.end_ps) == (10_408 * C100, 20_750 * C100)
    assert a.queued_ps == {"l2--dma": 16 * C100}
    # a waited on the link 50 cycles of stall (the transfer times) + 16 of queueing
    assert (a.top_wait, a.top_wait_cycles) == ("l2--dma", 50 + 16)
    assert b.queued_ps == {"l2--dma": 24 * C100, "cluster": 10_334 * C100}
    # the link l2 -> dma: 6 bursts granted, 5 of them after a wait of 8 cycles (40 in all)
    link = {res.name: res for res in r.resources}["l2->dma"]
    assert (link.grants, link.waits, link.max_wait_cycles) == (6, 5, 8)
    assert (link.mean_wait_cycles, link.mean_wait_all_cycles) == (8, pytest.approx(40 / 6))
    assert (r.totals["l2_bytes"], r.totals["l3_bytes"]) == (2 * (192 + 128), 0)


def test_a_transfers_queue_time_includes_a_wait_in_progress():
    """``queued_until(now)``: the waits done (5 ps) plus the one in progress since 10: at 14,
    9 ps; with no wait in progress, the waits done."""
    t = Transfer(None, 8, None)
    t.queued_ps, t.waiting_since = 5, 10
    assert t.queued_until(14) == 9
    t.waiting_since = None
    assert t.queued_until(14) == 5


def test_dma_reads_towards_compute_and_writes_away_from_it():
    """A DMA with separate read and write channels: a load (to a lower memory level, or to an
    engine) uses ``rd``, a store ``wr``; between two memories of one level nothing is closer to
    compute: ``wr``."""
    import simpy
    from hwsim.sim.interconnect import Interconnect
    d = xbar_platform()
    d["components"]["dma"]["bandwidth_bytes_per_cycle"] = 64
    d["components"]["l2b"] = dict(d["components"]["l2"])
    d["links"].append({"between": ["l2b", "dma"], "clock": "c", "bandwidth_bytes_per_cycle": 64})
    ic = Interconnect(simpy.Environment(), platform_from_dict(d))
    way = {(a, b): [c.name for c in r.channels if c.name.startswith("dma.")]
           for a, b in (("l2", "l1"), ("l1", "l2"), ("l2", "l2b"), ("l2b", "l2"))
           for (r,) in [ic.hops(a, b)]}
    assert way == {("l2", "l1"): ["dma.rd"], ("l1", "l2"): ["dma.wr"],
                   ("l2", "l2b"): ["dma.wr"], ("l2b", "l2"): ["dma.wr"]}


def test_timeline_waits_of_an_output_bound_layer_by_hand(tmp_path):
    """Three tiles on one core: 40 B in (5 + 5 = 10 cycles), 6 MACs (6 + 4 = 10 cycles),
    400 B out (5 + 50 = 55 cycles, stores one after another on the write direction).
    load 0 [0, 10], compute 0 [10, 20], store 0 [20, 75]; compute 1 [20, 30], store 1
    [75, 130]; compute 2 needs output buffer 0 back: waits for store 0 [30, 75], computes
    [75, 85], store 2 [130, 185]; the layer waits for its last store [85, 185]. Waits drawn:
    tile 0 in 10 cycles, tile 0 out 45, tile 2 out 100."""
    import json
    sim = _hand_plan(_digital(cores=1), [Tile(loads=(("l2", 40),), ops=6, stores=(("l2", 400),))] * 3)
    path = tmp_path / "t.json"
    rec = hwsim.Simulation(sim.platform, sim.trace, mapping=sim.mapping, timeline=str(path)).run().layers[0]
    assert rec.cycles == 185 and rec.memory_stall_cycles == 10 + 45 + 100
    waits = [(e["args"]["waits_for"], e["args"]["tile_index"], e["args"]["memory_stall_cycles"])
             for e in json.loads(path.read_text())["traceEvents"] if e.get("cat") == "wait"]
    assert waits == [("in", 0, 10), ("out", 0, 45), ("out", 2, 100)]


def test_a_tensor_read_twice_is_live_once():
    """``sq = input x input``: the 128 B network input is one tensor though the layer reads it
    as two operands (256 B of input): live in L2 with the 128 B output, 256 B. One producer:
    one memory; several: one per producer."""
    from hwsim.mapping.placement import input_memories, live_activations
    tr = trace_from_dict({"name": "sq", "input_shape": [8, 4, 4], "layers": [
        {"name": "sq", "op": "mul", "input_shape": [8, 4, 4], "output_shape": [8, 4, 4],
         "inputs": ["input", "input"]}]})
    l2 = _digital().components["l2"]
    assert live_activations(tr, l2, None, {"input": "l2", "sq": "l2"}, "f") == 256
    mem = {"a": "l2", "b": "l3"}
    assert input_memories(tr.layers[0], ("a",), mem) == "l2"
    assert input_memories(tr.layers[0], ("a", "b"), mem) == ("l2", "l3")


def test_hand_built_tiles_of_modelled_kernels_take_their_share_of_the_layer():
    """A tile cut along other dimensions than channels x rows runs at the whole layer's
    modelled rate: under ``kernel_model: pulp_nn`` a pointwise tile of half the layer's MACs
    takes ceil(half the layer's PULP-NN cycles); a pooling tile splits the layer's output
    rows over the cores: max-pooling 8 x 4 x 2 -> 8 x 2 x 1 (64 window reads) on 2 cores is 2
    rows, one per core: 32 cycles (not the 1 output column: 64)."""
    from hwsim.models.cores import layer_work
    from hwsim.workload.trace import Layer
    p = _pool_platform(cores=2, kernel_model="pulp_nn", tile_overhead_cycles=4)
    mp = Layer(name="mp", op="maxpool", input_shape=(8, 4, 2), output_shape=(8, 2, 1),
               kernel=(2, 2), stride=(2, 2))
    rec = _hand_plan(p, [Tile(loads=(("l2", 64),), ops=64, stores=(("l2", 16),))], mp).run().layers[0]
    assert rec.compute_cycles == 32 + 4
    d = _digital(kernel_model="pulp_nn")
    cl = d.components["cluster"]
    pw = _pointwise().layers[0]
    whole = layer_work(cl, pw).cycles
    assert whole > 1024 // 3     # PULP-NN's loop overheads: slower than the table
    half = [Tile(loads=(("l2", 8),), ops=512, stores=())] * 2
    rec = _hand_plan(d, half, pw).run().layers[0]
    assert rec.compute_cycles == 2 * (-(-whole // 2) + 4)


def test_input_rows_of_a_strided_tile_by_hand():
    """Input rows for output rows [h0, h1): from h0 x stride - pad_top to (h1 - 1) x stride -
    pad_top + kernel_h, clipped to the map. conv2d kernel 3x1, stride 2x1, padding top/bottom
    1 (left/right 0) on 8x4 -> 4x4: rows [0, 2) need input rows 0..3 (4), rows [2, 4) input
    rows 3..7 (5); a 1x1 stride-1 layer needs its rows only."""
    from hwsim.mapping.tiling import in_rows
    from hwsim.workload.trace import Layer
    l = Layer(name="c", op="conv2d", input_shape=(2, 8, 4), output_shape=(2, 4, 4), kernel=(3, 1),
              stride=(2, 1), padding=(1, 0, 1, 0))
    assert (in_rows(l, 0, 2), in_rows(l, 2, 4), in_rows(l, 1, 2)) == (4, 5, 3)


def test_peak_efficiency_of_equally_fast_kernels_is_the_first_listed():
    """conv2d and pointwise both at 2 MAC/cycle/core, at 4 and 1 pJ per MAC: the peak is the
    fastest kernel's, of equal ones the first in WEIGHTED_OPS (conv2d): 2 ops / 4 pJ = 0.5
    TOPS/W."""
    from hwsim.hardware.registry import model_of
    d = xbar_platform(tiles=0)
    d["components"]["cluster"]["energy_pj_per_op"] = {"conv2d": 4.0, "pointwise": 1.0, "default": 2.0}
    cl = platform_from_dict(d).components["cluster"]
    assert model_of(cl).peak(cl)["tops_per_w"] == pytest.approx(0.5)


def test_crossbar_weight_cells_and_bytes_programmed_per_block():
    """Weight cells count each weight once per bit slice: 100 x 100 8-bit weights on 2-bit
    cells fill 40,000 cells; a 3x3 depthwise layer of 64 channels on 4-bit cells 64 x 9 x 2 =
    1,152. Programming splits the layer's weight bytes over its blocks by area, rounded up:
    pointwise 96 -> 64 with bias = 6,144 + 64 x 4 = 6,400 B on 64x64 crossbars, blocks of
    64 x 64 and 32 x 64 (2/3 and 1/3 of the area): 4,266.7 -> 4,267 B and 2,133.3 -> 2,134 B."""
    from hwsim.mapping.aimc import blocks_to_program, layer_blocks
    from hwsim.workload.trace import layer_from_dict
    lb = layer_blocks(layer_from_dict(L("a", "pointwise", 100, 100, hw=2)),
                      platform_from_dict(xbar_platform(weight_bits=2)).components["xb0"])
    assert lb.weight_cells == 40_000
    lb = layer_blocks(layer_from_dict(L("dw", "depthwise", 64, 64, hw=4, k=3)),
                      platform_from_dict(xbar_platform(weight_bits=4)).components["xb0"])
    assert lb.weight_cells == 1_152
    p = platform_from_dict(xbar_platform(64, 64, tiles=2))
    (plan,) = hwsim.mapping.mapper.map_trace(p, trace(L("a", "pointwise", 96, 64, hw=4))).plans
    assert sorted(blocks_to_program(plan)) == [("xb0", 64, 4267), ("xb1", 32, 2134)]


def test_channel_tiles_add_the_partial_sums_of_their_own_channels():
    """pointwise 64 -> 512 on 2 x 64 pixels with 4-bit DACs (8-bit inputs: 2 MVM passes, 2
    partials per output) and an L1 that forces channel tiles: whatever the tiling, 128 pixels x
    512 outputs x 1 addition at 2 pJ = 131,072 pJ of postprocessing; 2 passes x 128 pixels x
    2 column blocks x 1000 pJ = 512,000 pJ of MVMs."""
    t = trace({"name": "a", "op": "pointwise", "input_shape": [64, 2, 64], "output_shape": [512, 2, 64]})
    p = platform_from_dict(xbar_platform(tiles=2, e_mvm=1000.0, l1_size=48 * 1024, input_bits=4))
    sim = hwsim.Simulation(p, t)
    rec = sim.run().layers[0]
    assert sim.mapping.plans[0].tile_shape["channels"] < 512
    assert rec.energy_pj["postprocessing"] == pytest.approx(131_072)
    assert rec.energy_pj["compute"] == pytest.approx(512_000)


def test_dram_bank_row_col_address_map():
    """``bank_row_col``: bank | row | column from high to low bits: a 1 MiB device of 2 banks
    and 64 B rows has 8,192 rows per bank; byte 64 x 8,192 + 70 is bank 1, row 1, column 6."""
    dt = _dram(address_map="bank_row_col")
    assert dt.decode(64 * 8192 + 70) == (1, 1, 6)
    assert dt.decode(70) == (0, 1, 6)
    assert _dram().decode(70) == (1, 0, 6)      # row_bank_col: the next row index is bank 1


def test_a_layer_that_never_waits_reports_no_wait():
    """A hand-built tile with nothing to load or store: no wait, no resource waited on."""
    rec = _hand_plan(_digital(), [Tile(loads=(), ops=6, stores=())]).run().layers[0]
    assert (rec.top_wait, rec.top_wait_cycles, rec.compute_cycles) == ("", 0, 2 + 4)


def test_aimc_energy_per_driven_row_and_read_column():
    """Without a flat energy per MVM: ``mvm_fixed_pj + r pj_per_active_row + c
    pj_per_active_column`` per MVM of a block of r rows and c columns: pointwise 32 -> 16 on 4x4
    pixels, one 32 x 16 block, 16 MVMs of 100 + 32 x 2 + 16 x 3 = 212 pJ: 3,392 pJ. Its
    weights stay in the crossbar (the record says so); a pooling layer has none."""
    d = xbar_platform(stream_bw=4096, dw=False)
    xb = d["components"]["xb0"]
    del xb["energy_pj_per_mvm"]
    xb.update(mvm_fixed_pj=100.0, pj_per_active_row=2.0, pj_per_active_column=3.0)
    p = platform_from_dict(d)
    r = hwsim.simulate(p, trace(L("a", "pointwise", 32, 16, hw=4),
                                L("mp", "maxpool", 16, 16, hw=4, k=1, inputs=["a"])))
    a, mp = r.layers
    assert a.engine_kind == "aimc" and a.energy_pj["compute"] == pytest.approx(16 * 212.0)
    assert (a.weights_in, mp.weights_in) == ("crossbar", "-")
    from hwsim.report.efficiency import engines_used
    assert engines_used(hwsim.mapping.mapper.map_trace(p, trace(
        L("a", "pointwise", 32, 16, hw=4), L("mp", "maxpool", 16, 16, hw=4, k=1, inputs=["a"]))).plans) \
        == {"xb0", "cluster"}


def test_a_kernel_as_tall_as_the_crossbar_takes_one_channel_per_crossbar():
    """7x7 depthwise (49 rows per channel) on 64 x 64 crossbars: one channel per crossbar,
    4 channels -> 4 blocks of 49 x 1."""
    from hwsim.mapping.aimc import layer_blocks
    from hwsim.workload.trace import layer_from_dict
    lb = layer_blocks(layer_from_dict(L("dw", "depthwise", 4, 4, hw=8, k=7)),
                      platform_from_dict(xbar_platform(64, 64)).components["xb0"])
    assert lb.blocks == ((49, 1),) * 4
