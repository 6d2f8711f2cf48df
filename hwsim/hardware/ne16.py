"""NE16: GAP9's digital convolution engine (pulp-platform/ne16), beside the cluster cores.

A Hardware Processing Engine on the cluster's L1 (its streamers read and write the TCDM
through the HCI): 1x1, 3x3 and depthwise 3x3 filters (pulp-platform/ne16 ``README.md``), 8-bit
activations in, 2-8 bit weights processed bit-serially. The array computes a 3x3 block of
output pixels x ``tp_out`` = 32 output channels from ``tp_in`` = 16 input channels per step
(``rtl/ne16_package.sv``: ``TP_IN``, ``TP_OUT``, ``NR_COLUMN``/``COLUMN_SIZE`` = 9).

The timing model is :mod:`hwsim.models.ne16` (DORY's ``Ne16PerfModel`` closed form, whose
constants are the defaults below). Cycles are of the component's own clock.

Sources of the defaults:

* ``[NE16-RTL]`` pulp-platform/ne16 ``rtl/ne16_package.sv`` L62-85 (commit 6bd7272): TP_IN 16,
  TP_OUT 32, 9 columns x 9 taps, 288-bit HCI port, 256 bit/cycle after realignment.
* ``[DORY-NE16]`` pulp-platform/dory ``dory/Hardware_targets/PULP/GAP9_NE16/Tiler/
  Ne16PerfModel.py`` L8-18, L57-87 (commit be3d6dd): input buffer 5x5x16, output buffer
  3x3x32, FIFO latency 6, 4 shifters / 8 adders / 4 multipliers for normalisation and
  quantisation, 256 bit/cycle memory throughput, load overhead 10 (1x1), index update 2,
  norm/quant scale 9 (+ bias 8), stream-out 3 + 1.
"""
from __future__ import annotations

from dataclasses import dataclass

from .platform import Component, spec

__all__ = ["Ne16"]


@dataclass(frozen=True)
class Ne16(Component):
    """NE16 convolution engine: computes from ``l1``; its data arrive by the cluster's DMA."""

    TYPE = "ne16"
    ENGINE = True

    l1: str = spec(kind="ref:memory", doc="the L1 (TCDM) its streamers read and write", default="")
    tp_in: int = spec("channels", "input channels per step (TP_IN) [NE16-RTL]", gt=0, default=16)
    tp_out: int = spec("channels", "output channels per step (TP_OUT) [NE16-RTL]", gt=0, default=32)
    block: int = spec("pixels", "side of the output block computed per step (3x3) [DORY-NE16]",
                      gt=0, default=3)
    l1_bits_per_cycle: int = spec("bits/cycle", "streamer throughput to L1 after realignment "
                                  "(288-bit HCI port) [NE16-RTL] [DORY-NE16]", gt=0, default=256)
    fifo_latency_cycles: int = spec("cycles", "FIFO latency of load, weight offset and "
                                    "matrix-vector phases [DORY-NE16]", min=0, default=6)
    load_1x1_overhead_cycles: int = spec("cycles", "fixed part of a 1x1 input load [DORY-NE16]",
                                         min=0, default=10)
    update_idx_cycles: int = spec("cycles", "index update per step [DORY-NE16]", min=0, default=2)
    nq_scale_cycles: int = spec("cycles", "fixed part of the normalisation scale [DORY-NE16]",
                                min=0, default=9)
    nq_bias_cycles: int = spec("cycles", "fixed part of the normalisation bias [DORY-NE16]",
                               min=0, default=8)
    nq_bits: int = spec("bits", "normalisation scale width [DORY-NE16 default 32]", gt=0, default=32)
    nq_bias: bool = spec(doc="normalisation adds a bias [DORY-NE16 default off]", default=False)
    nq_shift: bool = spec(doc="per-channel shift in normalisation [DORY-NE16 default off]",
                          default=False)
    shifters: int = spec("units", "shifters of the normaliser [DORY-NE16]", gt=0, default=4)
    adders: int = spec("units", "adders of the normaliser [DORY-NE16]", gt=0, default=8)
    multipliers: int = spec("units", "multipliers of the normaliser [DORY-NE16]", gt=0, default=4)
    streamout_overhead_cycles: int = spec("cycles", "fixed cycles of a stream-out (3 + end) "
                                          "[DORY-NE16]", min=0, default=4)
    job_overhead_cycles: int = spec("cycles", "per-tile job set-up by the cores (register "
                                    "programming, trigger, end event)", min=0, default=0)
    energy_pj_per_mac: float = spec("pJ", "energy of one MAC on the engine", min=0, default=0.0)
