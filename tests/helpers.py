"""Small platform builders for closed-form tests."""
from __future__ import annotations

import copy

import simpy

from hwsim.sim.interconnect import Interconnect
from hwsim.hardware.platform import platform_from_dict

BASE = {
    "name": "unit",
    "clocks": {"clk": 100_000_000},
    "reference_clock": "clk",
    "components": {
        "cluster": {"type": "core_cluster", "clock": "clk", "cores": 1, "l1": "l1",
                    "kernels": {"conv2d": 1, "pointwise": 1, "linear": 1, "depthwise": 1,
                                "add": 1, "mul": 1, "maxpool": 1, "avgpool": 1}},
        "l1": {"type": "memory", "level": "L1", "clock": "clk", "size_bytes": 1 << 20,
               "ports": 4, "port_bandwidth_bytes_per_cycle": 1024},
        "l2": {"type": "memory", "level": "L2", "clock": "clk", "size_bytes": 1 << 24,
               "ports": 4, "port_bandwidth_bytes_per_cycle": 1024},
        "dma": {"type": "dma", "clock": "clk", "max_outstanding": 4, "burst_bytes": 64},
    },
    "links": [
        {"between": ["l2", "dma"], "clock": "clk", "bandwidth_bytes_per_cycle": 8, "latency_cycles": 5},
        {"between": ["dma", "l1"], "clock": "clk", "bandwidth_bytes_per_cycle": 1024},
    ],
}


def platform(**changes):
    """BASE with ``{"components.x.y": v}``-style changes (dots in keys are paths)."""
    from hwsim.hardware.platform import apply_overrides

    data = apply_overrides(copy.deepcopy(BASE), changes) if changes else copy.deepcopy(BASE)
    return platform_from_dict(data)


def interconnect(p):
    env = simpy.Environment()
    return env, Interconnect(env, p)


def run_transfers(p, jobs):
    """Run ``[(src, dst, nbytes, start_ps)]`` concurrently; return their end times in ps."""
    env, ic = interconnect(p)
    ends = [None] * len(jobs)

    def job(i, src, dst, n, at):
        if at:
            yield env.timeout(at)
        for route in ic.hops(src, dst):
            yield from ic.transfer(route, n)
        ends[i] = env.now

    for i, (src, dst, n, at) in enumerate(jobs):
        env.process(job(i, src, dst, n, at))
    env.run()
    return ends, ic
