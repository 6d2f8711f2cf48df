"""Core model (PULP-NN kernels by shape), core energy per core-cycle, IMA energy per active
row/column, power gating. Expected numbers are hand-computed closed forms stated beside them."""
import copy

import pytest

from hwsim.hardware.platform import platform_from_dict
from hwsim.mapping.mapper import map_trace
from hwsim.mapping.plan import tile_rows
from hwsim.models.cores import kernel_throughput, layer_work, tile_work
from hwsim.models.pulp_nn import MM_ITER, KernelWork, row_cycles
from hwsim.sim.engine import Simulation
from hwsim.workload.trace import layer_from_dict

from .test_aimc import L, trace, xbar_platform


def cluster(kernel_model="pulp_nn", cores=8, **kw):
    d = xbar_platform(tiles=0)
    d["components"]["cluster"].update({"kernel_model": kernel_model, "cores": cores}, **kw)
    return platform_from_dict(d)


def layer(op, cin, cout, hw, k=1, **kw):
    return layer_from_dict(L("x", op, cin, cout, hw=hw, k=k, **kw))


# group of 4 channels x 2 pixels: 5 + (K // 4) * 14 + (K % 4) * 14 + 10 cycles
def group(K):
    return 5 + (K // 4) * 14 + (K % 4) * 14 + 10


def test_pointwise_ideal_shape_closed_form():
    """64 -> 64 channels, 8 x 8 pixels, 8 cores: one row per core (Ho split); a row is 4 pixel
    pairs x 16 groups of 4 channels, no im2col: 4 * 16 * group(64) = 15,296 cycles."""
    cl = cluster().components["cluster"]
    w = layer_work(cl, layer("pointwise", 64, 64, 8))
    assert w == KernelWork(4 * 16 * group(64), 8 * 4 * 16 * group(64))
    assert 64 * 64 * 64 / w.cycles == pytest.approx(17.14, abs=0.01)


def test_conv_leftovers_closed_form():
    """3x3 conv, 3 -> 6 channels on a 5 x 5 map (pad 1), one core: K = 27 (6 steps + 3
    scalar columns); per row: 2 pixel pairs x (im2col 2 x 27 + one group of 4 + 2 leftover
    channels) + the odd pixel (im2col 27 + 6 channels x a 1-pixel pass)."""
    cl = cluster(cores=1).components["cluster"]
    K = 27
    ch_left = 5 + 6 * 5 + 3 * 5 + 10
    px_left = 5 + 6 * 3 + 3 * 3 + 10
    row = 2 * (2 * K + group(K) + 2 * ch_left) + (K + 6 * px_left)
    assert layer_work(cl, layer("conv2d", 3, 6, 5, k=3)) == KernelWork(5 * row, 5 * row)


def test_row_split_imbalance_and_channel_split():
    """9 output rows on 8 cores: the row split needs 2 rounds (cores 0-3 two rows, 4 one... as
    ceil(9/8) = 2 rows per core, cores 5-7 idle); with 64 channels the channel split (8 each)
    is faster and has no idle core. With 4 channels the row split stays."""
    cl = cluster().components["cluster"]
    l = layer("pointwise", 64, 4, 9)
    row = row_cycles(l, 4)
    assert layer_work(cl, l) == KernelWork(2 * row, 9 * row)    # ceil(9 / 8) = 2 rounds
    l = layer("pointwise", 64, 64, 9)
    w = layer_work(cl, l)
    assert w.cycles == 9 * row_cycles(l, 8) < 2 * row_cycles(l, 64)
    assert w.active_core_cycles == 8 * w.cycles


def test_ideal_shapes_reach_the_published_peak_region():
    """Large pointwise / 3x3 layers: between PULP-NN's measured 15.5 MAC/cycle and the inner
    loop's bound 8 x 32 / 14 = 18.3 MAC/cycle (the model omits stalls; docs/validation.md)."""
    cl = cluster().components["cluster"]
    for l in (layer("pointwise", 256, 256, 16), layer("conv2d", 64, 64, 32, k=3)):
        mpc = l.macs / layer_work(cl, l).cycles
        assert 15.5 < mpc < 8 * 32 / MM_ITER


def test_depthwise_and_linear_split():
    """Depthwise 3x3, 9 channels on 8 cores: ceil(9/8) = 2 channels on core 0; per channel and
    output column an im2col of in_rows x 3 bytes and per pixel 66 cycles (MATCH's formula).
    Linear 100 -> 10: ceil(10/8) = 2 neurons per core, 25 steps x 3 + 15 cycles each."""
    cl = cluster().components["cluster"]
    l = layer("depthwise", 9, 9, 4, k=3)
    per_ch = 4 * (4 * 3 + 4 * 66)
    assert layer_work(cl, l) == KernelWork(2 * per_ch, 9 * per_ch)
    l = layer_from_dict({"name": "fc", "op": "linear", "input_shape": [100], "output_shape": [10]})
    assert layer_work(cl, l) == KernelWork(2 * (25 * 3 + 15), 10 * (25 * 3 + 15))


def test_table_model_is_linear_scaling():
    cl = cluster("table").components["cluster"]
    l = layer("pointwise", 64, 64, 9)
    assert tile_work(cl, l, "pointwise", l.ops, 64, 9).cycles == -(-l.ops // (8 * 2))
    assert kernel_throughput(cl, "pointwise", 8) == 2


def test_active_core_cycle_energy_charges_imbalance():
    """8 cores, 0 tile overhead: per tile of r output rows (split by rows over the cores),
    compute energy = active core-cycles x 4 pJ + idle core-cycles x 1 pJ, with active =
    r x row and idle = 8 x ceil(r / 8) x row - active (the last round leaves cores idle)."""
    d = xbar_platform(tiles=0)
    c = d["components"]["cluster"]
    del c["energy_pj_per_op"]
    c.update({"kernel_model": "pulp_nn", "pj_per_active_core_cycle": 4.0,
              "pj_per_idle_core_cycle": 1.0})
    p = platform_from_dict(d)
    t = trace(L("a", "pointwise", 64, 4, hw=9))
    res = Simulation(p, t).run()
    row = row_cycles(t.layers[0], 4)
    plan = map_trace(p, t).plans[0]
    assert plan.tile_shape["channels"] == 4   # rows only: each tile is one row split
    expected = 0.0
    for _, h0, h1, _ in tile_rows(plan):
        active, span = (h1 - h0) * row, -(-(h1 - h0) // 8) * row
        expected += active * 4.0 + (8 * span - active) * 1.0
    assert sum(h1 - h0 for _, h0, h1, _ in tile_rows(plan)) == 9
    assert res.layers[0].energy_pj["compute"] == pytest.approx(expected)
    # energy sums still add up
    assert sum(res.energy_by_component_pj.values()) == pytest.approx(
        sum(sum(r.energy_pj.values()) for r in res.layers))


def test_slow_kernel_costs_more_energy_per_mac():
    d = xbar_platform(tiles=0)
    c = d["components"]["cluster"]
    del c["energy_pj_per_op"]
    c.update({"kernel_model": "pulp_nn", "pj_per_active_core_cycle": 5.0})
    p = platform_from_dict(d)
    res = Simulation(p, trace(L("pw", "pointwise", 64, 64, hw=8), L("dw", "depthwise", 64, 64, hw=8, k=3))).run()
    pw, dw = res.layers
    assert dw.energy_pj["compute"] / dw.macs > 5 * pw.energy_pj["compute"] / pw.macs


def test_ima_energy_fixed_plus_rows_plus_columns():
    """A 48 -> 20 pointwise layer on a 256 x 256 crossbar, 4 x 4 pixels: 16 MVMs, each
    fixed 100 + 48 rows x 2 + 20 columns x 3 pJ."""
    d = xbar_platform(tiles=1)
    x = d["components"]["xb0"]
    del x["energy_pj_per_mvm"]
    x.update({"mvm_fixed_pj": 100.0, "pj_per_active_row": 2.0, "pj_per_active_column": 3.0})
    p = platform_from_dict(d)
    res = Simulation(p, trace(L("a", "pointwise", 48, 20, hw=4, engine="aimc"))).run()
    assert res.energy_by_component_pj["xb0"] == pytest.approx(16 * (100 + 48 * 2 + 20 * 3))
    from hwsim.mapping.aimc import peak_tops_per_w
    assert peak_tops_per_w(p.components["xb0"]) == pytest.approx(2 * 256 * 256 / (100 + 256 * 5))


def test_energy_given_twice_is_an_error():
    from hwsim.base.errors import ConfigError
    d = xbar_platform(tiles=1)
    d["components"]["xb0"]["pj_per_active_row"] = 1.0
    with pytest.raises(ConfigError, match="given twice"):
        platform_from_dict(d)


def test_power_gating_switches_off_unused_components():
    """Two L1s with 1 mW leakage each; the layer uses one. Gated, the other leaks nothing."""
    d = xbar_platform(tiles=0)
    d["components"]["l1b"] = dict(d["components"]["l1"], leakage_mw=1.0)
    d["components"]["l1"]["leakage_mw"] = 1.0
    d["links"].append({"between": ["dma", "l1b"], "clock": "c", "bandwidth_bytes_per_cycle": 64})
    t = trace(L("a", "pointwise", 16, 16, hw=4))
    on = Simulation(platform_from_dict(d), t).run()
    g = copy.deepcopy(d)
    g["components"]["l1b"]["power_gating"] = True
    g["components"]["l1"]["power_gating"] = True
    off = Simulation(platform_from_dict(g), t).run()
    assert on.makespan_ps == off.makespan_ps
    assert on.energy_by_component_pj["l1b"] == pytest.approx(on.makespan_ps * 1e-3)
    assert "l1b" not in off.energy_by_component_pj
    assert off.energy_by_component_pj["l1"] == pytest.approx(on.energy_by_component_pj["l1"])


def test_ideal_activation_memory_knob():
    """Off by default; on, activation DMA and streaming take no time or energy (bytes still
    counted; weights still move), and the report says so."""
    from hwsim.base.errors import ConfigError
    d = xbar_platform(tiles=1, mem_pj=1.0)
    t = trace(L("a", "pointwise", 48, 20, hw=8, engine="aimc"), L("b", "depthwise", 20, 20, hw=8, k=3))
    real = Simulation(platform_from_dict(d), t).run()
    d["fidelity"] = {"ideal_activation_memory": True}
    ideal = Simulation(platform_from_dict(d), t).run()
    assert "fidelity" not in real.summary_dict() and "fidelity" not in real.summary()
    assert ideal.summary_dict()["fidelity"] == {"ideal_activation_memory": True}
    assert "ideal_activation_memory" in ideal.summary()
    for r, i in zip(real.layers, ideal.layers):
        assert i.bytes_moved.keys() == r.bytes_moved.keys()
        assert i.memory_stall_cycles + i.contention_cycles <= r.memory_stall_cycles + r.contention_cycles
        assert i.energy_pj["data_movement"] < r.energy_pj["data_movement"]
    a, b = ideal.layers    # a: stationary weights, nothing left to move; b: only its weights
    assert a.memory_stall_cycles == a.contention_cycles == a.energy_pj["data_movement"] == 0
    w = t.layers[1].stored_param_bytes
    assert b.energy_pj["data_movement"] == pytest.approx(2 * w)   # read L2 + write L1, 1 pJ/B
    assert ideal.makespan_ps < real.makespan_ps
    d["fidelity"] = {"ideal_activation_memori": True}
    with pytest.raises(ConfigError, match="did you mean 'ideal_activation_memory'"):
        platform_from_dict(d)


def test_inference_batch():
    t = trace(L("a", "pointwise", 16, 16, hw=4), L("b", "depthwise", 16, 16, hw=4, k=3))
    b = t.batched(4)
    assert b.name == "t_b4" and b.total_macs == 4 * t.total_macs and t.batched(1) is t
    assert [l.batch for l in b.layers] == [4, 4]
    with pytest.raises(ValueError):
        t.batched(0)
