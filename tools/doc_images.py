"""Regenerate the plots shown in README.md and docs/ (docs/img/*.png).

    python tools/doc_images.py

MobileNetV2 on the heterogeneous IMC cluster (time per layer, roofline, Gantt of its
timeline) and a DS-CNN sweep of L1 size x cores on the PULP cluster (Pareto front).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

__all__ = ["main"]


def main() -> int:
    import hwsim
    from hwsim.explore import plots
    from hwsim.explore.sweep import run_sweep

    img = ROOT / "docs" / "img"
    platform = hwsim.load_platform(ROOT / "platforms" / "pulp_imc_cluster.yaml")
    trace = hwsim.load_trace(ROOT / "traces" / "mobilenetv2.json")
    with tempfile.TemporaryDirectory() as tmp:
        tl = Path(tmp) / "timeline.json"
        result = hwsim.simulate(platform, trace, timeline=tl)
        plots.plot_layers(result, img / "layers.png")
        plots.plot_roofline(result, platform, img / "roofline.png")
        plots.plot_gantt(tl, img / "gantt.png")
        res = run_sweep(ROOT / "platforms" / "pulp_cluster.yaml", ROOT / "traces" / "ds_cnn.json",
                        grid_axes={"l1.size_bytes": [16000, 32000, 64000], "cluster.cores": [2, 4, 8]},
                        out=Path(tmp) / "sweep.jsonl", workers=0)
        plots.plot_pareto(res.records, img / "pareto.png")
        plots.plot_pareto(res.records, img / "pareto_area.png", y="sram_bytes")
    for name in ("layers", "roofline", "gantt", "pareto", "pareto_area"):
        print(img / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
