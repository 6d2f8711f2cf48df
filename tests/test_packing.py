"""Crossbar bin packing (hwsim/mapping/packing.py, hwsim/mapping/aimc.py ``allocate``).

Hand cases with a known optimum, an independent checker of every packing (blocks inside their
crossbar, no two overlapping, a layer's blocks apart when the packing promises it), never more
crossbars than one block per crossbar over the zoo's traces, determinism, and the modelling
consequences in the engine (MVMs of blocks sharing a crossbar, energy by active rows/columns,
programming of packed crossbars).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hwsim
from hwsim.base.errors import ConfigError
from hwsim.hardware.platform import platform_from_dict
from hwsim.mapping.aimc import allocate, dedicated, layer_blocks, pack
from hwsim.mapping.mapper import map_trace
from hwsim.mapping.packing import lower_bounds, maxrects
from hwsim.workload.trace import layer_from_dict
from .test_aimc import L, trace, xb, xbar_platform

ROOT = Path(__file__).resolve().parent.parent


def check_packing(items, place, R, C, groups=None):
    """Independent of the packer: every item inside its bin, no two items of a bin
    intersecting (pairwise interval test), items of one group in distinct bins."""
    by_bin: dict = {}
    for i, ((h, w), (b, r, c)) in enumerate(zip(items, place)):
        assert 0 <= r and r + h <= R and 0 <= c and c + w <= C, (i, h, w, r, c)
        for j, (r2, c2, h2, w2) in by_bin.get(b, []):
            assert r + h <= r2 or r2 + h2 <= r or c + w <= c2 or c2 + w2 <= c, \
                f"items {j} and {i} overlap in bin {b}"
        by_bin.setdefault(b, []).append((i, (r, c, h, w)))
    if groups is not None:
        seen = {(g, b) for g, (b, _, _) in zip(groups, place)}
        assert len(seen) == len(place), "two blocks of one layer share a crossbar"
    assert sorted(by_bin) == list(range(len(by_bin))), "bins numbered 0..n-1 without gaps"


# -- hand cases with a known optimum ----------------------------------------------------------
@pytest.mark.parametrize("items, R, C, optimum", [
    ([(128, 128)] * 4, 256, 256, 1),                      # four quarters fill one crossbar
    ([(129, 129)] * 4, 256, 256, 4),                      # more than half each way: none share
    ([(256, 100), (256, 156)], 256, 256, 1),              # side by side, exactly full
    ([(100, 200), (156, 200), (256, 56)], 256, 256, 1),   # exact tiling a shelf packer misses
    ([(256, 128)] * 2 + [(128, 64)] * 4, 256, 256, 2),    # halves, then quarters of halves
    ([(200, 100)] * 3, 256, 256, 2),                      # tall: columns bound ceil(300 / 256) = 2 > area 1
    ([(100, 200)] * 3, 256, 256, 2),                      # wide: rows bound ceil(300 / 256) = 2 > area 1
    ([(10, 200)] * 3 + [(250, 250)], 256, 256, 2),        # the big one leaves 6 rows: the rest elsewhere
])
def test_maxrects_hits_the_optimum_on_hand_cases(items, R, C, optimum):
    place, n = maxrects(items, R, C)
    check_packing(items, place, R, C)
    assert n == optimum
    assert lower_bounds(items, R, C)["bound"] <= optimum


def test_hand_case_positions_and_bounds():
    place, n = maxrects([(128, 128)] * 4, 256, 256)
    assert sorted(p[1:] for p in place) == [(0, 0), (0, 128), (128, 0), (128, 128)]
    b = lower_bounds([(129, 129)] * 4, 256, 256)
    # area ceil(4 x 129^2 / 65536) = 2; columns ceil(4 x 129 / 256) = 3; large 4
    assert (b["area"], b["columns"], b["rows"], b["large"], b["bound"]) == (2, 3, 3, 4, 4)
    b = lower_bounds([(200, 10)] * 3, 256, 256)
    assert (b["area"], b["columns"], b["rows"], b["large"]) == (1, 1, 0, 0)
    # 3 x (200 x 10) could stack side by side: one crossbar (the column bound is 1)
    assert maxrects([(200, 10)] * 3, 256, 256)[1] == 1


def test_groups_keep_a_layers_blocks_apart_and_bound_it():
    items, groups = [(128, 128)] * 4, ["a", "a", "b", "b"]
    place, n = maxrects(items, 256, 256, groups)
    check_packing(items, place, 256, 256, groups)
    assert n == 2 == lower_bounds(items, 256, 256, groups)["group"]


def test_capacity_and_errors():
    assert maxrects([(128, 128)] * 5, 256, 256, capacity=1) == (None, 2)
    assert maxrects([(128, 128)] * 4, 256, 256, capacity=1)[1] == 1
    assert maxrects([], 256, 256) == ([], 0)
    with pytest.raises(ValueError, match="300x10 does not fit a 256x256"):
        maxrects([(300, 10)], 256, 256)


def test_maxrects_beats_the_shelf_packer_where_shelves_waste_rows():
    x = xb()
    lbs = [(n, layer_blocks(layer_from_dict(L(n, "pointwise", r, c)), x))
           for n, r, c in (("a", 100, 200), ("b", 156, 200), ("c", 256, 56))]
    assert pack(lbs, 256, 256)[1] == 2
    al = allocate(lbs, 256, 256, None, "maxrects")
    assert al.need == 1 and al.shared == {"a", "b", "c"} and al.packing == "maxrects"


# -- properties ------------------------------------------------------------------------------
rect = st.tuples(st.integers(1, 64), st.integers(1, 64))


@settings(max_examples=60, deadline=None)
@given(st.lists(rect, min_size=1, max_size=40), st.integers(0, 4))
def test_random_packings_are_valid_and_between_the_bounds(items, n_groups):
    R = C = 64
    groups = [i % n_groups for i in range(len(items))] if n_groups else None
    place, n = maxrects(items, R, C, groups)
    check_packing(items, place, R, C, groups)
    assert lower_bounds(items, R, C, groups)["bound"] <= n <= len(items)
    assert maxrects(items, R, C, groups) == (place, n)          # deterministic


class _LB:
    """The part of LayerBlocks that allocation reads."""

    def __init__(self, blocks):
        self.blocks, self.n_blocks = tuple(blocks), len(blocks)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(rect, min_size=1, max_size=4), min_size=1, max_size=12),
       st.integers(1, 12), st.sampled_from(["dedicated", "maxrects", "shelf"]))
def test_random_allocations_fit_or_say_so(layers, capacity, method):
    """Whatever fits one block per crossbar fits every policy; a returned allocation is a
    valid packing within the capacity, keeping a layer's blocks apart whenever that fits."""
    R = C = 64
    demands = [(f"l{i}", _LB(b)) for i, b in enumerate(layers)]
    al = allocate(demands, R, C, capacity, method)
    naive = dedicated(demands)[1]
    if naive <= capacity:
        assert al.assign is not None
    if al.assign is None:
        assert al.need > capacity
        return
    items = [b for _, lb in demands for b in lb.blocks]
    place = [(xi, r0, c0) for n, lb in demands for (xi, _, _), (r0, c0) in zip(al.assign[n], al.origin[n])]
    check_packing(items, place, R, C)
    assert al.need <= min(capacity, naive)
    assert sorted({p[0] for p in place}) == list(range(al.need))
    groups = [n for n, lb in demands for _ in lb.blocks]
    if maxrects(items, R, C, groups, capacity)[0] is not None and method == "maxrects":
        check_packing(items, place, R, C, groups)


