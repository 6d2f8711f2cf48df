"""Banked L1 conflict model (hwsim.sim.l1banks): detailed vs closed form, fast vs detailed.

Closed form (balls into bins; e.g. Hennessy & Patterson, memory-bank interference, or
Strecker 1970 "Analysis of the instruction execution rate in certain computer structures"):
``n`` independent uniform requests to ``B`` banks in a cycle hit ``B (1 - (1 - 1/B)^n)``
distinct banks on average, so a request loses arbitration with probability
``1 - B (1 - (1 - 1/B)^n) / n``.
"""
from __future__ import annotations

import pytest

from hwsim.sim import l1banks as L


@pytest.mark.parametrize("n,banks,accesses", [(4, 16, 80_000), (8, 16, 40_000), (16, 16, 20_000),
                                              (8, 32, 40_000)])
def test_detailed_matches_closed_form_conflict_probability(n, banks, accesses):
    """Uniform random access (every requester presents each cycle, independent reference
    model): measured P(conflict) within 2% of the closed form (>= 300k presentations, so the
    binomial standard error is below 0.7% of the value)."""
    streams = [L.Stream(random=True, activity=1)] * n
    r = L.detailed(streams, banks, accesses, seed=7)
    want = L.closed_form_conflict_probability(n, banks)
    assert r.presented >= 300_000
    assert abs(r.conflict_probability / want - 1) < 0.02, (r.conflict_probability, want)
    # a losing request costs its requester a stall cycle: stalls == conflicts
    assert sum(r.stall_cycles) == r.conflicts


@pytest.mark.parametrize("kernel", sorted(L.KERNELS))
def test_fast_within_5_percent_of_detailed_on_bundled_kernels(kernel):
    """8 cores + the DMA port on 16 banks (the pulp_cluster L1): the fast model's cycles
    (1 + overhead) are within 5% of the detailed simulation's, and the overheads within 1
    point."""
    streams = L.kernel_streams(kernel, 8)
    d = L.detailed(streams, 16, 4000, seed=3)
    f = L.fast(streams, 16)
    assert abs((1 + f.overhead) / (1 + d.overhead) - 1) < 0.05, (f.overhead, d.overhead)
    assert abs(f.overhead - d.overhead) < 0.01, (f.overhead, d.overhead)


def test_fast_random_kernel_matches_detailed_under_load():
    """A heavier random pattern (16 cores at activity 3/4 on 16 banks) with real conflicts:
    the independent-reference fixed point stays within 5% of detailed."""
    from fractions import Fraction
    streams = [L.Stream(random=True, activity=Fraction(3, 4))] * 16
    d = L.detailed(streams, 16, 20_000, seed=5)
    f = L.fast(streams, 16)
    assert d.overhead > 0.2
    assert abs(f.overhead / d.overhead - 1) < 0.05, (f.overhead, d.overhead)


def test_deterministic_patterns_closed_forms():
    """n cores at activity 1 all on one bank (stride = B, same base) serialise: the bank
    serves one access per cycle, so n x N accesses take n x N cycles and each core stalls
    n - 1 cycles per access (overhead n - 1). Distinct banks in lockstep (stride 1, bases
    0..n-1): no conflict at all."""
    n, B = 4, 16
    same = [L.Stream(base=0, stride=B, activity=1)] * n
    d = L.detailed(same, B, 1000)
    assert d.cycles == n * 1000
    assert d.overhead == pytest.approx(n - 1, rel=0.01)
    assert L.fast(same, B).overhead == pytest.approx(n - 1, rel=1e-9)
    spread = [L.Stream(base=i, stride=1, activity=1) for i in range(n)]
    d2 = L.detailed(spread, B, 1000)
    assert d2.conflicts == 0 and d2.cycles == 1000
    assert L.fast(spread, B).overhead == 0


def test_conflict_overhead_modes_and_single_bank():
    assert L.conflict_overhead("add", 8, 1) == 0.0       # one bank: nothing to interleave
    assert L.conflict_overhead("conv2d", 8, 16, "off") == 0.0
    f = L.conflict_overhead("maxpool", 8, 16, "fast")
    d = L.conflict_overhead("maxpool", 8, 16, "detailed", cycles=4000)
    assert f > 0 and abs(f - d) < 0.01


def test_engine_bank_modes_end_to_end():
    """On the PULP cluster (8 cores, 16 banks) the fast default and the detailed mode give
    the same network latency within 1%; the conflict stalls appear as contention charged to
    ``l1.banks``; ``off`` removes them."""
    from hwsim import load_platform, load_trace, simulate
    trace = load_trace("traces/fc_autoencoder.json")
    res = {m: simulate(load_platform("platforms/pulp_cluster.yaml",
                                     {"components.l1.bank_model": m}), trace)
           for m in ("fast", "detailed", "off")}
    assert abs(res["fast"].cycles / res["detailed"].cycles - 1) < 0.01
    banks = lambda r: sum(rec.waits_ps.get("l1.banks", 0) for rec in r.layers)
    assert banks(res["fast"]) > 0 and banks(res["off"]) == 0
    assert res["off"].cycles <= res["fast"].cycles


def test_precomputed_table_is_the_fast_model():
    """``conflict_overhead`` reads the generated table (tools/gen_l1banks_table.py) instead
    of running the periodic arbitration; the entries of the bundled platforms' sizes are
    recomputed here (all of them: the slow test
    below), and a size outside the table is computed."""
    from hwsim.sim import l1banks
    from hwsim.sim.l1banks_table import TABLE

    for (kernel, cores, banks), v in sorted(TABLE.items()):
        if (cores, banks) not in ((8, 16), (8, 32), (4, 8)):
            continue
        assert l1banks.fast(l1banks.kernel_streams(kernel, cores), banks).overhead == v
    l1banks._CACHE.clear()
    assert ("matvec", 24, 128) not in TABLE
    assert l1banks.conflict_overhead("linear", 24, 128) == l1banks.fast(
        l1banks.kernel_streams("matvec", 24), 128).overhead


@pytest.mark.slow
def test_precomputed_table_is_current():
    import subprocess
    import sys
    from pathlib import Path

    tool = Path(__file__).resolve().parent.parent / "tools" / "gen_l1banks_table.py"
    assert subprocess.run([sys.executable, str(tool), "--check"]).returncode == 0
