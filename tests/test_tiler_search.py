"""The tiler's fast paths give the answer of its exhaustive search (hwsim.mapping.tiling).

The mapper asks the least-time tiler for thousands of (layer, placement, budget) plans; three
shortcuts keep that fast, and each must be exact:

* best-first: candidates in order of a lower bound (tiles x compute time per tile), stopping
  once the bound passes the best time found;
* answer reuse: the winner under (budget, max_rows) answers any smaller pair it still fits;
* PULP-NN's channel split in closed form (chunk, full cores, rest).

Each is compared here with the plain version: every candidate, every core.
"""
from __future__ import annotations

import itertools

import pytest

import hwsim
from hwsim.base.errors import MappingError
from hwsim.mapping.cost import CostModel, tile_compute_ps
from hwsim.mapping.tiling import _rank_by_compute, _Search
from hwsim.models import pulp_nn

# (platform, cluster, L1, L2, trace): a PULP cluster with the PULP-NN model, GAP9's, and a
# cluster with a kernel table (pulp_imc_cluster's cores)
CASES = [("pulp_cluster", "cluster", "l1", "l2", "mobilenetv2_bottleneck"),
         ("gap9", "cluster", "l1", "l2", "ds_cnn"),
         ("pulp_imc_cluster", "cluster", "l1", "l2", "resnet8")]
PLACEMENTS = [("l2", "l2"), ("l1", "l2"), ("l2", "l1"), ("l1", "l1")]   # (inputs, output)


def _searches(platform, cluster, l1name, l2name, trace):
    p = hwsim.load_platform(f"platforms/{platform}.yaml")
    cl, l1 = p.components[cluster], p.components[l1name]
    cost = CostModel(p)
    for l in hwsim.load_trace(f"traces/{trace}.json").layers:
        if l.op not in ("conv2d", "pointwise", "depthwise", "linear", "add", "maxpool", "avgpool"):
            continue
        compute = tile_compute_ps(p, cl, l, cl, cost)
        for src, dst in PLACEMENTS:
            ins = (l1name if src == "l1" else l2name,)
            out = l1name if dst == "l1" else l2name
            yield l, l1, lambda: _Search(l, l1, ins, l2name, out, l.is_weighted, False, cost, compute)


def _outcome(fn, *args):
    try:
        won = fn(*args)
    except MappingError:
        return "does not fit"
    return None if won is None else won[:3]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_best_first_finds_the_exhaustive_winner(case):
    checked = 0
    for l, l1, new in _searches(*case):
        for frac, max_rows in itertools.product((1.0, 0.5, 0.2, 0.05), (None, 2)):
            budget = int(l1.size_bytes * frac)
            s = new()
            s.ranked = _rank_by_compute(s)
            fast = _outcome(s._best_first, budget, max_rows)
            full = _outcome(new()._search, budget, max_rows)
            # best-first says None when nothing fits; the exhaustive search then explains why
            assert fast == full or (fast is None and full == "does not fit"), (l.name, budget, max_rows)
            checked += fast is not None
    assert checked > 50, checked


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_reused_answers_match_a_fresh_search(case):
    """One search object asked under shrinking and growing budgets (as fusion's trials do)
    answers each like a new search under that budget alone."""
    for l, l1, new in _searches(*case):
        shared = new()
        for frac, max_rows in ((1.0, None), (0.6, None), (0.6, 3), (0.3, None), (0.9, 2),
                               (0.1, 1), (1.0, None)):
            budget = int(l1.size_bytes * frac)
            assert _outcome(shared.choose, budget, max_rows) == _outcome(new()._search, budget, max_rows), (
                l.name, budget, max_rows)


def _split_by_core(n, cores):
    chunk = -(-n // cores)
    return [max(0, min(chunk, n - i * chunk)) for i in range(cores)]


def test_channel_split_in_closed_form_matches_core_by_core():
    for n, cores in itertools.product(range(1, 130), (1, 2, 3, 8, 9, 16)):
        chunk, full, rest = pulp_nn._split(n, cores)
        per_core = _split_by_core(n, cores)
        assert per_core.count(chunk) + (rest == chunk) >= full
        assert sorted(per_core, reverse=True)[:full + 1] == ([chunk] * full + [rest])[:cores], (n, cores)
        assert sum(per_core) == full * chunk + rest == n


def test_pulp_nn_work_matches_the_core_by_core_sum():
    """The conv kernel's channel split: slowest core and summed busy cycles, core by core."""
    for l in hwsim.load_trace("traces/mobilenetv2_bottleneck.json").layers:
        if l.op not in ("conv2d", "pointwise"):
            continue
        for co, rows, cores in itertools.product(range(1, l.out_channels + 1, 7), (1, 3), (8, 16)):
            per_core = [pulp_nn.row_cycles(l, c) * rows * l.batch
                        for c in _split_by_core(co, cores) if c]
            by_rows = pulp_nn.row_cycles(l, co)
            t_ho = -(-rows * l.batch // cores) * by_rows
            want = ((t_ho, rows * l.batch * by_rows) if t_ho <= max(per_core)
                    else (max(per_core), sum(per_core)))
            w = pulp_nn.work(l, l.op, co, rows, cores)
            assert (w.cycles, w.active_core_cycles) == want, (l.name, co, rows, cores)


def test_working_set_of_an_add_with_one_operand_resident_by_hand():
    """An element-wise add reads two operands; the DMA buffers hold only the share moved by
    DMA (one of two operands when the other is resident in L1), the output double-buffered.
    16 x 8 x 8, 8 bit, one tile of all channels and rows: 2 x 1024 B in, 1024 B out."""
    from hwsim.workload.trace import trace_from_dict

    t = trace_from_dict({"name": "add", "input_shape": [16, 8, 8], "layers": [
        {"name": "a", "op": "maxpool", "input_shape": [16, 8, 8], "output_shape": [16, 8, 8],
         "kernel": [1, 1], "inputs": ["input"]},
        {"name": "s", "op": "add", "input_shape": [16, 8, 8], "output_shape": [16, 8, 8],
         "inputs": ["input", "a"]}]})
    add = t.layers[1]
    p = hwsim.load_platform("platforms/pulp_cluster.yaml")
    cl, l1 = p.components["cluster"], p.components["l1"]
    cost = CostModel(p)
    compute = tile_compute_ps(p, cl, add, cl, cost)

    def ws(ins, out):
        return _Search(add, l1, ins, None, out, False, False, cost, compute).ws(16, 8)
    assert ws(("l2", "l2"), "l2") == 2 * (2048 + 1024)
    assert ws(("l1", "l2"), "l2") == 2 * (1024 + 1024)
    assert ws(("l1", "l1"), "l2") == 2 * 1024
    assert ws(("l1", "l1"), "l1") == 0
