"""Layer execution against closed forms: double buffering, roofline, attribution, bytes."""
import math

import pytest

import hwsim
from hwsim.sim.engine import Simulation
from hwsim.mapping.mapper import LayerPlan, Mapping, Tile
from hwsim.report.stats import CATEGORIES
from hwsim.workload.trace import Layer, Trace
from hwsim.base.units import Clock

from .helpers import platform

CLK = Clock("clk", 100_000_000)
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _uniform_layer_run(n, in_bytes, ops, out_bytes):
    p = platform()
    layer = Layer(name="L", op="pointwise", input_shape=(8, 1, 1), output_shape=(8, 1, 1))
    tiles = tuple(Tile(loads=(("l2", in_bytes),), ops=ops, stores=(("l2", out_bytes),))
                  for _ in range(n))
    plan = LayerPlan(layer=layer, engine="cluster", engine_kind="cores", cluster="cluster",
                     l1="l1", input_mem="l2", weight_mem=None, output_mem="l2",
                     tile_shape={}, tiles=tiles, l1_bytes=0, depends_on=())
    mapping = Mapping(plans=[plan], program_once=[], weights_in_l3_bytes=0, summary={})
    return Simulation(p, Trace("t", (layer,)), mapping=mapping).run()


@pytest.mark.parametrize("n", [1, 2, 3, 10])
@pytest.mark.parametrize("in_bytes,ops,out_bytes", [
    (800, 300, 400),    # compute-bound
    (800, 50, 400),     # input-DMA-bound
    (800, 50, 2000),    # output-DMA-bound
    (800, 105, 840),    # balanced
])
def test_double_buffered_layer_matches_pipeline_closed_form(n, in_bytes, ops, out_bytes):
    """n tiles through load -> compute -> store with two buffers and independent channels:
    T = t_in + t_c + t_out + (n - 1) * max(t_in, t_c, t_out) (fill, steady state, drain).
    Stage times: t_in = 5 + in/8, t_out = 5 + out/8 cycles (8 B/cycle link, 5-cycle
    latency), t_c = ops cycles (1 core at 1 op/cycle)."""
    t_in, t_c, t_out = 5 + math.ceil(in_bytes / 8), ops, 5 + math.ceil(out_bytes / 8)
    expected = t_in + t_c + t_out + (n - 1) * max(t_in, t_c, t_out)
    r = _uniform_layer_run(n, in_bytes, ops, out_bytes)
    burst_cycles = 64 // 8
    assert abs(r.cycles - expected) <= burst_cycles
    rec = r.layers[0]
    assert rec.compute_cycles == n * t_c
    assert sum(getattr(rec, f"{c}_cycles") for c in CATEGORIES) == rec.cycles


def _runs():
    out = []
    for pf in ("pulp_cluster",):
        p = hwsim.load_platform(ROOT / f"platforms/{pf}.yaml")
        for tr in ("resnet8", "mobilenetv2_bottleneck", "ds_cnn", "fc_autoencoder"):
            t = hwsim.load_trace(ROOT / f"traces/{tr}.json")
            sim = Simulation(p, t)
            out.append((p, t, sim, sim.run()))
    return out


@pytest.fixture(scope="module")
def runs():
    return _runs()


def test_attribution_sums_to_layer_cycles(runs):
    for _, _, _, r in runs:
        for rec in r.layers:
            assert sum(getattr(rec, f"{c}_cycles") for c in CATEGORIES) == rec.cycles
            clk = r.reference_clock   # a span in cycles: its boundaries on the clock
            assert rec.cycles == clk.ps_to_cycles(rec.end_ps) - clk.ps_to_cycles(rec.start_ps)
        assert r.layers[-1].end_ps == r.makespan_ps


