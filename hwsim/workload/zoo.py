"""Model zoo: layer traces of published networks, built from their reference definitions.

Conventions shared by every builder (see :mod:`hwsim.workload.trace` for the format):

* BatchNorm is folded into the preceding conv/linear layer, so it is not a layer and every
  weighted layer has one bias per output channel (``bias=True``). Parameter counts are
  therefore *weights + one bias per output channel*. Frameworks report more: Keras'
  ``model.summary()`` adds 4 values per BN channel (gamma, beta, moving mean and variance) to
  convs that already have a bias; PyTorch's ``numel()`` has bias-free convs and adds 2 per BN
  channel (gamma, beta). ``meta["folded_bn_channels"]`` records how many channels were folded,
  so ``params + folded_bn_channels`` is the PyTorch count of a network with bias-free convs
  (torchvision) and ``params + 4 * folded_bn_channels`` the Keras count of one whose convs keep
  their bias (the MLPerf Tiny references). ``meta["reference"]`` holds the published totals;
  its ``params_counted_as`` (``"folded"``, ``"torch"`` or ``"keras"``) says which count a
  published parameter figure is (see :func:`count_params`).
* Activations are fused and recorded in ``activation``; Flatten and Dropout are free; global
  average pooling is an ``avgpool`` layer whose kernel is the whole feature map.
* Operands are int8 (32-bit bias) unless ``bits`` says otherwise.
* Every layer but the first names its producer(s) in ``inputs``; a residual ``add`` lists both
  (the trace format has no name for the network input, so an ``add`` whose skip operand is the
  network input lists only its in-graph producer).
* Padding follows the reference framework: TensorFlow ``'same'`` (extra row/column at the
  bottom/right) for the Keras models of MLPerf Tiny, symmetric ``k // 2`` for the PyTorch ones.
"""
from __future__ import annotations

import math
from functools import partial

from .trace import NETWORK_INPUT, Layer, Trace

__all__ = ["GENERATOR", "NetBuilder", "count_params", "MOBILENETV2_CFG", "mobilenet_v2",
           "mobilenetv2_bottleneck", "MLTK_DOCS", "resnet8", "ds_cnn", "mobilenet_v1",
           "fc_autoencoder", "resnet18", "resnet50", "EFFICIENTNET_B0_CFG", "efficientnet_b0",
           "KWT_CFG", "kwt", "NETWORKS", "build"]

GENERATOR = "tools/gen_traces.py"


