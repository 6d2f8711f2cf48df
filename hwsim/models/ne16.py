"""NE16 timing and energy model (spec: :class:`hwsim.hardware.ne16.Ne16`).

The engine works through a layer in *steps*: one step reads a ``tp_in``-channel slice of the
input window of a ``block x block`` output block and accumulates ``k <= tp_out`` output
channels (depthwise: ``k <= tp_in`` channels, one slice). Cycles per step and per layer are
the closed form of DORY's NE16 performance model (pulp-platform/dory
``dory/Hardware_targets/PULP/GAP9_NE16/Tiler/Ne16PerfModel.py``, ``latency``, L57-110), with
its constants taken from the spec (defaults = DORY's) and its fixed 8-bit widths generalised
to the layer's (weights bit-serial, activations through the ``l1_bits_per_cycle`` port):

* load: 1x1 ``load_1x1_overhead + B^2 * ceil(tp_in * bits_in / port)``; 3x3 / depthwise
  ``fifo + (B + 2)^2 * ceil(tp_in * bits_in / port)``
* weight offset: ``fifo`` (depthwise ``fifo + k``); matrix-vector: 1x1 ``fifo + k``,
  3x3 / depthwise ``fifo + k * bits_weight``; index update ``update_idx``
* normalisation/quantisation per output block: ``ceil(tp_out / shifters)`` (if ``nq_shift``)
  ``+ nq_scale + ceil(k * nq_bits / 8 / multipliers)`` ``+ nq_bias + ceil(k / adders)``
  (if ``nq_bias``); stream-out ``streamout_overhead + B^2 * ceil(tp_out * bits_out / port)``
* layer: ``blocks * sum over channel groups of [n_in * (load + woff + mv + upd) + nq + out]``
  with ``n_in = ceil(Cin / tp_in)`` (depthwise: one slice), ``blocks = ceil(Ho / b) *
  ceil(Wo / b)``.

ASSUMED beyond DORY (which models stride 1 only): a stride-2 layer runs the stride-1 array
and keeps ``ceil(B / 2)`` outputs per side of each block (pulp-nnx lists stride 2x2 among
NE16's supported features), so ``b = ceil(B / stride)``; a linear layer runs as a 1x1
convolution on a 1x1 map (NE16's linear mode; per-token linears and matmuls are not
modelled); 16-bit activations are not modelled (such layers run elsewhere). A tile costs the closed form of its own shape plus
``job_overhead_cycles``; energy is ``energy_pj_per_mac`` per MAC. Peak: the 3x3 mode's
DORY ``max_perf`` (one step of ``tp_out`` channels, no normalisation or stream-out: 137.8
MAC/cycle with the defaults).
"""
from __future__ import annotations

from ..base.units import PS_PER_S, TERA
from ..hardware.ne16 import Ne16
from ..workload.trace import TRAIN_OPS
from .base import ComponentModel

__all__ = ["Ne16Model", "mode_of", "layer_cycles", "step_cycles", "peak_mac_per_cycle"]


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def mode_of(layer) -> str | None:
    """``"3x3"``, ``"1x1"`` or ``"dw"`` when the NE16 can run ``layer``, else None."""
    if layer.op in TRAIN_OPS or layer.bits_input != 8 or not 2 <= layer.bits_weight <= 8 \
            or layer.bits_output not in (8, 16, 32):
        return None
    if layer.stride not in ((1, 1), (2, 2)):
        return None
    if layer.op == "depthwise" and layer.kernel == (3, 3):
        return "dw"
    if layer.op == "conv2d" and layer.groups == 1 and layer.kernel == (3, 3):
        return "3x3"
    if (layer.op in ("pointwise", "conv2d") and layer.groups == 1 and layer.kernel == (1, 1)
            and layer.stride == (1, 1)) or (layer.op == "linear" and not layer.is_sequence_linear):
        return "1x1"
    return None


def step_cycles(ne: Ne16, mode: str, k: int, bits_in: int, bits_weight: int) -> int:
    """Cycles of one step (load, weight offset, matrix-vector, index update) for ``k``
    output channels (DORY ``load_latency + weight_offset_latency + matrixvec_latency +
    update_idx_latency``)."""
    b, port, fifo = ne.block, ne.l1_bits_per_cycle, ne.fifo_latency_cycles
    words = _ceil(ne.tp_in * bits_in, port)
    if mode == "1x1":
        load = ne.load_1x1_overhead_cycles + b * b * words
        mv = fifo + k
    else:
        load = fifo + (b + 2) * (b + 2) * words
        mv = fifo + k * bits_weight
    woff = fifo + k if mode == "dw" else fifo
    return load + woff + mv + ne.update_idx_cycles


