"""Layer replication (hwsim.mapping.replication): band geometry by hand, the greedy balance by
hand, and the period of a replicated stage against the closed form period / k."""
import pytest

import hwsim
from hwsim.base.errors import ConfigError
from hwsim.mapping.replication import band, expand, replication_factors
from hwsim.sim.engine import Simulation
from hwsim.workload.trace import Layer, Trace


def test_bands_of_a_padded_conv_by_hand():
    """3x3, stride 1, pad 1, 8 output rows in 3 bands: rows 3, 3, 2. Band 0 reads input rows
    -1..3 (row -1 is padding): 4 rows, top pad 1; band 1 reads 2..6: 5 rows, no pad; band 2
    reads 5..8 (row 8 is padding): 3 rows, bottom pad 1."""
    l = Layer("c", "conv2d", (4, 8, 8), (6, 8, 8), kernel=(3, 3), padding=(1, 1, 1, 1))
    bs = [band(l, j, 3) for j in range(3)]
    assert [b.output_shape for b in bs] == [(6, 3, 8), (6, 3, 8), (6, 2, 8)]
    assert [b.input_shape for b in bs] == [(4, 4, 8), (4, 5, 8), (4, 3, 8)]
    assert [b.padding for b in bs] == [(1, 1, 0, 1), (0, 1, 0, 1), (0, 1, 1, 1)]
    assert [b.name for b in bs] == ["c@0", "c@1", "c@2"]
    # MACs split exactly: 6 x 8 x 4 x 9 per output row
    assert [b.macs for b in bs] == [3 * 1728, 3 * 1728, 2 * 1728]
    assert sum(b.macs for b in bs) == l.macs


def test_bands_of_a_strided_conv_by_hand():
    """3x3, stride 2, pad (1, 1, 0, 0) on 9 input rows -> 4 output rows (o = 2i - 1 + r), 2
    bands of 2: band 0 reads rows -1..3 (4 real, top pad 1), band 1 reads rows 3..7 (5 rows)."""
    l = Layer("s", "conv2d", (2, 9, 9), (2, 4, 4), kernel=(3, 3), stride=(2, 2),
              padding=(1, 1, 0, 0))
    b0, b1 = band(l, 0, 2), band(l, 1, 2)
    assert (b0.input_shape, b0.padding) == ((2, 4, 9), (1, 1, 0, 0))
    assert (b1.input_shape, b1.padding) == ((2, 5, 9), (0, 1, 0, 0))
    assert b0.macs + b1.macs == l.macs


def test_elementwise_bands_split_every_operand():
    l = Layer("a", "add", (8, 5, 5), (8, 5, 5), inputs=("x", "y"))
    b = band(l, 1, 2)   # rows 3..4
    assert b.input_shape == b.output_shape == (8, 2, 5) and b.inputs == ("x", "y")
    assert b.input_elements == 2 * 8 * 2 * 5


def test_expand_names_the_original_producers():
    """A layer after a replicated one still reads the original tensor (not the last band)."""
    a = Layer("a", "conv2d", (1, 4, 4), (1, 4, 4), kernel=(3, 3), padding=(1, 1, 1, 1))
    b = Layer("b", "conv2d", (1, 4, 4), (1, 4, 4), kernel=(3, 3), padding=(1, 1, 1, 1))
    t, bands_of = expand(Trace("t", (a, b)), {"a": 2})
    assert [l.name for l in t.layers] == ["a@0", "a@1", "b"]
    assert bands_of == {"a": ("a@0", "a@1")}
    assert t.producers(t.layers[2]) == ("a",)
    assert t.producers(t.layers[1]) == ("input",)


def _layers(*names_rows):
    return [Layer(n, "conv2d", (1, h, 4), (1, h, 4), kernel=(3, 3), padding=(1, 1, 1, 1))
            for n, h in names_rows]


