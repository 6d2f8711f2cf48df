"""Importers of peers' formats on the shared files (../shared/interop, see its MANIFEST.md):
SCALE-Sim topology + cfg, ZigZag workload + hardware, Stream system. Counts are checked
against the files' own numbers (loop products, CSV columns), computed here independently."""
from __future__ import annotations

import csv
import math

import pytest
import yaml

import hwsim
from hwsim.api import (platform_from_dict, scalesim_config, scalesim_topology, simulate,
                       stream_system, zigzag_hardware, zigzag_workload)
from hwsim.base.errors import ConfigError
from hwsim.cli import main

from .test_workloads import interop


def test_scalesim_topology_counts_and_depthwise_rows():
    path = interop("scale-sim-v2/mobilenet.csv")
    t = scalesim_topology(path)
    # SCALE-Sim's own MACs per row: OH x OW x FH x FW x Channels x NumFilter, OH from the
    # padded IFMAP: (H - FH) // S + 1
    rows = [[c.strip() for c in r] for r in csv.reader(path.read_text().splitlines())][1:]
    want = 0
    for r in rows:
        h, w_, fh, fw, c, nf, s = (int(x) for x in r[1:8])
        want += ((h - fh) // s + 1) * ((w_ - fw) // s + 1) * fh * fw * c * nf
    assert t.total_macs == want
    conv2 = t.layers[1]   # "Conv2, 112, 112, 3, 3, 32, 1, 1": depthwise 32 channels
    assert (conv2.op, conv2.groups, conv2.output_shape[0]) == ("depthwise", 32, 32)
    # chained: its padded 112x112 IFMAP is Conv1's 111x111 output + 1 padding row/column
    assert (conv2.inputs, conv2.input_shape, conv2.padding) == ((), (32, 111, 111), (0, 0, 1, 1))
    assert all(l.bits_input == 8 for l in t.layers) and t.meta["assumptions"]
    no_dw = scalesim_topology(path, depthwise_rows=False)
    assert no_dw.layers[1].op == "conv2d" and no_dw.layers[1].output_shape[0] == 1


def test_scalesim_gemm_variant(tmp_path):
    f = tmp_path / "gemm.csv"
    f.write_text("Layer, M, N, K,\nfc1, 64, 128, 256,\nfc2, 64, 10, 128,\n")
    t = scalesim_topology(f)
    assert [(l.op, l.input_shape, l.output_shape, l.macs) for l in t.layers] == [
        ("linear", (64, 256), (64, 128), 64 * 128 * 256), ("linear", (64, 128), (64, 10), 64 * 10 * 128)]
    f.write_text("Layer, M, N, K,\nfc1, 64, x, 256,\n")
    with pytest.raises(ConfigError, match=r"line 2 \(fc1\)\.N: expected a positive integer"):
        scalesim_topology(f)


def test_scalesim_config_platform_runs_the_topology():
    d = scalesim_config(interop("scale-sim-v2/scale.cfg"))
    p = platform_from_dict(d)
    # 32 x 32 PEs; 3 x 64 kB SRAMs (kB = 1024 B in SCALE-Sim) as one L1
    assert p.components["array"].kernels["conv2d"] == {"any": 1024.0}
    assert p.components["sram"].size_bytes == 3 * 64 * 1024
    assert "clock 1 GHz" in d["description"]
    t = scalesim_topology(interop("scale-sim-v2/mobilenet.csv"))
    res = simulate(p, t)
    # no faster than the array's peak: cycles >= MACs / 1024
    assert res.cycles >= t.total_macs / 1024 and sum(r.macs for r in res.layers) == t.total_macs


def test_zigzag_workload_matches_its_loop_products():
    path = interop("zigzag/resnet18.yaml")
    data = yaml.safe_load(path.read_text())
    t = zigzag_workload(path)
    assert len(t.layers) == len(data)
    # ZigZag's MACs: the product of a Conv layer's loop sizes (B K C OY OX FY FX)
    assert t.total_macs == sum(math.prod(d["loop_sizes"]) for d in data
                               if d["operator_type"].startswith("Conv"))
    add = t.layers[4]          # id 4: Add, operand I = layer 3 (conv2_2), W = layer 1 (pool)
    assert add.op == "add" and add.inputs == (t.layers[3].name, t.layers[1].name)
    conv1 = t.layers[0]        # 7x7/2 to 112x112: extent 2*111+7 = 229, the network input
    assert (conv1.input_shape, conv1.padding, conv1.bits_output) == ((3, 229, 229), (0, 0, 0, 0), 8)
    assert t.layers[29].op == "avgpool" and t.layers[1].op == "maxpool"
    assert t.layers[30].op == "pointwise" and t.layers[30].macs == 1000 * 512


def test_zigzag_hardware_units():
    d = zigzag_hardware(interop("zigzag/tpu_like.yaml"))
    p = platform_from_dict(d)
    sram, dram = p.components["sram_2MB"], p.components["dram"]
    # size in bits / 8; r_cost 416.16 pJ per 64-bit access = 52.02 pJ/B; 2048 bits/cycle = 256 B
    assert (sram.level, sram.size_bytes) == ("L1", 16777216 // 8)
    assert sram.read_pj_per_byte == pytest.approx(416.16 / 8)
    assert sram.port_bandwidth_bytes_per_cycle == 256
    assert (dram.level, dram.port_bandwidth_bytes_per_cycle) == ("L3", 8)
    assert dram.write_pj_per_byte == pytest.approx(750 / 8)
    assert p.components["array"].kernels["conv2d"] == {"any": 1024.0}
    assert p.components["array"].energy_pj_per_op["default"] == 0.04
    assert "rf_128B" not in p.components        # a register file of the array


def test_stream_system_multi_core(tmp_path, capsys):
    path = interop("stream/tpu_like_quad_core.yaml")
    with pytest.raises(ConfigError, match=r"cores\.4: core file \./cores/pooling\.yaml not found"):
        stream_system(path)
    d = stream_system(path, missing_cores="skip")
    p = platform_from_dict(d)
    clusters = [c for c in p.components.values() if c.TYPE == "core_cluster"]
    assert len(clusters) == 4 and "cores left out (file missing): 4" in d["description"]
    l01 = next(lk for lk in p.links if {lk.a, lk.b} == {"core0_l1", "core1_l1"})
    assert l01.bandwidth_bytes_per_cycle == 32 / 8                       # 32 bits/cycle
    assert any(lk.bandwidth_bytes_per_cycle == 128 / 8 for lk in p.links)  # the DRAM bus
    out = tmp_path / "quad.yaml"
    assert main(["import-stream", str(path), "-o", str(out)]) == 2
    assert main(["import-stream", str(path), "-o", str(out), "--skip-missing-cores"]) == 0
    assert "assumed      clock 1 GHz" in capsys.readouterr().out
    t = zigzag_workload(interop("zigzag/resnet18.yaml"))
    res = simulate(hwsim.load_platform(out), t)
    assert len({r.engine for r in res.layers}) > 1      # layers spread over the cores


def test_cli_importers_write_runnable_files(tmp_path, capsys):
    s = interop("scale-sim-v2/mobilenet.csv")
    assert main(["import-scalesim", str(s), "-o", str(tmp_path / "m.json"), "--cfg",
                 str(interop("scale-sim-v2/scale.cfg")), "--platform-out",
                 str(tmp_path / "p.yaml")]) == 0
    assert main(["run", str(tmp_path / "p.yaml"), str(tmp_path / "m.json"), "-q"]) == 0
    assert main(["import-zigzag", "--workload", str(interop("zigzag/resnet18.yaml")), "-o",
                 str(tmp_path / "r.json"), "--hardware", str(interop("zigzag/tpu_like.yaml")),
                 "--platform-out", str(tmp_path / "z.yaml")]) == 0
    out = capsys.readouterr().out
    assert "1,968,214,016 MACs" in out and "assumed      ZigZag sizes in bits" in out
    assert main(["import-zigzag", "--workload", str(tmp_path / "missing.yaml"), "-o", "x.json"]) == 2
    assert "no such ZigZag workload file" in capsys.readouterr().err
