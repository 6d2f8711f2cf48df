"""Digital depthwise accelerator: a fixed-function engine beside the cores.

Depthwise convolutions map poorly onto a crossbar (a block-diagonal mapping uses
``kh*kw`` rows and one column per channel) and reach little of the cores' MAC rate (no
input-channel reuse). Heterogeneous clusters such as Garofalo et al. (JETCAS 2022) add a small
digital depthwise engine sharing the cluster's L1.

Model: like a core cluster with ``cores`` = 1 lane group, it computes from its L1 and its data
arrive by the cluster's DMA; a tile of ``macs`` MACs takes
``ceil(macs / (cores * kernels.depthwise)) + tile_overhead_cycles`` cycles of its clock, and
costs ``energy_pj_per_op.depthwise`` pJ per MAC. It is a :class:`CoreCluster` subtype so the
interconnect and engine treat it as a compute engine (never a pass-through node); only
``depthwise`` (and optionally pooling) kernels are accepted.
"""
from __future__ import annotations

from dataclasses import dataclass

from .platform import COMPONENT_TYPES, CoreCluster, spec


@dataclass(frozen=True)
class DwAccelerator(CoreCluster):
    """Digital depthwise engine: ``kernels: {depthwise: MAC/cycle}``, ``cores`` = 1 by default."""

    TYPE = "dw_accelerator"
    cores: int = spec("units", "parallel lane groups (throughput multiplier)", gt=0, default=1)

    ACCEPTED_OPS = ("depthwise", "maxpool", "avgpool")


COMPONENT_TYPES[DwAccelerator.TYPE] = DwAccelerator


def digital_clusters(platform) -> list:
    """The general-purpose core clusters of a platform (excluding accelerators like this one)."""
    return [c for c in platform.of_type(CoreCluster) if type(c) is CoreCluster]


def dw_accelerators(platform, l1: str | None = None) -> list:
    return [c for c in platform.of_type(DwAccelerator) if l1 is None or c.l1 == l1]
