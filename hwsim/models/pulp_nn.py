"""PULP-NN kernel cycles by tile shape: the core cluster's ``kernel_model: pulp_nn``.

Closed forms of the PULP-NN library's INT-8 kernels (pulp-platform/pulp-nn, ``32bit/src``)
for a tile of a layer on ``cores`` cores; :mod:`hwsim.models.cores` uses them for the ops they
cover (:data:`PULP_NN_OPS` at <= 8 bit) and the kernel table for the rest.

**PULP-NN kernels** (structure from the code, coefficients cited per constant below). Inputs
and outputs HWC; ``K = kh * kw * cin`` (the im2col column length); a tile has ``co`` output
channels, ``rows`` output rows of width ``wo`` and ``batch`` images.

* conv2d / pointwise: im2col + a matmul register-blocked 4 x 2 (4 output channels x 2 output
  pixels per inner iteration of ``K // 4`` steps; ``K % 4`` leftover columns scalar; ``co % 4``
  leftover channels and an odd last pixel with smaller blocks). One pixel pair costs
  ``im2col(2 K) + co//4 * group + co%4 * ch_left`` cycles, a leftover pixel ``im2col(K) +
  co * px_left``. Work split over cores by output rows (``pulp_nn_conv_Ho_parallel``: each core
  takes ``ceil(rows / cores)`` rows, the last ones fewer or none) or by output channels
  (``pulp_nn_conv_Co_parallel``: ``ceil(co / cores)`` channels each, every core doing its own
  im2col); the faster split of the two is used (ASSUMED: the deployment tool picks it). A
  pointwise (1 x 1, stride 1) layer has no im2col (pulp-nn README).
* depthwise: split by channels (``ceil(co / cores)`` each); per channel and output column an
  im2col of ``in_rows * kh`` bytes and per output pixel a dot product of ``kh * kw`` taps plus
  requantisation (MATCH's cost model of the pulp-nn depthwise kernel).
* linear: split by output neurons (``ceil(co / cores)`` each); per neuron ``K // 4`` steps of
  2 loads + 1 ``sdotp``, ``K % 4`` scalar, plus the matmul's set-up and requantisation.

The tile time is the slowest core's; ``active_core_cycles`` sums every core's busy cycles, so
a split with leftovers leaves cores idle (``cores * cycles - active``), which
:mod:`hwsim.models.cores` charges at the idle energy. On ideal shapes the model reaches
``8 * 32 / 14 = 18.3`` MAC/cycle on 8 cores less the set-up and im2col shares (about 17-18):
the published 15.5 MAC/cycle (Garofalo et al., PULP-NN, Phil. Trans. R. Soc. A 2020) is the
check (docs/validation.md), not an input.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..mapping.tiling import in_rows
from ..workload.trace import Layer

__all__ = ["KernelWork", "PULP_NN_OPS", "ROW_SPLIT_OPS", "MM_ITER", "asymptotic_rate", "row_cycles", "work"]

#: ops the ``pulp_nn`` model times from the layer's shape (at <= 8-bit operands)
PULP_NN_OPS = ("conv2d", "pointwise", "depthwise", "linear")
#: PULP-NN kernels timed at the table's rate but split over the cores by rows (pulp_nn_add.c,
#: pulp_nn_maxpool.c, pulp_nn_avgpool.c); other ops scale linearly
ROW_SPLIT_OPS = ("add", "maxpool", "avgpool")

# Coefficients, cycles (one instruction per cycle on an XpulpV2 core with hardware loops and
# post-increment loads).
#: matmul inner iteration: 4 weight + 2 im2col 32-bit loads and 8 ``sdotp`` (32 MACs)
#: [pulp-nn 32bit/src/pulp_nn_matmul.c L96-121]
MM_ITER = 14
#: matmul leftover column (K % 4): 6 byte loads + 8 scalar MACs [pulp_nn_matmul.c L123-140]
MM_SCALAR = 14
#: set-up before / requantisation and stores after one 4 x 2 block
#: [eml-eda/match match/cost_model/examples/pulp_cluster.py L339: ``5 + ... + 10``]
MM_PRE, MM_POST = 5, 10
#: one leftover output channel (co % 4) per pixel pair: 3 loads + 2 ``sdotp`` per 4 columns
#: [MATCH pulp_cluster.py L347]
CH_LEFT_ITER = 5
#: one leftover pixel (odd width) per output channel: 2 loads + 1 ``sdotp`` per 4 columns
#: [MATCH pulp_cluster.py L351]; also the linear kernel's step [pulp_nn_linear.c L70-76]
PX_LEFT_ITER = 3
#: im2col: cycles per byte copied into the im2col buffer [MATCH pulp_cluster.py L333]
IM2COL_PER_BYTE = 1
#: depthwise per output pixel: vector part ``5 + ceil(k/4) * 7 + 10``, scalar part
#: ``5 + (k % 4) * 6 + 10``, requantisation 9 [MATCH pulp_cluster.py L367-377]
DW_VEC_ITER, DW_SCALAR, DW_QUANT = 7, 6, 9


@dataclass(frozen=True)
class KernelWork:
    """Cycles of one tile on a core cluster: ``cycles`` on the slowest core (the tile's
    duration, before the per-tile overhead), ``active_core_cycles`` summed over all cores."""

    cycles: int
    active_core_cycles: int


def asymptotic_rate(op: str) -> float:
    """MAC/cycle/core of ``op``'s kernel on an ideal shape without set-up (an upper bound)."""
    if op == "linear":
        return 4 / PX_LEFT_ITER
    if op == "depthwise":
        return 9 / _dw_pixel_cycles(9)          # 3 x 3
    return 32 / MM_ITER                         # 32 MACs per matmul inner iteration


