"""Heterogeneous platforms: energy conservation, pipelining, the generated mesh, compare."""
import copy

import pytest
import yaml

import hwsim
from hwsim.cli import main
from hwsim.sim.engine import Simulation
from hwsim.base.errors import ConfigError
from hwsim.hardware.generate import expand_generators
from hwsim.hardware.platform import platform_from_dict

from .test_aimc import L, trace, xbar_platform

PLATFORMS = ["platforms/pulp_imc_cluster.yaml", "platforms/diana_soc.yaml",
             "platforms/pulp_imc_cluster_multi.yaml"]


@pytest.mark.parametrize("path", PLATFORMS)
def test_energy_adds_up(path):
    """Sum over components == sum over layers and categories == total, and every category of
    the efficiency gap adds back to the total."""
    r = hwsim.simulate(hwsim.load_platform(path), hwsim.load_trace("traces/mobilenetv2_bottleneck.json"))
    by_comp = sum(r.energy_by_component_pj.values())
    by_layer = sum(sum(l.energy_pj.values()) for l in r.layers)
    assert by_comp == pytest.approx(by_layer, rel=1e-9)
    assert r.energy_pj == pytest.approx(by_comp, rel=1e-12)
    d = r.summary_dict()
    assert sum(d["energy_gap_pj"].values()) == pytest.approx(r.energy_pj, rel=1e-9)
    assert d["energy_by_category_pj"]["compute"] > 0 and d["energy_by_category_pj"]["leakage"] > 0


def test_mesh_energy_adds_up_and_link_energy_counted():
    p = hwsim.load_platform("platforms/mesh_imc.yaml", {"generate.mesh.width": 3, "generate.mesh.height": 3})
    r = hwsim.simulate(p, hwsim.load_trace("traces/ds_cnn.json"))
    assert sum(r.energy_by_component_pj.values()) == pytest.approx(
        sum(sum(l.energy_pj.values()) for l in r.layers), rel=1e-9)
    assert any(k.startswith("router_") and v > 0 for k, v in r.energy_by_component_pj.items())


# ---------------------------------------------------------------------------------------------
def _chain():
    # a on crossbar xb0, b on crossbar xb1: weights stationary on different tiles
    return trace(L("a", "pointwise", 256, 256, hw=16), L("b", "pointwise", 256, 256, hw=16, inputs=["a"]))


def _chain_platform(pipeline):
    # off: layer by layer (no fusion, activations through L2), the baseline pipelining beats
    d = xbar_platform(tiles=2, mvm=50, l1_size=96 * 1024, mapping={
        "pipeline": pipeline, **({} if pipeline else {"fusion": False, "l1_residency": False})})
    return platform_from_dict(d)


def test_pipelining_overlaps_stationary_layers():
    on = Simulation(_chain_platform(True), _chain())
    r_on = on.run()
    r_off = hwsim.simulate(_chain_platform(False), _chain())
    a, b = on.mapping.plans
    assert not a.pipelined and b.pipelined and a.tile_shape["channels"] == 256
    assert a.n_tiles > 1
    # b starts before a ends, on the first rows a has written
    assert r_on.layer("b").start_ps < r_on.layer("a").end_ps
    assert r_on.makespan_ps < r_off.makespan_ps
    # same work and energy apart from leakage (none here)
    assert r_on.energy_pj == pytest.approx(r_off.energy_pj)


def test_steady_state_is_busiest_stage():
    sim = Simulation(_chain_platform(True), _chain())
    r = sim.run()
    d = r.summary_dict()
    busy = dict(sim.engine_busy_ps)
    busy.update({ch.name: ch.busy_ps / ch.capacity for ch in sim.ic.channels})
    top = max(busy.values())
    assert d["steady_state_period_s"] == pytest.approx(top / 1e12)
    assert d["steady_state_inferences_per_s"] == pytest.approx(1e12 / top)
    assert set(d["stage_utilisation"]) == {"xb0", "xb1"}     # the busy engines (cores idle)
    assert d["stage_utilisation"]["xb0"] == pytest.approx(busy["xb0"] / top)
    # two equal stages: each crossbar is busy 256 MVMs x 50 cycles (MVM-bound at 64 B/cycle)
    assert busy["xb0"] == busy["xb1"] == 256 * 50 * 10_000
    assert d["steady_state_inferences_per_s"] > r.summary_dict()["inferences_per_s"]


# ---------------------------------------------------------------------------------------------
def test_mesh_generator_counts():
    d = yaml.safe_load(open("platforms/mesh_imc.yaml"))
    d["generate"]["mesh"].update(width=3, height=2)
    e = expand_generators(d, "mesh")
    routers = [n for n, c in e["components"].items() if c["type"] == "router"]
    assert len(routers) == 6
    mesh_links = [l for l in e["links"] if all(x.startswith("router_") for x in l["between"])]
    assert len(mesh_links) == (3 - 1) * 2 + 3 * (2 - 1)   # (w-1) h + w (h-1) = 7
    p = platform_from_dict(d, "mesh")
    assert len([c for c in p.components.values() if c.TYPE == "core_cluster"]) == 6
    assert p.components["cores_2_1"].l1 == "l1_2_1"
    # snake order: row 0 left->right, row 1 right->left
    names = [c.name for c in p.components.values() if c.TYPE == "core_cluster"]
    assert names == ["cores_0_0", "cores_1_0", "cores_2_0", "cores_2_1", "cores_1_1", "cores_0_1"]


