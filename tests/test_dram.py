"""DRAM / HyperRAM timing model (hwsim.sim.dram) against its closed forms.

Closed forms (first-order open-page DRAM, e.g. Jacob, Ng & Wang, *Memory Systems: Cache, DRAM,
Disk*, ch. 11; refresh overhead tRFC/tREFI as in JESD209-4 / Ramulator's LPDDR4 model):

* sequential streaming: every access is a row hit after the first, bandwidth
  ``peak = data_bus_bytes x transfers_per_cycle x f`` times ``1 - tRFC/tREFI`` with refresh;
* isolated random accesses of S bytes: a row conflict each, ``S / (tRP + tRCD + tCL + S/peak)``;
* refresh steals ``tRFC / tREFI`` of the time.

LPDDR4-3200 parameters: Ramulator ``src/LPDDR4.h`` speed table (from JESD209-4), see
docs/platform_parameters.md section 7b and platforms/pulp_cluster_lpddr4.yaml.
"""
from __future__ import annotations

import numpy as np
import pytest
import simpy

from hwsim.base.errors import ConfigError
from hwsim.sim.interconnect import Interconnect, Transfer
from hwsim.hardware.platform import load_platform, platform_from_dict

LPDDR4 = {"type": "dram", "clock": "ddr", "level": "L3", "size_bytes": 1 << 30, "banks": 8,
          "data_bus_bits": 16, "transfers_per_cycle": 2, "burst_length": 16, "row_bytes": 2048,
          "t_rcd_cycles": 29, "t_cl_cycles": 32, "t_rp_cycles": 27, "t_ras_cycles": 68,
          "t_refi_cycles": 6247, "t_rfc_cycles": 288}


def _platform(dram=None, **dram_changes):
    d = dict(dram or LPDDR4)
    d.update(dram_changes)
    return platform_from_dict({
        "name": "dramtest",
        "clocks": {"ddr": 1_600_000_000, "fast": 4_000_000_000},
        "components": {
            "cluster": {"type": "core_cluster", "clock": "fast", "l1": "l1", "kernels": {"add": 1}},
            "l1": {"type": "memory", "level": "L1", "clock": "fast", "size_bytes": 1 << 16},
            "l2": {"type": "memory", "level": "L2", "clock": "fast", "size_bytes": 1 << 20,
                   "port_bandwidth_bytes_per_cycle": 4096},
            "dram": d,
            "dma": {"type": "dma", "clock": "fast", "max_outstanding": 1, "burst_bytes": 1024},
        },
        "links": [
            {"between": ["dram", "dma"], "clock": "fast", "bandwidth_bytes_per_cycle": 4096},
            {"between": ["dma", "l2"], "clock": "fast", "bandwidth_bytes_per_cycle": 4096},
            {"between": ["dma", "l1"], "clock": "fast", "bandwidth_bytes_per_cycle": 4096},
        ]})


def _run(p, jobs):
    """Run transfers ``[(nbytes, addr, row_bytes, stride)]`` one after another from the DRAM
    to L2; return (elapsed ps, interconnect)."""
    env = simpy.Environment()
    ic = Interconnect(env, p)
    (route,) = ic.hops("dram", "l2")

    def proc():
        for nb, addr, row, stride in jobs:
            yield from ic.transfer(route, nb, None, Transfer(None, nb, route, addr, row, stride))

    env.process(proc())
    env.run()
    return env.now, ic


def test_sequential_streaming_reaches_row_hit_bandwidth():
    """8 MiB streamed sequentially (1 KiB bursts): bandwidth = peak x (1 - tRFC/tREFI) within
    2% (peak LPDDR4-3200 x16 = 6.4 GB/s, refresh steals 288/6247 = 4.6%)."""
    p = _platform()
    n = 8 << 20
    ps, ic = _run(p, [(n, 0, 0, 0)])
    timing = ic.port["dram"].service
    want = timing.row_hit_bandwidth(refresh=True)
    got = n / ps
    assert abs(timing.peak_bytes_per_ps * 1e12 - 6.4e9) < 1e6
    assert abs(got / want - 1) < 0.02, (got, want)
    # without refresh the only overheads are one activate and one CAS latency
    p0 = _platform(t_refi_cycles=0)
    ps0, ic0 = _run(p0, [(n, 0, 0, 0)])
    t0 = ic0.port["dram"].service
    assert abs(ps0 - (n / t0.peak_bytes_per_ps + t0.t_rcd + t0.t_cl)) < 2 * t0.atom_ps