def test_greedy_balance_by_hand():
    """Stages a = 120, b = 50, c = 40 ps; a needs 2 crossbars, b 1, c a cluster; 4 crossbars
    spare after one copy of each (7 in all), 2 clusters. a -> 2 (60), a -> 3 (40: 2 more
    crossbars, 0 left), then b (50) cannot get a crossbar: stop. Period 50."""
    layers = _layers(("a", 16), ("b", 16), ("c", 16))
    k = replication_factors(layers, {"a": 120, "b": 50, "c": 40},
                            {"a": ("crossbars", 2), "b": ("crossbars", 1), "c": ("cluster", 1)},
                            crossbars=7, clusters=2, target_period_ps=None)
    assert k == {"a": 3}
    # a target of 70 ps stops after the first split (a: 60 <= 70, b: 50)
    k = replication_factors(layers, {"a": 120, "b": 50, "c": 40},
                            {"a": ("crossbars", 2), "b": ("crossbars", 1), "c": ("cluster", 1)},
                            crossbars=7, clusters=2, target_period_ps=70)
    assert k == {"a": 2}
    # a digital stage takes at most one cluster per band; rows cap the bands
    k = replication_factors(_layers(("c", 3)), {"c": 90}, {"c": ("cluster", 1)},
                            crossbars=0, clusters=8, target_period_ps=None)
    assert k == {"c": 3}


def _mesh(replicate: str):
    return hwsim.load_platform("platforms/bruschi2022_mesh.yaml", {
        "generate.mesh.width": 2, "generate.mesh.height": 2, "mapping.replicate": replicate})


def test_replicating_a_stage_divides_its_period_by_k_within_one_tile():
    """One 3x3 conv (16 -> 64, 32 x 32: 144 x 64 weights, one crossbar block) on a 2 x 2 mesh: off, it runs on one
    IMA for period P; balanced, it is split over the 4 IMAs (4 free crossbars, 32 rows) and each
    IMA is busy for P / 4 give or take one tile of the unreplicated layer (halo rows, tile
    rounding)."""
    l = Layer("conv", "conv2d", (16, 32, 32), (64, 32, 32), kernel=(3, 3), padding=(1, 1, 1, 1))
    t = Trace("one", (l,))
    off = Simulation(_mesh("off"), t)
    off.run()
    p1 = max(v for k, v in off.engine_busy_ps.items() if k.startswith("ima"))
    tile = p1 / off.mapping.plans[0].n_tiles
    on = Simulation(_mesh("balance"), t)
    r = on.run()
    assert [p.layer.name for p in on.mapping.plans] == ["conv@0", "conv@1", "conv@2", "conv@3"]
    assert r.mapping["replicas"] == {"conv": 4} and r.mapping["stages"] == 1
    busy = [v for k, v in on.engine_busy_ps.items() if k.startswith("ima") and v]
    assert len(busy) == 4
    assert abs(max(busy) - p1 / 4) <= tile, (p1, busy, tile)
    assert sum(rec.macs for rec in r.layers) == l.macs


def test_a_reader_waits_for_every_band():
    """Two one-block layers, 4 crossbars: both are split in two (equal stages, a first); each
    band of b depends on both bands of a and starts after they end."""
    a = Layer("a", "conv2d", (16, 16, 16), (64, 16, 16), kernel=(3, 3), padding=(1, 1, 1, 1))
    b = Layer("b", "pointwise", (64, 16, 16), (64, 16, 16), inputs=("a",))
    sim = Simulation(_mesh("balance"), Trace("two", (a, b)))
    sim.run()
    plans = {p.layer.name: p for p in sim.mapping.plans}
    bands = [n for n in plans if n.startswith("a@")]
    assert len(bands) >= 2
    assert bands == ["a@0", "a@1"] and [n for n in plans if n.startswith("b")] == ["b@0", "b@1"]
    for reader in ("b@0", "b@1"):
        assert set(plans[reader].depends_on) == set(bands) and not plans[reader].pipelined
        assert sim.spans[reader][0] >= max(sim.spans[n][1] for n in bands)


def test_bad_replicate_policy_names_the_field():
    with pytest.raises(ConfigError, match="mapping.replicate"):
        hwsim.load_platform("platforms/bruschi2022_mesh.yaml", {"mapping.replicate": "always"})
    with pytest.raises(ConfigError, match="throughput_target_inferences_per_s"):
        hwsim.load_platform("platforms/bruschi2022_mesh.yaml",
                            {"mapping.throughput_target_inferences_per_s": -3})
