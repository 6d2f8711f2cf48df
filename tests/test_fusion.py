"""Activations kept in L1, row-window fusion (hwsim.mapping.fusion) and the time-minimising
tiler (hwsim.mapping.mapper._tile_layer), against hand-computed bytes and the monotonicity the
tiler's definition implies (a larger L1 only adds candidate tiles)."""
from __future__ import annotations

import glob

import pytest

import hwsim
from hwsim.hardware.platform import platform_from_dict
from hwsim.workload.trace import trace_from_dict


def _platform(l1_bytes, **mapping):
    """100 MHz; L2 -> DMA -> L1 over an 8 B/cycle link (5 cycles latency); 2 cores at 64 MAC/cycle
    and no per-tile overhead: layers are DMA-bound, so keeping tensors in L1 is faster."""
    comps = {
        "cluster": {"type": "core_cluster", "clock": "c", "cores": 2, "l1": "l1",
                    "kernels": {"pointwise": 64, "depthwise": 64}, "tile_overhead_cycles": 0,
                    "energy_pj_per_op": {"default": 1.0}, "leakage_mw": 1.0},
        "l1": {"type": "memory", "level": "L1", "clock": "c", "size_bytes": l1_bytes,
               "port_bandwidth_bytes_per_cycle": 64, "read_pj_per_byte": 0.5, "write_pj_per_byte": 0.5},
        "l2": {"type": "memory", "level": "L2", "clock": "c", "size_bytes": 1 << 20,
               "port_bandwidth_bytes_per_cycle": 64, "read_pj_per_byte": 3.0, "write_pj_per_byte": 5.0},
        "dma": {"type": "dma", "clock": "c", "max_outstanding": 4, "burst_bytes": 64},
    }
    links = [{"between": ["l2", "dma"], "clock": "c", "bandwidth_bytes_per_cycle": 8, "latency_cycles": 5},
             {"between": ["dma", "l1"], "clock": "c", "bandwidth_bytes_per_cycle": 64}]
    return platform_from_dict({"name": "fusion", "clocks": {"c": "100 MHz"}, "components": comps,
                               "links": links, "mapping": mapping})


def _chain(h=16):
    """x (8x h x 8) -> pw a (8 -> 16) -> dw b (3x3, pad 1) -> pw c (16 -> 8); 8-bit, no bias.
    Tensors: x 8*h*8, a and b 16*h*8, c 8*h*8 bytes; weights a 128, b 144, c 128 bytes."""
    def lay(name, op, cin, cout, inputs, **kw):
        return {"name": name, "op": op, "input_shape": [cin, h, 8], "output_shape": [cout, h, 8],
                "bias": False, "inputs": inputs, **kw}
    return trace_from_dict({"name": "chain", "input_shape": [8, h, 8], "layers": [
        lay("a", "pointwise", 8, 16, ["input"]),
        lay("b", "depthwise", 16, 16, ["a"], kernel=[3, 3], padding=[1, 1, 1, 1], groups=16),
        lay("c", "pointwise", 16, 8, ["b"])]})


def _l2_bytes(r):
    return sum(n for rec in r.layers for k, n in rec.bytes_moved.items() if "l2" in k.split("->"))


