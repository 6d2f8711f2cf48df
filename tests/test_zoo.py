"""Model zoo: published totals, generated trace files, and graph/shape consistency.

Parameter counts: a trace folds BatchNorm into the conv, so it counts weights + one bias per
output channel. Framework figures are converted with ``hwsim.workload.zoo.count_params`` ("torch":
bias-free convs + BN gamma/beta; "keras": convs with bias + 4 BN values per channel).
"""
import dataclasses
import json
import math
from functools import lru_cache
from pathlib import Path

import pytest

from hwsim.workload.trace import NETWORK_INPUT, load_trace
from hwsim.workload.zoo import (NETWORKS, GENERATOR, build, count_params, kwt, mobilenet_v1,
                                resnet50)

TRACES = Path(__file__).resolve().parent.parent / "traces"
MLTK = "Silicon Labs MLTK docs, mltk/models/tinyml/<model>.py ('mltk summarize', Total MACs)"


@lru_cache(maxsize=None)
def trace_of(name):
    return build(name)


# (id, builder, MACs, its source, params, counted as, relative tolerance, its source).
# Tolerance is 2 % except where a figure is given to one significant digit (then half a unit
# of that digit).
PUBLISHED = [
    ("mobilenetv2", lambda: trace_of("mobilenetv2"),
     300e6, "Sandler et al. CVPR 2018, Table 4: 300 M multiply-adds",
     3_504_872, "torch", 0.02, "torchvision mobilenet_v2 docs: num_params 3,504,872"),
    ("resnet18", lambda: trace_of("resnet18"),
     1.8e9, "He et al. CVPR 2016, Table 1: 1.8e9 FLOPs (multiply-adds)",
     11_689_512, "torch", 0.02, "torchvision resnet18 docs: num_params 11,689,512"),
    ("resnet50", lambda: trace_of("resnet50"),
     4.09e9, "torchvision resnet50 docs (v1.5): 4.09 GFLOPS (multiply-adds)",
     25_557_032, "torch", 0.02, "torchvision resnet50 docs: num_params 25,557,032"),
    ("resnet50_v1", lambda: resnet50(stride_in_3x3=False),
     3.8e9, "He et al. CVPR 2016, Table 1: 3.8e9 FLOPs (multiply-adds)",
     25_557_032, "torch", 0.02, "same parameters as v1.5"),
    ("resnet8", lambda: trace_of("resnet8"),
     12.502e6, MLTK + " image_classification: 12.502 M",
     78_000, "keras", 0.02, "MLPerf Tiny (Banbury et al. 2021): ~78 k"),
    ("ds_cnn", lambda: trace_of("ds_cnn"),
     2.657e6, MLTK + " keyword_spotting: 2.657 M (Hello Edge: 5.4 M ops)",
     24_908, "keras", 0.02, "Keras summary of mlcommons/tiny kws_ref_model: 24,908"),
    ("mobilenet_v1_025", lambda: trace_of("mobilenet_v1_025"),
     7.490e6, MLTK + " visual_wake_words: 7.490 M",
     0.2e6, "folded", 0.25, "MLPerf Tiny (Banbury et al. 2021): ~0.2 M"),
    ("mobilenet_v1_025_224", lambda: mobilenet_v1(0.25, 224, 1000),
     41e6, "Howard et al. 2017 (MobileNets), Table 6: 0.25 MobileNet-224, 41 M mult-adds",
     0.5e6, "folded", 0.1, "same table: 0.5 M parameters"),
    ("fc_autoencoder", lambda: trace_of("fc_autoencoder"),
     264_192, MLTK + " anomaly_detection: 264.192 k",
     270_000, "keras", 0.02, "MLPerf Tiny (Banbury et al. 2021): ~0.27 M"),
    ("efficientnet_b0", lambda: trace_of("efficientnet_b0"),
     0.39e9, "Tan & Le ICML 2019, Table 2: 0.39B FLOPS (multiply-adds); torchvision 0.39 GFLOPS",
     5_288_548, "torch", 0.02, "torchvision efficientnet_b0 docs: num_params 5,288,548"),
]


