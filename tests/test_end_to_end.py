"""End-to-end runs of every bundled platform, the CLI, and determinism."""
import json
from pathlib import Path

import pytest

import hwsim
from hwsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = sorted(p.name for p in (ROOT / "platforms").glob("*.yaml"))
NETWORKS = ["resnet8", "ds_cnn", "mobilenetv2_bottleneck", "fc_autoencoder", "mobilenet_v1_025"]
#: (platform, overrides): the default run bounds the 512-cluster mesh to 8 x 8 clusters (same
#: generator, cluster and links); ``-m slow`` runs the full mesh
CASES = [pytest.param(pf, None, id=pf) for pf in PLATFORMS if pf != "mesh_imc.yaml"] + [
    pytest.param("mesh_imc.yaml", {"generate.mesh.width": 8, "generate.mesh.height": 8},
                 id="mesh_imc.yaml-8x8"),
    pytest.param("mesh_imc.yaml", None, marks=pytest.mark.slow, id="mesh_imc.yaml")]


@pytest.mark.parametrize("pf,overrides", CASES)
@pytest.mark.parametrize("net", NETWORKS)
def test_bundled_platform_runs_bundled_network(pf, overrides, net):
    p = hwsim.load_platform(ROOT / "platforms" / pf, overrides)
    t = hwsim.load_trace(ROOT / "traces" / f"{net}.json")
    r = hwsim.simulate(p, t)
    assert len(r.layers) == len(t.layers)
    assert r.cycles > 0 and r.energy_pj > 0
    assert sum(rec.macs for rec in r.layers) == t.total_macs
    # MAC/cycle can never exceed the platform's peak.
    assert r.summary_dict()["macs_per_cycle"] > 0


@pytest.mark.parametrize("pf,overrides", CASES)
def test_mobilenetv2_end_to_end(pf, overrides):
    p = hwsim.load_platform(ROOT / "platforms" / pf, overrides)
    r = hwsim.simulate(p, hwsim.load_trace(ROOT / "traces/mobilenetv2.json"))
    assert sum(rec.macs for rec in r.layers) == 300_774_272
    if p.memories("L3") and p.memories("L2")[0].size_bytes <= 1 << 20:
        assert r.totals["l3_bytes"] > 0, "MobileNetV2 exceeds a <= 1 MiB L2: DRAM traffic must show"


def test_cli_run_prints_table_and_summary(tmp_path, capsys):
    tl, js = tmp_path / "tl.json", tmp_path / "report.json"
    rc = main(["run", str(ROOT / "platforms/pulp_cluster.yaml"), str(ROOT / "traces/resnet8.json"),
               "--timeline", str(tl), "--json", str(js), "--resources"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "stack1.conv1" in out and "latency" in out and "TOPS/W" in out and "events/s" in out
    assert json.loads(js.read_text())["summary"]["latency_cycles"] > 0
    assert json.loads(tl.read_text())["traceEvents"]


def test_cli_overrides_change_the_result(capsys):
    base = ROOT / "platforms/pulp_cluster.yaml", ROOT / "traces/resnet8.json"
    main(["run", *map(str, base), "-q"])
    a = capsys.readouterr().out
    main(["run", *map(str, base), "-q", "--set", "components.cluster.cores=4"])
    b = capsys.readouterr().out
    lat = [line for line in a.splitlines() if line.startswith("latency")]
    assert lat and lat != [line for line in b.splitlines() if line.startswith("latency")]


def test_cli_reports_bad_input_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("clocks: {clk: 100 MHz}\ncomponents:\n  l1: {type: memroy}\n")
    rc = main(["run", str(bad), str(ROOT / "traces/resnet8.json")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "components.l1.type" in err and "did you mean 'memory'" in err
    assert err.count("\n") == 1


def test_results_are_deterministic(tmp_path):
    p = hwsim.load_platform(ROOT / "platforms/pulp_imc_cluster.yaml")
    t = hwsim.load_trace(ROOT / "traces/resnet8.json")
    outs = []
    for i in range(2):
        tl = tmp_path / f"tl{i}.json"
        r = hwsim.simulate(p, t, timeline=tl)
        outs.append((r.to_json(), tl.read_bytes()))
    assert outs[0] == outs[1]


def test_every_subcommand_help_ends_with_examples_that_parse(capsys):
    import shlex

    from hwsim.cli import EXAMPLES, build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == set(EXAMPLES)
    for name in commands:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        text = capsys.readouterr().out.rstrip()
        tail = text.rsplit("examples:\n", 1)[1]
        assert tail.lstrip().startswith(f"hwsim {name} ")
        for example in EXAMPLES[name]:
            argv = shlex.split(example.replace("\\\n", " "))[1:]
            assert parser.parse_args(argv).cmd == name   # every example is a valid command
