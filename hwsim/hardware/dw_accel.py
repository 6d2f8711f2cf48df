"""Digital depthwise accelerator: a fixed-function engine beside the cores.

Depthwise convolutions map poorly onto a crossbar (a block-diagonal mapping uses
``kh*kw`` rows and one column per channel) and reach little of the cores' MAC rate (no
input-channel reuse). Heterogeneous clusters such as Garofalo et al. (JETCAS 2022) add a small
digital depthwise engine sharing the cluster's L1.

Model (:mod:`hwsim.models.dw_accel`): like a core cluster with ``cores`` = 1 lane group, it
computes from its L1 and its data arrive by the cluster's DMA; a tile of ``macs`` MACs takes
``ceil(macs / (cores * kernels.depthwise)) + tile_overhead_cycles`` cycles of its clock, and
costs ``energy_pj_per_op.depthwise`` pJ per MAC. It reuses the :class:`CoreCluster` fields;
only ``depthwise`` (and optionally pooling) kernels are accepted.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..base.errors import ConfigError
from .platform import CoreCluster, spec

__all__ = ["DwAccelerator"]


@dataclass(frozen=True)
class DwAccelerator(CoreCluster):
    """Digital depthwise engine: ``kernels: {depthwise: MAC/cycle}``, ``cores`` = 1 by default."""

    TYPE = "dw_accelerator"
    cores: int = spec("units", "parallel lane groups (throughput multiplier)", gt=0, default=1)

    ACCEPTED_OPS = ("depthwise", "maxpool", "avgpool")

    def check(self, raw: dict, platform_file, where: str) -> None:
        bad = [op for op in self.kernels if op not in self.ACCEPTED_OPS]
        if bad:
            raise ConfigError(platform_file, f"{where}.kernels.{bad[0]}",
                              f"a {self.TYPE} runs only {', '.join(self.ACCEPTED_OPS)}",
                              "remove the entry (other ops run on the core_cluster)")
        if "depthwise" not in self.kernels:
            raise ConfigError(platform_file, f"{where}.kernels",
                              "missing the depthwise throughput (MAC/cycle)",
                              "e.g. kernels: {depthwise: 16}")