@pytest.mark.parametrize("make, macs, macs_src, params, counted_as, tol, params_src",
                         [p[1:] for p in PUBLISHED], ids=[p[0] for p in PUBLISHED])
def test_published_totals(make, macs, macs_src, params, counted_as, tol, params_src):
    t = make()
    assert t.total_macs == pytest.approx(macs, rel=0.02), macs_src
    assert count_params(t, counted_as) == pytest.approx(params, rel=tol), params_src


def test_exact_framework_parameter_counts():
    """Weights are right to the last element: the folded BN channels account exactly for the
    framework counts."""
    assert count_params(trace_of("mobilenetv2"), "torch") == 3_504_872
    assert count_params(trace_of("resnet18"), "torch") == 11_689_512
    assert count_params(trace_of("resnet50"), "torch") == 25_557_032
    assert count_params(trace_of("ds_cnn"), "keras") == 24_908
    assert count_params(trace_of("efficientnet_b0"), "torch") == 5_288_548
    # Keras MobileNetV2(alpha=1.0) summary, bias-free convs + 4 BN values: 3,538,984.
    t = trace_of("mobilenetv2")
    assert t.total_params + 3 * t.meta["folded_bn_channels"] == 3_538_984


@pytest.mark.parametrize("variant, thousands", [("kwt1", 607), ("kwt2", 2394), ("kwt3", 5361)])
def test_keyword_transformer_parameters_and_macs(variant, thousands):
    """Berg et al., Interspeech 2021, Table 1: KWT-1/2/3 have 607K / 2,394K / 5,361K parameters
    (12 keywords; the table's figures are whole thousands, truncated). MACs by hand for 98 MFCC
    frames of 40: embedding 98*40*d; per layer (T = 99 tokens) Q, K, V and output projections
    4*T*d*d, scores and context 2*T*T*d, MLP 2*T*d*m; head d*12."""
    t = kwt(variant)
    assert count_params(t, "folded+embedding") // 1000 == thousands
    d, m, _, depth, _ = {"kwt1": (64, 256, 1, 12, 0), "kwt2": (128, 512, 2, 12, 0),
                         "kwt3": (192, 768, 3, 12, 0)}[variant]
    T = 99
    assert t.total_macs == 98 * 40 * d + depth * (4 * T * d * d + 2 * T * T * d + 2 * T * d * m) + d * 12


def test_bottleneck_is_a_mobilenetv2_block():
    """The single-block trace has the closed-form work and equals blocks 5-6 of MobileNetV2."""
    b = trace_of("mobilenetv2_bottleneck")
    hw, c, t = 28 * 28, 32, 6
    assert [l.op for l in b.layers] == ["pointwise", "depthwise", "pointwise", "add"]
    assert b.total_macs == hw * c * t * c + hw * c * t * 9 + hw * c * t * c
    assert b.total_params == 2 * t * c * c + 11 * t * c + c
    full = trace_of("mobilenetv2")
    block5 = [l for l in full.layers if l.name.startswith("block5.")]
    strip = lambda l: dataclasses.replace(l, name="", inputs=())  # noqa: E731
    assert [strip(l) for l in block5] == [strip(l) for l in b.layers]


@pytest.mark.parametrize("name", NETWORKS)
def test_trace_file_is_current(name):
    """traces/<name>.json is what tools/gen_traces.py produces now and loads back unchanged."""
    path = TRACES / f"{name}.json"
    assert path.exists(), f"missing {path}: run tools/gen_traces.py"
    t = trace_of(name)
    assert json.loads(path.read_text()) == t.to_dict(), f"{path} is stale: run tools/gen_traces.py"
    assert load_trace(path) == t


