"""Mapping policy: the platform file's optional ``mapping:`` section, validated at load.

```yaml
mapping:
  depthwise: fastest      # fastest | crossbar | cores | dw_accelerator
  pipeline: true          # layers on disjoint engines overlap at row granularity
  accelerators: on        # off: every layer on the cores (a digital-only run of the same chip)
  overflow: cores         # cores | reprogram: what happens when the weights exceed the crossbars
  dense: fastest          # fastest | crossbar: conv / pointwise / linear layers that fit a crossbar
  crossbar_packing: dedicated # dedicated | maxrects | shelf: how weight blocks share crossbars
```

* ``depthwise``: where depthwise layers run. ``fastest`` estimates each candidate's time with
  the closed-form models (:func:`hwsim.mapping.aimc.estimate_ps`) and takes the smallest; a named
  engine pins the choice (the mapper errors if the platform lacks it). A trace's per-layer
  ``engine`` hint always wins over the policy.
* ``pipeline``: when a consumer layer runs on engines that share none with its producer
  (weights stationary in different tiles/clusters), it starts on the first rows of its input
  as soon as the producer has written them (row-tile granularity).
* ``accelerators``: ``off`` pins every layer to the core cluster, for the "same chip without
  its accelerators" baseline.
* ``dense``: ``fastest`` puts a dense layer (conv2d / pointwise / linear) on the crossbars only
  when its closed-form estimate is no slower than the cores' (a tiny layer can lose: each MVM
  costs the full analog latency however few cells it uses); ``crossbar`` whenever it fits.
* ``overflow``: when the crossbar-eligible layers' weights exceed the arrays even packed,
  ``cores`` keeps the layers with the most MACs per crossbar block stationary (greedy) and runs
  the others on the cores; ``reprogram`` keeps every such layer on the crossbars and programs
  them each inference (time and energy reported as ``programming``).
* ``crossbar_packing`` (:func:`hwsim.mapping.aimc.allocate`): ``dedicated`` (default) gives
  each weight block its own crossbar while they all fit (no two layers contend for a crossbar),
  else packs them as ``maxrects``; ``maxrects`` always packs every AIMC layer's blocks into as
  few crossbars as MaxRects finds (:mod:`hwsim.mapping.packing`; a layer's blocks on distinct
  crossbars so its MVMs stay parallel, sharing one only when that is what makes them fit), the
  "Tile&Pack" of Garofalo et al. (JETCAS 2022); ``shelf`` is the earlier policy: dedicated
  while they fit, else single-block layers share crossbars (first fit, shelves). Packing saves
  crossbars (area, leakage of power-gated arrays) but costs time wherever layers overlap
  (pipelined layers and parallel branches serialise on a shared crossbar), hence the default.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..base.errors import ConfigError, did_you_mean
from .registry import COMPONENT_TYPES

__all__ = ["Policy", "parse_policy", "policy_of", "check_policy", "depthwise_choices",
           "DEPTHWISE_CHOICES", "OVERFLOW_CHOICES", "DENSE_CHOICES", "PACKING_CHOICES", "SWITCHES"]

#: depthwise choices besides the type name of any accelerator on the platform
DEPTHWISE_CHOICES = ("fastest", "crossbar", "cores")
OVERFLOW_CHOICES = ("cores", "reprogram")
DENSE_CHOICES = ("fastest", "crossbar")
PACKING_CHOICES = ("dedicated", "maxrects", "shelf")
SWITCHES = ("pipeline", "accelerators")   # on/off fields


@dataclass(frozen=True)
class Policy:
    depthwise: str = "fastest"
    pipeline: bool = True
    accelerators: bool = True
    overflow: str = "cores"
    dense: str = "fastest"
    crossbar_packing: str = "dedicated"


def _bool(v, file, fld):
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("on", "off", "true", "false", "yes", "no"):
        return v.lower() in ("on", "true", "yes")
    raise ConfigError(file, fld, f"expected on/off (true/false), got {v!r}")


def parse_policy(raw, file="<dict>") -> Policy:
    if raw is None:
        return Policy()
    if not isinstance(raw, dict):
        raise ConfigError(file, "mapping", "expected a mapping, e.g. {depthwise: fastest}")
    allowed = ("depthwise", "pipeline", "accelerators", "overflow", "dense", "crossbar_packing")
    for k in raw:
        if k not in allowed:
            raise ConfigError(file, f"mapping.{k}", "unknown mapping policy field", did_you_mean(k, allowed))
    dw = raw.get("depthwise", "fastest")
    choices = depthwise_choices()
    if dw not in choices:
        raise ConfigError(file, "mapping.depthwise", f"invalid value {dw!r}",
                          did_you_mean(str(dw), choices) or "one of " + ", ".join(choices))
    ov = raw.get("overflow", "cores")
    if ov not in OVERFLOW_CHOICES:
        raise ConfigError(file, "mapping.overflow", f"invalid value {ov!r}",
                          "one of " + ", ".join(OVERFLOW_CHOICES))
    dn = raw.get("dense", "fastest")
    if dn not in DENSE_CHOICES:
        raise ConfigError(file, "mapping.dense", f"invalid value {dn!r}",
                          "one of " + ", ".join(DENSE_CHOICES))
    pk = raw.get("crossbar_packing", Policy.crossbar_packing)
    if pk not in PACKING_CHOICES:
        raise ConfigError(file, "mapping.crossbar_packing", f"invalid value {pk!r}",
                          did_you_mean(str(pk), PACKING_CHOICES) or "one of " + ", ".join(PACKING_CHOICES))
    return Policy(crossbar_packing=pk, dense=dn, overflow=ov, depthwise=dw, pipeline=_bool(raw.get("pipeline", True), file, "mapping.pipeline"),
                  accelerators=_bool(raw.get("accelerators", True), file, "mapping.accelerators"))


def policy_of(platform) -> Policy:
    return parse_policy((platform.raw or {}).get("mapping"), platform.file)


def depthwise_choices() -> tuple:
    """Valid ``mapping.depthwise`` values: the fixed choices, then every accelerator type
    (an engine type other than the core cluster and the crossbar)."""
    return DEPTHWISE_CHOICES + tuple(t for t, cls in COMPONENT_TYPES.items()
                                     if cls.ENGINE and t not in ("core_cluster", "aimc_tile"))


def check_policy(platform) -> None:
    """Validate the mapping section against the platform's components."""
    pol = policy_of(platform)
    fixed = DEPTHWISE_CHOICES
    if pol.depthwise not in fixed and not any(c.TYPE == pol.depthwise for c in platform.engines()):
        raise ConfigError(platform.file, "mapping.depthwise", f"pinned to {pol.depthwise} but the "
                          f"platform has no component of type {pol.depthwise}",
                          "add one or use depthwise: fastest")