def _zoo_demands():
    geoms = {"256x256 w8": xb(), "256x256 w4": xb(weight_bits=4),
             "1152x512 w2": xb(1152, 512, weight_bits=2, input_bits=7)}
    for path in sorted((ROOT / "traces").glob("*.json")):
        t = hwsim.load_trace(path)
        for g, x in geoms.items():
            dem = [(l.name, layer_blocks(l, x)) for l in t.layers if l.is_weighted]
            yield f"{path.stem}@{g}", [d for d in dem if d[1].n_blocks], x


@pytest.mark.parametrize("name, demands, x", list(_zoo_demands()), ids=lambda v: v if isinstance(v, str) else "")
def test_zoo_never_more_crossbars_than_one_block_each(name, demands, x):
    """Every weighted layer of every bundled trace, on each bundled crossbar geometry."""
    naive = dedicated(demands)[1]
    al = allocate(demands, x.rows, x.cols, None, "maxrects")
    items = [b for _, lb in demands for b in lb.blocks]
    groups = [n for n, lb in demands for _ in lb.blocks]
    place = [(xi, r0, c0) for n, lb in demands for (xi, _, _), (r0, c0) in zip(al.assign[n], al.origin[n])]
    check_packing(items, place, x.rows, x.cols, groups)
    assert lower_bounds(items, x.rows, x.cols, groups)["bound"] <= al.need <= naive
    assert al.need <= pack(demands, x.rows, x.cols)[1]        # and never more than the shelf packer


