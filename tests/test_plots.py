"""Plots: every kind writes a PNG/SVG from a result, a report, a timeline or a sweep."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from hwsim import load_platform, load_trace, simulate  # noqa: E402
from hwsim.cli import main  # noqa: E402
from hwsim.explore import plots  # noqa: E402
from hwsim.base.errors import HwsimError  # noqa: E402
from hwsim.explore.sweep import run_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = str(ROOT / "platforms" / "pulp_cluster.yaml")
TRACE = str(ROOT / "traces" / "ds_cnn.json")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("plots")
    tl = d / "timeline.json"
    res = simulate(load_platform(PLATFORM), load_trace(TRACE), timeline=str(tl))
    return d, res, tl


def _is_png(p: Path) -> bool:
    return p.exists() and p.read_bytes()[:8] == PNG and p.stat().st_size > 5000


def test_layers_gantt_roofline_from_result(run):
    d, res, tl = run
    assert _is_png(plots.plot_layers(res, d / "layers.png"))
    assert _is_png(plots.plot_gantt(res, d / "gantt.png"))
    assert _is_png(plots.plot_gantt(tl, d / "gantt_tl.png"))
    assert _is_png(plots.plot_roofline(res, load_platform(PLATFORM), d / "roof.png"))
    svg = plots.plot_layers(res.to_dict(), d / "layers.svg")
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()


def test_roofline_roofs_from_platform():
    platform = load_platform(PLATFORM)
    peaks, levels = plots._roofs(platform)
    # 8 cores x 32 MAC per 14-cycle PULP-NN matmul iteration x 100 MHz; L2 -> L1 path limited
    # by the 8 B/cycle L2 port and 64-bit AXI links at 100 MHz.
    assert peaks["cluster"] == pytest.approx(8 * 32 / 14 * 100e6)
    assert levels["L2"][0] == pytest.approx(8 * 100e6)
    # L1: its port(s); L3 -> L2: no faster than the HyperRAM's data rate
    l1, l3 = platform.memories("L1")[0], platform.memories("L3")[0]
    assert levels["L1"][0] == pytest.approx(l1.port_bandwidth_bytes_per_cycle * l1.ports * l1.clock.freq_hz)
    assert levels["L3"][0] <= l3.port_bandwidth_bytes_per_cycle * l3.ports * l3.clock.freq_hz
    assert set(levels) == {"L1", "L2", "L3"}


def test_roofline_places_each_layer_under_its_bounding_roof(tmp_path):
    """Every layer is at or below the roof of the level it is placed at and of its engine."""
    platform = load_platform(ROOT / "platforms" / "pulp_imc_cluster.yaml")
    res = simulate(platform, load_trace(ROOT / "traces" / "mobilenetv2_bottleneck.json"))
    peaks, levels = plots._roofs(platform)
    for l in res.to_dict()["layers"]:
        by = l["bytes_by_level"]
        bound = max((by[lv] / levels[lv][0], lv) for lv in levels if by.get(lv))[1]
        achieved = l["ops"] / ((l["end_ps"] - l["start_ps"]) / 1e12)
        assert achieved <= levels[bound][0] * l["ops"] / by[bound] * 1.0001
        assert achieved <= peaks[l["engine"]] * 1.0001
    assert _is_png(plots.plot_roofline(res, platform, tmp_path / "roof.png"))


def test_pareto_plot_and_errors(tmp_path):
    out = tmp_path / "s.jsonl"
    run_sweep(PLATFORM, TRACE, grid_axes={"cluster.cores": [2, 4, 8], "l1.size_bytes": [32000, 64000]},
              out=out, workers=0, progress=False)
    assert _is_png(plots.plot_pareto(out, tmp_path / "p.png"))
    assert _is_png(plots.plot_pareto(out, tmp_path / "pa.png", y="sram_bytes"))
    with pytest.raises(HwsimError, match="unknown objective"):
        plots.plot_pareto(out, tmp_path / "x.png", y="nope")


def test_cli_plot(tmp_path, run):
    d, res, tl = run
    rep = tmp_path / "r.json"
    res.to_json(rep)
    for kind, extra in (("layers", [PLATFORM, TRACE]), ("roofline", [PLATFORM, "--result", str(rep)]),
                        ("gantt", ["--timeline", str(tl)]), ("gantt", ["--result", str(rep)])):
        out = tmp_path / f"{kind}_{len(extra)}.png"
        assert main(["plot", kind, *extra, "-o", str(out)]) == 0
        assert _is_png(out)
    assert main(["plot", "pareto", "-o", str(tmp_path / "p.png")]) == 2   # needs --sweep
