"""Fidelity knobs: the platform file's optional ``fidelity:`` section, validated at load.

A knob reproduces a published evaluation's own simplification where it differs from what
the hardware does, so a paper's figure can be compared like for like. Every knob is off by
default, and a report made with one on says so (summary line and JSON ``summary.fidelity``).

```yaml
fidelity:
  ideal_activation_memory: true   # activations move in no time and for no energy
```

* ``ideal_activation_memory``: activation tensors are read and written for free: the DMA of
  a tile's input and output activations between L1 and L2/L3, and the AIMC streamers'
  L1 <-> crossbar traffic, take no time and no energy (bytes are still counted). Weights,
  programming and compute are modelled as usual. Garofalo et al. (JETCAS 2022) evaluate their
  scaled-up multi-array MobileNetV2 this way (activation access time and energy not modelled).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from ..base.errors import ConfigError, did_you_mean

__all__ = ["Fidelity", "parse_fidelity", "fidelity_of"]


@dataclass(frozen=True)
class Fidelity:
    ideal_activation_memory: bool = False

    def active(self) -> dict:
        """The knobs that are on: ``{name: True}`` (empty for a faithful run)."""
        return {f.name: True for f in fields(self) if getattr(self, f.name)}


def parse_fidelity(raw, file="<dict>") -> Fidelity:
    if raw is None:
        return Fidelity()
    if not isinstance(raw, dict):
        raise ConfigError(file, "fidelity", "expected a mapping, e.g. {ideal_activation_memory: true}")
    names = [f.name for f in fields(Fidelity)]
    for k, v in raw.items():
        if k not in names:
            raise ConfigError(file, f"fidelity.{k}", "unknown fidelity knob", did_you_mean(str(k), names))
        if not isinstance(v, bool):
            raise ConfigError(file, f"fidelity.{k}", f"expected true or false, got {v!r}")
    return Fidelity(**raw)


def fidelity_of(platform) -> Fidelity:
    return parse_fidelity((platform.raw or {}).get("fidelity"), platform.file)
