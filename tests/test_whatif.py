"""What-if sensitivity: a platform with a known bottleneck ranks it first; factor 1 changes
nothing; AIMC tiles are duplicated with their links."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hwsim import load_platform, load_trace, simulate
from hwsim.cli import main
from hwsim.explore.whatif import variants, whatif

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = ROOT / "platforms" / "pulp_cluster.yaml"
TRACE = str(ROOT / "traces" / "ds_cnn.json")


def _write(tmp_path, edit) -> Path:
    raw = yaml.safe_load(PLATFORM.read_text())
    edit(raw)
    path = tmp_path / "platform.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _slow_l2_link(raw):
    """L2 -> crossbar link at 1/128 of its bandwidth: every L1 fill crawls through it (layer by
    layer: no activation kept in L1, no fusion). 1/128: at 1/32 the time-minimising tiler
    overlaps most transfers with compute and the link stalls only a third of the run."""
    raw["links"][0]["bandwidth_bytes_per_cycle"] = 0.0625
    raw.setdefault("mapping", {}).update(fusion=False, l1_residency=False)


def test_slow_l2_link_is_ranked_first(tmp_path):
    path = _write(tmp_path, _slow_l2_link)
    rep = whatif(path, TRACE, 2.0, workers=0)
    top = rep.rows[0]
    assert top.resource == "l2--soc_xbar" and top.field == "bandwidth_bytes_per_cycle"
    # The link dominates the run, so doubling it goes a long way to halving the latency.
    assert 1.3 < top.speedup <= 2.0
    # The answer agrees with a direct simulation of the variant.
    direct = simulate(load_platform(path, {"links.0.bandwidth_bytes_per_cycle": 0.125}), load_trace(TRACE))
    assert top.latency_cycles == direct.cycles
    assert rep.baseline["latency_cycles"] == simulate(load_platform(path), load_trace(TRACE)).cycles
    # More cores do little while the data cannot arrive.
    cores = next(r for r in rep.rows if r.field == "cores")
    assert cores.speedup < 1.3 and cores.speedup < top.speedup
    assert [r.speedup for r in rep.rows if r.speedup] == sorted(
        (r.speedup for r in rep.rows if r.speedup), reverse=True)
    assert "l2--soc_xbar" in rep.table().splitlines()[6]


def test_compute_bound_platform_ranks_cores_first():
    rep = whatif(PLATFORM, TRACE, 2.0, workers=0)
    assert rep.rows[0].field == "cores" and rep.rows[0].speedup > 1.5


def test_factor_one_changes_nothing():
    rep = whatif(PLATFORM, TRACE, 1.0, workers=0)
    assert all(r.error is None for r in rep.rows)
    assert {r.speedup for r in rep.rows} == {1.0}
    assert {r.energy_change for r in rep.rows} == {0.0}


def test_variants_cover_every_resource():
    vs = variants(PLATFORM, 2.0)
    labels = {(v.resource, v.field) for v in vs}
    p = load_platform(PLATFORM)
    for link in p.links:
        assert (link.name, "bandwidth_bytes_per_cycle") in labels
    for m in ("l1", "l2", "l3"):
        # a dram's port bandwidth is derived from its data bus: scaled by its data rate
        bw = "transfers_per_cycle" if p.components[m].TYPE == "dram" else "port_bandwidth_bytes_per_cycle"
        assert (m, "size_bytes") in labels and (m, bw) in labels
    assert ("cluster_dma", "max_outstanding") in labels and ("udma", "max_outstanding") in labels
    assert ("cluster", "cores") in labels
    v = next(v for v in vs if v.field == "max_outstanding" and v.resource == "cluster_dma")
    assert v.overrides == {"components.cluster_dma.max_outstanding": 8}
    with pytest.raises(Exception, match="factor"):
        variants(PLATFORM, 0)


def _with_aimc(raw):
    raw["components"]["xb0"] = {"type": "aimc_tile", "clock": "cluster", "l1": "l1", "rows": 256,
                                "cols": 256, "mvm_latency_cycles": 100}
    raw["links"].append({"between": ["xb0", "l1"], "clock": "cluster", "bandwidth_bytes_per_cycle": 16})


def test_aimc_tile_count_variant_duplicates_tiles_and_links(tmp_path):
    path = _write(tmp_path, _with_aimc)
    v = next(v for v in variants(path, 2.0) if v.resource == "aimc")
    assert v.label == "aimc tiles 1 -> 2"
    from hwsim.hardware.platform import AimcTile
    p = load_platform(path, v.overrides)
    tiles = p.of_type(AimcTile)
    assert len(tiles) == 2
    assert {l.name for l in p.links} >= {"xb0--l1", "xb0_whatif0--l1"}
    rep = whatif(path, TRACE, 2.0, workers=0)
    row = next(r for r in rep.rows if r.resource == "aimc")
    assert row.error is None and row.speedup > 0


def test_cli_whatif(tmp_path, capsys):
    path = _write(tmp_path, _slow_l2_link)
    js = tmp_path / "w.json"
    assert main(["whatif", str(path), TRACE, "-j", "0", "--no-progress", "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "link l2--soc_xbar bandwidth x2" in out.splitlines()[6]
    assert js.exists()


def test_generated_platforms_scale_the_generator():
    """A replicated AIMC tile is scaled by its replicate count."""
    from hwsim.hardware.platform import AimcTile
    multi = ROOT / "platforms" / "pulp_imc_cluster_multi.yaml"
    assert multi.exists(), f"{multi} is missing: the replicated-AIMC case cannot be checked"
    v = next(v for v in variants(multi, 2.0) if v.field == "count")
    n = len(load_platform(multi).of_type(AimcTile))
    assert v.overrides == {"generate.replicate.ima": 2 * n}
    assert len(load_platform(multi, v.overrides).of_type(AimcTile)) == 2 * n


def test_mesh_whatif_scales_every_cluster(tmp_path):
    """A mesh's template component is scaled in every cluster at once (the bundled mesh made
    4 x 4 clusters to keep the test short: the variants do not depend on the size)."""
    from hwsim.hardware.platform import Memory
    raw = yaml.safe_load((ROOT / "platforms" / "mesh_imc.yaml").read_text())
    raw["generate"]["mesh"].update(width=4, height=4)
    mesh = tmp_path / "mesh_imc.yaml"
    mesh.write_text(yaml.safe_dump(raw))
    vs = variants(mesh, 2.0)
    v = next(v for v in vs if v.overrides.keys() == {"generate.mesh.cluster.components.l1.size_bytes"})
    base = {m.size_bytes for m in load_platform(mesh).of_type(Memory) if m.level == "L1"}
    scaled = {m.size_bytes for m in load_platform(mesh, v.overrides).of_type(Memory) if m.level == "L1"}
    assert len(base) == 1 and scaled == {2 * base.pop()}
    assert any(v.field == "link_bandwidth_bytes_per_cycle" for v in vs)


def test_route_group_moves_what_single_links_cannot(tmp_path):
    """On the IMC cluster every hop of the L2 -> L1 path and the L2 port run at 8 B/cycle:
    doubling any one of them leaves another as slow (1.000x), doubling the route with its
    ports speeds the block up; near-1.0x rows say what else bounds the run. Layer by layer
    (no activation kept in L1, no fusion), so that every activation crosses the route."""
    raw = yaml.safe_load((ROOT / "platforms" / "pulp_imc_cluster.yaml").read_text())
    raw["mapping"].update(fusion=False, l1_residency=False)
    pf = tmp_path / "platform.yaml"
    pf.write_text(yaml.safe_dump(raw, sort_keys=False))
    rep = whatif(pf, str(ROOT / "traces" / "mobilenetv2_bottleneck.json"), 2.0, workers=0)
    by = {r.label: r for r in rep.rows}
    group = by["route l1<->l2 (3 links + ports) bandwidth x2"]
    assert group.speedup > 1.2
    for single in ("link l2--soc_xbar bandwidth x2", "link soc_xbar--cluster_dma bandwidth x2",
                   "memory l2 port bandwidth x2"):
        assert abs(by[single].speedup - 1) < 0.01 and by[single].note, single
    assert rep.rows[0] is group
    assert rep.bound_by and abs(sum(f for _, f in rep.bound_by) - 1) < 1e-9
    text = rep.table()
    assert "why ~1.0x" in text and max(len(line) for line in text.splitlines()[1:]) <= 100


def test_a_memory_on_a_generated_mesh_is_scaled_with_its_router_link():
    """bruschi2022_mesh attaches its L2 to router (0, 0) through ``generate.mesh.connect``: the
    L2's group scales its port, its own ``links:`` entry (to the HBM DMA) and that router link,
    all by the factor (64 -> 128 B/cycle on the router link)."""
    from hwsim.explore.whatif import variants

    vs = [v for v in variants("platforms/bruschi2022_mesh.yaml", 2.0)
          if v.field == "memory_bandwidth" and v.resource == "memory l2"]
    assert len(vs) == 1
    v = vs[0]
    assert v.scales("l2--router_0_0") and v.scales("l2.port")
    small = {"generate.mesh.width": 2, "generate.mesh.height": 2}
    base = load_platform("platforms/bruschi2022_mesh.yaml", small)
    scaled = load_platform("platforms/bruschi2022_mesh.yaml", {**small, **v.overrides})

    def bw(p, a, b):
        return next(l.bandwidth_bytes_per_cycle for l in p.links if {l.a, l.b} == {a, b})

    assert bw(base, "l2", "router_0_0") == 64 and bw(scaled, "l2", "router_0_0") == 128
    assert bw(scaled, "hbm_dma", "l2") == 2 * bw(base, "hbm_dma", "l2")
    assert (scaled.components["l2"].port_bandwidth_bytes_per_cycle
            == 2 * base.components["l2"].port_bandwidth_bytes_per_cycle)
