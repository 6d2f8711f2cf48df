"""JSON Schemas (draft 2020-12) of the platform and trace formats, for editors and CI.

Both are *generated* from the definitions the validators use, so they cannot drift apart:
the platform schema from the component dataclasses of :mod:`hwsim.hardware.platform` and the
``spec()`` metadata of their fields (unit, bounds, choices, doc, kind), the trace schema from
:data:`hwsim.workload.trace.LAYER_SPEC`. The schema checks structure, types and bounds; what a schema
cannot express (references between components, connectivity, shape arithmetic, derived
MACs) stays with the loaders, which remain the authority.

``hwsim schema platform`` / ``hwsim schema trace`` print them; committed copies live in
``docs/schema/`` (a test keeps them equal to the generated ones). For YAML files, point the
editor at the schema, e.g. VS Code's YAML extension with the first line
``# yaml-language-server: $schema=../docs/schema/platform.schema.json``.
"""
from __future__ import annotations

import dataclasses
import json

from .platform import (COMPONENT_TYPES, FREQ_RANGE, PLATFORM_FORMAT, UNIT_BOUNDS, Link,
                       default_invalid)
from ..workload.trace import (BITS_FIELDS, LAYER_REQUIRED, LAYER_SPEC, OPS, TRACE_FORMAT)