def _same_padding(size: int, k: int, s: int) -> tuple:
    """TensorFlow 'same' padding (before, after) along one axis."""
    total = max((-(-size // s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


class NetBuilder:
    """Appends :class:`Layer` records, tracking the current tensor and its producer.

    ``pad`` is ``"tf"`` (TensorFlow 'same') or ``"torch"`` (symmetric ``k // 2``): the padding
    used when a layer's ``padding`` is left at ``"same"``. ``mark()`` / ``goto()`` save and
    restore the current tensor so that side branches (projection shortcuts) can be built.
    """

    def __init__(self, input_shape, *, pad: str = "torch", bits: int = 8,
                 dense_weight_bits: int | None = None):
        assert pad in ("tf", "torch")
        self.input_shape = tuple(input_shape)
        self.shape = self.input_shape
        self.tip = None  # name of the layer producing the current tensor; None = network input
        self.pad, self.bits = pad, bits
        self.dense_wbits = dense_weight_bits or bits   # conv2d / pointwise / linear weights
        self.layers: list[Layer] = []
        self.bn_channels = 0

    # -- bookkeeping ---------------------------------------------------------------------
    def mark(self) -> tuple:
        return self.tip, self.shape

    def goto(self, point: tuple) -> None:
        self.tip, self.shape = point

    def output_shape(self, name: str) -> tuple:
        return next(l.output_shape for l in self.layers if l.name == name)

    def _append(self, name, op, out_shape, inputs=None, **kw) -> str:
        if inputs is None:
            inputs = () if self.tip is None else (self.tip,)
        b = self.bits
        wb = self.dense_wbits if op in ("conv2d", "pointwise", "linear") else b
        self.layers.append(Layer(name=name, op=op, input_shape=self.shape, output_shape=out_shape,
                                 bits_input=b, bits_weight=wb, bits_output=b,
                                 inputs=tuple(inputs), **kw))
        self.tip, self.shape = name, tuple(out_shape)
        return name

    def _window(self, kernel, stride, padding):
        """Output (H, W) and ONNX padding (top, left, bottom, right) of a sliding window."""
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        sh, sw = (stride, stride) if isinstance(stride, int) else stride
        _, h, w = self.shape
        if padding == "same" and self.pad == "tf":
            (t, b), (l, r) = _same_padding(h, kh, sh), _same_padding(w, kw, sw)
        elif padding == "same":
            t, l, b, r = kh // 2, kw // 2, kh // 2, kw // 2
        elif padding == "valid":
            t = l = b = r = 0
        elif isinstance(padding, int):
            t = l = b = r = padding
        else:
            t, l, b, r = padding
        ho, wo = (h + t + b - kh) // sh + 1, (w + l + r - kw) // sw + 1
        return (kh, kw), (sh, sw), (t, l, b, r), (ho, wo)

    # -- layers --------------------------------------------------------------------------
    def conv(self, name, cout, kernel=3, stride=1, *, padding="same", groups=1, activation=None,
             bn=True, op=None) -> str:
        """Convolution; ``op`` defaults to pointwise for 1x1, depthwise for groups == C_in."""
        cin = self.shape[0]
        k, s, p, (ho, wo) = self._window(kernel, stride, padding)
        if op is None:
            op = "depthwise" if groups == cin > 1 else "pointwise" if k == (1, 1) else "conv2d"
        self.bn_channels += cout if bn else 0
        return self._append(name, op, (cout, ho, wo), kernel=k, stride=s, padding=p,
                            groups=groups, activation=activation)

    def pointwise(self, name, cout, *, stride=1, activation=None, bn=True) -> str:
        return self.conv(name, cout, 1, stride, padding="valid", activation=activation, bn=bn,
                         op="pointwise")

    def depthwise(self, name, kernel=3, stride=1, *, multiplier=1, padding="same",
                  activation=None, bn=True) -> str:
        c = self.shape[0]
        return self.conv(name, c * multiplier, kernel, stride, padding=padding, groups=c,
                         activation=activation, bn=bn, op="depthwise")

    def linear(self, name, features, *, activation=None, bn=False) -> str:
        """Fully connected layer; a feature-map input is flattened (for free) first."""
        self.shape = (math.prod(self.shape),)
        self.bn_channels += features if bn else 0
        return self._append(name, "linear", (features,), activation=activation)

    def _pool(self, op, name, kernel, stride, padding) -> str:
        k, s, p, (ho, wo) = self._window(kernel, kernel if stride is None else stride, padding)
        return self._append(name, op, (self.shape[0], ho, wo), kernel=k, stride=s, padding=p,
                            bias=False)

    def maxpool(self, name, kernel, stride=None, padding="valid") -> str:
        return self._pool("maxpool", name, kernel, stride, padding)

    def avgpool(self, name, kernel, stride=None, padding="valid") -> str:
        return self._pool("avgpool", name, kernel, stride, padding)

    def global_avgpool(self, name) -> str:
        return self.avgpool(name, tuple(self.shape[1:]))

    def add(self, name, residual, *, activation=None) -> str:
        """Elementwise sum of the current tensor and the output of layer ``residual``
        (``None``: the network input)."""
        other = self.input_shape if residual is None else self.output_shape(residual)
        if other != self.shape:
            raise ValueError(f"{name}: cannot add {list(other)} to {list(self.shape)}")
        inputs = (self.tip, NETWORK_INPUT if residual is None else residual)
        return self._append(name, "add", self.shape, inputs=inputs, bias=False,
                            activation=activation)

    def scale(self, name, x: str, s: str) -> str:
        """Channel scaling ``x * s`` (squeeze-excite): ``s`` is ``[C, 1, 1]``, broadcast."""
        xs, ss = self.output_shape(x), self.output_shape(s)
        self.shape = xs
        return self._append(name, "mul", xs, inputs=(x, s), input_shapes=(xs, ss), bias=False)

    def trace(self, name, source, reference: dict) -> Trace:
        meta = {"generator": GENERATOR, "input_shape": list(self.input_shape),
                "folded_bn_channels": self.bn_channels, "reference": reference}
        return Trace(name=name, layers=tuple(self.layers), source=source, meta=meta)


def count_params(trace: Trace, counted_as: str = "folded") -> int:
    """Parameters of ``trace`` as a framework reports them: ``"folded"`` (this trace: weights
    + one bias per channel), ``"torch"`` (bias-free convs + BN gamma/beta), ``"keras"``
    (convs with bias + BN gamma/beta/mean/variance) or ``"folded+embedding"`` (plus the
    constant embeddings of a transformer, ``meta["embedding_params"]``)."""
    if counted_as == "folded+embedding":
        return trace.total_params + trace.meta.get("embedding_params", 0)
    extra = {"folded": 0, "torch": 1, "keras": 4}[counted_as]
    return trace.total_params + extra * trace.meta.get("folded_bn_channels", 0)


def _make_divisible(v: float, divisor: int = 8) -> int:
    """Channel rounding of the MobileNetV2 reference code (TF-slim / torchvision)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


# ------------------------------------------------------------------------------------------
# MobileNetV2
# ------------------------------------------------------------------------------------------
#: Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018,
#: Table 2: (expansion t, output channels c, repeats n, first stride s).
MOBILENETV2_CFG = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                   (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _inverted_residual(nb: NetBuilder, name: str, t: int, cout: int, stride: int) -> None:
    """Expand 1x1 (ReLU6) -> depthwise 3x3 (ReLU6) -> linear project 1x1 [-> add]."""
    block_in, cin = nb.tip, nb.shape[0]  # tip None: the block reads the network input
    if t != 1:
        nb.pointwise(f"{name}.expand", cin * t, activation="relu6")
    nb.depthwise(f"{name}.dw", 3, stride, activation="relu6")
    nb.pointwise(f"{name}.project", cout)
    if stride == 1 and cin == cout:
        nb.add(f"{name}.add", block_in)


def mobilenet_v2(width: float = 1.0, resolution: int = 224, num_classes: int = 1000,
                 bits: int = 8, dense_weight_bits: int | None = None) -> Trace:
    """MobileNetV2 (Sandler et al. CVPR 2018, Table 2) as in torchvision ``mobilenet_v2``:
    3x3/2 conv to 32, 17 inverted-residual blocks, 1x1 conv to 1280, global average pool,
    linear classifier. Channels are ``_make_divisible(c * width, 8)``; the last conv is
    ``1280 * max(1, width)``. Published: 300 M multiply-adds, 3.4 M parameters (paper, Table 4);
    torchvision: 3,504,872 parameters (incl. BN gamma/beta, bias-free convs), 0.30 GFLOPS."""
    nb = NetBuilder((3, resolution, resolution), pad="torch", bits=bits,
                    dense_weight_bits=dense_weight_bits)
    nb.conv("conv1", _make_divisible(32 * width), 3, 2, activation="relu6")
    i = 0
    for t, c, n, s in MOBILENETV2_CFG:
        for j in range(n):
            i += 1
            _inverted_residual(nb, f"block{i}", t, _make_divisible(c * width), s if j == 0 else 1)
    nb.pointwise("conv_last", _make_divisible(1280 * max(1.0, width)), activation="relu6")
    nb.global_avgpool("avgpool")
    nb.linear("fc", num_classes)
    return nb.trace(
        "mobilenetv2",
        "Sandler et al., MobileNetV2: Inverted Residuals and Linear Bottlenecks, CVPR 2018, "
        f"Table 2 (width {width}, {resolution}x{resolution}); layer details as torchvision "
        "models.mobilenet_v2",
        {"macs": 300_000_000, "params": 3_504_872, "params_counted_as": "torch",
         "source": "MACs: Sandler et al. 2018, Table 4 (300 M); params: torchvision "
                   "mobilenet_v2 docs (3,504,872 = params + folded_bn_channels; the paper's "
                   "3.4 M is rounded down from the 3.47 M weights)"})


def mobilenetv2_bottleneck(resolution: int = 28, channels: int = 32, expansion: int = 6,
                           bits: int = 8, dense_weight_bits: int | None = None) -> Trace:
    """One MobileNetV2 bottleneck block with residual: 1x1 expand (ReLU6), 3x3 depthwise
    (ReLU6), 1x1 linear project, add. Default: the repeated stride-1 block of the c=32 stage
    (28x28x32 -> 192 -> 32), i.e. blocks 5 and 6 of :func:`mobilenet_v2`."""
    nb = NetBuilder((channels, resolution, resolution), pad="torch", bits=bits,
                    dense_weight_bits=dense_weight_bits)
    _inverted_residual(nb, "block", expansion, channels, 1)
    assert nb.layers[-1].op == "add"
    return nb.trace(
        "mobilenetv2_bottleneck",
        "One MobileNetV2 bottleneck (Sandler et al. CVPR 2018), the workload of Garofalo et al., "
        "A Heterogeneous In-Memory Computing Cluster for Flexible End-to-End Inference of "
        "Real-World DNNs, IEEE JETCAS 2022. The paper's exact block could not be verified here; "
        f"chosen: the stride-1 residual block of the c=32 stage, {resolution}x{resolution}x"
        f"{channels}, t={expansion} (MobileNetV2 blocks 5-6).",
        {"macs": resolution ** 2 * channels * expansion * (2 * channels + 9),
         "params": channels * expansion * (2 * channels + 11) + channels,
         "params_counted_as": "folded",
         "source": "closed form: MACs HW*tC*(2C + 9), params 2tC^2 + 11tC + C"})


# ------------------------------------------------------------------------------------------
# MLPerf Tiny v0.5 reference models (Banbury et al., MLPerf Tiny Benchmark, NeurIPS 2021
# Datasets and Benchmarks; code: github.com/mlcommons/tiny, benchmark/training/*)
# ------------------------------------------------------------------------------------------
#: Silicon Labs' MLTK ports of the MLPerf Tiny references list per-layer shapes and exact
#: MAC totals of the int8 .tflite models in their module docstrings.
MLTK_DOCS = "Silicon Labs MLTK docs, mltk/models/tinyml/"


def resnet8(num_classes: int = 10, filters: int = 16, bits: int = 8) -> Trace:
    """MLPerf Tiny image classification (CIFAR-10, 32x32x3): ``resnet_v1_eembc`` in
    mlcommons/tiny benchmark/training/image_classification/keras_model.py (v0.5:
    16/32/64 filters). 3x3 conv, three stacks of two 3x3 convs with a residual add + ReLU;
    stacks 2 and 3 downsample with a stride-2 3x3 conv and a 1x1/2 projection conv (no BN)
    on the shortcut; 8x8 average pool; dense softmax."""
    nb = NetBuilder((3, 32, 32), pad="tf", bits=bits)
    nb.conv("conv1", filters, 3, 1, activation="relu")
    for stack, mult in ((1, 1), (2, 2), (3, 4)):
        f, stride, block_in = filters * mult, 1 if stack == 1 else 2, nb.mark()
        nb.conv(f"stack{stack}.conv1", f, 3, stride, activation="relu")
        nb.conv(f"stack{stack}.conv2", f, 3, 1)
        skip = block_in[0]
        if stride != 1:
            main = nb.mark()
            nb.goto(block_in)
            skip = nb.pointwise(f"stack{stack}.shortcut", f, stride=stride, bn=False)
            nb.goto(main)
        nb.add(f"stack{stack}.add", skip, activation="relu")
    nb.global_avgpool("avgpool")
    nb.linear("fc", num_classes, activation="softmax")
    return nb.trace(
        "resnet8",
        "MLPerf Tiny image classification reference ResNet-8 (Banbury et al. 2021); "
        "github.com/mlcommons/tiny benchmark/training/image_classification/keras_model.py "
        "resnet_v1_eembc",
        {"macs": 12_502_000, "params": 78_000, "params_counted_as": "keras",
         "source": f"MACs: {MLTK_DOCS} image_classification (12.502 M); params: ~78 k, "
                   "MLPerf Tiny (Banbury et al. 2021)"})


def ds_cnn(num_classes: int = 12, filters: int = 64, bits: int = 8) -> Trace:
    """MLPerf Tiny keyword spotting DS-CNN (Zhang et al., Hello Edge, 2017, 'DS-CNN small'):
    mlcommons/tiny benchmark/training/keyword_spotting/keras_model.py ``ds_cnn``. Input
    49x10x1 MFCC; 10x4/2 conv (same); 4x (3x3 depthwise + 1x1 conv), all BN + ReLU; average
    pool of ``(int(49/2), int(10/2)) = (24, 5)`` (valid, so the 25th row is dropped, exactly as
    the reference); dense softmax. The Keras summary of the reference model reports 24,908
    parameters (22,604 + 9 BN x 4 x 64)."""
    nb = NetBuilder((1, 49, 10), pad="tf", bits=bits)
    nb.conv("conv1", filters, (10, 4), 2, activation="relu")
    for i in range(1, 5):
        nb.depthwise(f"ds{i}.dw", 3, 1, activation="relu")
        nb.pointwise(f"ds{i}.pw", filters, activation="relu")
    nb.avgpool("avgpool", (49 // 2, 10 // 2))
    nb.linear("fc", num_classes, activation="softmax")
    return nb.trace(
        "ds_cnn",
        "MLPerf Tiny keyword spotting reference DS-CNN (Banbury et al. 2021; Zhang et al., "
        "Hello Edge, arXiv:1711.07128); github.com/mlcommons/tiny "
        "benchmark/training/keyword_spotting/keras_model.py",
        {"macs": 2_657_000, "params": 24_908, "params_counted_as": "keras",
         "source": f"MACs: {MLTK_DOCS} keyword_spotting (2.657 M; Hello Edge: 5.4 M ops); "
                   "params: Keras summary of the reference model (24,908). Hello Edge's "
                   "38.6 KB for DS-CNN small is memory (weights + activations), not params"})


def mobilenet_v1(alpha: float = 0.25, resolution: int = 96, num_classes: int = 2,
                 bits: int = 8) -> Trace:
    """MobileNetV1 (Howard et al. 2017) as the MLPerf Tiny visual wake words reference
    (mlcommons/tiny benchmark/training/visual_wake_words/vww_model.py, from SiliconLabs
    platform_ml_models eembc/Person_detection/mobilenet_v1_eembc.py): 3x3/2 conv, 13
    depthwise-separable blocks (3x3 depthwise + 1x1 conv, BN + ReLU each), average pool over
    the final map, dense softmax. Filters ``int(c * alpha)``."""
    cfg = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)) + ((512, 1),) * 5 + \
          ((1024, 2), (1024, 1))
    nb = NetBuilder((3, resolution, resolution), pad="tf", bits=bits)
    nb.conv("conv1", int(32 * alpha), 3, 2, activation="relu")
    for i, (c, s) in enumerate(cfg, 1):
        nb.depthwise(f"ds{i}.dw", 3, s, activation="relu")
        nb.pointwise(f"ds{i}.pw", int(c * alpha), activation="relu")
    nb.global_avgpool("avgpool")
    nb.linear("fc", num_classes, activation="softmax")
    return nb.trace(
        "mobilenet_v1",
        f"MobileNetV1 (Howard et al. 2017), alpha {alpha}, {resolution}x{resolution}, "
        f"{num_classes} classes: MLPerf Tiny visual wake words reference (Banbury et al. 2021); "
        "github.com/mlcommons/tiny benchmark/training/visual_wake_words",
        {"macs": 7_490_000, "params": 200_000, "params_counted_as": "folded",
         "source": f"MACs: {MLTK_DOCS} visual_wake_words (7.490 M); params: ~0.2 M (one "
                   "significant digit), MLPerf Tiny (Banbury et al. 2021)"}
        if (alpha, resolution, num_classes) != (1.0, 128, 1000) else
        {"macs": 186_000_000, "params": 4_240_000, "params_counted_as": "folded",
         "source": "tensorflow/models research/slim/nets/mobilenet_v1.md table: "
                   "MobileNet_v1_1.0_128, 186 million MACs, 4.24 million parameters"})


def fc_autoencoder(input_dim: int = 640, hidden: int = 128, bottleneck: int = 8,
                   bits: int = 8) -> Trace:
    """MLPerf Tiny anomaly detection (ToyADMOS): the DCASE 2020 Task 2 baseline dense
    autoencoder, mlcommons/tiny benchmark/training/anomaly_detection/keras_model.py: 640 ->
    4x Dense 128 -> Dense 8 -> 4x Dense 128 -> Dense 640, each hidden Dense with BN + ReLU,
    linear output."""
    nb = NetBuilder((input_dim,), bits=bits)
    widths = [hidden] * 4 + [bottleneck] + [hidden] * 4
    for i, f in enumerate(widths, 1):
        nb.linear(f"dense{i}", f, activation="relu", bn=True)
    nb.linear(f"dense{len(widths) + 1}", input_dim)
    return nb.trace(
        "fc_autoencoder",
        "MLPerf Tiny anomaly detection reference FC autoencoder (Banbury et al. 2021; DCASE "
        "2020 Task 2 baseline, Koizumi et al.); github.com/mlcommons/tiny "
        "benchmark/training/anomaly_detection/keras_model.py",
        {"macs": 264_192, "params": 270_000, "params_counted_as": "keras",
         "source": f"MACs: {MLTK_DOCS} anomaly_detection (264.192 k); params: ~0.27 M, "
                   "MLPerf Tiny (Banbury et al. 2021)"})


# ------------------------------------------------------------------------------------------
# ResNet (He et al., Deep Residual Learning for Image Recognition, CVPR 2016)
# ------------------------------------------------------------------------------------------
def _resnet(block: str, counts, num_classes, resolution, stride_in_3x3, bits) -> NetBuilder:
    nb = NetBuilder((3, resolution, resolution), pad="torch", bits=bits)
    nb.conv("conv1", 64, 7, 2, activation="relu")
    nb.maxpool("maxpool", 3, 2, padding=1)
    expansion = 4 if block == "bottleneck" else 1
    for stage, (n, width) in enumerate(zip(counts, (64, 128, 256, 512)), 1):
        for j in range(n):
            p, stride = f"layer{stage}.{j}", 2 if stage > 1 and j == 0 else 1
            cin, cout, block_in = nb.shape[0], width * expansion, nb.mark()
            if block == "basic":
                nb.conv(f"{p}.conv1", width, 3, stride, activation="relu")
                nb.conv(f"{p}.conv2", width, 3, 1)
            else:  # torchvision (v1.5) strides the 3x3 conv; the paper (v1) the first 1x1
                s1, s3 = (1, stride) if stride_in_3x3 else (stride, 1)
                nb.pointwise(f"{p}.conv1", width, stride=s1, activation="relu")
                nb.conv(f"{p}.conv2", width, 3, s3, activation="relu")
                nb.pointwise(f"{p}.conv3", cout)
            skip = block_in[0]
            if stride != 1 or cin != cout:  # projection shortcut (option B), its own layer
                main = nb.mark()
                nb.goto(block_in)
                skip = nb.pointwise(f"{p}.downsample", cout, stride=stride)
                nb.goto(main)
            nb.add(f"{p}.add", skip, activation="relu")
    nb.global_avgpool("avgpool")
    nb.linear("fc", num_classes)
    return nb


def resnet18(num_classes: int = 1000, resolution: int = 224, bits: int = 8) -> Trace:
    """ResNet-18 (He et al. 2016, Table 1) as torchvision ``resnet18``: basic blocks
    [2, 2, 2, 2], 1x1 projection shortcuts where the shape changes. Published: 1.8 G FLOPs
    (multiply-adds, Table 1); torchvision: 11,689,512 parameters, 1.81 GFLOPS."""
    nb = _resnet("basic", (2, 2, 2, 2), num_classes, resolution, True, bits)
    return nb.trace(
        "resnet18",
        "He et al., Deep Residual Learning for Image Recognition, CVPR 2016, Table 1; layer "
        "details as torchvision models.resnet18",
        {"macs": 1_800_000_000, "params": 11_689_512, "params_counted_as": "torch",
         "source": "MACs: He et al. 2016 Table 1 (1.8e9 FLOPs, i.e. multiply-adds); params: "
                   "torchvision resnet18 docs, 11,689,512 = params + folded_bn_channels"})


def resnet50(num_classes: int = 1000, resolution: int = 224, stride_in_3x3: bool = True,
             bits: int = 8) -> Trace:
    """ResNet-50 (He et al. 2016, Table 1): bottleneck blocks [3, 4, 6, 3]. Default is the
    torchvision (``v1.5``) variant that strides the 3x3 conv: 4.09 G MACs, 25,557,032
    parameters; ``stride_in_3x3=False`` gives the paper's v1 (stride in the first 1x1 conv;
    3.8 G multiply-adds in Table 1, same parameters)."""
    nb = _resnet("bottleneck", (3, 4, 6, 3), num_classes, resolution,
                 stride_in_3x3, bits)
    v15 = stride_in_3x3
    return nb.trace(
        "resnet50",
        "He et al., Deep Residual Learning for Image Recognition, CVPR 2016, Table 1; layer "
        + ("details as torchvision models.resnet50 (v1.5: stride in the 3x3 conv)" if v15 else
           "details as the paper (v1: stride in the first 1x1 conv)"),
        {"macs": 4_090_000_000 if v15 else 3_800_000_000,
         "params": 25_557_032, "params_counted_as": "torch",
         "source": ("MACs: torchvision resnet50 docs (4.09 GFLOPS, v1.5)" if v15 else
                    "MACs: He et al. 2016 Table 1 (3.8e9 multiply-adds)") +
                   "; params: torchvision docs, 25,557,032 = params + folded_bn_channels"})


# ------------------------------------------------------------------------------------------
# EfficientNet-B0
# ------------------------------------------------------------------------------------------
#: Tan & Le, "EfficientNet: Rethinking Model Scaling for CNNs", ICML 2019, Table 1 (B0): per
#: stage (expansion t, kernel k, first stride s, output channels c, repeats n), as
#: torchvision ``efficientnet_b0`` (``_efficientnet_conf``, width = depth = 1.0).
EFFICIENTNET_B0_CFG = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                       (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))


def efficientnet_b0(num_classes: int = 1000, resolution: int = 224, bits: int = 8) -> Trace:
    """EfficientNet-B0 as torchvision ``efficientnet_b0``: 3x3/2 stem to 32 (SiLU), 16 MBConv
    blocks (expand 1x1 + SiLU when t > 1; depthwise k x k + SiLU; squeeze-excite with
    ``max(1, C_in // 4)`` channels: global pool, 1x1 + SiLU, 1x1 + sigmoid (both biased, no
    BN), channel scaling; project 1x1; residual add when stride 1 and C_in == C_out), 1x1 conv
    to 1280 (SiLU), global pool, linear. Published: 0.39 B FLOPs (multiply-adds) and 5.3 M
    parameters (Tan & Le 2019, Table 2); torchvision: 5,288,548 parameters, 0.39 GFLOPS."""
    nb = NetBuilder((3, resolution, resolution), pad="torch", bits=bits)
    nb.conv("stem", 32, 3, 2, activation="silu")
    i = 0
    for t, k, s, cout, n in EFFICIENTNET_B0_CFG:
        for j in range(n):
            p, stride = f"block{i}", s if j == 0 else 1
            cin, block_in = nb.shape[0], nb.mark()
            if t != 1:
                nb.pointwise(f"{p}.expand", cin * t, activation="silu")
            dw = nb.depthwise(f"{p}.dw", k, stride, activation="silu")
            nb.global_avgpool(f"{p}.se.pool")
            nb.pointwise(f"{p}.se.reduce", max(1, cin // 4), activation="silu", bn=False)
            se = nb.pointwise(f"{p}.se.expand", nb.output_shape(dw)[0], activation="sigmoid",
                              bn=False)
            nb.scale(f"{p}.se.scale", dw, se)
            nb.pointwise(f"{p}.project", cout)
            if stride == 1 and cin == cout:
                nb.add(f"{p}.add", block_in[0])
            i += 1
    nb.pointwise("head", 1280, activation="silu")
    nb.global_avgpool("avgpool")
    nb.linear("classifier", num_classes)
    return nb.trace(
        "efficientnet_b0",
        "Tan & Le, EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks, "
        "ICML 2019, Table 1; layer details as torchvision models.efficientnet_b0",
        {"macs": 390_000_000, "params": 5_288_548, "params_counted_as": "torch",
         "source": "MACs: Tan & Le 2019 Table 2 (0.39B FLOPS, multiply-adds); params: "
                   "torchvision efficientnet_b0 docs, 5,288,548 = params + folded_bn_channels"})


# ------------------------------------------------------------------------------------------
# Keyword Transformer (KWT)
# ------------------------------------------------------------------------------------------
#: Berg, O'Connor, Tairum Cruz, "Keyword Transformer: A Self-Attention Model for Keyword
#: Spotting", Interspeech 2021, Table 1: embedding dim, MLP dim, heads, depth, parameters.
KWT_CFG = {"kwt1": (64, 256, 1, 12, 607_000), "kwt2": (128, 512, 2, 12, 2_394_000),
           "kwt3": (192, 768, 3, 12, 5_361_000)}


def kwt(variant: str = "kwt1", num_classes: int = 12, frames: int = 98, mfcc: int = 40,
        bits: int = 8) -> Trace:
    """Keyword Transformer (Berg et al. 2021) as its reference code (ARM-software/
    keyword-transformer, ``kws_streaming/models/kwt.py``): each of the ``frames`` MFCC frames
    (``mfcc`` coefficients, 40 x 98 for 1 s of audio) is a token, projected to ``dim``
    (linear with bias); a class token is prepended (``pad``: one row written) and the position
    embedding added (``add``); ``depth`` post-norm encoder layers (Q, K, V projections without
    bias, ``heads`` x 64-wide heads, scaled dot-product attention, output projection, residual
    add, LayerNorm, MLP ``dim -> mlp -> dim`` with GELU, residual add, LayerNorm); the class
    token (``slice``) through LayerNorm and a linear head. The head split of Q, K, V is read
    in place by the matmuls (strided rows), merging several heads back is a ``transpose``
    copy (as :mod:`hwsim.workload.onnx_import` maps them). The class token and the position
    embedding (``dim + (frames + 1) x dim`` values) are constants, not layer weights:
    ``meta["embedding_params"]`` counts them, so params + embedding_params is the paper's
    figure (Table 1: KWT-1 607K, KWT-2 2,394K, KWT-3 5,361K with 12 classes)."""
    dim, mlp, heads, depth, published = KWT_CFG[variant]
    t, dh = frames + 1, dim // heads
    layers: list = []

    def add(name, op, ishape, oshape, inputs, **kw):
        layers.append(Layer(name=name, op=op, input_shape=tuple(ishape), output_shape=tuple(oshape),
                            bits_input=bits, bits_weight=bits, bits_output=bits,
                            inputs=tuple(inputs), **kw))
        return name

    x = add("embed", "linear", (frames, mfcc), (frames, dim), ())
    x = add("cls_token", "pad", (frames, dim), (t, dim), (x,))
    x = add("pos_embed", "add", (t, dim), (t, dim), (x,), bias=False)
    for i in range(depth):
        p = f"layer{i}"
        q, k, v = (add(f"{p}.{n}", "linear", (t, dim), (t, dim), (x,), bias=False) for n in "qkv")
        s = add(f"{p}.scores", "matmul", (heads, t, dh), (heads, t, t), (q, k),
                input_shapes=((heads, t, dh), (heads, dh, t)))
        s = add(f"{p}.softmax", "softmax", (heads, t, t), (heads, t, t), (s,), axis=2)
        c = add(f"{p}.context", "matmul", (heads, t, t), (heads, t, dh), (s, v),
                input_shapes=((heads, t, t), (heads, t, dh)))
        if heads > 1:   # merge the heads: [h, T, dh] -> [T, h, dh] moves data
            c = add(f"{p}.merge", "transpose", (heads, t, dh), (t, heads, dh), (c,), perm=(1, 0, 2))
        o = add(f"{p}.out", "linear", (t, dim), (t, dim), (c,))
        r = add(f"{p}.add1", "add", (t, dim), (t, dim), (x, o), bias=False)
        n1 = add(f"{p}.norm1", "layernorm", (t, dim), (t, dim), (r,))
        h = add(f"{p}.mlp1", "linear", (t, dim), (t, mlp), (n1,), activation="gelu")
        h = add(f"{p}.mlp2", "linear", (t, mlp), (t, dim), (h,))
        r = add(f"{p}.add2", "add", (t, dim), (t, dim), (n1, h), bias=False)
        x = add(f"{p}.norm2", "layernorm", (t, dim), (t, dim), (r,))
    x = add("cls_out", "slice", (t, dim), (1, dim), (x,))
    x = add("head_norm", "layernorm", (1, dim), (1, dim), (x,))
    add("head", "linear", (dim,), (num_classes,), (x,))
    meta = {"generator": GENERATOR, "input_shape": [frames, mfcc],
            "embedding_params": dim + t * dim, "constant_operands": ["pos_embed"],
            "reference": {"params": published, "params_counted_as": "folded+embedding",
                          "source": "Berg et al., Interspeech 2021, Table 1 (parameters, "
                                    "rounded to thousands; 12 keywords)"}}
    return Trace(name=variant, layers=tuple(layers),
                 source="Berg, O'Connor, Tairum Cruz, Keyword Transformer: A Self-Attention "
                        "Model for Keyword Spotting, Interspeech 2021; layer details as "
                        "ARM-software/keyword-transformer kws_streaming/models/kwt.py", meta=meta)


# ------------------------------------------------------------------------------------------
# Registry
# ------------------------------------------------------------------------------------------
#: name -> builder; each name is also the stem of the trace file in ``traces/``.
NETWORKS = {
    "mobilenetv2": mobilenet_v2,
    "mobilenetv2_bottleneck": mobilenetv2_bottleneck,
    "resnet8": resnet8,
    "ds_cnn": ds_cnn,
    "mobilenet_v1_025": partial(mobilenet_v1, alpha=0.25, resolution=96, num_classes=2),
    "fc_autoencoder": fc_autoencoder,
    "resnet18": resnet18,
    # Bruschi et al. (DATE 2023) run ResNet-18 on 256 x 256 inputs (batch 16: `hwsim run --batch 16`)
    "resnet18_256": partial(resnet18, resolution=256),
    # Garofalo et al. (JETCAS 2022): 4-bit weights on the IMA (dense layers), 8-bit elsewhere
    # DORY (Burrello et al. IEEE TC 2021) reports 1.0-MobileNet-128 end to end on GAP8
    "mobilenet_v1_128": partial(mobilenet_v1, alpha=1.0, resolution=128, num_classes=1000),
    "mobilenetv2_bottleneck_w4": partial(mobilenetv2_bottleneck, dense_weight_bits=4),
    "mobilenetv2_w4": partial(mobilenet_v2, dense_weight_bits=4),
    "resnet50": resnet50,
    "efficientnet_b0": efficientnet_b0,
    "kwt1": partial(kwt, "kwt1"),
}


#: bounds of a builder's whole-number options (resolution, classes, filters, ...):
#: beyond them a network is not a TinyML model and its trace alone takes minutes to build
MAX_INT_OPTION = 65536


def _check_options(name: str, builder, options: dict) -> None:
    """Each option must be a parameter of the builder with a value of its default's type:
    whole numbers in 1..:data:`MAX_INT_OPTION` (``bits`` 1..64), fractions > 0 and <= 1000."""
    import inspect

    from ..base.errors import ConfigError, did_you_mean

    params = inspect.signature(builder).parameters
    where = f"zoo network {name}"
    for key, v in options.items():
        fld = f"trace.{key}"
        if key not in params:
            raise ConfigError(where, fld, f"unknown option of the {name} builder",
                              did_you_mean(key, params))
        d = params[key].default
        if isinstance(d, bool):
            ok, want = isinstance(v, bool), "true or false"
        elif isinstance(d, int):
            hi = 64 if key == "bits" else MAX_INT_OPTION
            ok = isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= hi
            want = f"a whole number in 1..{hi}"
        elif isinstance(d, float):
            ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                  and 0 < v <= 1000)
            want = "a number > 0 and <= 1000"
        else:
            ok, want = isinstance(v, type(d)), f"a {type(d).__name__}"
        if not ok:
            raise ConfigError(where, fld, f"expected {want}, got {v!r}")


def build(name: str, **options) -> Trace:
    """Build the trace of network ``name`` (a key of :data:`NETWORKS`); ``options`` are passed
    to its builder, and a trace built with options is named ``name`` plus them. Options are
    checked (:func:`_check_options`) and a trace built with options is validated like a file,
    so a resolution too small for the network is a ``ConfigError``, never a wrong trace."""
    from ..base.errors import ConfigError
    from .trace import trace_from_dict

    try:
        builder = NETWORKS[name]
    except KeyError:
        raise KeyError(f"unknown network {name!r}; known: {', '.join(NETWORKS)}") from None
    _check_options(name, builder, options)
    suffix = "".join(f"_{k}{v}" for k, v in sorted(options.items()))
    where = f"zoo network {name}" + (f" ({suffix[1:]})" if suffix else "")
    try:
        trace = builder(**options)
    except (ArithmeticError, ValueError, IndexError) as e:
        raise ConfigError(where, "trace options", f"no valid network with these options ({e})",
                          "use larger values") from None
    if options:
        trace = trace_from_dict(trace.to_dict(), where)
    return Trace(name=name + suffix, layers=trace.layers, source=trace.source, meta=trace.meta)
