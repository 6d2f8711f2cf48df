"""Bad input gets one clear error: ConfigError / MappingError naming file, field, line and fix.

Each case mutates a valid file (the bundled GAP8-class platform or the ResNet-8 trace) in
one place, writes it to disk and checks the error type, the field path, that the reported
line is the line of that field in the written file, and that the message says what would
be valid.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import hwsim
from hwsim.base.errors import ConfigError, MappingError

ROOT = Path(__file__).resolve().parents[1]
PLATFORM = ROOT / "platforms" / "pulp_cluster.yaml"
TRACE = ROOT / "traces" / "resnet8.json"


def base_platform() -> dict:
    return yaml.safe_load(PLATFORM.read_text())


def base_trace() -> dict:
    return json.loads(TRACE.read_text())


def write_yaml(tmp_path, data) -> Path:
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return f


def write_json(tmp_path, data) -> Path:
    f = tmp_path / "t.json"
    f.write_text(json.dumps(data, indent=1))
    return f


def line_containing(path: Path, text: str, after: int = 0) -> int:
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if i > after and text in line:
            return i
    raise AssertionError(f"{text!r} not in {path}")


def _line(f: Path, n: int) -> str:
    return f.read_text().splitlines()[n - 1]


def _keys(field: str) -> set:
    """The last key of a field path and of its parent (a missing field is reported at its
    parent's line)."""
    from hwsim.base.srcmap import normalise
    parts = [p.split("[")[0] for p in normalise(field).split(".")]
    return {p for p in parts[-2:] if p}


def _set(d, path, value):
    *head, last = path
    for k in head:
        d = d[k]
    if value is _DEL:
        del d[last]
    else:
        d[last] = value


_DEL = object()

# (path into the platform dict, new value, expected field, words the message must contain)
PLATFORM_CASES = [
    (("components", "l1", "size_bytes"), -4096, "components.l1.size_bytes", "> 0"),
    (("components", "l1", "size_bytes"), 0, "components.l1.size_bytes", "> 0"),
    (("components", "l1", "size_bytes"), _DEL, "components.l1.size_bytes", "missing required"),
    (("components", "l1", "size_bytes"), "64 KB/s", "components.l1.size_bytes", "64 KiB"),
    (("components", "l1", "size_bytes"), [1, 2], "components.l1.size_bytes", "expected a number"),
    (("components", "l1", "size_bytes"), float("inf"), "components.l1.size_bytes", "finite"),
    (("components", "l1", "size_bytes"), 100.5, "components.l1.size_bytes", "whole number"),
    (("components", "l1", "sise_bytes"), 4096, "components.l1.sise_bytes", "did you mean 'size_bytes'"),
    (("components", "l1", "type"), "memroy", "components.l1.type", "did you mean 'memory'"),
    (("components", "l1", "type"), ["memory"], "components.l1.type", "valid:"),
    (("components", "l1", "level"), "L4", "components.l1.level", "valid: L1, L2, L3"),
    (("components", "l1", "clock"), "clsuter", "components.l1.clock", "did you mean 'cluster'"),
    (("components", "l1", "clock"), {"x": 1}, "components.l1.clock", "unknown clock"),
    (("components", "l1", "ports"), 0, "components.l1.ports", "> 0"),
    (("components", "l1", "port_bandwidth_bytes_per_cycle"), -1, "components.l1.port_bandwidth_bytes_per_cycle", "> 0"),
    (("components", "l1", "read_pj_per_byte"), -0.5, "components.l1.read_pj_per_byte", ">= 0"),
    (("components", "cluster", "cores"), "eight", "components.cluster.cores", "cannot read"),
    (("components", "cluster", "l1"), "l9", "components.cluster.l1", "unknown component 'l9'"),
    (("components", "cluster", "l1"), "l2", "components.cluster.l1", "valid: l1"),
    (("components", "cluster", "l1"), "udma", "components.cluster.l1", "expected a memory"),
    (("components", "cluster", "kernels", "conv3d"), 1.0, "components.cluster.kernels.conv3d", "did you mean 'conv2d'"),
    (("components", "cluster", "kernels", "conv2d"), 0, "components.cluster.kernels.conv2d.any", "> 0"),
    (("components", "cluster", "kernels", "conv2d"), {"eight": 1}, "components.cluster.kernels.conv2d.eight", "positive integers"),
    (("components", "cluster", "pj_per_active_core_cycle"), -1, "components.cluster.pj_per_active_core_cycle", ">= 0"),
    (("components", "cluster", "energy_pj_per_op"), {"default": 2.0}, "components.cluster.pj_per_active_core_cycle", "given twice"),
    (("components", "cluster", "kernel_model"), "pulpnn", "components.cluster.kernel_model", "did you mean 'pulp_nn'"),
    (("components", "l1", "power_gating"), "yes", "components.l1.power_gating", "true or false"),
    (("components", "cluster_dma", "burst_bytes"), 0, "components.cluster_dma.burst_bytes", "> 0"),
    (("components", "l2.x"), {"type": "router", "clock": "soc"}, "components.l2.x", "invalid component name"),
    (("clocks", "soc"), "0 MHz", "clocks.soc", "> 0"),
    (("clocks", "soc"), "fast", "clocks.soc", "170 MHz"),
    (("clocks", "soc"), -1e8, "clocks.soc", "> 0"),
    (("reference_clock",), "clock", "reference_clock", "unknown clock 'clock'"),
    (("reference_clock",), ["cluster"], "reference_clock", "unknown clock"),
    (("componentz",), {}, "componentz", "did you mean 'components'"),
    (("format",), "hwsim-platform/9", "format", "hwsim-platform/1"),
    (("links", 0, "between"), ["l2", "soc_xbr"], "links[0].between", "did you mean 'soc_xbar'"),
    (("links", 0, "between"), ["l2"], "links[0].between", "[a, b]"),
    (("links", 0, "between"), ["l2", "l2"], "links[0].between", "two different"),
    (("links", 0, "bandwidth_bytes_per_cycle"), 0, "links[0].bandwidth_bytes_per_cycle", "> 0"),
    (("links", 0, "bandwidth_bytes_per_cycle"), _DEL, "links[0].bandwidth_bytes_per_cycle", "missing required"),
    (("links", 0, "latency_cycles"), -2, "links[0].latency_cycles", ">= 0"),
    (("links", 0, "duplex"), "simplex", "links[0].duplex", "valid"),
    (("links", 0, "clock"), _DEL, "links[0].clock", "missing required"),
    (("links", 0, "widht"), 4, "links[0].widht", "valid"),
]


@pytest.mark.parametrize("path,value,field,words", PLATFORM_CASES,
                         ids=[".".join(map(str, c[0])) + f"={c[1]!r}"[:30] for c in PLATFORM_CASES])
def test_platform_field_errors(tmp_path, path, value, field, words):
    data = base_platform()
    _set(data, path, value)
    f = write_yaml(tmp_path, data)
    with pytest.raises(ConfigError) as ei:
        hwsim.load_platform(f)
    e = ei.value
    assert e.file == str(f)
    assert e.field == field, str(e)
    assert words in str(e), str(e)
    # the line points at the field (or, for a missing field, at its parent mapping)
    assert e.line is not None and f"{f}:{e.line}:" in str(e)
    text = _line(f, e.line)
    assert any(k in text for k in _keys(e.field)) or (  # a list item starts with its dash
        "[" in e.field and text.lstrip().startswith("- ")), (text, str(e))


def test_disconnected_interconnect(tmp_path):
    data = base_platform()
    data["links"] = [l for l in data["links"] if l["between"] != ["soc_xbar", "cluster_dma"]]
    with pytest.raises(ConfigError) as ei:
        hwsim.load_platform(write_yaml(tmp_path, data))
    assert ei.value.field == "links" and "no route" in str(ei.value) and "add a link" in str(ei.value)


def test_no_path_from_dram_to_engines(tmp_path):
    data = base_platform()
    data["links"] = [l for l in data["links"] if "udma" not in l["between"]]
    with pytest.raises(ConfigError, match="no route from l3 to l1"):
        hwsim.load_platform(write_yaml(tmp_path, data))


def test_route_may_not_pass_through_an_engine(tmp_path):
    """The only L2 -> L1 path runs through the core cluster: the interconnect never routes
    through an engine, so validation must reject it (before, it passed and failed mid-run)."""
    data = base_platform()
    data["links"] = [l for l in data["links"] if l["between"] != ["soc_xbar", "cluster_dma"]]
    data["links"].append({"between": ["soc_xbar", "cluster"], "clock": "soc", "bandwidth_bytes_per_cycle": 8})
    data["links"].append({"between": ["cluster", "cluster_dma"], "clock": "soc", "bandwidth_bytes_per_cycle": 8})
    with pytest.raises(ConfigError, match="no route from l2 to l1"):
        hwsim.load_platform(write_yaml(tmp_path, data))


def test_no_l2_or_l3(tmp_path):
    data = base_platform()
    for m in ("l2", "l3"):
        del data["components"][m]
    data["links"] = [l for l in data["links"] if not {"l2", "l3"} & set(l["between"])]
    with pytest.raises(ConfigError, match="no L2 or L3"):
        hwsim.load_platform(write_yaml(tmp_path, data))


def test_duplicate_key_and_yaml_syntax_lines(tmp_path):
    f = tmp_path / "p.yaml"
    text = PLATFORM.read_text().replace("    size_bytes: 64000", "    size_bytes: 64000\n    size_bytes: 1")
    f.write_text(text)
    with pytest.raises(ConfigError, match="duplicate key") as ei:
        hwsim.load_platform(f)
    assert ei.value.line == line_containing(f, "size_bytes: 1")
    f.write_text(PLATFORM.read_text().replace("  l2:\n", "  l2: [\n", 1))
    with pytest.raises(ConfigError, match="invalid YAML"):
        hwsim.load_platform(f)


def test_override_errors():
    with pytest.raises(ConfigError, match="did you mean 'l1'"):
        hwsim.load_platform(PLATFORM, {"components.ll1.size_bytes": 1})
    with pytest.raises(ConfigError, match="list index"):
        hwsim.load_platform(PLATFORM, {"links.x": 1})
    with pytest.raises(ConfigError, match="list index"):
        hwsim.load_platform(PLATFORM, {"links.99": 1})
    with pytest.raises(ConfigError) as ei:
        hwsim.load_platform(PLATFORM, {"components.l1.size_bytes": "-1 KiB"})
    assert ei.value.field == "components.l1.size_bytes" and "> 0" in str(ei.value)


# ---------------------------------------------------------------------------------------
# (layer index, field, new value, expected field suffix, words)
TRACE_CASES = [
    (2, "kernel", [0, 3], "kernel", "positive integer"),
    (2, "kernel", [40, 40], "kernel", "larger than the padded input"),
    (2, "stride", [2, 2], "output_shape", "disagrees"),
    (2, "padding", [1, 1, 1], "padding", "[top, left, bottom, right]"),
    (2, "output_shape", [16, 32, 0], "output_shape", "positive integers"),
    (2, "output_shape", [16, 32], "output_shape", "needs [C, H, W] shapes"),
    (2, "input_shape", [8, 32, 32], "input_shape", "does not match the output"),
    (2, "op", "conv", "op", "did you mean 'conv2d'"),
    (2, "kernal", [3, 3], "kernal", "did you mean 'kernel'"),
    (2, "bits", {"input": 0}, "bits.input", "1..64"),
    (2, "bits", {"inptu": 8}, "bits.inptu", "did you mean 'input'"),
    (2, "bias", "false", "bias", "true or false"),
    (2, "groups", 3, "groups", "divisible"),
    (2, "batch", 0, "batch", "positive integer"),
    (2, "macs", 1, "macs", "derived"),
    (2, "inputs", ["nope"], "inputs", "not an earlier layer"),
    (2, "name", "conv1", "name", "duplicate"),
    (2, "op", None, "op", "unknown op"),
    (2, "input_shape", None, "input_shape", "positive integers"),
]


@pytest.mark.parametrize("i,key,value,suffix,words", TRACE_CASES,
                         ids=[f"{c[1]}={c[2]!r}"[:30] for c in TRACE_CASES])
def test_trace_field_errors(tmp_path, i, key, value, suffix, words):
    data = base_trace()
    data["layers"][i][key] = value
    data.pop("totals", None)
    f = write_json(tmp_path, data)
    with pytest.raises(ConfigError) as ei:
        hwsim.load_trace(f)
    e = ei.value
    assert e.file == str(f)
    assert e.field.startswith(f"layers[{i}]") and e.field.endswith(suffix), str(e)
    assert words in str(e), str(e)
    assert e.line is not None and f"{f}:{e.line}:" in str(e)
    assert any(f'"{k}"' in _line(f, e.line) for k in _keys(e.field)), (_line(f, e.line), str(e))


def test_trace_document_errors(tmp_path):
    for data, words in (([], "JSON object"), ({"layer": []}, "found 'layer': did you mean 'layers'"),
                        ({"layers": []}, "at least one layer"),
                        ({"format": "x", "layers": [1]}, "hwsim-trace/1"),
                        ({**base_trace(), "totals": 3}, "expected an object"),
                        ({**base_trace(), "totals": {"macs": 1}}, "regenerate")):
        with pytest.raises(ConfigError, match=words.replace("[", r"\[")):
            hwsim.load_trace(write_json(tmp_path, data))
    f = tmp_path / "bad.json"
    f.write_text('{"layers": [\n  {"name": "a",}\n]}')
    with pytest.raises(ConfigError, match="invalid JSON") as ei:
        hwsim.load_trace(f)
    assert ei.value.line == 2


def test_unreadable_inputs(tmp_path):
    for loader in (hwsim.load_platform, hwsim.load_trace):
        with pytest.raises(ConfigError, match="No such file"):
            loader(tmp_path / "missing")
        with pytest.raises(ConfigError, match="directory"):
            loader(tmp_path)
        b = tmp_path / "bin"
        b.write_bytes(b"\xff\xfe\x00\x81" * 10)
        with pytest.raises(ConfigError, match="not a text file"):
            loader(b)
    with pytest.raises(ConfigError, match="looks like a layer trace"):
        hwsim.load_platform(TRACE)
    with pytest.raises(ConfigError, match="is this a platform"):
        hwsim.load_trace(PLATFORM)


# ---------------------------------------------------------------------------------------
def test_untileable_layer_names_trace_field_and_minimum_l1():
    """Tiling cuts channels, rows, columns and input channels (hwsim/mapping/tiling.py), so
    only an L1 below one 1x1x1 tile (3x3 input window, 32-bit accumulator, weights, bias:
    2 x (9 + 4) + 2 x (9 + 4) = 52 B) is too small for conv1."""
    trace = hwsim.load_trace(TRACE)
    p = hwsim.load_platform(PLATFORM, {"components.l1.size_bytes": 40})
    with pytest.raises(MappingError) as ei:
        hwsim.map_trace(p, trace)
    e = ei.value
    assert e.file == str(TRACE) and e.field == "layers[0] (conv1)"
    assert "52" in e.fix and "output channels, rows, columns, input channels" in str(e)
    assert e.line == line_containing(TRACE, '"name": "conv1"') - 1
    assert "components.l1.size_bytes" in e.fix and str(PLATFORM) in e.fix
    need = int(e.fix.split("at least ")[1].split()[0])
    # the stated minimum is exact: at that size this layer maps, one byte less it does not
    ok = hwsim.map_trace(hwsim.load_platform(PLATFORM, {"components.l1.size_bytes": need}),
                         _one_layer(0))
    assert ok.plans[0].l1_bytes <= need
    with pytest.raises(MappingError):
        hwsim.map_trace(hwsim.load_platform(PLATFORM, {"components.l1.size_bytes": need - 1}),
                        _one_layer(0))


@pytest.mark.parametrize("out, what", [([2**24], "input+output"), ([4_000_000], "weights")])
def test_layer_larger_than_the_largest_memory_is_a_mapping_error(out, what):
    """A layer whose tensors or weights exceed even L3 is rejected at placement, naming L3,
    instead of being tiled (a 10**30-output layer used to loop over every channel count; shapes are now bounded by
    trace.MAX_DIM, so the largest one is used)."""
    p = hwsim.load_platform(PLATFORM)   # L3: 8,000,000 B
    t = hwsim.trace_from_dict({"layers": [{"name": "fc", "op": "linear", "input_shape": [16],
                                           "output_shape": out, "bits": 8}]})
    with pytest.raises(MappingError) as ei:
        hwsim.map_trace(p, t)
    assert what in str(ei.value) and "l3 (8000000 B), the largest memory" in str(ei.value)
    assert "components.l3.size_bytes" in ei.value.fix and ei.value.field == "layers[0] (fc)"


def _one_layer(i):
    rec = dict(base_trace()["layers"][i])
    rec.pop("inputs", None)
    return hwsim.trace_from_dict({"layers": [rec]})


def test_unsupported_bit_width_names_bits_field():
    data = base_trace()
    data["layers"][0]["bits"] = {"input": 4, "weight": 4, "output": 8}
    data.pop("totals")
    p = hwsim.load_platform(PLATFORM, {"components.cluster.kernels": {"conv2d": {8: 1.9}},
                                       "components.cluster.kernel_model": "table"})
    with pytest.raises(MappingError) as ei:
        hwsim.map_trace(p, hwsim.trace_from_dict(data))
    assert ei.value.field == "layers[0] (conv1).bits"
    assert "no kernel for conv2d at 4 bits" in str(ei.value)
    assert "components.cluster.kernels.conv2d" in ei.value.fix


def test_aimc_pinned_layer_with_wider_inputs_is_bit_sliced(tmp_path):
    """8-bit inputs on 4-bit DACs are not an error: the mapper streams them bit-serially in
    ceil(8 / 4) = 2 MVM passes per pixel (hwsim.mapping.aimc)."""
    data = base_platform()
    data["components"]["xb0"] = {"type": "aimc_tile", "clock": "cluster", "l1": "l1", "rows": 512,
                                 "cols": 512, "input_bits": 4}
    data["links"].append({"between": ["xb0", "l1"], "clock": "cluster", "bandwidth_bytes_per_cycle": 16})
    p = hwsim.load_platform(write_yaml(tmp_path, data))
    t = base_trace()
    t["layers"][0]["engine"] = "aimc"
    t.pop("totals")
    plan = hwsim.map_trace(p, hwsim.trace_from_dict(t)).plans[0]
    assert plan.engine_kind == "aimc" and plan.aimc.islices == 2


# ---------------------------------------------------------------------------------------
def _cli(*args):
    return subprocess.run([sys.executable, "-m", "hwsim.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})


@pytest.mark.parametrize("args,words", [
    (("run", "missing.yaml", TRACE), "No such file"),
    (("run", "platforms", TRACE), "directory"),
    (("run", TRACE, PLATFORM), "looks like a layer trace"),
    (("run", PLATFORM, TRACE, "--set", "components.l1.size_bytes=0"), "components.l1.size_bytes"),
    (("run", PLATFORM, TRACE, "--set", "components.l1.size_bytes=40"), "cannot be tiled"),
    (("run", PLATFORM, TRACE, "--set", "oops"), "path=value"),
    (("run", PLATFORM, TRACE, "--max-sim-s", "0.001"), "layers done"),
    (("run", PLATFORM, TRACE, "-q", "--json", "/proc/nonexistent/x.json"), "cannot write"),
])
def test_cli_one_line_error_nonzero_exit(args, words):
    r = _cli(*args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("hwsim: error: ") and words in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