def _dw_pixel_cycles(k: int) -> int:
    """Depthwise: cycles of one output pixel of one channel with ``k`` taps."""
    return (MM_PRE + -(-k // 4) * DW_VEC_ITER + MM_POST
            + MM_PRE + (k % 4) * DW_SCALAR + MM_POST + DW_QUANT)


@lru_cache(maxsize=1 << 14)   # pure in (layer, channels); the tiler asks for it per candidate
def row_cycles(l: Layer, co: int, with_im2col: bool = True) -> int:
    """Cycles one core spends on one output row of ``co`` channels of a conv2d / pointwise
    layer (4 x 2 blocked matmul with its leftovers, and the im2col when the layer needs one)."""
    K = l.matrix_rows
    wo = l.out_hw[1]
    steps, left = divmod(K, 4)
    group = MM_PRE + steps * MM_ITER + left * MM_SCALAR + MM_POST
    ch_left = MM_PRE + steps * CH_LEFT_ITER + left * CH_LEFT_ITER + MM_POST
    px_left = MM_PRE + steps * PX_LEFT_ITER + left * PX_LEFT_ITER + MM_POST
    im2col = IM2COL_PER_BYTE * K if with_im2col and _needs_im2col(l) else 0
    pairs, odd = divmod(wo, 2)
    return (pairs * (2 * im2col + (co // 4) * group + (co % 4) * ch_left)
            + odd * (im2col + co * px_left))


def _needs_im2col(l: Layer) -> bool:
    return not (l.kernel[0] == l.kernel[1] == 1 and l.stride[0] == l.stride[1] == 1)


def _split(n: int, cores: int) -> tuple:
    """``(chunk, full, rest)`` of ``n`` items split over ``cores`` in chunks of
    ``ceil(n / cores)``: ``full`` cores take ``chunk`` items, one more core takes ``rest``
    (when not 0), the others none."""
    chunk = -(-n // cores)
    full = n // chunk
    return chunk, full, n - full * chunk


def work(l: Layer, op: str, co: int, rows: int, cores: int) -> KernelWork:
    """Cycles of ``op`` (one of :data:`PULP_NN_OPS`) on ``co`` output channels x ``rows``
    output rows of ``l`` (all its batch) on ``cores`` cores (see the module docstring)."""
    b = l.batch
    if op in ("conv2d", "pointwise"):
        by_rows = row_cycles(l, co)
        n_rows = rows * b
        t_ho = -(-n_rows // cores) * by_rows
        chunk, full, rest = _split(co, cores)
        per_chunk, per_rest = row_cycles(l, chunk), row_cycles(l, rest) if rest else 0
        t_co = max(per_chunk, per_rest) * n_rows
        if t_ho <= t_co:
            return KernelWork(t_ho, n_rows * by_rows)
        return KernelWork(t_co, (full * per_chunk + per_rest) * n_rows)
    if op == "depthwise":
        px = _dw_pixel_cycles(l.kernel[0] * l.kernel[1])
        per_ch = b * l.out_hw[1] * (in_rows(l, 0, rows) * l.kernel[0] * IM2COL_PER_BYTE + rows * px)
        return KernelWork(_split(co, cores)[0] * per_ch, co * per_ch)
    # linear: split by output neurons
    steps, left = divmod(l.matrix_rows, 4)
    neuron = MM_PRE + (steps + left) * PX_LEFT_ITER + MM_POST
    return KernelWork(-(-co // cores) * neuron * b, co * neuron * b)