def test_mesh_generator_errors():
    d = yaml.safe_load(open("platforms/mesh_imc.yaml"))
    bad = copy.deepcopy(d)
    bad["generate"]["mesh"]["widht"] = 3
    with pytest.raises(ConfigError, match="widht"):
        platform_from_dict(bad, "m")
    bad = copy.deepcopy(d)
    bad["generate"]["mesh"]["attach"] = "dmx"
    with pytest.raises(ConfigError, match="attach"):
        platform_from_dict(bad, "m")
    bad = copy.deepcopy(d)
    bad["generate"]["mesh"]["connect"] = [{"component": "l2", "at": [99, 0]}]
    with pytest.raises(ConfigError, match="outside"):
        platform_from_dict(bad, "m")


def test_mesh_distributes_layers_over_clusters():
    p = hwsim.load_platform("platforms/mesh_imc.yaml", {"generate.mesh.width": 4, "generate.mesh.height": 4})
    sim = Simulation(p, hwsim.load_trace("traces/resnet8.json"))
    r = sim.run()
    clusters = {pl.cluster for pl in sim.mapping.plans}
    assert len(clusters) >= 10
    assert r.mapping["aimc_programmed"] == "once"
    # every AIMC layer sits on its own cluster's crossbar(s): weights stationary
    xbars = [b[0] for pl in sim.mapping.plans if pl.aimc for b in pl.aimc.blocks]
    assert len(xbars) == len(set(xbars))
    # activations move cluster to cluster over the NoC: some transfer is L1 -> L1
    assert any(k.split("->")[0].startswith("l1_") and k.split("->")[1].startswith("l1_")
               for l in r.layers for k in l.bytes_moved)


def test_replicate_generator():
    p = hwsim.load_platform("platforms/pulp_imc_cluster_multi.yaml")
    tiles = [c for c in p.components.values() if c.TYPE == "aimc_tile"]
    assert len(tiles) == 128 and {t.l1 for t in tiles} == {"l1"}
    assert sum(1 for l in p.links if l.a.startswith("ima_") or l.b.startswith("ima_")) == 128


# ---------------------------------------------------------------------------------------------
def test_bottleneck_on_imc_cluster_uses_all_engines():
    r = hwsim.simulate(hwsim.load_platform("platforms/pulp_imc_cluster.yaml"),
                       hwsim.load_trace("traces/mobilenetv2_bottleneck.json"))
    kinds = {l.name: l.engine_kind for l in r.layers}
    assert kinds == {"block.expand": "aimc", "block.dw": "dw_accelerator", "block.project": "aimc",
                     "block.add": "cores"}
    assert r.mapping["crossbar_packing"] and r.mapping["aimc_programmed"] == "once"


def test_compare_cli(capsys, tmp_path):
    rc = main(["compare", "traces/mobilenetv2_bottleneck.json", "-p", "platforms/pulp_cluster.yaml",
               "-p", "platforms/pulp_imc_cluster.yaml:mapping.accelerators=off",
               "-p", "platforms/pulp_imc_cluster.yaml", "--markdown", "--json", str(tmp_path / "c.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "| pulp_imc_cluster [mapping.accelerators=off] |" in out
    import json
    rows = json.loads((tmp_path / "c.json").read_text())
    assert [r["engines"].get("aimc", 0) for r in rows] == [0, 0, 2]
    for r in rows:
        assert sum(r["energy_split"].values()) == pytest.approx(1.0)


def test_compare_peaks_are_those_of_the_engines_used(capsys):
    """With its accelerators off a chip is compared with its cores' peak, not the AIMC's; the
    default table fits 100 columns and names the platforms in a legend."""
    from hwsim.report.efficiency import engine_peaks
    pf = "platforms/pulp_imc_cluster.yaml"
    rc = main(["compare", "traces/mobilenetv2_bottleneck.json", "-p", f"{pf}:mapping.accelerators=off",
               "-p", pf, "--json", "/dev/null"])
    assert rc == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "[1] pulp_imc_cluster [mapping.accelerators=off]" in out
    from hwsim.explore.compare import run_compare
    off, on = run_compare("traces/mobilenetv2_bottleneck.json", [f"{pf}:mapping.accelerators=off", pf])
    peaks = engine_peaks(hwsim.load_platform(pf))
    assert off["peak_tops"] == pytest.approx(peaks["cluster"]["tops"])
    assert off["peak_tops_per_w"] == pytest.approx(peaks["cluster"]["tops_per_w"])
    assert on["peak_tops_per_w"] == pytest.approx(peaks["ima"]["tops_per_w"])
    # against the cores' own peak (energy per active core-cycle), the slow depthwise kernel
    # shows as compute energy above the ideal
    assert off["energy_split"]["compute_excess"] > 0 < off["energy_split"]["ideal_at_peak"]


def test_compare_bad_variant():
    from hwsim.explore.compare import parse_platform_arg
    from hwsim.base.errors import HwsimError
    with pytest.raises(HwsimError, match="path=value"):
        parse_platform_arg("platforms/pulp_cluster.yaml:oops")
