"""End-to-end runs of every bundled platform, the CLI, and determinism.

The bounds are written from the platform file's own numbers, not from the simulator's peak
or roofline code: an engine can do at most ``cores x (largest kernel MAC/cycle/core)`` (a core
cluster or depthwise engine) or ``rows x cols`` MACs per ``mvm_latency_cycles +
job_overhead_cycles`` (an AIMC tile) per cycle of its clock, and a memory can move at most
``ports x port_bandwidth_bytes_per_cycle`` bytes per cycle of its clock (a DRAM: its data bus,
``data_bus_bits / 8 x transfers_per_cycle``)."""
import json
from fractions import Fraction
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

from hwsim.models import pulp_nn  # noqa: E402

WEIGHTED = ("conv2d", "pointwise", "depthwise", "linear")


def peak_macs_per_s(p) -> Fraction:
    """Upper bound on the platform's MAC rate: every engine busy at its best figure."""
    total = Fraction(0)
    for c in p.components.values():
        kind = getattr(c, "TYPE", "")
        if kind == "aimc_tile":
            total += Fraction(c.rows * c.cols * c.clock.freq_hz,
                              c.mvm_latency_cycles + c.job_overhead_cycles)
        elif kind in ("core_cluster", "dw_accelerator"):
            best = max((Fraction(v).limit_denominator(10**6) for op in WEIGHTED
                        for v in (c.kernels.get(op) or {}).values()), default=Fraction(0))
            if c.kernel_model == "pulp_nn":   # the PULP-NN inner loop: 32 MACs per 14 cycles
                best = max(best, Fraction(32, pulp_nn.MM_ITER))
            total += c.cores * best * c.clock.freq_hz
        elif kind == "ne16":
            # bit-serial array: a step's matrix-vector phase takes >= k x 2 cycles (2-bit
            # weights, the narrowest) for k output channels x tp_in inputs x block^2 pixels x
            # 9 taps, so at most tp_in * block^2 * 9 / 2 MACs per cycle
            total += Fraction(c.tp_in * c.block ** 2 * 9, 2) * c.clock.freq_hz
    return total


def memory_bytes_per_s(m) -> Fraction:
    """Upper bound on a memory's traffic (bytes/s): all ports (or the DRAM bus) busy."""
    if getattr(m, "TYPE", "") == "dram":
        return Fraction(m.data_bus_bits * m.transfers_per_cycle * m.clock.freq_hz, 8) * m.ports
    return Fraction(m.port_bandwidth_bytes_per_cycle).limit_denominator(10**6) * m.ports * m.clock.freq_hz


def check_physical_bounds(p, r):
    """MAC/cycle <= peak, latency >= compute and memory rooflines (whole run and per layer),
    and every layer's time split adding up exactly to its cycles."""
    ref = p.reference_clock
    peak = peak_macs_per_s(p)
    assert peak > 0
    macs = sum(rec.macs for rec in r.layers)
    # compute roofline: latency >= MACs / peak (in ps, exact rationals)
    assert r.makespan_ps * peak >= macs * 10**12, (r.makespan_ps, macs, peak)
    s = r.summary_dict()
    assert s["macs_per_cycle"] <= float(peak / ref.freq_hz) * (1 + 1e-12)
    mems = {m.name: m for m in p.components.values() if getattr(m, "level", None)}
    total_by_mem: dict = {}
    for rec in r.layers:
        span = rec.end_ps - rec.start_ps
        assert 0 <= rec.start_ps <= rec.end_ps <= r.makespan_ps
        assert span * peak >= rec.macs * 10**12, (rec.name, span, rec.macs)
        by_mem: dict = {}
        for key, nb in rec.bytes_moved.items():
            for name in set(key.split("->")):
                if name in mems:
                    by_mem[name] = by_mem.get(name, 0) + nb
        for name, nb in by_mem.items():   # memory roofline of the layer
            assert span * memory_bytes_per_s(mems[name]) >= nb * 10**12, (rec.name, name, nb, span)
            total_by_mem[name] = total_by_mem.get(name, 0) + nb
        # the time split adds up exactly to the layer's cycles: its span's boundaries on the clock
        parts = (rec.compute_cycles, rec.memory_stall_cycles, rec.contention_cycles,
                 rec.programming_cycles, rec.idle_cycles)
        assert min(parts) >= 0 and sum(parts) == rec.cycles == ref.ps_to_cycles(rec.end_ps) - ref.ps_to_cycles(rec.start_ps), rec.name
    for name, nb in total_by_mem.items():
        assert r.makespan_ps * memory_bytes_per_s(mems[name]) >= nb * 10**12, (name, nb)
    assert sum(s["cycles_by_category"].values()) == sum(rec.cycles for rec in r.layers)
    assert r.cycles == ref.ps_to_cycles(r.makespan_ps)


def independent_macs(layer) -> int:
    """MACs from the layer's shapes alone: output elements x kh x kw x (cin / groups) for
    convolutions and linear layers, 0 for the rest."""
    if layer.op not in WEIGHTED:
        return 0
    cout = layer.output_shape[0]
    pixels = layer.output_shape[1] * layer.output_shape[2] if len(layer.output_shape) == 3 else 1
    cin_per_group = layer.input_shape[0] // (layer.groups or 1)
    k = layer.kernel[0] * layer.kernel[1] if layer.op != "linear" else 1
    return layer.batch * cout * pixels * k * cin_per_group


def layer_macs(r) -> tuple:
    """``(names, macs)`` per trace layer of a run: the bands ``<layer>@<j>`` of a replicated
    layer (``mapping.replicate``, named in the summary's ``replicas``) summed into it."""
    band_of = {f"{n}@{j}": n for n, k in (r.mapping.get("replicas") or {}).items()
               for j in range(k)}
    out: dict = {}
    for rec in r.layers:
        n = band_of.get(rec.name, rec.name)
        out[n] = out.get(n, 0) + rec.macs
    return list(out), list(out.values())


@pytest.mark.parametrize("pf,overrides", CASES)
@pytest.mark.parametrize("net", NETWORKS)
def test_bundled_platform_runs_bundled_network(pf, overrides, net):
    p = hwsim.load_platform(ROOT / "platforms" / pf, overrides)
    t = hwsim.load_trace(ROOT / "traces" / f"{net}.json")
    r = hwsim.simulate(p, t)
    assert layer_macs(r) == ([l.name for l in t.layers], [l.macs for l in t.layers])
    assert r.cycles > 0 and r.energy_pj > 0
    check_physical_bounds(p, r)
    # every layer that does work spends compute time on it
    assert all(rec.compute_cycles > 0 for rec in r.layers if rec.macs)


@pytest.mark.parametrize("pf,overrides", CASES)
def test_mobilenetv2_end_to_end(pf, overrides):
    p = hwsim.load_platform(ROOT / "platforms" / pf, overrides)
    t = hwsim.load_trace(ROOT / "traces/mobilenetv2.json")
    r = hwsim.simulate(p, t)
    # Sandler et al., CVPR 2018, Table 4: MobileNetV2 (1.0, 224) = 300M multiply-adds, 3.4M
    # parameters; the trace's MACs counted from its shapes, layer by layer
    macs = sum(independent_macs(l) for l in t.layers)
    assert layer_macs(r)[1] == [independent_macs(l) for l in t.layers]
    assert abs(macs - 300e6) / 300e6 < 0.01
    assert abs(t.total_params - 3.4e6) / 3.4e6 < 0.05
    check_physical_bounds(p, r)
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