__all__ = ["DRAFT", "SIZE_PATTERN", "FREQ_PATTERN", "NUMBER_PATTERN", "field_schema",
           "platform_schema", "trace_schema", "SCHEMAS", "schema_text"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SIZE_PATTERN = r"^\s*[-+]?[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?\s*([kKmMgG]i?[bB]|[bB])?\s*$"
FREQ_PATTERN = r"^\s*[-+]?[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?\s*([kKmMgG]?[hH][zZ])?\s*$"
NUMBER_PATTERN = r"^\s*[-+]?[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?\s*$"


def _number(unit: str, integer: bool, md: dict) -> dict:
    num = {"type": "integer" if integer else "number"}
    if md.get("gt") is not None:
        num["exclusiveMinimum"] = md["gt"]
    if md.get("min") is not None:
        num["minimum"] = md["min"]
    if md.get("least") is not None:    # physical bounds (UNIT_BOUNDS)
        num["minimum"] = max(md["least"], md.get("min") or 0)
    if md.get("max") is not None:
        num["maximum"] = md["max"]
    pattern = SIZE_PATTERN if unit == "bytes" else FREQ_PATTERN if unit == "Hz" else NUMBER_PATTERN
    # a string quantity ("64 KiB") is checked for form here and for bounds by the loader
    return {"oneOf": [num, {"type": "string", "pattern": pattern}]}


def _throughput_table() -> dict:
    lo, hi = UNIT_BOUNDS["ops/cycle/core"]
    thr = {"oneOf": [{"type": "number", "minimum": lo, "maximum": hi},
                     {"type": "string", "pattern": NUMBER_PATTERN}]}
    per_bits = {"type": "object", "propertyNames": {"pattern": "^([1-9][0-9]*|any)$"},
                "additionalProperties": thr}
    return {"type": "object", "propertyNames": {"enum": list(OPS)},
            "additionalProperties": {"oneOf": [thr["oneOf"][0], thr["oneOf"][1], per_bits]}}


def field_schema(f) -> dict:
    """Schema of one dataclass field from its ``spec()`` metadata."""
    md = f.metadata
    kind, unit = md.get("kind"), md.get("unit", "")
    desc = md.get("doc", "") + (f" [{unit}]" if unit else "")
    if kind == "clock":
        s = {"type": "string", "description": desc + " (a key of `clocks`)"}
    elif kind and kind.startswith("ref:"):
        s = {"type": "string", "description": desc + f" (name of a {kind[4:]})"}
    elif kind == "kernels":
        s = _throughput_table()
    elif kind == "op_energy":
        val = {"oneOf": [{"type": "number", "minimum": 0, "maximum": UNIT_BOUNDS["pJ"][1]},
                         {"type": "string", "pattern": NUMBER_PATTERN}]}
        s = {"type": "object", "propertyNames": {"enum": list(OPS) + ["default"]},
             "additionalProperties": val}
    elif md.get("choices"):
        s = {"enum": list(md["choices"])}
    elif f.type in ("str", str):
        s = {"type": "string"}
    elif f.type in ("bool", bool):
        s = {"type": "boolean"}
    else:
        s = _number(unit, f.type in ("int", int), md)
    s.setdefault("description", desc)
    if f.default is not dataclasses.MISSING and not default_invalid(f) and not kind:
        s["default"] = f.default
    return s


def _object(cls, skip=("name",), extra: dict | None = None) -> tuple:
    props, required = {}, []
    skip = tuple(skip) + tuple(getattr(cls, "DERIVED", ()))   # derived fields are never given
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        props[f.name] = field_schema(f)
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default or default_invalid(f) or (f.metadata.get("kind") or "").startswith("ref:"):
            required.append(f.name)
    props.update(extra or {})
    return props, required


def platform_schema() -> dict:
    """The JSON Schema of a platform file (``hwsim-platform/1``)."""
    defs, branches = {}, []
    for tname, cls in COMPONENT_TYPES.items():
        props, required = _object(cls, extra={"type": {"const": tname}})
        defs[tname] = {"type": "object", "description": (cls.__doc__ or "").strip().split("\n\n")[0],
                       "properties": props, "required": ["type"] + required,
                       "additionalProperties": False}
        branches.append({"if": {"properties": {"type": {"const": tname}}, "required": ["type"]},
                         "then": {"$ref": f"#/$defs/{tname}"}})
    component = {"type": "object", "required": ["type"],
                 "properties": {"type": {"enum": list(COMPONENT_TYPES)}}, "allOf": branches}
    lprops, lreq = _object(Link, skip=())
    lprops["between"] = {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2,
                         "description": "the two ends [a, b] (instead of a and b)"}
    ends = [r for r in lreq if r in ("a", "b")]
    link = {"type": "object", "properties": lprops, "additionalProperties": False,
            "required": [r for r in lreq if r not in ends],
            "oneOf": [{"required": ["between"], "not": {"anyOf": [{"required": ["a"]},
                                                                    {"required": ["b"]}]}},
                      {"required": ends, "not": {"required": ["between"]}}]}
    defs["link"] = link
    freq = {"oneOf": [{"type": "number", "minimum": FREQ_RANGE[0], "maximum": FREQ_RANGE[1]},
                      {"type": "string", "pattern": FREQ_PATTERN}]}
    return {
        "$schema": DRAFT,
        "$id": "https://hwsim.invalid/schema/platform.schema.json",
        "title": "hwsim platform",
        "description": "A hardware platform: clock domains, components and the links between them. "
                       "Generated by `hwsim schema platform` from hwsim/hardware/platform.py.",
        "type": "object",
        "additionalProperties": False,
        "required": ["clocks", "components"],
        "properties": {
            "format": {"const": PLATFORM_FORMAT},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "source": {"type": "string"},
            "reference_clock": {"type": "string", "description": "clock whose cycles the report uses"},
            "clocks": {"type": "object", "minProperties": 1,
                       "additionalProperties": {"oneOf": [
                           freq, {"type": "object", "properties": {"freq_hz": freq},
                                  "required": ["freq_hz"], "additionalProperties": False}]},
                       "description": "clock domain name -> frequency (Hz, or '170 MHz')"},
            "components": {"type": "object", "minProperties": 1,
                           "propertyNames": {"pattern": "^[A-Za-z0-9_][A-Za-z0-9_-]*$"},
                           "additionalProperties": component},
            "links": {"type": "array", "items": {"$ref": "#/$defs/link"}},
            "mapping": _mapping_schema(),
            "fidelity": {"type": "object", "additionalProperties": False,
                         "description": "fidelity knobs reproducing a paper's own assumptions, "
                         "off by default (hwsim/hardware/fidelity.py)",
                         "properties": {"ideal_activation_memory": {
                             "type": "boolean", "description": "activations move in no time "
                             "and for no energy (bytes still counted)"}}},
            "routes": {"type": "array", "description": "pinned paths (one direction each), "
                       "replacing the shortest path from `from` to `to`",
                       "items": {"type": "object", "additionalProperties": False,
                                 "required": ["from", "to", "path"],
                                 "properties": {"from": {"type": "string"}, "to": {"type": "string"},
                                                "path": {"type": "array", "minItems": 2,
                                                         "items": {"type": "string"}}}}},
            "generate": {"type": "object", "properties": {"mesh": {"type": "object"},
                                                          "replicate": {"type": "object"}},
                         "additionalProperties": False,
                         "description": "generators expanded before validation (hwsim/hardware/generate.py): "
                                        "mesh of clusters, replicated components"},
        },
        "$defs": defs,
    }


def _mapping_schema() -> dict:
    from .policy import (DENSE_CHOICES, OVERFLOW_CHOICES, PACKING_CHOICES, REPLICATE_CHOICES,
                         SWITCHES, depthwise_choices)

    switch = {"oneOf": [{"type": "boolean"},
                        {"enum": ["on", "off", "true", "false", "yes", "no"]}]}
    return {"type": "object", "additionalProperties": False,
            "description": "mapping policy (hwsim/hardware/policy.py)",
            "properties": {"depthwise": {"enum": list(depthwise_choices())},
                           "overflow": {"enum": list(OVERFLOW_CHOICES)},
                           "dense": {"enum": list(DENSE_CHOICES)},
                           "replicate": {"oneOf": [{"enum": list(REPLICATE_CHOICES)},
                                                   {"const": False}]},
                           "throughput_target_inferences_per_s": {"type": "number",
                                                                  "exclusiveMinimum": 0},
                           "crossbar_packing": {"enum": list(PACKING_CHOICES)},
                           **{k: switch for k in SWITCHES}}}


def trace_schema() -> dict:
    """The JSON Schema of a layer trace (``hwsim-trace/1``)."""
    props = {}
    for name, (frag, doc, _) in LAYER_SPEC.items():
        props[name] = dict(frag, description=doc) if frag else {"description": doc}
    assert set(BITS_FIELDS) == set(props["bits"]["oneOf"][1]["properties"])
    layer = {"type": "object", "properties": props, "required": list(LAYER_REQUIRED),
             "additionalProperties": False}
    return {
        "$schema": DRAFT,
        "$id": "https://hwsim.invalid/schema/trace.schema.json",
        "title": "hwsim layer trace",
        "description": "A network as an ordered list of layers (topological order). Generated by "
                       "`hwsim schema trace` from hwsim/workload/trace.py. Other top-level keys are free "
                       "metadata.",
        "type": "object",
        "required": ["layers"],
        "properties": {
            "format": {"const": TRACE_FORMAT},
            "name": {"type": "string"},
            "source": {"type": "string"},
            "totals": {"type": "object", "properties": {
                "layers": {"type": "integer"}, "macs": {"type": "integer"},
                "params": {"type": "integer"}}},
            "layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/layer"}},
        },
        "$defs": {"layer": layer},
    }


SCHEMAS = {"platform": platform_schema, "trace": trace_schema}


def schema_text(kind: str) -> str:
    """The schema as the committed ``docs/schema/<kind>.schema.json`` text."""
    return json.dumps(SCHEMAS[kind](), indent=1, sort_keys=False) + "\n"
