"""Transfer timing on the interconnect against closed forms.

Closed form (DESIGN.md): an isolated transfer takes ``setup + latency + ceil(bytes / bw)``
cycles, where ``bw`` is the narrowest channel on the route and ``latency`` sums the route's
link and memory latencies; k equal transfers on one link each get 1/k of it.
"""
import math

import pytest

from hwsim.base.units import Clock

from hwsim.sim.interconnect import Route

from .helpers import platform, run_transfers

CLK = Clock("clk", 100_000_000)  # 10 ns = 10,000 ps per cycle


@pytest.mark.parametrize("nbytes", [1, 7, 8, 64, 65, 1000, 4096, 100_003])
def test_single_transfer_is_latency_plus_bytes_over_bandwidth(nbytes):
    ends, _ = run_transfers(platform(), [("l2", "l1", nbytes, 0)])
    assert ends[0] == CLK.cycles_to_ps(5 + math.ceil(nbytes / 8))


@pytest.mark.parametrize("burst", [1, 24, 64, 1000, 1 << 20])
def test_burst_size_does_not_change_an_isolated_transfer(burst):
    """Cumulative rounding makes the bursts of a transfer sum to ceil(bytes / bw) exactly,
    even when the burst is not a multiple of the bandwidth (24 B at 8 B/cycle, 1000 B...)."""
    ends, _ = run_transfers(platform(**{"components.dma.burst_bytes": burst}),
                            [("l2", "l1", 12_345, 0)])
    assert ends[0] == CLK.cycles_to_ps(5 + math.ceil(12_345 / 8))


