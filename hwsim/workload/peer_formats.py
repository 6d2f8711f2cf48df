"""Workloads of peer simulators as layer traces: SCALE-Sim topology CSV and ZigZag workload
YAML (``hwsim import-scalesim`` / ``hwsim import-zigzag``). Platforms from their hardware
files: :mod:`hwsim.hardware.peer_formats`.

What a format lacks is defaulted and the default is written into the trace's ``source`` and
``meta["assumptions"]`` (and printed by the CLI):

SCALE-Sim topology (``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width,
Channels, Num Filter, Strides``; GEMM variant ``Layer, M, N, K``):

* sizes are elements; no precision column: every operand gets ``bits`` (default 8);
* IFMAP sizes *include* the padding: output = (IFMAP - filter) // stride + 1;
* a row with ``Num Filter = 1``, ``Channels > 1`` and a filter larger than 1x1 is a depthwise
  layer (SCALE-Sim's convention, e.g. its mobilenet.csv), ``depthwise_rows=False`` keeps it a
  one-filter convolution;
* the file is a list, not a graph: a row reads the previous row's output when the channels
  agree and its IFMAP is the previous output plus padding (padding = the difference, the odd
  row at the bottom/right); otherwise it reads a fresh network input (``inputs: [input]``)
  with its padded IFMAP as the input (no padding);
* GEMM rows ``M, N, K``: ``A [M, K] x B [K, N]`` with B the filter operand: a per-token
  ``linear`` ``[M, K] -> [M, N]``.

ZigZag workload (list of layers with ``loop_dims`` / ``loop_sizes``, ``operand_source``,
``operand_precision``, ``dimension_relations``, optional ``padding``):

* ``Conv`` with ``K, C`` (``G`` = groups when present), depthwise when the loops have ``G``
  and no ``K``/``C``; ``Gemm``/``MatMul`` (``K, C`` and optionally ``D``/``OY`` tokens) as
  ``linear``; ``Pooling`` as ``maxpool`` unless the window covers the whole input (then
  ``avgpool``: the format does not say which, ASSUMED); ``Add``/``Mul`` as elementwise layers;
* input extent from the relations (``ix = s*ox + d*fx``): s*(OX-1) + FX; ``padding``
  ``[[top, bottom], [left, right]]`` when given, else padding = extent - the producer's
  output (the first layer: the input is the padded extent, no padding);
* widths: ``I``/``W`` precision, the output at ``O_final`` (``O`` is the partial sum);
* ``operand_source.I`` equal to the layer's own id (or absent) means the network input.
"""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

from ..base.errors import ConfigError
from .trace import NETWORK_INPUT, Trace, trace_from_dict

__all__ = ["scalesim_topology", "zigzag_workload"]