def test_packing_is_identical_across_processes():
    """Same trace -> byte-identical packing, whatever the interpreter's hash seed."""
    code = ("import json, hwsim; from hwsim.mapping.aimc import allocate, layer_blocks;"
            "from tests.test_aimc import xb; x = xb(weight_bits=4);"
            "t = hwsim.load_trace('traces/mobilenetv2.json');"
            "d = [(l.name, layer_blocks(l, x)) for l in t.layers if l.is_weighted];"
            "a = allocate(d, 256, 256, None, 'maxrects');"
            "print(json.dumps([a.assign, a.origin], sort_keys=True))")
    outs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed,
                   PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        outs.append(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                                   capture_output=True, text=True).stdout)
    assert outs[0] == outs[1] and json.loads(outs[0])[0]


# -- the mapping and the engine --------------------------------------------------------------
def _platform(tiles, packing, **kw):
    return platform_from_dict(xbar_platform(tiles=tiles, mapping={"dense": "crossbar", "pipeline": "off",
                                                                  "crossbar_packing": packing}, **kw))


def test_policy_field_validated():
    with pytest.raises(ConfigError, match=r"mapping.crossbar_packing: invalid value 'bestfit' \(valid: dedicated, maxrects, shelf\)"):
        _platform(2, "bestfit")


def test_dedicated_keeps_blocks_apart_maxrects_packs_them_and_reports_bounds():
    t = trace(L("a", "pointwise", 64, 64, hw=4), L("b", "pointwise", 64, 64, hw=4, inputs=["a"]))
    m = map_trace(_platform(2, "dedicated"), t)
    assert [p.aimc.tiles for p in m.plans] == [("xb0",), ("xb1",)] and not m.plans[0].aimc.packed
    assert m.summary["crossbar_allocation"] == "dedicated" and m.summary["crossbars_used"] == 2
    assert m.summary["crossbar_packing"] is False         # no crossbar holds two layers
    m = map_trace(_platform(2, "maxrects"), t)
    assert [p.aimc.tiles for p in m.plans] == [("xb0",), ("xb0",)] and m.plans[0].aimc.packed
    s = m.summary
    assert s["crossbar_packing"] is True and (s["crossbars_used"], s["crossbars_lower_bound"]) == (1, 1)
    assert s["crossbar_packing_efficiency"] == pytest.approx(2 * 64 * 64 / 65536)
    assert s["crossbar_bounds"] == {"area": 1, "columns": 0, "rows": 0, "large": 0, "group": 1}


def _packed_pair_energy(e_fixed, e_row, e_col):
    comps = xbar_platform(tiles=1, mapping={"dense": "crossbar", "pipeline": "off",
                                            "crossbar_packing": "maxrects"})
    x = comps["components"]["xb0"]
    del x["energy_pj_per_mvm"]
    x.update(mvm_fixed_pj=e_fixed, pj_per_active_row=e_row, pj_per_active_column=e_col)
    return platform_from_dict(comps)


def test_packed_layers_pay_only_their_own_rows_and_columns():
    p = _packed_pair_energy(100.0, 1.0, 2.0)
    t = trace(L("a", "pointwise", 32, 192, hw=4), L("b", "pointwise", 192, 32, hw=4, inputs=["a"]))
    r = hwsim.simulate(p, t)
    assert r.mapping["crossbars_used"] == 1
    # 16 pixels x 1 MVM each; a: 32 rows, 192 cols; b: 192 rows, 32 cols
    assert r.layer("a").energy_pj["compute"] == pytest.approx(16 * (100 + 32 * 1 + 192 * 2))
    assert r.layer("b").energy_pj["compute"] == pytest.approx(16 * (100 + 192 * 1 + 32 * 2))


