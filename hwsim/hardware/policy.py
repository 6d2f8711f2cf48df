"""Mapping policy: the platform file's optional ``mapping:`` section, validated at load.

```yaml
mapping:
  depthwise: fastest      # fastest | crossbar | cores | dw_accelerator
  pipeline: true          # layers on disjoint engines overlap at row granularity
  accelerators: on        # off: every layer on the cores (a digital-only run of the same chip)
  overflow: cores         # cores | reprogram: what happens when the weights exceed the crossbars
  dense: fastest          # fastest | crossbar: conv / pointwise / linear layers that fit a crossbar
  l1_residency: on        # activations stay in L1 across layers when no layer gets slower
  fusion: on              # a producer and its next reader fused by row windows in L1
  replicate: off          # off | balance: split slow layers over free engines (pipelines)
  throughput_target_inferences_per_s: 100   # optional: stop replicating once reached
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
* ``l1_residency``: ``on`` keeps a layer's whole output in its L1 until its last reader when
  the tiler's model says no layer in between gets slower (:mod:`hwsim.mapping.fusion`);
  ``off`` sends every activation through L2/L3 (the DORY-style layer-by-layer flow).
* ``fusion``: ``on`` lets a layer whose output does not fit L1 whole run row by row with its
  single next reader, the tensor in a row window of L1 (:mod:`hwsim.mapping.fusion`), when the
  tiler's model says it is no slower; ``off`` keeps only whole tensors in L1.
* ``replicate``: ``balance`` splits the slowest pipeline stages by output rows over free
  crossbars / clusters until the stages balance, resources run out or the throughput target is
  met (:mod:`hwsim.mapping.replication`; Bruschi et al. 2023 replicate layers over free
  clusters); ``off`` runs each layer on one engine.
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
           "DEPTHWISE_CHOICES", "OVERFLOW_CHOICES", "DENSE_CHOICES", "REPLICATE_CHOICES",
           "PACKING_CHOICES", "SWITCHES"]

#: depthwise choices besides the type name of any accelerator on the platform
DEPTHWISE_CHOICES = ("fastest", "crossbar", "cores")
OVERFLOW_CHOICES = ("cores", "reprogram")
DENSE_CHOICES = ("fastest", "crossbar")
REPLICATE_CHOICES = ("off", "balance")
PACKING_CHOICES = ("dedicated", "maxrects", "shelf")
SWITCHES = ("pipeline", "accelerators", "fusion", "l1_residency")   # on/off fields


@dataclass(frozen=True)
class Policy:
    depthwise: str = "fastest"
    pipeline: bool = True
    accelerators: bool = True
    overflow: str = "cores"
    dense: str = "fastest"
    fusion: bool = True
    l1_residency: bool = True
    replicate: str = "off"
    throughput_target_inferences_per_s: float | None = None
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
    allowed = ("depthwise", "pipeline", "accelerators", "overflow", "dense", "fusion", "l1_residency",
               "replicate", "throughput_target_inferences_per_s", "crossbar_packing")
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
    rep = raw.get("replicate", "off")
    if rep is False:   # YAML reads a bare off as false
        rep = "off"
    if rep not in REPLICATE_CHOICES:
        raise ConfigError(file, "mapping.replicate", f"invalid value {rep!r}",
                          "one of " + ", ".join(REPLICATE_CHOICES))
    target = raw.get("throughput_target_inferences_per_s")
    if target is not None and (isinstance(target, bool) or not isinstance(target, (int, float))
                               or not target > 0 or target == float("inf")):
        raise ConfigError(file, "mapping.throughput_target_inferences_per_s",
                          f"expected a positive number of inferences per second, got {target!r}",
                          "e.g. throughput_target_inferences_per_s: 100, or leave it out")
    pk = raw.get("crossbar_packing", Policy.crossbar_packing)
    if pk not in PACKING_CHOICES:
        raise ConfigError(file, "mapping.crossbar_packing", f"invalid value {pk!r}",
                          did_you_mean(str(pk), PACKING_CHOICES) or "one of " + ", ".join(PACKING_CHOICES))
    return Policy(crossbar_packing=pk, replicate=rep, throughput_target_inferences_per_s=target, dense=dn, overflow=ov, depthwise=dw, pipeline=_bool(raw.get("pipeline", True), file, "mapping.pipeline"),
                  accelerators=_bool(raw.get("accelerators", True), file, "mapping.accelerators"),
                  fusion=_bool(raw.get("fusion", True), file, "mapping.fusion"),
                  l1_residency=_bool(raw.get("l1_residency", True), file, "mapping.l1_residency"))


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
