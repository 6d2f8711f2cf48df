"""NE16 (GAP9's convolution engine): its cycle model against DORY's closed form, and the
component type end to end (registry, mapper choice, engine step, peaks, gap9.yaml).

Reference figures: pulp-platform/dory ``Ne16PerfModel.py`` (commit be3d6dd) evaluated
unmodified with its defaults (3x3x32 output subtile, 16 input channels, 8-bit weights,
32-bit norm-quant, no shift/bias), in /work/research/fidelity_params.md section 2b:
``max_perf`` 137.8 (3x3), 70.9 (1x1), 5.7 (depthwise) MAC/cycle; layers (Ho, Wo, Kout, Kin)
(9,9,64,64) 131.9 / 58.7, (16,16,64,64) 104.2 / 46.4, (32,32,32,32) 118.9 / 47.1 MAC/cycle
(3x3 / 1x1), depthwise (9,9,64) 5.7, (32,32,32) 5.4.
"""
from pathlib import Path

import pytest

import hwsim
from hwsim.base.errors import ConfigError, MappingError
from hwsim.base.units import Clock
from hwsim.hardware.ne16 import Ne16
from hwsim.hardware.registry import COMPONENT_TYPES, model_of
from hwsim.models.ne16 import Ne16Model, layer_cycles, mode_of, peak_mac_per_cycle
from hwsim.workload.trace import Layer, Trace

ROOT = Path(__file__).resolve().parent.parent
GAP9 = ROOT / "platforms" / "gap9.yaml"
NE = Ne16(name="ne16", clock=Clock("c", 370_000_000), l1="l1")


@pytest.mark.parametrize("mode,dory", [("3x3", 137.8), ("1x1", 70.9), ("dw", 5.7)])
def test_peak_per_mode_matches_dory_max_perf(mode, dory):
    assert peak_mac_per_cycle(NE, mode) == pytest.approx(dory, abs=0.05)


@pytest.mark.parametrize("shape,mac3x3,mac1x1", [((9, 9, 64, 64), 131.9, 58.7),
                                                 ((16, 16, 64, 64), 104.2, 46.4),
                                                 ((32, 32, 32, 32), 118.9, 47.1)])
def test_layer_throughput_matches_dory_latency(shape, mac3x3, mac1x1):
    ho, wo, ko, ki = shape
    assert 9 * ho * wo * ko * ki / layer_cycles(NE, "3x3", ho, wo, ko, ki) == pytest.approx(mac3x3, abs=0.05)
    assert ho * wo * ko * ki / layer_cycles(NE, "1x1", ho, wo, ko, ki) == pytest.approx(mac1x1, abs=0.05)


@pytest.mark.parametrize("ho,wo,c,dory", [(9, 9, 64, 5.7), (32, 32, 32, 5.4)])
def test_depthwise_throughput_matches_dory_latency(ho, wo, c, dory):
    assert 9 * ho * wo * c / layer_cycles(NE, "dw", ho, wo, c, c) == pytest.approx(dory, abs=0.05)


def test_one_3x3_layer_by_hand():
    """(9, 9, 64, 64) 3x3: 9 output blocks x 2 groups of 32 channels, each 4 input slices of
    (load 6 + 5*5*1, weight offset 6, matrix-vector 6 + 32*8, update 2) = 301 cycles, then
    norm-quant 9 + 32*4/4 = 41 and stream-out 3 + 9*1 + 1 = 13: 9 * 2 * (4*301 + 54)."""
    assert layer_cycles(NE, "3x3", 9, 9, 64, 64) == 9 * 2 * (4 * 301 + 41 + 13)


def test_weight_bits_are_bit_serial_and_remainder_groups_cost_less():
    # 4-bit weights: the 3x3 matrix-vector phase takes 6 + 32*4 instead of 6 + 32*8
    assert layer_cycles(NE, "3x3", 3, 3, 32, 16, bits_weight=4) == 31 + 6 + (6 + 128) + 2 + 41 + 13
    # 40 channels = one full group of 32 and a remainder of 8 (matrix-vector 6 + 8*8)
    rem = 31 + 6 + (6 + 64) + 2 + (9 + 8) + 13
    assert layer_cycles(NE, "3x3", 3, 3, 40, 16) == layer_cycles(NE, "3x3", 3, 3, 32, 16) + rem


