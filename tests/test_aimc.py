"""AIMC tiles: crossbar mapping counts, peak efficiency, streamer starvation, programming.

Every expected number is a hand-computed closed form (stated next to it).
"""
import math

import pytest

import hwsim
from hwsim.mapping.aimc import dedicated, layer_blocks, pack
from hwsim.sim.engine import Simulation
from hwsim.base.errors import ConfigError, MappingError
from hwsim.hardware.platform import platform_from_dict
from hwsim.workload.trace import layer_from_dict, trace_from_dict


def xbar_platform(rows=256, cols=256, tiles=1, stream_bw=64, mvm=10, mode="overlapped",
                  e_mvm=1000.0, prog_cycles=0, prog_pj=0.0, l1_size=4 * 2**20, mem_pj=0.0,
                  leak=0.0, weight_bits=8, input_bits=8, dw=False, mapping=None):
    comps = {
        "cluster": {"type": "core_cluster", "clock": "c", "cores": 8, "l1": "l1",
                    "kernels": {"conv2d": 2, "pointwise": 2, "linear": 1, "depthwise": 0.5,
                                "add": 1, "maxpool": 1, "avgpool": 1},
                    "energy_pj_per_op": {"default": 2.0}, "leakage_mw": leak},
        "l1": {"type": "memory", "level": "L1", "clock": "c", "size_bytes": l1_size, "ports": 4,
               "port_bandwidth_bytes_per_cycle": 4096, "read_pj_per_byte": mem_pj,
               "write_pj_per_byte": mem_pj},
        "l2": {"type": "memory", "level": "L2", "clock": "c", "size_bytes": 64 * 2**20,
               "port_bandwidth_bytes_per_cycle": 4096, "read_pj_per_byte": mem_pj,
               "write_pj_per_byte": mem_pj},
        "dma": {"type": "dma", "clock": "c", "max_outstanding": 4, "burst_bytes": 65536},
    }
    links = [{"between": ["l2", "dma"], "clock": "c", "bandwidth_bytes_per_cycle": 4096},
             {"between": ["dma", "l1"], "clock": "c", "bandwidth_bytes_per_cycle": 4096}]
    for i in range(tiles):
        comps[f"xb{i}"] = {"type": "aimc_tile", "clock": "c", "l1": "l1", "rows": rows, "cols": cols,
                           "mvm_latency_cycles": mvm, "stream_mode": mode, "energy_pj_per_mvm": e_mvm,
                           "program_cycles_per_row": prog_cycles, "program_pj_per_row": prog_pj,
                           "weight_bits": weight_bits, "input_bits": input_bits}
        links.append({"between": [f"xb{i}", "l1"], "clock": "c", "bandwidth_bytes_per_cycle": stream_bw})
    if dw:
        comps["dwa"] = {"type": "dw_accelerator", "clock": "c", "l1": "l1",
                        "kernels": {"depthwise": 16}, "energy_pj_per_op": {"depthwise": 0.5}}
    d = {"format": "hwsim-platform/1", "name": "xbar_test", "clocks": {"c": "100 MHz"},
         "components": comps, "links": links}
    if mapping:
        d["mapping"] = mapping
    return d


