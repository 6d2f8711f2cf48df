"""Digital depthwise accelerator model (spec: :mod:`hwsim.hardware.dw_accel`).

The core-cluster model with ``cores`` lane groups and its own kernel table, restricted to the
ops it accepts, and without the cores' L1 bank-conflict model (a fixed-function datapath).
"""
from __future__ import annotations

from ..hardware.dw_accel import DwAccelerator
from .cores import CoreModel

__all__ = ["DwAccelModel"]


class DwAccelModel(CoreModel, spec=DwAccelerator):
    kind = "dw_accelerator"
    host = False
    l1_bank_conflicts = False

    def accepts(self, comp, layer) -> bool:
        return layer.op in comp.ACCEPTED_OPS and super().accepts(comp, layer)