def test_random_access_falls_to_row_miss_bandwidth():
    """2000 isolated 64-byte reads at random addresses (seeded): bandwidth =
    64 / (tRP + tRCD + tCL + 64/peak) x (1 - tRFC/tREFI) within 5%."""
    p = _platform()
    rng = np.random.default_rng(1)
    addrs = rng.integers(0, (1 << 30) // 64, size=2000) * 64
    ps, ic = _run(p, [(64, int(a), 0, 0) for a in addrs])
    timing = ic.port["dram"].service
    want = timing.row_miss_bandwidth(64, refresh=True)
    got = 64 * len(addrs) / ps
    assert abs(got / want - 1) < 0.05, (got, want)
    assert timing.n_misses > 0.85 * len(addrs)
    # and it is far below streaming
    assert got < 0.3 * timing.row_hit_bandwidth()


def test_refresh_steals_trfc_over_trefi():
    """Closed page (every transaction activates, so refresh adds no extra re-activation):
    streaming time with refresh / without = 1 / (1 - tRFC/tREFI) within 2% of the stolen
    fraction's effect (HyperRAM-like closed page, exaggerated refresh 400/4000 cycles)."""
    hyper = dict(LPDDR4, banks=1, page_policy="closed", t_rp_cycles=0, t_ras_cycles=0,
                 t_refi_cycles=4000, t_rfc_cycles=400)
    n = 4 << 20
    ps_ref, _ = _run(_platform(hyper), [(n, 0, 0, 0)])
    ps_no, _ = _run(_platform(hyper, t_refi_cycles=0), [(n, 0, 0, 0)])
    stolen = 1 - ps_no / ps_ref
    assert abs(stolen / (400 / 4000) - 1) < 0.02, stolen
    # open page, LPDDR4 numbers: refresh costs tRFC plus a row re-activation (tRCD) per tREFI
    ps_ref, _ = _run(_platform(), [(n, 0, 0, 0)])
    ps_no, _ = _run(_platform(t_refi_cycles=0), [(n, 0, 0, 0)])
    stolen = 1 - ps_no / ps_ref
    assert 288 / 6247 * 0.98 < stolen < (288 + 29) / 6247 * 1.02, stolen


def test_row_buffer_locality_of_2d_transfers():
    """A 2D transfer whose rows are a DRAM row apart in the same bank (bank_row_col map)
    pays a row conflict per row: time = rows x (tRCD + data) + (rows - 1) x tRP + tCL, while
    the same bytes contiguous pay one activate per 2 KiB DRAM row."""
    p = _platform(t_refi_cycles=0, address_map="bank_row_col")
    rows, row = 64, 256
    ps_2d, ic = _run(p, [(rows * row, 0, row, 2048)])
    t = ic.port["dram"].service
    data = row // t.atom * t.atom_ps
    want = rows * (t.t_rcd + data) + (rows - 1) * t.t_rp + t.t_cl
    # tRAS may delay a precharge: activate-to-precharge >= tRAS
    assert want <= ps_2d <= want + rows * max(0, t.t_ras - t.t_rcd - data) + 1
    ps_1d, _ = _run(p, [(rows * row, 0, 0, 0)])
    n_rows = rows * row // 2048       # contiguous: one activate per DRAM row of 2 KiB
    want_1d = n_rows * (t.t_rcd + 2048 // t.atom * t.atom_ps) + (n_rows - 1) * t.t_rp + t.t_cl
    assert ps_1d == want_1d
    assert ps_1d < 0.7 * ps_2d


def test_presets_load_and_hyperram_transaction_overhead():
    """HyperRAM preset (S27KS0641, closed page): a 1 KiB burst is cut at the tCSM-derived
    max transaction size; each transaction pays command/address (tRCD) + initial latency (tCL)."""
    p = load_platform("platforms/pulp_cluster.yaml")
    d = p.components["l3"]
    assert d.TYPE == "dram" and d.page_policy == "closed"
    p4 = load_platform("platforms/pulp_cluster_lpddr4.yaml")
    assert p4.components["l3"].t_rfc_cycles == 288
    env = simpy.Environment()
    ic = Interconnect(env, p)
    timing = ic.port["l3"].service
    (route,) = [r for r in ic.hops("l3", "l2")]
    t = Transfer(None, 1024, route, 0)
    hold = timing.burst_ps(0, t, 0, 1024)
    ntx = -(-1024 // d.max_transaction_bytes)
    cyc = d.clock.cycles_to_ps
    assert hold == ntx * (cyc(d.t_rcd_cycles) + cyc(d.t_cl_cycles)) + 1024 // timing.atom * timing.atom_ps


@pytest.mark.parametrize("field,value", [("latency_cycles", 3), ("port_bandwidth_bytes_per_cycle", 4),
                                         ("banks", 6), ("row_bytes", 100), ("ports", 2)])
def test_bad_dram_fields_are_config_errors(field, value):
    with pytest.raises(ConfigError) as e:
        _platform(**{field: value})
    assert field in str(e.value)


def test_every_interconnect_of_a_platform_has_its_own_channels_and_dram_state():
    """The channel table is derived once per platform (``Platform.derived``), but each
    simulation makes its own channels and DRAM timing state: a second run on the same platform
    object starts with every bank closed, as the first (a shared state would find the last
    row still open and be faster)."""
    p = _platform()
    jobs = [(4096, 0, 0, 0), (512, 1 << 20, 0, 0)]
    first, ic1 = _run(p, jobs)
    second, ic2 = _run(p, jobs)
    assert first == second
    assert [c.name for c in ic1.channels] == [c.name for c in ic2.channels]
    assert [c.order for c in ic2.channels] == list(range(len(ic2.channels)))
    assert not set(map(id, ic1.channels)) & set(map(id, ic2.channels))
    assert ic1.port["dram"].service is not ic2.port["dram"].service
    assert ic2.port["dram"].n_grants == ic1.port["dram"].n_grants > 0