def test_blocks_of_one_layer_on_one_crossbar_run_one_after_another():
    """2 crossbars; a = 512 rows x 128 cols (two 256 x 128 blocks), b = 128 rows x 256 cols.
    Kept apart, a's blocks take both crossbars and b finds no 128 x 256 hole (3 needed); so
    they share: a's two blocks side by side on one crossbar, b on the other. a then runs
    2 MVMs per pixel there, one after another: per pixel 2 x mvm_latency cycles instead of 1."""
    t = trace(L("a", "pointwise", 512, 128, hw=4), L("b", "pointwise", 128, 256, hw=4, inputs=["a"]))
    mvm, pix = 10, 16
    p2 = _platform(2, "maxrects", mvm=mvm)
    m = map_trace(p2, t)
    a = m.plans[0]
    assert len(a.aimc.blocks) == 2 and len(a.aimc.tiles) == 1 and m.summary["crossbars_used"] == 2
    r2 = hwsim.simulate(p2, t)
    r3 = hwsim.simulate(_platform(3, "maxrects", mvm=mvm), t)   # room to keep them apart
    assert len(map_trace(_platform(3, "maxrects"), t).plans[0].aimc.tiles) == 2
    assert r2.layer("a").compute_cycles - r3.layer("a").compute_cycles == pix * mvm
    # energy: the same 2 blocks x 16 pixels x 1000 pJ MVMs either way
    assert r2.layer("a").energy_pj["compute"] == pytest.approx(r3.layer("a").energy_pj["compute"])
    assert r2.layer("a").energy_pj["compute"] >= 2 * pix * 1000.0


def test_packed_crossbar_is_programmed_once_block_after_block():
    """Two layers on one crossbar, programmed once before inference: its blocks' rows are
    written one after another (setup time = rows of both x cycles per row)."""
    t = trace(L("a", "pointwise", 32, 192, hw=4), L("b", "pointwise", 192, 32, hw=4, inputs=["a"]))
    r = hwsim.simulate(_platform(1, "maxrects", prog_cycles=100, prog_pj=5.0), t)
    s = r.summary_dict()
    assert r.mapping["aimc_programmed"] == "once"
    assert s["setup_programming_s"] == pytest.approx((32 + 192) * 100 / 100e6)
    assert s["setup_programming_pj"] == pytest.approx((32 + 192) * 5.0)


def test_allocation_over_the_crossbars_reprograms_each_inference():
    """Blocks that do not fit even packed: program-once is off and every AIMC layer
    reprograms its crossbars each inference, as before packing (overflow: reprogram)."""
    t = trace(L("a", "pointwise", 256, 256, hw=4), L("b", "pointwise", 256, 256, hw=4, inputs=["a"]))
    d = xbar_platform(tiles=1, prog_cycles=10, prog_pj=5.0, mapping={
        "dense": "crossbar", "overflow": "reprogram", "crossbar_packing": "maxrects"})
    r = hwsim.simulate(platform_from_dict(d), t)
    assert r.mapping["aimc_programmed"] == "each inference" and r.mapping["crossbars_needed"] == 2
    for name in "ab":   # 256 rows written per inference (plus the weights' DMA in the time)
        assert r.layer(name).energy_pj["programming"] == pytest.approx(256 * 5.0)
        assert r.layer(name).programming_cycles >= 256 * 10


def test_bundled_platforms_before_after():
    """The paper platforms pack ("Tile&Pack"): MobileNetV2 with 4-bit weights needs 106
    crossbars one block each, MaxRects fits it in far fewer, above the lower bound."""
    m = map_trace(hwsim.load_platform(ROOT / "platforms/garofalo2022_multi.yaml"),
                  hwsim.load_trace(ROOT / "traces/mobilenetv2_w4.json"))
    s = m.summary
    assert s["crossbar_allocation"] == "maxrects" and s["aimc_programmed"] == "once"
    naive = sum(len(p.aimc.blocks) for p in m.plans if p.aimc)
    assert naive == 106 and s["crossbars_lower_bound"] <= s["crossbars_used"] < naive


def test_free_rectangles_after_a_placement_by_hand():
    """MaxRects bookkeeping (Jylänki 2010): placing 100 x 50 at the corner of an empty 256 x 256
    crossbar leaves two maximal free rectangles, below (rows 100..255, all columns) and right
    (all rows, columns 50..255); a free rectangle inside another is dropped, one that only
    overlaps another is kept, whatever its shape."""
    from hwsim.mapping.packing import _split

    assert _split([(0, 0, 256, 256)], 0, 0, 100, 50) == [(0, 50, 256, 206), (100, 0, 156, 256)]
    assert _split([(0, 0, 10, 10), (0, 0, 10, 5)], 20, 20, 1, 1) == [(0, 0, 10, 10)]
    # (5, 5) 10 rows x 3 cols reaches row 15, below (0, 0) 8 x 20's last row 7: both maximal
    assert _split([(0, 0, 8, 20), (5, 5, 10, 3)], 50, 50, 1, 1) == [(0, 0, 8, 20), (5, 5, 10, 3)]
    assert _split([(0, 0, 8, 20), (5, 5, 3, 30)], 50, 50, 1, 1) == [(0, 0, 8, 20), (5, 5, 3, 30)]