def _layer(**kw):
    base = dict(name="L", op="conv2d", input_shape=(16, 9, 9), output_shape=(32, 9, 9),
                kernel=(3, 3), padding=(1, 1, 1, 1))
    base.update(kw)
    return Layer(**base)


def test_modes_the_engine_accepts():
    assert mode_of(_layer()) == "3x3"
    assert mode_of(_layer(op="pointwise", kernel=(1, 1), padding=(0, 0, 0, 0))) == "1x1"
    assert mode_of(_layer(op="depthwise", input_shape=(32, 9, 9), groups=32)) == "dw"
    assert mode_of(_layer(kernel=(5, 5), padding=(2, 2, 2, 2))) is None      # no 5x5 filter
    assert mode_of(_layer(bits_input=16)) is None                           # 16-bit mode not modelled
    assert mode_of(_layer(bits_weight=1)) is None                           # weights 2..8 bit
    # a linear layer on a vector runs as a 1x1 convolution; one applied per token is not
    vec = dict(op="linear", kernel=(1, 1), padding=(0, 0, 0, 0))
    assert mode_of(_layer(input_shape=(64,), output_shape=(32,), **vec)) == "1x1"
    assert mode_of(_layer(input_shape=(10, 64), output_shape=(10, 32), **vec)) is None


def test_registered_by_definition():
    assert COMPONENT_TYPES["ne16"] is Ne16
    assert isinstance(model_of(NE), Ne16Model)


def _one_layer_trace(layer):
    return Trace("t", (layer,))


def test_engine_step_takes_the_closed_form():
    """A 3x3 layer run as one tile takes on the NE16 exactly its closed-form cycles plus the
    job overhead (its input and output DMA are other categories). A 100,000-cycle job
    overhead makes one tile the tiler's cheapest choice (each extra tile would pay it again
    to save far less in overlapped DMA)."""
    ovh = 100_000
    p = hwsim.load_platform(GAP9, {"components.ne16.job_overhead_cycles": ovh})
    layer = _layer(input_shape=(64, 9, 9), output_shape=(64, 9, 9))
    r = hwsim.simulate(p, _one_layer_trace(layer))
    rec = r.layer("L")
    assert rec.engine_kind == "ne16" and rec.n_tiles == 1
    assert rec.compute_cycles == ovh + layer_cycles(NE, "3x3", 9, 9, 64, 64)
    assert rec.energy_pj["compute"] == pytest.approx(layer.macs * 0.66)


def test_tiles_sum_to_their_shapes():
    """A layer cut into several tiles costs the sum of its tiles' closed forms."""
    p = hwsim.load_platform(GAP9, {"components.l1.size_bytes": 24000})
    layer = _layer(input_shape=(64, 24, 24), output_shape=(64, 24, 24))
    sim = hwsim.Simulation(p, _one_layer_trace(layer))
    rec = sim.run().layer("L")
    plan = sim.mapping.plans[0]
    assert plan.engine_kind == "ne16" and plan.n_tiles > 1
    co, rows = plan.tile_shape["channels"], plan.tile_shape["rows"]
    want = sum(layer_cycles(NE, "3x3", min(24, h0 + rows) - h0, 24, min(64, c0 + co) - c0, 64)
               for c0 in range(0, 64, co) for h0 in range(0, 24, rows))
    # each tile's cycles become ps (rounded up at 370 MHz) and the layer's ps cycles again
    assert abs(rec.compute_cycles - want) <= 1


