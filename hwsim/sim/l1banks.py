"""Banked L1 (TCDM) bank-conflict model: a detailed cycle-by-cycle reference and a fast model.

The L1 has ``B`` word-interleaved banks (bank = word address mod B), each serving one access
per cycle. ``n`` requesters (the cores, the DMA's L1 port, accelerator streamers) each issue
at most one access per cycle. When several requesters address one bank in a cycle, a
round-robin arbiter (per bank, as in the PULP logarithmic interconnect) grants one; the losers
stall (their core pipeline stops) and retry the next cycle.

A requester's :class:`Stream` is either

* *deterministic*: word addresses ``base, base + stride, ...``; it issues with a duty cycle
  ``activity`` (fraction of its non-stalled cycles with an L1 access, spread evenly; a stall
  freezes the duty counter, as an in-order core stops), a loser retries the same address; or
* *random*: each cycle it has no pending access it issues with probability ``activity``, to a
  uniformly random bank, and a retried access is re-drawn uniformly (the independent-reference
  assumption of Strecker, 1970). Then every presentation in a cycle is an independent uniform
  draw and the probability that a request loses arbitration is the closed form
  ``1 - B (1 - (1 - 1/B)^m) / m`` for ``m`` presenting requesters.

Two fidelity levels:

* :func:`detailed`: simulates every access of every requester, cycle by cycle (pure Python,
  cost proportional to the accesses: for validation and small runs).
* :func:`fast` (default): for all-deterministic patterns, runs the same arbitration only until
  the joint state (position in each stream's bank cycle, pending requests, duty counters,
  arbiter pointers) repeats, and extrapolates the periodic steady state; for patterns with
  random streams, a fixed point of the independent-reference model: requester ``i`` presents
  with probability ``q_i = a_i / (1 - (1 - a_i)(1 - p_i))`` and wins with probability
  ``p_i = sum_b P_ib E[1 / (1 + K_b,i)]`` where ``K_b,i`` (others presenting at bank b) is
  Poisson-binomial. Its cost depends on the pattern, not on the layer size.

The result is the *conflict overhead* of the cores: stall cycles / conflict-free cycles. The
engine stretches each core-cluster tile by it and reports the extra time as ``contention`` on
the resource ``<l1>.banks`` (see :func:`conflict_overhead`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

__all__ = ["Stream", "BankResult", "closed_form_conflict_probability", "OP_KERNEL", "KERNELS",
           "kernel_streams", "detailed", "fast", "conflict_overhead"]


@dataclass(frozen=True)
class Stream:
    """One requester's accesses (word addresses, activity in accesses per free cycle)."""

    base: int = 0
    stride: int = 1
    activity: float = 1.0
    random: bool = False
    core: bool = True          # counts towards the cores' overhead (False: DMA, streamers)
    #: several arrays read in turn, ((base, stride), ...): access k goes to array k mod m at
    #: index k // m (e.g. inputs and weights of a matmul); overrides base/stride
    arrays: tuple = ()

    def bank(self, k: int, banks: int) -> int:
        if self.arrays:
            m = len(self.arrays)
            base, stride = self.arrays[k % m]
            return (base + (k // m) * stride) % banks
        return (self.base + k * self.stride) % banks

    def period(self, banks: int) -> int:
        """Accesses after which the bank sequence repeats."""
        def one(stride):
            return banks // math.gcd(stride % banks or banks, banks)
        if self.arrays:
            return len(self.arrays) * math.lcm(*(one(st) for _, st in self.arrays))
        return one(self.stride)

    def bank_probabilities(self, banks: int) -> list:
        out = [0.0] * banks
        per = self.period(banks)
        for k in range(per):
            out[self.bank(k, banks)] += 1 / per
        return out


@dataclass
class BankResult:
    cycles: int                # cycles simulated (detailed) or of one period (fast, det.)
    presented: int             # access presentations (first tries and retries)
    conflicts: int             # presentations that lost arbitration
    stall_cycles: list         # per requester
    accesses: list             # per requester, completed
    overhead: float            # cores' stall cycles / cores' conflict-free cycles

    @property
    def conflict_probability(self) -> float:
        return self.conflicts / self.presented if self.presented else 0.0


def closed_form_conflict_probability(n: int, banks: int) -> float:
    """P(a request loses arbitration) for ``n`` independent uniform requests to ``banks``
    banks in one cycle: 1 - E[distinct banks] / n, E[distinct] = B (1 - (1 - 1/B)^n)."""
    if n <= 0:
        return 0.0
    return 1 - banks * (1 - (1 - 1 / banks) ** n) / n


# ------------------------------------------------------------------------------------------
# Bundled kernel patterns (ASSUMED representative layouts; docs/memory_models.md)
# ------------------------------------------------------------------------------------------
#: op -> kernel pattern name
OP_KERNEL = {"conv2d": "matmul", "pointwise": "matmul", "linear": "matvec",
             "depthwise": "depthwise", "add": "elementwise", "mul": "elementwise",
             "maxpool": "pool", "avgpool": "pool"}

#: name -> (core stream factory(i), dma stream or None). Word addresses; 4-byte words.
KERNELS = {
    # PULP-NN-like 4x2 matmul: each core alternates between its im2col buffer (buffers 37
    # words apart, not bank aligned) and the weight rows it shares with the others (rows 18
    # words apart, cores on different output channels); one access every 2 cycles.
    "matmul": (lambda i: Stream(arrays=((37 * i, 1), (512 + 18 * i, 1)), activity=Fraction(1, 2)),
               Stream(base=5, stride=1, activity=Fraction(1, 4), core=False)),
    # matrix-vector: the cores read weight rows 64 words apart (bank aligned) and the shared
    # input vector, each starting at a different offset (staggered: 5 words apart)
    "matvec": (lambda i: Stream(arrays=((64 * i, 1), (4096 + 5 * i, 1)), activity=Fraction(2, 3)),
               Stream(base=7, stride=1, activity=Fraction(1, 4), core=False)),
    # depthwise in CHW layout: each core reads its channel plane (planes 100 words apart)
    # at the row stride of 3x3 windows and the 9 weights of its channel
    "depthwise": (lambda i: Stream(arrays=((100 * i, 3), (2048 + 9 * i, 1)), activity=Fraction(1, 2)),
                  Stream(base=11, stride=1, activity=Fraction(1, 4), core=False)),
    # element-wise: cores interleave word by word over two inputs and one output (2 loads,
    # 1 store per 4 cycles)
    "elementwise": (lambda i: Stream(arrays=((i, 8), (1000 + i, 8), (3000 + i, 8)),
                                     activity=Fraction(3, 4)),
                    Stream(base=13, stride=1, activity=Fraction(1, 4), core=False)),
    # pooling: window reads at stride 2 words from per-core row blocks
    "pool": (lambda i: Stream(base=50 * i + 1, stride=2, activity=Fraction(1, 2)),
             Stream(base=9, stride=1, activity=Fraction(1, 4), core=False)),
    # data-dependent accesses (look-up tables, gathers): uniform random banks
    "random": (lambda i: Stream(random=True, activity=Fraction(1, 2)),
               Stream(base=0, stride=1, activity=Fraction(1, 4), core=False)),
}


def kernel_streams(kernel: str, cores: int, dma: bool = True) -> list:
    """The streams of ``cores`` cores (and the DMA's L1 port) running bundled ``kernel``.

    The layouts are ASSUMED (representative, no published trace to take them from; word
    addresses, core ``i``; each pinned by a hand-worked bank sequence in
    ``tests/test_oracles.py``):

    * ``matmul``: alternately its own im2col buffer (consecutive words from ``37 i``) and the
      weight row of its output channel (consecutive words from ``512 + 18 i``), every 2nd cycle;
    * ``matvec``: alternately its weight row (from ``64 i``) and the shared input vector (from
      ``4096 + 5 i``), 2 accesses in 3 cycles;
    * ``depthwise``: alternately its channel plane at stride 3 (from ``100 i``) and its 9
      weights (from ``2048 + 9 i``), every 2nd cycle;
    * ``elementwise``: in turn two inputs and the output, each at stride 8 (from ``i``,
      ``1000 + i``, ``3000 + i``), 3 accesses in 4 cycles;
    * ``pool``: stride 2 from ``50 i + 1``, every 2nd cycle; ``random``: uniform random banks,
      every 2nd cycle;
    * the DMA's L1 port: consecutive words, every 4th cycle, from word 5 (matmul), 7 (matvec),
      11 (depthwise), 13 (elementwise), 9 (pool), 0 (random)."""
    make, dma_stream = KERNELS[kernel]
    streams = [make(i) for i in range(cores)]
    if dma and dma_stream is not None:
        streams.append(dma_stream)
    return streams


# ------------------------------------------------------------------------------------------
# Detailed cycle-by-cycle arbitration
# ------------------------------------------------------------------------------------------
def _run(streams, banks: int, accesses, seed: int, find_period: bool, max_cycles: int):
    n = len(streams)
    acts = [Fraction(s.activity).limit_denominator(1000) for s in streams]
    if any(not 0 < a <= 1 for a in acts):
        raise ValueError("stream activity must be in (0, 1]")
    num = [a.numerator for a in acts]
    den = [a.denominator for a in acts]
    credit = [0] * n
    done = [0] * n
    pending = [-1] * n            # bank of the pending access, -1 if none
    stalls = [0] * n
    rr = [n - 1] * banks          # last requester granted per bank
    period = [s.period(banks) if not s.random else 1 for s in streams]
    rand_idx = [i for i, s in enumerate(streams) if s.random]
    if rand_idx:   # numpy only for random streams (deterministic ones need no draws)
        import numpy as np

        rng = np.random.default_rng(seed)
    buf: list = []
    bpos = 0
    presented = conflicts = 0
    seen: dict = {}
    hist = []
    cycle = 0
    if accesses is None:
        total = None
    elif isinstance(accesses, int):
        total = [accesses] * n
    else:
        total = list(accesses)
    while True:
        if total is not None and all(d >= m for d, m in zip(done, total)) and all(p < 0 for p in pending):
            break
        if cycle >= max_cycles:
            break
        if find_period:
            state = (tuple(d % period[i] for i, d in enumerate(done)), tuple(pending),
                     tuple(credit), tuple(rr))
            if state in seen:
                c0 = seen[state]
                h0 = hist[c0]
                return (cycle - c0, presented - h0[0], conflicts - h0[1],
                        [s - a for s, a in zip(stalls, h0[2])], [d - a for d, a in zip(done, h0[3])])
            seen[state] = cycle
            hist.append((presented, conflicts, list(stalls), list(done)))
        if rand_idx and bpos + 2 * n > len(buf):
            buf = rng.integers(0, 1 << 30, size=4096 + 2 * n)
            bpos = 0
        by_bank: dict = {}
        for i, s in enumerate(streams):
            b = pending[i]
            if b < 0:
                if total is not None and done[i] >= total[i]:
                    continue
                if s.random:
                    if buf[bpos] % den[i] >= num[i]:    # Bernoulli(activity)
                        bpos += 1
                        continue
                    bpos += 1
                else:
                    credit[i] += num[i]
                    if credit[i] < den[i]:
                        continue
                    credit[i] -= den[i]
                    b = s.bank(done[i], banks)
            if s.random:  # (re)drawn uniformly at every presentation
                b = int(buf[bpos] % banks)
                bpos += 1
            pending[i] = b
            by_bank.setdefault(b, []).append(i)
        for b, reqs in by_bank.items():
            presented += len(reqs)
            if len(reqs) == 1:
                w = reqs[0]
            else:
                last = rr[b]
                w = min(reqs, key=lambda i: (i - last - 1) % n)
                conflicts += len(reqs) - 1
                for i in reqs:
                    if i != w:
                        stalls[i] += 1
            rr[b] = w
            done[w] += 1
            pending[w] = -1
        cycle += 1
    return cycle, presented, conflicts, stalls, done


def _result(streams, cycles, presented, conflicts, stalls, done) -> BankResult:
    ideal = sum(float(Fraction(1) / Fraction(s.activity).limit_denominator(1000)) * d
                for s, d in zip(streams, done) if s.core)
    st = sum(x for s, x in zip(streams, stalls) if s.core)
    return BankResult(cycles, presented, conflicts, list(stalls), list(done),
                      st / ideal if ideal else 0.0)


def detailed(streams, banks: int, accesses, seed: int = 0) -> BankResult:
    """Simulate ``accesses`` accesses of every stream (an int, or one count per stream),
    cycle by cycle."""
    if banks <= 0:
        raise ValueError("banks must be > 0")
    out = _run(streams, banks, accesses, seed, False, max_cycles=1 << 62)
    return _result(streams, *out)


def fast(streams, banks: int, seed: int = 0) -> BankResult:
    """Steady-state conflict model of a pattern (cost independent of the kernel's length)."""
    if any(s.random for s in streams):
        return _independent_reference(streams, banks)
    out = _run(streams, banks, None, seed, True, max_cycles=200_000)
    return _result(streams, *out)


def _independent_reference(streams, banks: int) -> BankResult:
    """Fixed point of the independent-reference model (see the module docstring)."""
    import numpy as np

    n = len(streams)
    a = np.array([float(s.activity) for s in streams])
    # P[i, b]: probability that requester i's presentation goes to bank b
    P = np.zeros((n, banks))
    for i, s in enumerate(streams):
        P[i, :] = 1 / banks if s.random else s.bank_probabilities(banks)
    p = np.ones(n)
    for _ in range(200):
        q = a / (1 - (1 - a) * (1 - p))
        new = np.empty(n)
        for i in range(n):
            win = 0.0
            for b in range(banks):
                if P[i, b] == 0:
                    continue
                # distribution of K = number of other requesters presenting at bank b
                dist = np.zeros(n)
                dist[0] = 1.0
                for j in range(n):
                    if j == i:
                        continue
                    r = q[j] * P[j, b]
                    dist[1:] = dist[1:] * (1 - r) + dist[:-1] * r
                    dist[0] *= 1 - r
                win += P[i, b] * float(np.dot(dist, 1 / (1 + np.arange(n))))
            new[i] = win
        if np.max(np.abs(new - p)) < 1e-12:
            p = new
            break
        p = new
    # per access: 1/p presentations, 1/p - 1 stall cycles; conflict-free time 1/a
    stall_per_access = 1 / p - 1
    core = np.array([s.core for s in streams])
    overhead = float(np.sum(stall_per_access[core]) / np.sum(1 / a[core])) if core.any() else 0.0
    q = a / (1 - (1 - a) * (1 - p))
    pres = float(q.sum())
    return BankResult(1, pres, pres - float((q * p).sum()), list(stall_per_access),
                      [1] * n, overhead)


# ------------------------------------------------------------------------------------------
_CACHE: dict = {}


def conflict_overhead(op: str, cores: int, banks: int, mode: str = "fast",
                      cycles: int = 0) -> float:
    """Stall cycles per conflict-free cycle of ``cores`` cores running ``op`` on an L1 of
    ``banks`` banks (0 for one bank: nothing to interleave, the single port is modelled by
    the memory's port channel; and for ops without a bundled kernel). ``mode``: ``fast`` or
    ``detailed`` (simulates ``cycles`` conflict-free cycles' worth of accesses)."""
    kernel = OP_KERNEL.get(op)
    if kernel is None or banks <= 1 or mode == "off":
        return 0.0
    key = (kernel, cores, banks, mode, cycles if mode == "detailed" else 0)
    v = _CACHE.get(key)
    if v is None:
        if mode == "fast":   # precomputed for the common sizes (tools/gen_l1banks_table.py)
            from .l1banks_table import TABLE

            v = TABLE.get(key[:3])
        if v is not None:
            _CACHE[key] = v
            return v
        streams = kernel_streams(kernel, cores)
        if mode == "detailed":
            # each requester's accesses in ``cycles`` conflict-free cycles
            v = detailed(streams, banks, [max(1, math.ceil(cycles * s.activity)) for s in streams]).overhead
        else:
            v = fast(streams, banks).overhead
        _CACHE[key] = v
    return v