def _read(path, kind) -> str:
    path = Path(path)
    try:
        return path.read_text()
    except FileNotFoundError:
        raise ConfigError(path, "", f"no such {kind} file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, "", f"cannot read the {kind} file: {e}") from None


def _int(v, file, fld) -> int:
    try:
        x = int(str(v).strip())
    except ValueError:
        raise ConfigError(file, fld, f"expected a positive integer, got {v!r}") from None
    if x < 1:
        raise ConfigError(file, fld, f"expected a positive integer, got {x}")
    return x


def _finish(name, layers, file, source, assumptions) -> Trace:
    data = {"name": name, "source": source, "assumptions": assumptions, "layers": layers}
    return trace_from_dict(data, str(file))


# ------------------------------------------------------------------------------------------
def scalesim_topology(path, *, bits: int = 8, depthwise_rows: bool = True,
                      name: str | None = None) -> Trace:
    """A SCALE-Sim topology CSV (conv or GEMM variant) as a trace; see the module docstring."""
    file = str(path)
    rows = [r for r in csv.reader(_read(path, "SCALE-Sim topology").splitlines())
            if any(c.strip() for c in r)]
    if not rows:
        raise ConfigError(file, "", "empty topology file")
    head = [c.strip().lower() for c in rows[0] if c.strip()]
    gemm = head[1:4] == ["m", "n", "k"]
    if not gemm and (len(head) < 8 or not head[1].startswith("ifmap")):
        raise ConfigError(file, "line 1", f"unrecognised header {rows[0]!r}",
                          "expected 'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter "
                          "Width, Channels, Num Filter, Strides' or 'Layer, M, N, K'")
    bits_d = {"input": bits, "weight": bits, "output": bits}
    layers, prev, names = [], None, set()
    for i, r in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in r]
        nm = cells[0] or f"layer{i - 1}"
        while nm in names or nm == NETWORK_INPUT:
            nm += "_"
        names.add(nm)
        if gemm:
            if len(cells) < 4:
                raise ConfigError(file, f"line {i}", "expected 'Layer, M, N, K'")
            m, n, k = (_int(cells[j], file, f"line {i} ({nm}).{('M', 'N', 'K')[j - 1]}")
                       for j in (1, 2, 3))
            rec = {"name": nm, "op": "linear", "input_shape": [m, k], "output_shape": [m, n],
                   "bits": bits_d, "bias": False}
            if prev is not None and math.prod(prev["output_shape"]) != m * k:
                rec["inputs"] = [NETWORK_INPUT]
            layers.append(rec)
            prev = rec
            continue
        if len(cells) < 8:
            raise ConfigError(file, f"line {i} ({nm})", f"expected 8 columns, got {len(cells)}")
        fields = ("IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
                  "Num Filter", "Strides")
        h, w, fh, fw, c, nf, s = (_int(cells[j + 1], file, f"line {i} ({nm}).{f}")
                                  for j, f in enumerate(fields))
        if fh > h or fw > w:
            raise ConfigError(file, f"line {i} ({nm}).Filter Height",
                              f"filter {fh}x{fw} larger than the IFMAP {h}x{w}")
        ho, wo = (h - fh) // s + 1, (w - fw) // s + 1
        dw = depthwise_rows and nf == 1 and c > 1 and fh * fw > 1
        cout = c if dw else nf
        op = "depthwise" if dw else "pointwise" if (fh, fw) == (1, 1) else "conv2d"
        rec = {"name": nm, "op": op, "kernel": [fh, fw], "stride": [s, s],
               "output_shape": [cout, ho, wo], "bits": bits_d, "bias": False}
        if dw:
            rec["groups"] = c
        p = prev["output_shape"] if prev is not None else None
        if p is not None and len(p) == 3 and p[0] == c and h >= p[1] and w >= p[2]:
            ph, pw = h - p[1], w - p[2]
            rec["input_shape"] = [c, p[1], p[2]]
            rec["padding"] = [ph // 2, pw // 2, ph - ph // 2, pw - pw // 2]
            rec["output_shape"] = [cout, (p[1] + ph - fh) // s + 1, (p[2] + pw - fw) // s + 1]
        else:
            rec["input_shape"] = [c, h, w]
            if prev is not None:
                rec["inputs"] = [NETWORK_INPUT]
        layers.append(rec)
        prev = rec
    if not layers:
        raise ConfigError(file, "", "no layer rows after the header")
    assumptions = [f"no precision in SCALE-Sim topologies: {bits}-bit operands",
                   "IFMAP sizes include padding; a row chains to the previous one when the "
                   "channels agree and its IFMAP covers the previous output, else it reads a "
                   "fresh input", "no bias, no activation, no pooling / add layers (none in "
                   "the format)"]
    if depthwise_rows and not gemm:
        assumptions.append("rows with Num Filter = 1, Channels > 1 and a filter > 1x1 are "
                           "depthwise (SCALE-Sim's convention)")
    return _finish(name or Path(file).stem, layers, file,
                   f"SCALE-Sim topology {Path(file).name} (imported)", assumptions)


# ------------------------------------------------------------------------------------------
_REL = re.compile(r"^\s*(i[xy])\s*=\s*(\d+)\s*\*\s*o[xy]\s*\+\s*(\d+)\s*\*\s*f[xy]\s*$")


def zigzag_workload(path, *, name: str | None = None) -> Trace:
    """A ZigZag workload YAML as a trace; see the module docstring."""
    import yaml

    file = str(path)
    try:
        data = yaml.safe_load(_read(path, "ZigZag workload"))
    except yaml.YAMLError as e:
        raise ConfigError(file, "", f"invalid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, list) or not data:
        raise ConfigError(file, "", "a ZigZag workload is a YAML list of layers")
    layers, by_id, names = [], {}, set()
    for i, d in enumerate(data):
        where = f"[{i}]"
        if not isinstance(d, dict) or "id" not in d or "operator_type" not in d:
            raise ConfigError(file, where, "each layer needs 'id' and 'operator_type'")
        lid, optype = d["id"], str(d["operator_type"])
        where = f"[{i}] (id {lid})"
        dims, sizes = d.get("loop_dims"), d.get("loop_sizes")
        if not isinstance(dims, list) or not isinstance(sizes, list) or len(dims) != len(sizes):
            raise ConfigError(file, f"{where}.loop_sizes", "loop_dims and loop_sizes must be lists "
                              "of equal length")
        L = {str(k).upper(): _int(v, file, f"{where}.loop_sizes.{k}") for k, v in zip(dims, sizes)}
        prec = d.get("operand_precision") or {}
        bits = {"input": int(prec.get("I", 8) or 8), "weight": int(prec.get("W", 8) or 8),
                "output": int(prec.get("O_final", prec.get("O", 8)) or 8)}
        src = d.get("operand_source") or {}
        nm = str(d.get("name") or f"layer{lid}")
        while nm in names or nm == NETWORK_INPUT:
            nm += f"_{lid}"
        names.add(nm)

        def producer(key):
            s = src.get(key)
            return None if s is None or s == lid or s not in by_id else by_id[s]

        b = L.get("B", 1)
        rec = {"name": nm, "bits": bits}
        if b != 1:
            rec["batch"] = b
        pin = producer("I")
        if optype in ("Add", "Mul", "Sub", "Div"):
            c = L.get("G", L.get("K", 1))
            shape = [c, L.get("OY", 1), L.get("OX", 1)] if "OY" in L or "OX" in L else [c]
            ins = [producer(k) for k in ("I", "W")]
            rec.update(op=optype.lower(), input_shape=shape, output_shape=shape,
                       inputs=[p["name"] if p else NETWORK_INPUT for p in ins])
        elif optype in ("Gemm", "MatMul") or ("OY" not in L and "OX" not in L and "K" in L):
            tokens = L.get("D", 1) * L.get("OY", 1) * L.get("OX", 1)
            rec.update(op="linear", input_shape=[tokens, L["C"]] if tokens > 1 else [L["C"]],
                       output_shape=[tokens, L["K"]] if tokens > 1 else [L["K"]], bias=False)
        elif optype in ("Conv", "Pooling", "Conv_downsample"):
            fy, fx, oy, ox = L.get("FY", 1), L.get("FX", 1), L.get("OY", 1), L.get("OX", 1)
            st = {"iy": (1, 1), "ix": (1, 1)}
            for rel in d.get("dimension_relations") or []:
                m = _REL.match(str(rel))
                if not m:
                    raise ConfigError(file, f"{where}.dimension_relations", f"cannot read {rel!r}",
                                      "expected e.g. ix=2*ox+1*fx")
                st[m.group(1)] = (int(m.group(2)), int(m.group(3)))
            if st["iy"][1] != 1 or st["ix"][1] != 1:
                raise ConfigError(file, f"{where}.dimension_relations", "dilated windows are not "
                                  "supported", "use dilation 1")
            sy, sx = st["iy"][0], st["ix"][0]
            ey, ex = sy * (oy - 1) + fy, sx * (ox - 1) + fx
            if optype == "Pooling":
                c = L.get("G", L.get("K", L.get("C", 1)))
                cin, cout, groups = c, c, 1
                whole = pin is not None and pin["output_shape"][1:] == [fy, fx] or (oy, ox) == (1, 1)
                op = "avgpool" if whole else "maxpool"
            elif "G" in L and "K" not in L and "C" not in L:
                cin = cout = groups = L["G"]
                op = "depthwise"
            else:
                g = L.get("G", 1)
                cin, cout, groups = L["C"] * g, L["K"] * g, g
                op = "depthwise" if groups == cin > 1 and L["C"] == 1 else \
                    "pointwise" if (fy, fx) == (1, 1) and groups == 1 else "conv2d"
            pad = d.get("padding")
            if pad is not None:
                try:
                    (pt, pb), (pl, pr) = pad
                except (TypeError, ValueError):
                    raise ConfigError(file, f"{where}.padding", f"expected [[top, bottom], [left, "
                                      f"right]], got {pad!r}") from None
                hin, win = ey - pt - pb, ex - pl - pr
            elif pin is not None and len(pin["output_shape"]) == 3 \
                    and pin["output_shape"][0] == cin and pin["output_shape"][1] <= ey \
                    and pin["output_shape"][2] <= ex:
                hin, win = pin["output_shape"][1:]
                ph, pw = ey - hin, ex - win
                pt, pl, pb, pr = ph // 2, pw // 2, ph - ph // 2, pw - pw // 2
            else:
                hin, win, pt, pl, pb, pr = ey, ex, 0, 0, 0, 0
            rec.update(op=op, input_shape=[cin, hin, win], output_shape=[cout, oy, ox],
                       kernel=[fy, fx], stride=[sy, sx], padding=[pt, pl, pb, pr])
            if op in ("conv2d", "pointwise", "depthwise"):
                rec["bias"] = False
            if groups > 1:
                rec["groups"] = groups
        else:
            raise ConfigError(file, f"{where}.operator_type", f"unsupported operator {optype!r}",
                              "supported: Conv, Pooling, Gemm, MatMul, Add, Mul, Sub, Div")
        if "inputs" not in rec:
            rec["inputs"] = [pin["name"] if pin else NETWORK_INPUT]
            if pin is not None and math.prod(pin["output_shape"]) != math.prod(rec["input_shape"]):
                rec["inputs"] = [NETWORK_INPUT]   # a flatten/reshape ZigZag leaves implicit
                if rec["op"] == "linear" and math.prod(pin["output_shape"]) == L.get("C"):
                    rec["inputs"] = [pin["name"]]
        layers.append(rec)
        by_id[lid] = rec
    return _finish(name or Path(file).stem, layers, file,
                   f"ZigZag workload {Path(file).name} (imported)",
                   ["Pooling is maxpool unless its window covers the whole input (avgpool): "
                    "ZigZag does not say", "no bias (ZigZag has no bias operand)",
                    "padding = input extent from the relations minus the producer's output "
                    "when the layer states none"])