def test_no_layer_beats_its_roofline(runs):
    """A layer takes at least its compute time and at least its L2 traffic over the L2
    port bandwidth (every L2 byte passes the single port): max(compute, memory)."""
    for p, _, sim, r in runs:
        l2 = p.components["l2"]
        for rec, plan in zip(r.layers, sim.mapping.plans):
            span = rec.end_ps - rec.start_ps
            compute_ps = sum(sim.platform.components["cluster"].clock.cycles_to_ps(
                -(-t.ops // (8 * hwsim.models.cores.kernel_throughput(p.components["cluster"], rec.op, 8)))
                + p.components["cluster"].tile_overhead_cycles) for t in plan.tiles)
            memory_ps = l2.clock.cycles_to_ps(
                math.ceil(rec.bytes_by_level.get("L2", 0) / l2.port_bandwidth_bytes_per_cycle))
            assert span >= max(compute_ps, memory_ps)


def test_bytes_moved_equal_the_plan(runs):
    """Every byte the mapper planned is moved, hop by hop (staging included), and no more."""
    for _, _, sim, r in runs:
        for rec, plan in zip(r.layers, sim.mapping.plans):
            expect = {}
            for key, n in plan.planned_bytes().items():
                src, dst = key.split("->")
                for route in sim.ic.hops(src, dst):
                    k = f"{route.src}->{route.dst}"
                    expect[k] = expect.get(k, 0) + n
            assert rec.bytes_moved == dict(sorted(expect.items()))


def test_l3_traffic_is_staged_and_counted():
    p = hwsim.load_platform(ROOT / "platforms/pulp_cluster.yaml")
    t = hwsim.load_trace(ROOT / "traces/mobilenetv2.json")
    r = hwsim.simulate(p, t)
    assert r.totals["l3_bytes"] > 0
    staged = [rec for rec in r.layers if "l3->l2" in rec.bytes_moved]
    assert staged and all(rec.bytes_moved.get("l2->l1", 0) >= rec.bytes_moved["l3->l2"]
                          for rec in staged if rec.input_in == "l2")


def test_contention_is_attributed_to_the_shared_resource():
    """A background stream hogging the L2 link makes the layer wait behind it: FIFO burst
    interleaving halves the layer's bandwidth, so about half of each data wait is queueing
    (contention) and the bottleneck names the link. Without the hog there is no contention."""
    p = platform(**{"components.dma.max_outstanding": 8})
    layer = Layer(name="L", op="pointwise", input_shape=(8, 1, 1), output_shape=(8, 1, 1))
    tiles = tuple(Tile(loads=(("l2", 800),), ops=10, stores=(("l2", 8),)) for _ in range(4))
    plan = LayerPlan(layer=layer, engine="cluster", engine_kind="cores", cluster="cluster",
                     l1="l1", input_mem="l2", weight_mem=None, output_mem="l2", tile_shape={},
                     tiles=tiles, l1_bytes=0, depends_on=())
    sim = Simulation(p, Trace("t", (layer,)),
                     mapping=Mapping(plans=[plan], program_once=[], weights_in_l3_bytes=0, summary={}))

    def hog():
        (route,) = sim.ic.hops("l2", "l1")
        yield from sim.ic.transfer(route, 100_000)

    alone = Simulation(p, Trace("t", (layer,)), mapping=sim.mapping).run().layers[0]
    sim.env.process(hog())
    rec = sim.run().layers[0]
    assert alone.contention_cycles == 0 and not alone.waits_ps
    assert rec.contention_cycles > 0.3 * rec.cycles
    assert rec.bottleneck.endswith(":l2--dma")
    assert rec.waits_ps.get("l2--dma", 0) > 0


def test_energy_adds_up(runs):
    for _, _, _, r in runs:
        per_layer = sum(rec.energy_total_pj for rec in r.layers)
        assert per_layer == pytest.approx(r.energy_pj, rel=1e-9)
        assert r.energy_pj > 0


def test_utilisation_is_a_fraction(runs):
    for _, _, _, r in runs:
        for res in r.resources:
            assert 0.0 <= res.utilisation <= 1.0 + 1e-12, res


def _residual_trace():
    """a -> b -> c -> add(c, a): a's output stays alive over b and c (a residual branch).
    a, c: 16x16x16 int8 = 4096 B; b: 32x16x16 = 8192 B. Every layer's own input+output is
    at most 12,288 B."""
    from hwsim.workload.trace import trace_from_dict

    def pw(name, inputs, cin, cout):
        return {"name": name, "op": "pointwise", "input_shape": [cin, 16, 16],
                "output_shape": [cout, 16, 16], "inputs": inputs}
    return trace_from_dict({"name": "res", "layers": [
        pw("a", ["input"], 16, 16), pw("b", ["a"], 16, 32), pw("c", ["b"], 32, 16),
        {"name": "add", "op": "add", "input_shape": [16, 16, 16], "output_shape": [16, 16, 16],
         "inputs": ["c", "a"]}]})


@pytest.mark.parametrize("l2_bytes,a_home", [(16384, "l2"), (14000, "l3")])
def test_residual_tensors_occupy_l2_over_their_live_range(l2_bytes, a_home):
    """While c runs, a's output (read again by the add), b's (c's input) and c's output are
    live: 4096 + 8192 + 4096 = 16,384 B. With L2 smaller than that (though every layer's own
    input+output, at most 12,288 B, fits),
    a's output -- read again furthest in the future -- spills to L3: a writes it there and the
    add reads that operand from L3 (Belady's choice)."""
    from hwsim.mapping.mapper import map_trace

    p = platform(**{"components.l2.size_bytes": l2_bytes,
                    "mapping": {"l1_residency": "off", "fusion": "off"},   # L2 placement alone
                    "components.l3": {"type": "memory", "level": "L3", "clock": "clk",
                                      "size_bytes": 1 << 24, "port_bandwidth_bytes_per_cycle": 4},
                    "links": [
                        {"between": ["l2", "dma"], "clock": "clk", "bandwidth_bytes_per_cycle": 8},
                        {"between": ["dma", "l1"], "clock": "clk", "bandwidth_bytes_per_cycle": 1024},
                        {"between": ["l3", "l2"], "clock": "clk", "bandwidth_bytes_per_cycle": 4}]})
    plans = {pl.layer.name: pl for pl in map_trace(p, _residual_trace()).plans}
    assert plans["a"].output_mem == a_home
    assert plans["b"].output_mem == plans["c"].output_mem == "l2"
    add_in = {}
    for t in plans["add"].tiles:
        for mem, n in t.loads:
            add_in[mem] = add_in.get(mem, 0) + n
    assert add_in == ({"l2": 8192} if a_home == "l2" else {"l2": 4096, "l3": 4096})
