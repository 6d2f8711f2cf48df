"""Tiling of the training ops (:data:`hwsim.workload.trace.TRAIN_OPS`) for mapper v1.

The mapper cuts a layer's *tile domain* into ``co`` channels x ``rows`` rows (full width) and
asks, per tile, for (input, weight, output) bytes and the ops. For the training ops:

* ``*_grad_weight``: domain = the forward output (C_out, H_o, W_o), exactly as the forward
  layer. A tile reads the X rows it needs (with halo; all C_in channels, or its own channels
  for depthwise) at ``bits.input`` and its dY slice at ``bits.output``; its dW slice
  (``co`` x kh*kw*cin/groups at ``bits.weight``, + ``co`` biases at ``bits.bias``) is the
  "weight" buffer: it stays in L1 as an accumulator over the row tiles and is *stored* to
  the weight memory after the last row tile of the channel tile. Ops = the forward tile's MACs.
* ``*_grad_input``: domain = the forward input (C_in, H, W) (``[F]`` -> F x 1 x 1). A dX tile
  of ``ci`` channels x rows [a, b) reads the dY rows that reach it, ``o`` in
  ``[ceil((a + pad_top - kh + 1) / s), floor((b - 1 + pad_top) / s)]`` clipped to the map,
  of the C_out / groups channels of each group its channels belong to (all C_out for
  groups = 1, ``ci * C_out / C_in`` for depthwise), and the W slice of its input
  channels (``ci * kh*kw * C_out / groups`` at ``bits.weight``, loaded once per channel
  tile). Ops: the layer's MACs shared in proportion to the tile's dX elements (rounded up; a
  tile cannot know its exact share of the stride/padding pattern, so a layer's tile ops may
  exceed its MACs by less than one MAC per tile).
* ``maxpool_grad`` / ``avgpool_grad``: as grad_input without weights (channels are
  independent); maxpool also re-reads the X tile to find the arg-max.
* ``optimizer_step``: domain = the P parameters (P x 1 x 1), rows of one; a tile of ``co``
  parameters loads W, dW and the state from the weight memory (the "weight" buffer) and
  stores W and the state back (the "output"); ops = ``co`` x ops per parameter.
"""
from __future__ import annotations

from ..workload.trace import GRAD_INPUT_OPS, GRAD_WEIGHT_OPS, OPTIMIZERS, Layer

__all__ = ["geometry", "tile_bytes", "tile_ops"]


def _b(elements: int, bits: int) -> int:
    return -(-elements * bits // 8)


def geometry(l: Layer) -> tuple:
    """The mapper's ``_geometry`` tuple for a training op: (C, H, W) of its tile domain, then
    forward input H, W, stride, kernel height, top padding."""
    h, w = l.in_hw
    if l.op in GRAD_WEIGHT_OPS:
        return (l.out_channels, *l.out_hw, h, w, l.stride[0], l.kernel[0], l.padding[0])
    if l.op == "optimizer_step":
        return (l.input_shape[0], 1, 1, 1, 1, 1, 1, 0)
    if l.fwd_op == "linear":
        return (l.in_channels, 1, 1, 1, 1, 1, 1, 0)
    return (l.input_shape[0], h, w, h, w, l.stride[0], l.kernel[0], l.padding[0])


def _dy_rows(l: Layer, a: int, b: int) -> int:
    """Rows of dY (forward output) that contribute to dX rows [a, b)."""
    ho = l.out_hw[0]
    s, kh, pt = l.stride[0], l.kernel[0], l.padding[0]
    lo = max(0, -(-(a + pt - kh + 1) // s))
    hi = min(ho - 1, (b - 1 + pt) // s)
    return max(0, hi - lo + 1)


def _x_rows(l: Layer, h0: int, h1: int) -> int:
    """Rows of X (forward input) that forward output rows [h0, h1) read (with halo)."""
    h = l.in_hw[0]
    s, kh, pt = l.stride[0], l.kernel[0], l.padding[0]
    return max(0, min(h, (h1 - 1) * s - pt + kh) - max(0, h0 * s - pt))


def tile_bytes(l: Layer, co: int, h0: int, h1: int, with_weights: bool) -> tuple:
    """(input, weight, output) bytes of a tile of ``co`` domain channels x rows [h0, h1)."""
    bt = l.batch
    cout, wo = l.out_channels, l.out_hw[1]
    cin, w = l.in_channels, l.in_hw[1]
    if l.op == "optimizer_step":
        s = OPTIMIZERS[l.optimizer]["state_tensors"]
        state = _b(co * s, l.bits_output)
        wt = _b(co, l.bits_weight) + _b(co, l.bits_input) + state if with_weights else 0
        return 0, wt, _b(co, l.bits_weight) + state
    if l.op in GRAD_WEIGHT_OPS:
        if l.fwd_op == "linear":
            x = cin * bt
        elif l.fwd_op == "depthwise":
            x = -(-co * cin // cout) * _x_rows(l, h0, h1) * w * bt
        else:
            x = cin * _x_rows(l, h0, h1) * w * bt
        dy = co * (h1 - h0) * wo * bt
        wt = 0
        if with_weights:
            wt = _b(co * l.matrix_rows, l.bits_weight) + (_b(co, l.bits_bias) if l.bias else 0)
        return _b(x, l.bits_input) + _b(dy, l.bits_output), wt, 0
    # grad_input and pooling gradients: the domain is the forward input
    if l.fwd_op == "linear":
        dy, xin = cout * bt, 0
        out = co * bt
    else:
        # dY channels of the groups the tile's input channels belong to (all for groups = 1,
        # its own channels x multiplier for depthwise; pooling: its own channels)
        dyc = co if l.fwd_op in ("maxpool", "avgpool") else \
            min(cout, -(-co // (cin // l.groups)) * (cout // l.groups))
        dy = dyc * _dy_rows(l, h0, h1) * wo * bt
        out = co * (h1 - h0) * w * bt
        xin = out if l.op == "maxpool_grad" else 0
    wt = 0
    if with_weights and l.op in GRAD_INPUT_OPS:
        wt = _b(co * l.kernel[0] * l.kernel[1] * (cout // l.groups), l.bits_weight)
    return _b(xin, l.bits_input) + _b(dy, l.bits_output), wt, _b(out, l.bits_output)


def tile_ops(l: Layer, co: int, rows: int) -> int:
    """Work of a tile in kernel-table units (see the module docstring)."""
    if l.op == "optimizer_step":
        return co * OPTIMIZERS[l.optimizer]["ops_per_param"]
    if l.op in GRAD_WEIGHT_OPS:
        return co * rows * l.out_hw[1] * l.batch * l.matrix_rows
    c, h, w = geometry(l)[:3]
    return -(-l.ops * co * rows // (c * h))