def _groups(rec):
    """Channel groups of a layer's tiling (its input is read once per group)."""
    return -(-{"a": 16, "b": 16, "c": 8}[rec.name] // rec.tile_shape["channels"])


def _floor_l2(r):
    """The L2 traffic left when a and b stay in L1: x in once per channel group of a, the
    weights (128 + 144 + 128 B) once, c's output (1,024 B) once."""
    return 1024 * _groups(r.layers[0]) + 128 + 144 + 128 + 1024


def _dw_in(rows, h=16, row_bytes=128):
    """Input bytes a 3x3 'same' depthwise layer loads with ``rows`` output rows per tile: rows
    ``[h0 - 1, h1 + 1)`` clipped to the map, per tile."""
    return sum((min(h, h0 + rows + 1) - max(0, h0 - 1)) * row_bytes for h0 in range(0, h, rows))


def _intermediate_dma(r):
    """Bytes a plan moves for a and b by DMA were they in L2, by hand from the tile shapes:
    a's and b's outputs once, b's input with its halo rows, c's input once per channel group."""
    a, b, c = r.layers
    return 2048 + _dw_in(b.tile_shape["rows"]) + 2048 + 2048 * _groups(c)


def test_whole_tensors_in_l1_remove_exactly_their_l2_traffic():
    """L1 holds everything: with residency the only L2 traffic is x in, the weights and c out
    (:func:`_floor_l2`); what the tiling would have moved for a and b is
    reported as kept in L1, and a run without residency moves exactly that on top."""
    tr = _chain()
    on = hwsim.simulate(_platform(1 << 20), tr)
    assert _l2_bytes(on) == _floor_l2(on)
    assert on.mapping["l1_kept_bytes"] == _intermediate_dma(on)
    assert [r.output_in for r in on.layers] == ["l1", "l1", "l2"]
    # two tensors (a's and b's outputs) whole in L1, no row window
    assert (on.mapping["l1_resident_tensors"], on.mapping["fused_pairs"]) == (2, 0)
    off = hwsim.simulate(_platform(1 << 20, l1_residency=False, fusion=False), tr)
    # without: the same floor plus exactly the intermediates' DMA of that run's tiling
    assert _l2_bytes(off) == _floor_l2(off) + _intermediate_dma(off)
    assert off.mapping["l1_kept_bytes"] == 0
    assert on.makespan_ps <= off.makespan_ps


def test_row_fusion_keeps_the_intermediates_in_l1_windows():
    """L1 of 6,000 B cannot hold a (2,048 B of 16 rows) and b whole beside the tiles' buffers
    once both are resident, so with whole residency off the chain is fused by row windows: the
    L2 traffic is still only x, the weights and c's output, and each fused reader is pipelined
    on its producer."""
    tr = _chain()
    r = hwsim.simulate(_platform(6000, l1_residency=False), tr)
    assert _l2_bytes(r) == _floor_l2(r)
    assert r.mapping["fused_pairs"] == 2 and r.mapping["l1_kept_bytes"] == _intermediate_dma(r)
    m = hwsim.mapping.mapper.map_trace(_platform(6000, l1_residency=False), tr)
    a, b, c = m.plans
    assert a.ring and b.ring and b.pipelined and c.pipelined
    for prod, cons, kh in ((a, b, 3), (b, c, 1)):
        w, reader = prod.ring
        assert reader == cons.layer.name
        # the window never deadlocks: producer tile rows + reader rows' input window
        assert prod.tile_shape["rows"] + (cons.tile_shape["rows"] - 1) + kh <= w
        assert prod.tile_shape["channels"] == 16 and cons.tile_shape["channels"] == cons.layer.out_channels
    # every layer's energy adds up to the run's
    assert sum(sum(rec.energy_pj.values()) for rec in r.layers) == pytest.approx(r.energy_pj)


def _monotone(platform, traces):
    """Makespan at L1 x1, x2, x4 never grows; a network whose weights and activations do not
    fit the platform's last-level memory (whatever L1) is not a case, but most must be."""
    from hwsim.base.errors import MappingError

    base = hwsim.load_platform(platform).components["l1"].size_bytes
    checked = 0
    for t in traces:
        tr = hwsim.load_trace(t)
        try:
            spans = [hwsim.simulate(hwsim.load_platform(platform, {"components.l1.size_bytes": base * m}),
                                    tr).makespan_ps for m in (1, 2, 4)]
        except MappingError as e:
            assert "does not fit" in str(e), e
            continue
        checked += 1
        assert spans[0] >= spans[1] >= spans[2], (platform, t, spans)
    assert checked >= len(traces) / 2, (platform, checked, len(traces))


@pytest.mark.parametrize("platform", ["platforms/pulp_cluster.yaml", "platforms/pulp_imc_cluster.yaml"])
def test_more_l1_is_never_slower_bounded(platform):
    _monotone(platform, ["traces/ds_cnn.json", "traces/mobilenetv2_bottleneck.json"])


@pytest.mark.slow
@pytest.mark.parametrize("platform", ["platforms/pulp_cluster.yaml", "platforms/pulp_imc_cluster.yaml"])
def test_more_l1_is_never_slower_zoo(platform):
    _monotone(platform, sorted(glob.glob("traces/*.json")))


def test_tiler_time_is_monotone_in_the_budget():
    """The tiler's own guarantee: a larger budget only adds candidates, so the modelled time of
    every layer alone never grows (pulp_cluster, MobileNetV2 bottleneck, L1 x1 .. x8)."""
    from hwsim.mapping.cost import CostModel, tile_compute_ps
    from hwsim.mapping.tiling import tile_layer

    p = hwsim.load_platform("platforms/pulp_cluster.yaml")
    cl, l1 = p.components["cluster"], p.components["l1"]
    cost = CostModel(p)
    for l in hwsim.load_trace("traces/mobilenetv2_bottleneck.json").layers:
        ts = [tile_layer(l, l1, "l2", "l2", "l2", budget=l1.size_bytes * m, cost=cost,
                         compute_ps=tile_compute_ps(p, cl, l, cl)).modelled_ps for m in (1, 2, 4, 8)]
        assert ts == sorted(ts, reverse=True), (l.name, ts)


@pytest.mark.parametrize("trace", ["mobilenet_v1_025", "mobilenetv2"])
def test_no_ring_next_to_a_crossbar_reprogrammed_each_inference(trace):
    """A layer that reprograms its crossbar holds it from programming to its last MVM; fused
    to a reader by a row ring, the next reprogrammed layer waited for that crossbar while the
    producer waited for its reader (deadlock on MobileNetV1-0.25 with overflow=reprogram)."""
    p = hwsim.load_platform("platforms/pulp_imc_cluster.yaml", {"mapping.overflow": "reprogram"})
    sim = hwsim.Simulation(p, hwsim.load_trace(f"traces/{trace}.json"))
    sim.run()   # no DeadlockError
    plans = sim.plan_of
    reprogrammed = {n for n, pl in plans.items() if pl.aimc and pl.aimc.program_each_inference}
    assert reprogrammed, "the case needs layers on reprogrammed crossbars"
    for n, pl in plans.items():
        if pl.ring is not None:
            assert not {n, pl.ring[1]} & reprogrammed, (n, pl.ring)
