"""Every combination of mapping policies runs: it completes, or it is refused with one clear
line (ConfigError: a policy the platform cannot honour; MappingError); it never deadlocks or
crashes.

The mapping policies (``mapping:`` in a platform file, :mod:`hwsim.hardware.policy`) interact:
row-window fusion, pipelining, crossbars reprogrammed each inference, replication over
clusters and crossbar packing each change who waits for whom. (A row ring next to a
reprogrammed crossbar once deadlocked.) A seeded sample of combinations runs by default, a
larger one under ``-m slow``.
"""
from __future__ import annotations

import itertools
import random

import pytest

import hwsim
from hwsim.base.errors import ConfigError, MappingError
from hwsim.hardware.policy import (DENSE_CHOICES, DEPTHWISE_CHOICES, OVERFLOW_CHOICES,
                                   PACKING_CHOICES, REPLICATE_CHOICES, SWITCHES)

SPACE = {"depthwise": DEPTHWISE_CHOICES + ("dw_accelerator",), "overflow": OVERFLOW_CHOICES,
         "dense": DENSE_CHOICES, "replicate": REPLICATE_CHOICES,
         "crossbar_packing": PACKING_CHOICES, **{s: ("on", "off") for s in SWITCHES}}
# AIMC platforms: one cluster (one crossbar), 128 crossbars on one L1, a 4x4 mesh of clusters
PLATFORMS = {"pulp_imc_cluster": {}, "pulp_imc_cluster_multi": {},
             "mesh_imc": {"generate.mesh.width": 4, "generate.mesh.height": 4}}
TRACES = ("ds_cnn", "mobilenet_v1_025", "mobilenetv2_bottleneck", "resnet8")


def _combinations(n: int, seed: int) -> list:
    rng = random.Random(seed)
    keys = sorted(SPACE)
    cases = []
    for _ in range(n):
        policy = {k: rng.choice(SPACE[k]) for k in keys}
        cases.append((rng.choice(sorted(PLATFORMS)), rng.choice(TRACES), policy))
    return cases


def _run(platform: str, trace: str, policy: dict):
    overrides = {**PLATFORMS[platform], **{f"mapping.{k}": v for k, v in policy.items()}}
    try:
        p = hwsim.load_platform(f"platforms/{platform}.yaml", overrides)
        r = hwsim.simulate(p, hwsim.load_trace(f"traces/{trace}.json"))
    except (ConfigError, MappingError) as e:   # refused: one line naming what and how to fix it
        assert "\n" not in str(e).strip() and e.fix, (platform, trace, policy, str(e))
        return
    assert r.cycles > 0 and len(r.layers) > 0, (platform, trace, policy)


def _id(case) -> str:
    platform, trace, policy = case
    return f"{platform}-{trace}-" + ",".join(f"{k}={v}" for k, v in sorted(policy.items()))


FAST = _combinations(12, seed=1)
SLOW = _combinations(150, seed=2)


@pytest.mark.parametrize("case", FAST, ids=[_id(c) for c in FAST])
def test_policy_combination_runs(case):
    _run(*case)


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW, ids=[_id(c) for c in SLOW])
def test_policy_combination_runs_sampled(case):
    _run(*case)


def test_the_space_covers_every_policy_field():
    """A policy field added later joins the sample (or is named here as left out)."""
    from dataclasses import fields

    from hwsim.hardware.policy import Policy

    left_out = {"throughput_target_inferences_per_s"}   # a number, exercised in test_replication
    assert {f.name for f in fields(Policy)} - left_out == set(SPACE)
    assert len(list(itertools.islice(SPACE, None))) == len(SPACE)