def test_no_orphan_generated_files():
    for path in TRACES.glob("*.json"):
        if json.loads(path.read_text()).get("generator") == GENERATOR:
            assert path.stem in NETWORKS, f"{path} is not produced by {GENERATOR}"


def graph_errors(trace):
    """Problems with the graph of ``trace``: producers, shapes, dangling layers."""
    errors, by_name = [], {}
    net_in = tuple(trace.meta["input_shape"])
    for i, l in enumerate(trace.layers):
        if l.name in by_name:
            errors.append(f"{l.name}: duplicate name")
        if i == 0 and (l.inputs or l.input_shape != net_in):
            errors.append(f"{l.name}: the first layer must read the network input {net_in}")
        if i > 0 and not l.inputs:
            errors.append(f"{l.name}: no producer listed")
        for src in l.inputs:
            if src == NETWORK_INPUT:
                if l.input_shape != net_in:
                    errors.append(f"{l.name}: reads the network input {net_in} as {l.input_shape}")
                continue
            if src not in by_name:
                errors.append(f"{l.name}: producer {src!r} is not an earlier layer")
                continue
            out = by_name[src].output_shape
            want = l.input_shapes[l.inputs.index(src)] if l.input_shapes else l.input_shape
            flatten = l.op == "linear" and len(l.input_shape) == 1
            reshaped = (l.op in ("matmul", "slice", "pad", "transpose") or l.is_sequence_linear) \
                and math.prod(out) == math.prod(want)     # a free reshape between them
            if out != want and not reshaped and not (flatten and math.prod(out) == want[0]):
                errors.append(f"{l.name}: input {want} != {src} output {out}")
        if l.op == "add" and l.name not in trace.meta.get("constant_operands", ()):
            if len(set(l.inputs)) != 2:
                errors.append(f"{l.name}: an add needs two producers, has {list(l.inputs)}")
        by_name[l.name] = l
    consumed = {src for l in trace.layers for src in l.inputs}
    errors += [f"{l.name}: output never used" for l in trace.layers[:-1]
               if l.name not in consumed]
    return errors


@pytest.mark.parametrize("name", NETWORKS)
def test_shapes_chain(name):
    assert graph_errors(trace_of(name)) == []


def test_graph_check_catches_breakage():
    t = trace_of("resnet8")
    layers = list(t.layers)
    i = next(i for i, l in enumerate(layers) if l.name == "stack2.add")
    layers[i] = dataclasses.replace(layers[i], inputs=("stack2.conv2",))  # drop the shortcut
    j = next(i for i, l in enumerate(layers) if l.name == "fc")
    layers[j] = dataclasses.replace(layers[j], input_shape=(32,))
    errors = graph_errors(dataclasses.replace(t, layers=tuple(layers)))
    assert any("stack2.add: an add needs two producers" in e for e in errors)
    assert any("stack2.shortcut: output never used" in e for e in errors)
    assert any(e.startswith("fc: input") for e in errors)


def test_padding_follows_the_reference_framework():
    """TensorFlow 'same' pads bottom/right first (Keras models); PyTorch pads k // 2."""
    assert trace_of("ds_cnn").layer("conv1").padding == (4, 1, 5, 1)  # 49x10, 10x4/2 -> 25x5
    assert trace_of("resnet8").layer("stack2.conv1").padding == (0, 0, 1, 1)
    assert trace_of("resnet18").layer("conv1").padding == (3, 3, 3, 3)
    assert trace_of("resnet18").layer("maxpool").output_shape == (64, 56, 56)
    assert trace_of("ds_cnn").layer("avgpool").kernel == (24, 5)  # as the reference, not 25x5


def test_build_options_and_errors():
    t = build("mobilenetv2", width=0.5, resolution=128)
    assert t.name == "mobilenetv2_resolution128_width0.5"
    assert t.layers[0].input_shape == (3, 128, 128) and t.layers[0].out_channels == 16
    assert graph_errors(t) == []
    with pytest.raises(KeyError, match="unknown network"):
        build("alexnet")
