"""DMA engine features and L2 contention between masters, against closed forms.

Closed forms (cycles of a 1 GHz clock; a 1 byte/cycle link is the only rate limit):
* an isolated DMA transfer of n bytes: ``setup + n`` cycles;
* two transfers on one active slot: ``2 (setup + n)`` without a descriptor queue,
  ``setup + 2 n`` with one (the second descriptor is programmed while the first moves);
* separate read/write channels with one outstanding burst each: a load and a store proceed
  in parallel (``n`` each), two loads share the read channel (``2 n``);
* a 2D transfer of R rows of L bytes is R x ceil(L / burst) bursts;
* k masters on an L2 with one port share it (each ``k n``); with k ports each gets ``n``.
"""
from __future__ import annotations

import simpy

from hwsim.sim.interconnect import Interconnect, Transfer
from hwsim.hardware.platform import platform_from_dict

NS = 1000  # ps


def _platform(dma=None, masters=1, l2_ports=1, l2_bw=1 << 20, link_bw=1):
    comps = {"cluster": {"type": "core_cluster", "clock": "clk", "l1": "l1_0", "kernels": {"add": 1}},
             "l2": {"type": "memory", "level": "L2", "clock": "clk", "size_bytes": 1 << 24,
                    "ports": l2_ports, "port_bandwidth_bytes_per_cycle": l2_bw}}
    links = []
    for i in range(masters):
        comps[f"l1_{i}"] = {"type": "memory", "level": "L1", "clock": "clk", "size_bytes": 1 << 20,
                            "ports": 8, "port_bandwidth_bytes_per_cycle": 1 << 20}
        d = {"type": "dma", "clock": "clk", "max_outstanding": 1, "burst_bytes": 100}
        d.update(dma or {})
        comps[f"dma{i}"] = d
        links += [{"between": ["l2", f"dma{i}"], "clock": "clk", "bandwidth_bytes_per_cycle": link_bw},
                  {"between": [f"dma{i}", f"l1_{i}"], "clock": "clk", "bandwidth_bytes_per_cycle": 1 << 20}]
    return platform_from_dict({"name": "dma", "clocks": {"clk": 1_000_000_000}, "components": comps,
                               "links": links})


def _run(p, jobs):
    """jobs: [(src, dst, nbytes, transfer kwargs)] started at 0; returns end times (ps)."""
    env = simpy.Environment()
    ic = Interconnect(env, p)
    ends = [None] * len(jobs)

    def job(i, src, dst, n, kw):
        (route,) = ic.hops(src, dst)
        yield from ic.transfer(route, n, None, Transfer(None, n, route, **kw))
        ends[i] = env.now

    for i, (src, dst, n, kw) in enumerate(jobs):
        env.process(job(i, src, dst, n, kw))
    env.run()
    return ends, ic


def test_setup_and_descriptor_queue():
    setup, n = 50, 1000
    ends, _ = _run(_platform({"setup_cycles": setup}), [("l2", "l1_0", n, {})])
    assert ends == [(setup + n) * NS]
    ends, _ = _run(_platform({"setup_cycles": setup}), [("l2", "l1_0", n, {})] * 2)
    assert max(ends) == 2 * (setup + n) * NS
    ends, ic = _run(_platform({"setup_cycles": setup, "queue_depth": 1}), [("l2", "l1_0", n, {})] * 2)
    assert max(ends) == (setup + 2 * n) * NS
    assert ic.dma_queue["dma0"].capacity == 2


def test_separate_read_write_channels_and_outstanding_bursts():
    n = 1000
    dma = {"max_outstanding": 4, "max_outstanding_bursts": 1}
    ends, ic = _run(_platform(dma, l2_ports=2), [("l2", "l1_0", n, {}), ("l1_0", "l2", n, {})])
    assert ends == [n * NS, n * NS]            # load and store in parallel (full-duplex link)
    assert ic.dma_dir[("dma0", "rd")].bytes == n and ic.dma_dir[("dma0", "wr")].bytes == n
    ends, _ = _run(_platform(dma, link_bw=4), [("l2", "l1_0", n, {}), ("l2", "l1_0", n, {})])
    # the link could carry both (4 B/cycle: 250 cycles each), one read burst in flight at a
    # time serialises them: 2 x 250
    assert max(ends) == 2 * n // 4 * NS
    ends, _ = _run(_platform({"max_outstanding": 4, "max_outstanding_bursts": 2}, link_bw=4),
                   [("l2", "l1_0", n, {}), ("l2", "l1_0", n, {})])
    assert max(ends) == 2 * n // 4 * NS        # the link is the limit either way
    # a DMA engine bandwidth limit on its read channel
    ends, _ = _run(_platform({"bandwidth_bytes_per_cycle": 0.5}, link_bw=4), [("l2", "l1_0", n, {})])
    assert ends == [2 * n * NS]


def test_2d_transfer_bursts():
    rows, row = 10, 30
    ends, ic = _run(_platform(), [("l2", "l1_0", rows * row, {"row_bytes": row, "stride_bytes": 64})])
    link = ic.link_dir[("l2", "dma0")]
    assert link.n_grants == rows            # one burst per row (burst 100 > row 30)
    assert ends == [rows * row * NS]
    ends, ic = _run(_platform(), [("l2", "l1_0", rows * row, {})])
    assert ic.link_dir[("l2", "dma0")].n_grants == 3   # 1D: ceil(300 / 100)


def test_l2_port_contention_between_masters():
    """Two DMA engines (masters) read 1000 bytes each from L2 whose port moves 1 byte/cycle:
    one port -> they share it, both end near 2000 cycles; two ports -> 1000 cycles each."""
    n = 1000
    p = _platform(masters=2, l2_ports=1, l2_bw=1, link_bw=1 << 20)
    ends, ic = _run(p, [("l2", "l1_0", n, {}), ("l2", "l1_1", n, {})])
    assert sorted(ends) == [1900 * NS, 2000 * NS]
    assert ic.port["l2"].n_waits > 0 and ic.port["l2"].busy_ps == 2 * n * NS
    p = _platform(masters=2, l2_ports=2, l2_bw=1, link_bw=1 << 20)
    ends, ic = _run(p, [("l2", "l1_0", n, {}), ("l2", "l1_1", n, {})])
    assert ends == [n * NS, n * NS] and ic.port["l2"].n_waits == 0


def test_bad_memory_system_fields_are_config_errors():
    import pytest

    from hwsim.base.errors import ConfigError
    from hwsim.hardware.platform import apply_overrides
    base = {"name": "x", "clocks": {"clk": 1_000_000_000}, "components": {
        "cluster": {"type": "core_cluster", "clock": "clk", "l1": "l1", "kernels": {"add": 1}},
        "l1": {"type": "memory", "level": "L1", "clock": "clk", "size_bytes": 65536},
        "dma": {"type": "dma", "clock": "clk"}},
        "links": [{"between": ["l1", "dma"], "clock": "clk", "bandwidth_bytes_per_cycle": 4}]}
    for path, value, needle in [("links.0.arbitration", "round-robin", "round_robin"),
                                ("components.l1.arbitration", "lifo", "arbitration"),
                                ("components.l1.bank_model", "exact", "bank_model"),
                                ("components.dma.queue_depth", -1, "queue_depth"),
                                ("components.dma.max_outstanding_bursts", 1.5, "max_outstanding_bursts")]:
        with pytest.raises(ConfigError) as e:
            platform_from_dict(apply_overrides(base, {path: value}))
        assert needle in str(e.value), str(e.value)