def test_setup_and_memory_latency_add_once():
    p = platform(**{"components.dma.setup_cycles": 30, "components.l2.latency_cycles": 7})
    ends, _ = run_transfers(p, [("l2", "l1", 4096, 0)])
    assert ends[0] == CLK.cycles_to_ps(30 + 7 + 5 + 4096 // 8)


def test_narrowest_channel_sets_the_rate():
    """A memory port slower than the link becomes the bottleneck."""
    p = platform(**{"components.l2.port_bandwidth_bytes_per_cycle": 2})
    ends, _ = run_transfers(p, [("l2", "l1", 1000, 0)])
    assert ends[0] == CLK.cycles_to_ps(5 + 500)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_k_equal_transfers_share_one_link_fairly(k):
    """k transfers started together on one link finish at k x the single-transfer data time
    (within one burst): each sees bandwidth / k."""
    nbytes, burst_cycles = 8192, 64 // 8
    ends, ic = run_transfers(platform(), [("l2", "l1", nbytes, 0)] * k)
    data = math.ceil(nbytes / 8)
    for end in ends:
        cycles = CLK.ps_to_cycles(end)
        assert k * data + 5 - burst_cycles * k <= cycles <= k * data + 5
    assert CLK.ps_to_cycles(max(ends)) == k * data + 5
    link = next(c for c in ic.channels if c.name == "l2->dma")
    assert link.n_waits > 0 and link.wait_ps > 0


def test_disjoint_routes_do_not_slow_each_other():
    p = platform(**{
        "components.l2b": {"type": "memory", "level": "L1", "clock": "clk", "size_bytes": 1 << 20,
                           "port_bandwidth_bytes_per_cycle": 1024},
        "components.l1b": {"type": "memory", "level": "L1", "clock": "clk", "size_bytes": 1 << 20,
                           "port_bandwidth_bytes_per_cycle": 1024},
        "links": [
            {"between": ["l2", "dma"], "clock": "clk", "bandwidth_bytes_per_cycle": 8, "latency_cycles": 5},
            {"between": ["dma", "l1"], "clock": "clk", "bandwidth_bytes_per_cycle": 1024},
            {"between": ["l2b", "l1b"], "clock": "clk", "bandwidth_bytes_per_cycle": 8, "latency_cycles": 5},
        ]})
    alone, _ = run_transfers(p, [("l2", "l1", 5000, 0)])
    both, _ = run_transfers(p, [("l2", "l1", 5000, 0), ("l2b", "l1b", 5000, 0)])
    assert both == [alone[0], alone[0]]


def test_transfer_across_clock_domains():
    """A 100 MHz link at 8 B/cycle (800 MB/s) feeding a 400 MHz link at 4 B/cycle (1.6 GB/s):
    the slow domain sets the rate and each latency converts in its own domain."""
    p = platform(**{
        "clocks": {"clk": 100_000_000, "fast": 400_000_000},
        "links": [
            {"between": ["l2", "dma"], "clock": "clk", "bandwidth_bytes_per_cycle": 8, "latency_cycles": 5},
            {"between": ["dma", "l1"], "clock": "fast", "bandwidth_bytes_per_cycle": 4, "latency_cycles": 3},
        ]})
    ends, _ = run_transfers(p, [("l2", "l1", 8000, 0)])
    # 5 cycles @ 10 ns + 3 cycles @ 2.5 ns + 1000 cycles @ 10 ns
    assert ends[0] == 5 * 10_000 + 3 * 2_500 + 1000 * 10_000
    fast = Clock("fast", 400_000_000)
    assert fast.ps_to_cycles(ends[0]) == 4 * 1005 + 3


def test_non_integer_period_has_no_drift():
    """At 333 MHz a cycle is 3003.003 ps; a million cycles end at the exact ceil, not at
    a million times a rounded period."""
    c = Clock("odd", 333_000_000)
    assert c.cycles_to_ps(1_000_000) == math.ceil(1_000_000 * 10**12 / 333_000_000)
    assert c.ps_to_cycles(c.cycles_to_ps(123_457)) == 123_457


def test_staging_through_an_intermediate_memory():
    """Without a direct path L3 -> L1, data is staged through L2: two hops in sequence."""
    p = platform(**{
        "components.l3": {"type": "memory", "level": "L3", "clock": "clk", "size_bytes": 1 << 26,
                          "port_bandwidth_bytes_per_cycle": 2, "latency_cycles": 10},
        "links": [
            {"between": ["l2", "dma"], "clock": "clk", "bandwidth_bytes_per_cycle": 8, "latency_cycles": 5},
            {"between": ["dma", "l1"], "clock": "clk", "bandwidth_bytes_per_cycle": 1024},
            {"between": ["l3", "l2"], "clock": "clk", "bandwidth_bytes_per_cycle": 4},
        ]})
    ends, ic = run_transfers(p, [("l3", "l1", 1000, 0)])
    assert [(r.src, r.dst) for r in ic.hops("l3", "l1")] == [("l3", "l2"), ("l2", "l1")]
    assert ends[0] == CLK.cycles_to_ps((10 + 500) + (5 + 125))


def test_routes_are_shortest_paths_through_routers():
    p = platform(**{
        "components.xbar": {"type": "router", "clock": "clk"},
        "links": [
            {"between": ["l2", "xbar"], "clock": "clk", "bandwidth_bytes_per_cycle": 8, "latency_cycles": 1},
            {"between": ["xbar", "dma"], "clock": "clk", "bandwidth_bytes_per_cycle": 8, "latency_cycles": 1},
            {"between": ["dma", "l1"], "clock": "clk", "bandwidth_bytes_per_cycle": 1024},
        ]})
    ends, ic = run_transfers(p, [("l2", "l1", 800, 0)])
    (route,) = ic.hops("l2", "l1")
    assert route.nodes == ["l2", "xbar", "dma", "l1"]
    assert route.dma.name == "dma"
    assert ends[0] == CLK.cycles_to_ps(2 + 100)


def _two_buses(**extra):
    """L2 reaches the DMA over a fast bus (shortest: one router) or a slow two-router bus."""
    return platform(**{
        "components.fast": {"type": "router", "clock": "clk"},
        "components.slow1": {"type": "router", "clock": "clk"},
        "components.slow2": {"type": "router", "clock": "clk"},
        "links": [
            {"between": ["l2", "fast"], "clock": "clk", "bandwidth_bytes_per_cycle": 8},
            {"between": ["fast", "dma"], "clock": "clk", "bandwidth_bytes_per_cycle": 8},
            {"between": ["l2", "slow1"], "clock": "clk", "bandwidth_bytes_per_cycle": 2},
            {"between": ["slow1", "slow2"], "clock": "clk", "bandwidth_bytes_per_cycle": 2},
            {"between": ["slow2", "dma"], "clock": "clk", "bandwidth_bytes_per_cycle": 2},
            {"between": ["dma", "l1"], "clock": "clk", "bandwidth_bytes_per_cycle": 1024},
        ], **extra})


def test_pinned_route_replaces_the_shortest_path():
    """Unpinned, l2 -> l1 takes the shortest path (fast bus: 800 B / 8 = 100 cycles); pinned
    over the slow bus it takes 800 / 2 = 400 cycles, and only in the pinned direction."""
    ends, ic = run_transfers(_two_buses(), [("l2", "l1", 800, 0)])
    assert ic.hops("l2", "l1")[0].nodes == ["l2", "fast", "dma", "l1"]
    assert ends[0] == CLK.cycles_to_ps(100)
    pinned = _two_buses(routes=[{"from": "l2", "to": "l1", "path": ["l2", "slow1", "slow2", "dma", "l1"]}])
    ends, ic = run_transfers(pinned, [("l2", "l1", 800, 0), ("l1", "l2", 800, 0)])
    assert ic.hops("l2", "l1")[0].nodes == ["l2", "slow1", "slow2", "dma", "l1"]
    assert ic.hops("l1", "l2")[0].nodes == ["l1", "dma", "fast", "l2"]
    assert ends == [CLK.cycles_to_ps(400), CLK.cycles_to_ps(100)]


@pytest.mark.parametrize("route,field,words", [
    ({"from": "l2", "to": "l1", "path": ["l2", "slow2", "dma", "l1"]}, "routes[0].path[1]", "no link"),
    ({"from": "l2", "to": "l1", "path": ["l2", "fastt", "dma", "l1"]}, "routes[0].path[1]", "did you mean 'fast'"),
    ({"from": "l2", "to": "l1", "path": ["l2", "fast", "dma"]}, "routes[0].path", "from 'l2' to 'l1'"),
    ({"from": "l2", "to": "l1"}, "routes[0]", "expected {from"),
])
def test_bad_pinned_routes_are_config_errors(route, field, words):
    from hwsim.base.errors import ConfigError

    with pytest.raises(ConfigError) as ei:
        _two_buses(routes=[route])
    assert ei.value.field == field and words in str(ei.value)


def test_route_path_is_the_networkx_route_or_none_and_shared_by_simulations():
    """``Platform.route_path`` (pinned, else direct, else staged; a pair whose ends touch no
    common component of the allowed nodes is answered without a search) against NetworkX on
    the allowed subgraphs, for pairs of platforms with direct routes (the mesh resized to 4x4),
    with staging through L2, and with a part no route reaches; a pair without a path is the
    interconnect's ConfigError (the mapper's cost model: no hops). Every Interconnect of one
    platform reuses its paths; the cost model times the hops the interconnect takes."""
    from pathlib import Path

    import networkx as nx

    from hwsim import load_platform
    from hwsim.base.errors import ConfigError
    from hwsim.hardware.platform import Memory
    from hwsim.mapping.cost import CostModel

    from .helpers import interconnect

    def reference(p, g, a, b):
        if (a, b) in p.routes:
            return tuple(p.routes[(a, b)])
        for inner in ({n for n, c in p.components.items() if not (c.ENGINE or isinstance(c, Memory))},
                      {n for n, c in p.components.items() if not c.ENGINE}):
            try:
                return tuple(nx.shortest_path(g.subgraph(inner | {a, b}), a, b))
            except nx.NetworkXNoPath:
                pass
        return None

    mem = {"type": "memory", "clock": "clk", "size_bytes": 1 << 20, "port_bandwidth_bytes_per_cycle": 8}
    bus = {"clock": "clk", "bandwidth_bytes_per_cycle": 8}
    staged = platform(**{"components.l3": dict(mem, level="L3"),
                         "links": [dict(bus, between=["l2", "dma"]), dict(bus, between=["dma", "l1"]),
                                   dict(bus, between=["l3", "l2"])]})
    split = platform(**{"components.l1b": dict(mem, level="L1"), "components.l2b": dict(mem, level="L1"),
                        "components.rb": {"type": "router", "clock": "clk"},
                        "links": [dict(bus, between=["l2", "dma"]), dict(bus, between=["dma", "l1"]),
                                  dict(bus, between=["l2b", "rb"]), dict(bus, between=["rb", "l1b"])]})
    mesh = load_platform(Path(__file__).resolve().parent.parent / "platforms" / "mesh_imc.yaml",
                         {"generate.mesh.width": 4, "generate.mesh.height": 4})
    seen = {"direct": 0, "staged": 0, "none": 0}
    for p, step in ((staged, 1), (split, 1), (mesh, 5)):
        last = None
        g, names = p.graph(), list(p.components)
        ic, cost = interconnect(p)[1], CostModel(p)
        for a in names[::step]:
            for b in names:
                ref = reference(p, g, a, b)
                assert p.route_path(a, b) == ref, (p.name, a, b)
                if ref is None:
                    seen["none"] += 1
                    with pytest.raises(ConfigError, match=f"no route from {a} to {b}"):
                        ic.hops(a, b)
                    assert cost.hops(a, b) == []
                    continue
                inner = [n for n in ref[1:-1] if isinstance(p.components[n], Memory)]
                seen["staged" if inner else "direct"] += 1
                hops = ic.hops(a, b)
                assert [n for r in hops for n in r.nodes[1:]] == list(ref[1:]), (a, b)
                assert [r.dst for r in hops[:-1]] == inner
                # the mapper's cost model times the very hops the simulation takes
                if a != b:
                    assert cost.hops(a, b) == [cost._hop(list(r.nodes)) for r in hops], (a, b)
                last = (a, b) if a != b else last
        # a second simulation: the platform's path, its own routes over its own channels
        again = interconnect(p)[1]
        assert p.route_path(*last) is p.route_path(*last)
        assert [r.nodes for r in again.hops(*last)] == [r.nodes for r in ic.hops(*last)]
        assert again.hops(*last)[0].channels[0] is not ic.hops(*last)[0].channels[0]
    assert min(seen.values()) > 10, seen


def test_route_search_breaks_ties_like_networkx():
    """Routes come from a bidirectional BFS over cached adjacency lists (no graph views);
    it must pick the very path ``networkx.shortest_path`` picks on the subgraph a route may
    use, for every pair of a bundled platform (the mesh resized to 4x4) and of random graphs."""
    import random
    from pathlib import Path

    import networkx as nx

    from hwsim import load_platform
    from hwsim.hardware.platform import AimcTile, CoreCluster, Memory
    from hwsim.hardware.platform import shortest_path

    def same(g, adj, allowed, pairs):
        for a, b in pairs:
            try:
                ref = nx.shortest_path(g.subgraph(allowed | {a, b}), a, b)
            except nx.NetworkXNoPath:
                ref = None
            assert shortest_path(adj, a, b, allowed) == ref, (a, b)

    root = Path(__file__).resolve().parent.parent / "platforms"
    for f in ("pulp_imc_cluster_multi.yaml", "mesh_imc.yaml"):
        p = load_platform(root / f, {"generate.mesh.width": 4, "generate.mesh.height": 4}
                          if f.startswith("mesh") else None)
        passable = {n for n, c in p.components.items()
                    if not isinstance(c, (Memory, CoreCluster, AimcTile))}
        names = list(p.components)
        same(p.graph(), p.adjacency(), passable, [(a, b) for a in names[::3] for b in names])
    rng = random.Random(1)
    for _ in range(60):
        g = nx.gnp_random_graph(rng.randint(2, 20), rng.random() * 0.3, seed=rng.randint(0, 10**6))
        allowed = {v for v in g if rng.random() < 0.7}
        same(g, {v: list(g.adj[v]) for v in g}, allowed, [(a, b) for a in g for b in g])



def test_a_route_of_another_simulation_of_the_platform_is_built_from_its_spec_alike():
    """``Interconnect.hops`` builds a pair's routes once per platform and, for every other
    interconnect of it, from their :meth:`Route.spec` on its own channels: the same as a
    route built from scratch there, channel for channel (a DMA route with a descriptor queue
    and a timed memory, a staged pair, an AIMC streamer's route on the 4x4 mesh)."""
    from pathlib import Path

    from hwsim import load_platform

    from .helpers import interconnect

    root = Path(__file__).resolve().parent.parent / "platforms"
    checked = 0
    for p in (load_platform(root / "pulp_imc_cluster.yaml"),
              load_platform(root / "mesh_imc.yaml", {"generate.mesh.width": 4,
                                                     "generate.mesh.height": 4})):
        first = interconnect(p)[1]
        names = list(p.components)
        pairs = [(a, b) for a in names for b in names if a != b and p.route_path(a, b)][:400]
        for a, b in pairs:
            first.hops(a, b)
        second = interconnect(p)[1]
        for a, b in pairs:
            cloned, fresh = second.hops(a, b), second._find(a, b)
            assert len(cloned) == len(fresh)
            for c, f in zip(cloned, fresh):
                for attr in Route.__slots__:
                    if attr == "plans":
                        continue
                    assert getattr(c, attr) == getattr(f, attr), (a, b, attr)
                assert all(x is y for x, y in zip(c.channels, f.channels))
                assert c.channels[0] is not first.hops(a, b)[0].channels[0]   # its own channels
                checked += 1
    assert checked > 300