def _nq_out_cycles(ne: Ne16, k: int, bits_out: int) -> int:
    """Normalisation/quantisation of ``k`` channels plus the stream-out of one block."""
    nq = ne.nq_scale_cycles + _ceil(k * (ne.nq_bits // 8), ne.multipliers)
    if ne.nq_shift:
        nq += _ceil(ne.tp_out, ne.shifters)
    if ne.nq_bias:
        nq += ne.nq_bias_cycles + _ceil(k, ne.adders)
    out = ne.streamout_overhead_cycles + ne.block * ne.block * _ceil(ne.tp_out * bits_out,
                                                                      ne.l1_bits_per_cycle)
    return nq + out


def layer_cycles(ne: Ne16, mode: str, ho: int, wo: int, kout: int, kin: int, bits_in: int = 8,
                 bits_weight: int = 8, bits_out: int = 8, stride: int = 1) -> int:
    """Cycles of a (part of a) layer with ``ho x wo`` outputs, ``kout`` output and ``kin``
    input channels (depthwise: ``kout`` channels) in ``mode`` (DORY ``latency``)."""
    per_side = _ceil(ne.block, stride)
    blocks = _ceil(ho, per_side) * _ceil(wo, per_side)
    k_body = ne.tp_in if mode == "dw" else ne.tp_out
    n_in = 1 if mode == "dw" else _ceil(kin, ne.tp_in)

    def group(k):
        return n_in * step_cycles(ne, mode, k, bits_in, bits_weight) + _nq_out_cycles(ne, k, bits_out)

    n_body, k_rem = divmod(kout, k_body)
    return blocks * (n_body * group(k_body) + (group(k_rem) if k_rem else 0))


def peak_mac_per_cycle(ne: Ne16, mode: str = "3x3", bits_weight: int = 8) -> float:
    """DORY ``max_perf``: MACs of one full step over its cycles (depthwise: with its
    normalisation and stream-out, which it pays per step)."""
    b, taps = ne.block, 1 if mode == "1x1" else 9
    k = ne.tp_in if mode == "dw" else ne.tp_out
    macs = taps * ne.tp_in * b * b * (1 if mode == "dw" else ne.tp_out)
    cyc = step_cycles(ne, mode, k, 8, bits_weight)
    if mode == "dw":
        cyc += _nq_out_cycles(ne, k, 8)
    return macs / cyc


class Ne16Model(ComponentModel, spec=Ne16):
    kind = "ne16"

    def accepts(self, comp, layer) -> bool:
        return mode_of(layer) is not None

    def cycles(self, comp, layer, rows: int, cols: int, channels: int, kin: int) -> int:
        """Cycles of a tile of ``rows x cols`` outputs, ``channels`` output channels and
        ``kin`` input channels of ``layer`` (depthwise: ``channels``), job overhead included.
        A tile that splits the input channels pays normalisation and stream-out per chunk
        (ASSUMED: partial sums leave as 32-bit outputs)."""
        mode = mode_of(layer)
        kin = channels if mode == "dw" else kin
        return comp.job_overhead_cycles + layer.batch * layer_cycles(
            comp, mode, rows, cols, channels, kin, layer.bits_input, layer.bits_weight,
            layer.bits_output, layer.stride[0])

    def estimate_ps(self, platform, comp, layer, host) -> float:
        if mode_of(layer) is None:
            return super().estimate_ps(platform, comp, layer, host)
        (ho, wo), cout = layer.out_hw, layer.out_channels
        return self.cycles(comp, layer, ho, wo, cout, layer.in_channels) / comp.clock.freq_hz * PS_PER_S

    def tile_estimate_ps(self, platform, comp, layer, host, ops, channels, rows) -> float:
        # the array works in 3x3-output / 16-channel subtiles and pays its job overhead per
        # tile, so a thin tile costs more than its share of the ops: the tiler must see it
        if mode_of(layer) is None:
            return super().tile_estimate_ps(platform, comp, layer, host, ops, channels, rows)
        cyc = self.cycles(comp, layer, rows, layer.out_hw[1], channels, layer.in_channels)
        return cyc / comp.clock.freq_hz * PS_PER_S

    def step(self, sim, comp, plan, tile, i: int, acct):
        dur = comp.clock.cycles_to_ps(self.cycles(comp, plan.layer, *_tile_extent(plan, i)))
        yield from sim.hold(comp.name, acct)
        env = sim.env
        t0 = env.now
        yield env.timeout(dur)
        sim.release(comp.name, dur)
        acct.ps["compute"] += dur
        acct.add_energy("compute", comp.name, tile.ops * comp.energy_pj_per_mac)
        if sim.timeline is not None:
            sim.timeline.compute(comp.name, plan.layer.name, i, "compute", t0, env.now,
                                 {"work_ops": tile.ops})

    def peak(self, comp) -> dict | None:
        mac = peak_mac_per_cycle(comp, "3x3")
        e = comp.energy_pj_per_mac
        return {"tops": 2 * mac * comp.clock.freq_hz / TERA, "tops_per_w": (2 / e) if e else None}


def _tile_extent(plan, i: int) -> tuple:
    """(output rows, output columns, output channels, input channels) of tile ``i``, for the
    two tilings a convolution gets (:mod:`hwsim.mapping.tiling`: channel tiles outer, row
    tiles inner, full width; :mod:`hwsim.mapping.tiling_nd` window tiling: channels, rows,
    columns, then input-channel chunks innermost)."""
    l, shape = plan.layer, plan.tile_shape
    (ho, wo), cout, cin = l.out_hw, l.out_channels, l.in_channels
    dims = [(cout, shape.get("channels", cout)), (ho, shape.get("rows", shape.get("out_rows", ho))),
            (wo, shape.get("cols", wo)), (cin, shape.get("in_channels", cin))]
    ext = []
    for n, t in reversed(dims):          # innermost loop first
        i, k = divmod(i, _ceil(n, t))
        ext.append(min(n, (k + 1) * t) - k * t)
    kin, cols, rows, channels = ext
    return rows, cols, channels, kin