def L(name, op, cin, cout, hw=1, k=1, inputs=(), bits=None, **kw):
    d = {"name": name, "op": op, "input_shape": [cin, hw, hw], "output_shape": [cout, hw, hw],
         "kernel": [k, k], "padding": [k // 2] * 4, "inputs": list(inputs)}
    if op == "depthwise":
        d["groups"] = cin
    if bits:
        d["bits"] = bits
    d.update(kw)
    return d


def trace(*layers, name="t"):
    return trace_from_dict({"format": "hwsim-trace/1", "name": name, "input_shape": layers[0]["input_shape"],
                            "layers": list(layers)})


def xb(rows=256, cols=256, **kw):
    return platform_from_dict(xbar_platform(rows, cols, **kw)).components["xb0"]


# ---------------------------------------------------------------------------------------------
# Mapping counts
# ---------------------------------------------------------------------------------------------
def test_blocks_single_fits():
    lb = layer_blocks(layer_from_dict(L("a", "pointwise", 32, 192, hw=4)), xb())
    assert (lb.row_splits, lb.col_splits, lb.blocks, lb.partials) == (1, 1, ((32, 192),), 1)
    assert lb.weight_cells == 32 * 192


def test_blocks_row_and_col_splits():
    # 3x3 conv 64 -> 300: rows 576 = 256 + 256 + 64, cols 300 = 256 + 44 -> 3 x 2 = 6 blocks
    lb = layer_blocks(layer_from_dict(L("a", "conv2d", 64, 300, hw=4, k=3)), xb())
    assert (lb.row_splits, lb.col_splits) == (3, 2)
    assert lb.blocks == ((256, 256), (256, 44), (256, 256), (256, 44), (64, 256), (64, 44))
    assert lb.partials == 3


def test_blocks_bit_slicing():
    # 16-bit inputs on an 8-bit DAC: 2 MVMs per pixel; 8-bit weights on 2-bit cells: 4 columns each
    l = layer_from_dict(L("a", "pointwise", 100, 100, hw=2, bits={"input": 16, "weight": 8}))
    lb = layer_blocks(l, xb(weight_bits=2))
    assert (lb.islices, lb.wslices) == (2, 4)
    assert lb.col_splits == math.ceil(400 / 256) == 2
    assert lb.blocks == ((100, 256), (100, 144))
    assert lb.partials == 1 * 2 * 4


def test_blocks_depthwise_diagonal():
    # 3x3 depthwise, 192 channels: 9 rows per channel -> 256 // 9 = 28 channels per crossbar
    lb = layer_blocks(layer_from_dict(L("dw", "depthwise", 192, 192, hw=4, k=3)), xb())
    assert lb.diagonal and lb.n_blocks == math.ceil(192 / 28) == 7
    assert lb.blocks[0] == (9 * 28, 28) and lb.blocks[-1] == (9 * 24, 24)
    assert lb.weight_cells == 192 * 9


def test_packing_hand_cases():
    x = xb()
    small = [(f"s{i}", layer_blocks(layer_from_dict(L(f"s{i}", "pointwise", 64, 64)), x)) for i in range(4)]
    assign, n = pack(small, 256, 256)
    assert n == 1                                     # 4 x (64 x 64) side by side on one shelf
    assert {a[0][0] for a in assign.values()} == {0}
    mid = [(f"m{i}", layer_blocks(layer_from_dict(L(f"m{i}", "pointwise", 100, 200)), x)) for i in range(3)]
    assign, n = pack(mid, 256, 256)
    # m0 opens shelf rows 0-99 (cols 0-199); m1 does not fit beside it (200 + 200 > 256) and
    # opens shelf rows 100-199; m2 needs rows 200-299 > 256 -> a second crossbar
    assert n == 2 and [assign[f"m{i}"][0][0] for i in range(3)] == [0, 0, 1]
    big = ("big", layer_blocks(layer_from_dict(L("big", "pointwise", 300, 10)), x))  # 2 blocks
    assign, n = pack([small[0], big, small[1]], 256, 256)
    # big takes 2 dedicated crossbars (1, 2); s1 packs with s0 on crossbar 0
    assert n == 3 and assign["big"] == ((1, 256, 10), (2, 44, 10)) and assign["s1"][0][0] == 0
    assert dedicated([small[0], big])[1] == 3
    assert pack(mid, 256, 256, capacity=1)[0] is None


def test_mapping_packs_small_layers_and_reports_utilisation():
    p = platform_from_dict(xbar_platform(tiles=1))
    t = trace(L("a", "pointwise", 32, 192, hw=8), L("b", "pointwise", 192, 32, hw=8, inputs=["a"]))
    m = hwsim.mapping.mapper.map_trace(p, t)
    a, b = m.plans
    assert a.engine_kind == b.engine_kind == "aimc"
    assert a.aimc.tiles == b.aimc.tiles == ("xb0",) and a.aimc.packed and b.aimc.packed
    assert a.aimc.utilisation == pytest.approx(32 * 192 / 65536)
    assert m.summary["crossbars_needed"] == 1 and m.summary["aimc_programmed"] == "once"
    assert m.summary["crossbar_cell_utilisation"] == pytest.approx(2 * 32 * 192 / 65536)
    r = hwsim.simulate(p, t)
    assert r.layer("a").crossbar_utilisation == pytest.approx(0.09375)


def test_row_split_accumulation_cost_on_cores():
    # rows 512 on 256-row crossbars: 2 partials per output -> 1 addition per output element
    p = platform_from_dict(xbar_platform(tiles=2))
    t = trace(L("a", "pointwise", 512, 64, hw=4))
    plan = hwsim.mapping.mapper.map_trace(p, t).plans[0]
    assert plan.aimc.row_splits == 2 and sum(ti.acc_ops for ti in plan.tiles) == 16 * 64 * 1
    r = hwsim.simulate(p, t)
    # postprocessing energy = additions x core energy per op (2 pJ)
    assert r.layer("a").energy_pj["postprocessing"] == pytest.approx(16 * 64 * 2.0)


# ---------------------------------------------------------------------------------------------
# Peak efficiency and streamer starvation
# ---------------------------------------------------------------------------------------------
def test_exact_fit_reaches_peak_tops_per_w():
    """A 256x256 pointwise layer fills the crossbar exactly; with no data-movement energy and no
    leakage its achieved TOPS/W is the configured peak 2*R*C / energy_pj_per_mvm (within 1%)."""
    e = 2621.0
    p = platform_from_dict(xbar_platform(e_mvm=e))
    r = hwsim.simulate(p, trace(L("a", "pointwise", 256, 256, hw=16)))
    d = r.summary_dict()
    peak = 2 * 256 * 256 / e
    assert d["peak_tops_per_w"] == pytest.approx(peak)
    assert d["achieved_tops_per_w"] == pytest.approx(peak, rel=0.01)
    assert r.layer("a").energy_pj["compute"] == pytest.approx(256 * e)   # 16 x 16 MVMs


@pytest.mark.parametrize("bw", [16, 8, 4])
def test_starved_streamers_closed_form(bw):
    """Overlapped streaming: the crossbar's busy time per tile is
    max(mvms * lat, ceil(in / bw), ceil(out / bw)) cycles (no link latency here); below
    the bandwidth that matches the MVM rate (256 B per 10 cycles = 25.6 B/cycle) it is
    stream-bound and achieved TOPS fall in proportion to the bandwidth."""
    p = platform_from_dict(xbar_platform(stream_bw=bw, mvm=10))
    t = trace(L("a", "pointwise", 256, 256, hw=16))
    sim = Simulation(p, t)
    res = sim.run()
    plan = sim.mapping.plans[0]
    expect_ps = sum(max(ti.mvms * 10, -(-ti.stream_in // bw), -(-ti.stream_out // bw)) * 10_000
                    for ti in plan.tiles)
    assert sim.engine_busy_ps["xb0"] == expect_ps
    assert res.layer("a").memory_stall_cycles > 0      # the tile waited for its streamers


def test_starving_lowers_tops_in_proportion():
    t = trace(L("a", "pointwise", 256, 256, hw=32))
    tops = {bw: hwsim.simulate(platform_from_dict(xbar_platform(stream_bw=bw, mvm=10)), t)
            .summary_dict()["achieved_tops"] for bw in (16, 8, 4)}
    assert tops[8] / tops[16] == pytest.approx(0.5, rel=0.01)
    assert tops[4] / tops[16] == pytest.approx(0.25, rel=0.01)
    # above the MVM-matched bandwidth the tile is MVM-bound: more bandwidth buys nothing
    fast = [hwsim.simulate(platform_from_dict(xbar_platform(stream_bw=bw, mvm=10)), t)
            .summary_dict()["achieved_tops"] for bw in (64, 128)]
    assert fast[0] == pytest.approx(fast[1], rel=0.01)


def test_sequential_stream_mode_adds_phases():
    p = platform_from_dict(xbar_platform(stream_bw=64, mvm=10, mode="sequential"))
    sim = Simulation(p, trace(L("a", "pointwise", 256, 256, hw=8)))
    sim.run()
    # per tile: ceil(in/64) + mvms*10 + ceil(out/64) (links and ports without latency here)
    expect = sum((-(-ti.stream_in // 64) + ti.mvms * 10 + -(-ti.stream_out // 64)) * 10_000
                 for ti in sim.mapping.plans[0].tiles)
    assert sim.engine_busy_ps["xb0"] == expect


# ---------------------------------------------------------------------------------------------
# Programming
# ---------------------------------------------------------------------------------------------
def _two_split_layers():
    # each layer: rows 128 on 64-row crossbars -> 2 blocks of 64 x 64 (no packing possible);
    # both read the network input (same shape)
    return trace(L("a", "pointwise", 128, 64, hw=4), L("b", "pointwise", 128, 64, hw=4, inputs=["input"]))


def test_programming_once_when_weights_fit():
    p = platform_from_dict(xbar_platform(64, 64, tiles=4, prog_cycles=1000, prog_pj=50.0))
    r = hwsim.simulate(p, _two_split_layers())
    assert all(l.programming_cycles == 0 and l.energy_pj["programming"] == 0 for l in r.layers)
    d = r.summary_dict()
    assert d["setup_programming_pj"] == pytest.approx(4 * 64 * 50.0)
    assert d["setup_programming_s"] == pytest.approx(64 * 1000 / 100e6)


def test_overflow_to_cores_keeps_the_busiest_layers_stationary():
    # 3 crossbars, two 2-block layers: only one stays; b has more MACs per block (hw 8 vs 4)
    p = platform_from_dict(xbar_platform(64, 64, tiles=3, prog_cycles=1000, prog_pj=50.0))
    t = trace(L("a", "pointwise", 128, 64, hw=4), L("b", "pointwise", 128, 64, hw=8, inputs=["input"]))
    r = hwsim.simulate(p, t)
    assert [l.engine_kind for l in r.layers] == ["cores", "aimc"]
    assert r.mapping["aimc_programmed"] == "once"
    assert all(l.programming_cycles == 0 for l in r.layers)


def test_programming_each_inference_when_weights_exceed_arrays():
    p = platform_from_dict(xbar_platform(64, 64, tiles=3, prog_cycles=1000, prog_pj=50.0,
                                         mapping={"overflow": "reprogram"}))
    r = hwsim.simulate(p, _two_split_layers())
    assert r.mapping["aimc_programmed"] == "each inference"
    assert r.summary_dict()["setup_programming_pj"] == 0
    for l in r.layers:
        assert l.energy_pj["programming"] == pytest.approx(2 * 64 * 50.0)
        # 64 rows x 1000 cycles, plus the weight transfer (a few cycles at 4096 B/cycle)
        assert 64_000 <= l.programming_cycles <= 64_000 + 100


# ---------------------------------------------------------------------------------------------
# Depthwise policy
# ---------------------------------------------------------------------------------------------
def _dw_trace():
    return trace(L("dw", "depthwise", 64, 64, hw=16, k=3))


@pytest.mark.parametrize("pin,kind", [("cores", "cores"), ("crossbar", "aimc"),
                                      ("dw_accelerator", "dw_accelerator")])
def test_depthwise_policy_pinned(pin, kind):
    # 64 channels x 9 rows: 28 channels per crossbar -> 3 crossbars (28, 28, 8 channels)
    p = platform_from_dict(xbar_platform(tiles=3, dw=True, mapping={"depthwise": pin}))
    plan = hwsim.mapping.mapper.map_trace(p, _dw_trace()).plans[0]
    assert plan.engine_kind == kind
    if kind == "aimc":
        assert plan.aimc.diagonal and len(plan.aimc.tiles) == 3
        assert plan.aimc.utilisation == pytest.approx(64 * 9 / (3 * 65536))
    hwsim.simulate(p, _dw_trace())


def test_depthwise_policy_fastest_matches_estimates():
    from hwsim.hardware.registry import model_of
    from hwsim.mapping.hetero_mapper import host_clusters
    p = platform_from_dict(xbar_platform(tiles=3, dw=True, mvm=10))
    l = _dw_trace().layers[0]
    cl = host_clusters(p)[0]
    est = {kind: model_of(c).estimate_ps(p, c, l, cl.core)
           for kind, c in (("cores", cl.core), ("dw_accelerator", cl.accels["dw_accelerator"][0]),
                           ("aimc", cl.tiles[0]))}
    # cores: 147,456 MACs / (8 x 0.5) = 36,864 cycles; accelerator: / 16 = 9,216 cycles;
    # crossbar: 3 diagonal blocks (252 x 28, 252 x 28, 72 x 8) in parallel, 256 pixels x
    # max(MVM 10, block stream-in 252/64, all blocks' stream-in (252+252+72)/64 = 9) = 2,560 cycles
    assert est["cores"] == pytest.approx(36864 * 10_000)
    assert est["dw_accelerator"] == pytest.approx(9216 * 10_000)
    assert est["aimc"] == pytest.approx(2560 * 10_000)
    assert hwsim.mapping.mapper.map_trace(p, _dw_trace()).plans[0].engine_kind == "aimc"


def test_depthwise_pinned_to_missing_accelerator_is_a_config_error():
    with pytest.raises(ConfigError, match="dw_accelerator"):
        platform_from_dict(xbar_platform(mapping={"depthwise": "dw_accelerator"}))
    with pytest.raises(ConfigError, match="mapping.depthwise"):
        platform_from_dict(xbar_platform(mapping={"depthwise": "fastests"}))


def test_bad_aimc_fields_are_config_errors():
    d = xbar_platform()
    d["components"]["xb0"]["stream_mode"] = "parallel"
    with pytest.raises(ConfigError, match="stream_mode"):
        platform_from_dict(d)
    d = xbar_platform(dw=True)
    d["components"]["dwa"]["kernels"]["conv2d"] = 4
    with pytest.raises(ConfigError, match="dw_accelerator runs only"):
        platform_from_dict(d)


def test_aimc_hint_too_large_is_a_mapping_error():
    p = platform_from_dict(xbar_platform(64, 64, tiles=1))
    with pytest.raises(MappingError, match="crossbars"):
        hwsim.mapping.mapper.map_trace(p, trace(L("a", "pointwise", 128, 64, engine="aimc")))


def test_channel_tiles_only_run_their_crossbars():
    """cout 512 on 256-column crossbars: 2 column blocks. An L1 too small for a full-channel
    output row forces channel tiles; each tile runs only the block producing its channels, so
    the MVM count (and energy) is pixels x 2 blocks whatever the tiling."""
    e = 1000.0
    t = trace({"name": "a", "op": "pointwise", "input_shape": [64, 2, 64], "output_shape": [512, 2, 64]})
    p = platform_from_dict(xbar_platform(tiles=2, e_mvm=e, l1_size=48 * 1024))
    sim = Simulation(p, t)
    r = sim.run()
    plan = sim.mapping.plans[0]
    assert plan.tile_shape["channels"] < 512
    assert {len(a) for a in plan.tile_blocks} == {1}
    assert r.layer("a").energy_pj["compute"] == pytest.approx(2 * 64 * 2 * e)


@pytest.mark.parametrize("dense,kind", [("fastest", "cores"), ("crossbar", "aimc")])
def test_dense_policy(dense, kind):
    # an 8x8 pointwise layer: 16 MVMs of 10,000 cycles on the crossbar vs 1,024 MACs / 16 per
    # cycle = 64 cycles on the cores -> "fastest" keeps it on the cores
    p = platform_from_dict(xbar_platform(mvm=10_000, mapping={"dense": dense}))
    assert hwsim.mapping.mapper.map_trace(p, trace(L("a", "pointwise", 8, 8, hw=4))).plans[0].engine_kind == kind