def test_policy_pins_and_hints():
    p = hwsim.load_platform(GAP9, {"mapping": {"depthwise": "cores"}})
    dw = _layer(op="depthwise", input_shape=(32, 9, 9), output_shape=(32, 9, 9), groups=32)
    assert hwsim.map_trace(p, _one_layer_trace(dw)).plans[0].engine_kind == "cores"
    p = hwsim.load_platform(GAP9, {"mapping": {"depthwise": "ne16"}})
    assert hwsim.map_trace(p, _one_layer_trace(dw)).plans[0].engine_kind == "ne16"
    conv = _layer(engine="cores")
    assert hwsim.map_trace(p, _one_layer_trace(conv)).plans[0].engine_kind == "cores"
    with pytest.raises(MappingError, match="ne16"):
        hwsim.map_trace(p, _one_layer_trace(_layer(kernel=(5, 5), padding=(2, 2, 2, 2), engine="ne16")))


def test_pinning_a_missing_accelerator_is_a_config_error():
    with pytest.raises(ConfigError, match="ne16"):
        hwsim.load_platform(ROOT / "platforms" / "pulp_cluster.yaml", {"mapping": {"depthwise": "ne16"}})


def test_gap9_peaks_come_from_the_models():
    from hwsim.report.efficiency import engine_peaks

    pk = engine_peaks(hwsim.load_platform(GAP9))
    assert pk["ne16"]["tops"] == pytest.approx(2 * peak_mac_per_cycle(NE) * 370e6 / 1e12)
    assert pk["ne16"]["tops_per_w"] == pytest.approx(2 / 0.66)
    assert pk["cluster"]["tops"] == pytest.approx(2 * 8 * 1.9375 * 370e6 / 1e12)


@pytest.mark.parametrize("trace", ["ds_cnn", "mobilenet_v1_025", "resnet8", "fc_autoencoder"])
def test_gap9_runs_zoo_networks(trace):
    """Every zoo network runs on gap9 (all pairs are in the golden fingerprints; the small
    ones here). 3x3 convolutions that fill the array (stride 1, >= 16 input and 32 output
    channels) go to the NE16 (137.8 vs 15.5 MAC/cycle on the cores); a 3-channel stem or a
    matrix-vector layer (one pixel of the 3x3 block) may stay on the cores."""
    t = hwsim.load_trace(ROOT / "traces" / f"{trace}.json")
    r = hwsim.simulate(hwsim.load_platform(GAP9), t)
    kinds = {rec.name: rec.engine_kind for rec in r.layers}
    assert set(kinds.values()) <= {"cores", "ne16"}
    assert ("ne16" in kinds.values()) == (trace != "fc_autoencoder")   # only linear layers there
    for l in t.layers:
        if mode_of(l) == "3x3" and l.stride == (1, 1) and l.in_channels >= 16 \
                and l.out_channels >= 32:
            assert kinds[l.name] == "ne16", l.name


def test_window_tiles_sum_to_their_shapes():
    """A layer whose full-width rows do not fit L1 is cut along columns and input channels
    too (hwsim.mapping.tiling_nd); each tile costs the closed form of its 4-D extent."""
    p = hwsim.load_platform(GAP9, {"components.l1.size_bytes": 16000})
    layer = _layer(input_shape=(64, 6, 200), output_shape=(64, 6, 200))
    sim = hwsim.Simulation(p, _one_layer_trace(layer))
    rec = sim.run().layer("L")
    plan = sim.mapping.plans[0]
    s = plan.tile_shape
    assert plan.engine_kind == "ne16" and "in_channels" in s and s["cols"] < 200
    want = 0
    for c0 in range(0, 64, s["channels"]):
        for h0 in range(0, 6, s["out_rows"]):
            for w0 in range(0, 200, s["cols"]):
                for k0 in range(0, 64, s["in_channels"]):
                    want += layer_cycles(NE, "3x3", min(6, h0 + s["out_rows"]) - h0,
                                         min(200, w0 + s["cols"]) - w0,
                                         min(64, c0 + s["channels"]) - c0,
                                         min(64, k0 + s["in_channels"]) - k0)
    assert len(plan.tiles) > 1 and abs(rec.compute_cycles - want) <= 1
