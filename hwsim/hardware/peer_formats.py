"""Platforms from peer simulators' hardware files: SCALE-Sim ``.cfg``, ZigZag hardware YAML and
Stream system YAML (``hwsim import-scalesim --cfg`` / ``import-zigzag --hardware`` /
``import-stream``). Each function returns a platform document (a dict ``platform_from_dict``
validates; :func:`save_platform` writes it as YAML); what the format lacks is defaulted and
stated in the document's ``description`` and in :data:`DEFAULTS`:

* **clock**: none of the formats has one: ``DEFAULT_CLOCK_HZ`` (1 GHz); reports in cycles do
  not depend on it, times and powers do;
* **compute**: the PE array becomes one core cluster (``cores: 1``) whose ``conv2d`` /
  ``pointwise`` / ``linear`` / ``matmul`` kernels run rows x cols MAC per cycle (peak: the
  array's utilisation under its dataflow is not modelled); ``depthwise`` runs one array column
  (no input-channel reduction) and element-wise / pooling ops one element per column per
  cycle (ASSUMED, as platforms/diana_soc.yaml); energy per MAC = ZigZag ``unit_energy`` (SCALE-
  Sim: none, 0); ``tile_overhead_cycles`` 0;
* **memories**: ZigZag sizes are bits (/8), ``r_cost`` / ``w_cost`` are pJ per access of the
  port's ``bandwidth_min`` bits (pJ/byte = cost / (bandwidth_min / 8)), port bandwidth is
  ``bandwidth_max`` bits/cycle (/8 bytes). Register files inside the array (served by no array
  dimension or smaller than 1 KiB) are part of the datapath and not modelled. The innermost
  remaining memory that holds activations (``I1``) and outputs (``O``) is L1, the outermost
  L3, any in between L2;
* **interconnect**: ZigZag / SCALE-Sim have no graph: a DMA engine (``dma``) moves data
  between each outer memory and L1 at the narrower port's bandwidth; Stream links become links
  between the cores' L1s (``bandwidth`` bits/cycle / 8, ``unit_energy_cost`` pJ/bit x 8 per
  byte), a ``bus`` a router joining the listed cores (through a DMA per core) and the off-chip
  memory;
* SCALE-Sim ``.cfg``: the three SRAMs (kB = 1024 B) form one L1 of their total size;
  ``Bandwidth`` (words/cycle, 1-byte words) is the DRAM link; DRAM ``DEFAULT_DRAM_BYTES``
  (1 GiB), no energy (SCALE-Sim reports none).
"""
from __future__ import annotations

import configparser
from pathlib import Path

from ..base.errors import ConfigError

__all__ = ["scalesim_config", "zigzag_hardware", "stream_system", "save_platform",
           "DEFAULT_CLOCK_HZ", "DEFAULT_DRAM_BYTES", "DEFAULTS"]

DEFAULT_CLOCK_HZ = 1_000_000_000
DEFAULT_DRAM_BYTES = 1 << 30
#: smallest memory kept as a hierarchy level (smaller: a register file of the datapath)
_RF_BYTES = 1024
DEFAULTS = ("clock 1 GHz (the format has none)",
            "PE array = one core cluster at rows x cols MAC/cycle for conv/linear/matmul (peak, "
            "dataflow utilisation not modelled), one column for depthwise, element-wise and "
            "pooling ops (ASSUMED)", "tile overhead 0 cycles")


def _yaml(path, kind):
    import yaml
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(path, "", f"no such {kind} file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, "", f"cannot read the {kind} file: {e}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(path, "", f"invalid YAML: {str(e).splitlines()[0]}") from None


def _num(v, file, fld, positive=True) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ConfigError(file, fld, f"expected a number, got {v!r}") from None
    if x < 0 or (positive and x == 0):
        raise ConfigError(file, fld, f"expected a {'positive' if positive else 'non-negative'} "
                          f"number, got {v!r}")
    return x


def _cluster(name, l1, macs_per_cycle, columns, pj_per_mac) -> dict:
    elem = max(1, int(columns))
    kernels = {op: float(macs_per_cycle) for op in ("conv2d", "pointwise", "linear", "matmul")}
    kernels.update({op: float(elem) for op in ("depthwise", "add", "mul", "maxpool", "avgpool")})
    return {"type": "core_cluster", "clock": "core", "cores": 1, "l1": l1, "kernels": kernels,
            "tile_overhead_cycles": 0, "energy_pj_per_op": {"default": float(pj_per_mac)}}


def _doc(name, source, notes) -> dict:
    return {"format": "hwsim-platform/1", "name": name, "source": source,
            "description": "Imported; defaults for what the format lacks: " + "; ".join(notes),
            "reference_clock": "core", "clocks": {"core": DEFAULT_CLOCK_HZ},
            "components": {}, "links": []}


# ------------------------------------------------------------------------------------------
def scalesim_config(path) -> dict:
    """A SCALE-Sim ``.cfg`` (``[architecture_presets]``) as a platform document."""
    file = str(path)
    cp = configparser.ConfigParser(delimiters=(":", "="), inline_comment_prefixes=("#", ";"))
    try:
        with open(file) as f:
            cp.read_file(f)
    except FileNotFoundError:
        raise ConfigError(file, "", "no such SCALE-Sim config file") from None
    except configparser.Error as e:
        raise ConfigError(file, "", f"not a SCALE-Sim config: {str(e).splitlines()[0]}") from None
    if not cp.has_section("architecture_presets"):
        raise ConfigError(file, "architecture_presets", "missing section",
                          "a SCALE-Sim config has [architecture_presets]")
    a = cp["architecture_presets"]

    def get(key):
        if key not in a:
            raise ConfigError(file, f"architecture_presets.{key}", "missing field")
        return _num(a[key].split()[0], file, f"architecture_presets.{key}")

    rows, cols = int(get("ArrayHeight")), int(get("ArrayWidth"))
    sram = sum(int(get(k) * 1024) for k in ("IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB"))
    bw = get("Bandwidth") if "Bandwidth" in a else 10.0
    flow = a.get("Dataflow", "os").strip()
    run = cp.get("general", "run_name", fallback=Path(file).stem).strip()
    notes = list(DEFAULTS) + [
        "the Ifmap, Filter and Ofmap SRAMs form one L1 of their total size",
        f"DRAM {DEFAULT_DRAM_BYTES} B reached at Bandwidth = {bw:g} words/cycle of 1 byte",
        "no energy figures (SCALE-Sim reports none): 0 pJ",
        f"dataflow {flow} is not modelled (peak MAC rate)"]
    d = _doc(run, f"SCALE-Sim config {Path(file).name} (imported)", notes)
    d["components"] = {
        "array": _cluster("array", "sram", rows * cols, cols, 0.0),
        "sram": {"type": "memory", "level": "L1", "clock": "core", "size_bytes": sram,
                 "port_bandwidth_bytes_per_cycle": float(rows + cols)},
        "dram": {"type": "memory", "level": "L3", "clock": "core", "size_bytes": DEFAULT_DRAM_BYTES,
                 "port_bandwidth_bytes_per_cycle": float(bw)},
        "dma": {"type": "dma", "clock": "core"}}
    d["links"] = [{"between": ["dram", "dma"], "clock": "core", "bandwidth_bytes_per_cycle": float(bw)},
                  {"between": ["dma", "sram"], "clock": "core", "bandwidth_bytes_per_cycle": float(bw)}]
    return d


# ------------------------------------------------------------------------------------------
def _zz_memories(hw: dict, file: str) -> list:
    """(name, spec dict) of a ZigZag hardware file's memories, innermost first, converted."""
    mems = hw.get("memories")
    if not isinstance(mems, dict) or not mems:
        raise ConfigError(file, "memories", "missing or empty", "list the memory hierarchy")
    out = []
    for name, m in mems.items():
        where = f"memories.{name}"
        if not isinstance(m, dict):
            raise ConfigError(file, where, "expected a mapping")
        size = int(_num(m.get("size"), file, f"{where}.size") // 8)
        ports = m.get("ports") or []
        if not isinstance(ports, list) or not all(isinstance(p, dict) for p in ports):
            raise ConfigError(file, f"{where}.ports", "expected a list of port mappings")
        bw_max = max([_num(p.get("bandwidth_max", p.get("bandwidth_min")), file,
                           f"{where}.ports.bandwidth_max") for p in ports] or [64.0])
        bw_min = min([_num(p.get("bandwidth_min", p.get("bandwidth_max")), file,
                           f"{where}.ports.bandwidth_min") for p in ports] or [bw_max])
        word = bw_min / 8
        r = _num(m.get("r_cost", 0), file, f"{where}.r_cost", positive=False)
        w = _num(m.get("w_cost", 0), file, f"{where}.w_cost", positive=False)
        ops = {str(o) for o in (m.get("operands") or [])}
        served = m.get("served_dimensions") or []
        out.append((str(name), {
            "size_bytes": size, "port_bandwidth_bytes_per_cycle": bw_max / 8,
            "latency_cycles": int(_num(m.get("latency", 0), file, f"{where}.latency", False)),
            "read_pj_per_byte": r / word, "write_pj_per_byte": w / word,
            "_operands": ops, "_rf": size < _RF_BYTES or not served}))
    return out


def _zz_array(hw: dict, file: str, where="operational_array") -> tuple:
    arr = hw.get("operational_array")
    if not isinstance(arr, dict):
        raise ConfigError(file, where, "missing", "give dimensions and sizes of the PE array")
    sizes = arr.get("sizes") or []
    if not isinstance(sizes, list) or not sizes:
        raise ConfigError(file, f"{where}.sizes", "expected a list of array sizes")
    n = 1
    for s in sizes:
        n *= int(_num(s, file, f"{where}.sizes", positive=False))
    pj = _num(arr.get("unit_energy", arr.get("multiplier_energy", 0)) or 0, file,
              f"{where}.unit_energy", positive=False)
    return n, int(sizes[-1]) if sizes else 1, pj, bool(arr.get("is_imc"))


def _zz_levels(mems: list, file: str) -> tuple:
    """(l1, outer) where l1 holds I1 and O, innermost first, register files skipped."""
    kept = [(n, m) for n, m in mems if not m["_rf"]]
    l1 = next(((n, m) for n, m in kept if {"I1", "O"} <= m["_operands"]), None)
    if l1 is None:
        raise ConfigError(file, "memories", "no memory (other than register files) holds both "
                          "I1 and O", "the array needs an activation/output buffer")
    outer = [(n, m) for n, m in kept[kept.index(l1) + 1:]]
    return l1, outer


def _mem(spec: dict, level: str) -> dict:
    return {"type": "memory", "level": level, "clock": "core",
            **{k: v for k, v in spec.items() if not k.startswith("_")}}


def zigzag_hardware(path) -> dict:
    """A ZigZag hardware YAML (one core) as a platform document."""
    file = str(path)
    hw = _yaml(path, "ZigZag hardware")
    if not isinstance(hw, dict):
        raise ConfigError(file, "", "a ZigZag hardware file is a YAML mapping")
    macs, cols, pj, imc = _zz_array(hw, file)
    if macs < 1:
        raise ConfigError(file, "operational_array.sizes", "the array has no PE (size 0)",
                          "an off-chip-only core is part of a Stream system, not a platform")
    mems = _zz_memories(hw, file)
    (l1n, l1), outer = _zz_levels(mems, file)
    if not outer:
        raise ConfigError(file, "memories", f"nothing outside {l1n}: hwsim needs an outer memory "
                          "(L2/L3) holding the network's tensors", "add the DRAM level")
    notes = list(DEFAULTS) + [
        "ZigZag sizes in bits, r_cost/w_cost pJ per bandwidth_min-bit access, port bandwidth "
        "bandwidth_max bits/cycle", "register files inside the array are not modelled",
        "a DMA between each outer memory and L1 at the narrower port's bandwidth"]
    if imc:
        notes.append("IMC array modelled as a digital array of the same size (ASSUMED)")
    d = _doc(str(hw.get("name") or Path(file).stem), f"ZigZag hardware {Path(file).name} (imported)",
             notes)
    comps = {"array": _cluster("array", l1n, macs, cols, pj), l1n: _mem(l1, "L1"), "dma": {
        "type": "dma", "clock": "core"}}
    links = []
    for i, (n, m) in enumerate(outer):
        comps[n] = _mem(m, "L3" if i == len(outer) - 1 else "L2")
        bw = min(m["port_bandwidth_bytes_per_cycle"], l1["port_bandwidth_bytes_per_cycle"])
        links.append({"between": [n, "dma"], "clock": "core", "bandwidth_bytes_per_cycle": bw})
    links.append({"between": ["dma", l1n], "clock": "core",
                  "bandwidth_bytes_per_cycle": l1["port_bandwidth_bytes_per_cycle"]})
    d["components"], d["links"] = comps, links
    return d


# ------------------------------------------------------------------------------------------
def stream_system(path, *, missing_cores: str = "error") -> dict:
    """A Stream system YAML (cores + core_connectivity) as a multi-core platform document.
    ``missing_cores="skip"`` leaves out cores whose file is absent (stated in the output)."""
    file = str(path)
    if missing_cores not in ("error", "skip"):
        raise ConfigError("<stream_system>", "missing_cores", f"invalid {missing_cores!r}",
                          "use 'error' or 'skip'")
    sysd = _yaml(path, "Stream system")
    if not isinstance(sysd, dict) or not isinstance(sysd.get("cores"), dict) or not sysd["cores"]:
        raise ConfigError(file, "cores", "missing or empty", "map core ids to core YAML files")
    off = sysd.get("offchip_core_id")
    pj_bit = _num(sysd.get("unit_energy_cost", 0) or 0, file, "unit_energy_cost", positive=False)
    notes = list(DEFAULTS) + [
        "each compute core: a cluster and its L1 (its ZigZag file's activation buffer); the "
        "off-chip core: the L3 memory", "links between cores join their L1s; a bus is a router "
        "reaching each core through a DMA", f"link energy {pj_bit:g} pJ/bit (unit_energy_cost)"]
    comps, links, node_of, skipped = {}, [], {}, []
    base = Path(file).parent
    for cid, rel in sysd["cores"].items():
        cpath = base / str(rel)
        if not cpath.is_file():
            if missing_cores == "skip":
                skipped.append(f"{cid} ({rel})")
                continue
            raise ConfigError(file, f"cores.{cid}", f"core file {rel} not found (looked in "
                              f"{cpath.parent})", "add the file, or import with "
                              "--skip-missing-cores to leave that core out")
        hw = _yaml(cpath, "ZigZag core")
        if not isinstance(hw, dict):
            raise ConfigError(cpath, "", "a core file is a YAML mapping")
        mems = _zz_memories(hw, str(cpath))
        if cid == off or str(hw.get("type", "")).endswith("offchip"):
            name, spec = max(mems, key=lambda nm: nm[1]["size_bytes"])
            comps["dram"] = _mem(spec, "L3")
            node_of[cid] = "dram"
            continue
        macs, cols, pj, imc = _zz_array(hw, str(cpath))
        (l1n, l1), _ = _zz_levels(mems, str(cpath))
        c = f"core{cid}"
        comps[c] = _cluster(c, f"{c}_l1", max(macs, 1), cols, pj)
        comps[f"{c}_l1"] = _mem(l1, "L1")
        comps[f"{c}_dma"] = {"type": "dma", "clock": "core"}
        node_of[cid] = c
    if skipped:
        notes.append("cores left out (file missing): " + ", ".join(skipped))
    if "dram" not in comps:
        raise ConfigError(file, "offchip_core_id", "no off-chip core (DRAM) in the system",
                          "set offchip_core_id to the core that fronts external memory")
    if not any(v.get("type") == "core_cluster" for v in comps.values()):
        raise ConfigError(file, "cores", "no compute core")
    for i, conn in enumerate(sysd.get("core_connectivity") or []):
        where = f"core_connectivity[{i}]"
        if not isinstance(conn, dict) or not isinstance(conn.get("cores"), list):
            raise ConfigError(file, where, "expected {type, cores: [...], bandwidth}")
        bw = _num(conn.get("bandwidth"), file, f"{where}.bandwidth") / 8
        ends = [node_of[c] for c in conn["cores"] if c in node_of]
        kind = conn.get("type", "link")
        if kind == "link":
            if len(ends) == 2 and "dram" not in ends:
                links.append({"between": [f"{ends[0]}_l1", f"{ends[1]}_l1"], "clock": "core",
                              "bandwidth_bytes_per_cycle": bw, "pj_per_byte": pj_bit * 8})
            elif len(ends) == 2:
                core = next(e for e in ends if e != "dram")
                links += [{"between": ["dram", f"{core}_dma"], "clock": "core",
                           "bandwidth_bytes_per_cycle": bw, "pj_per_byte": pj_bit * 8},
                          {"between": [f"{core}_dma", f"{core}_l1"], "clock": "core",
                           "bandwidth_bytes_per_cycle": bw}]
        elif kind == "bus":
            r = f"bus{i}"
            comps[r] = {"type": "router", "clock": "core"}
            for e in ends:
                if e == "dram":
                    links.append({"between": ["dram", r], "clock": "core",
                                  "bandwidth_bytes_per_cycle": bw, "pj_per_byte": pj_bit * 8})
                else:
                    links += [{"between": [r, f"{e}_dma"], "clock": "core",
                               "bandwidth_bytes_per_cycle": bw, "pj_per_byte": pj_bit * 8},
                              {"between": [f"{e}_dma", f"{e}_l1"], "clock": "core",
                               "bandwidth_bytes_per_cycle": bw}]
        else:
            raise ConfigError(file, f"{where}.type", f"unknown connection type {kind!r}",
                              "use link or bus")
    d = _doc(str(sysd.get("name") or Path(file).stem), f"Stream system {Path(file).name} (imported)",
             notes)
    seen, unique = set(), []
    for lk in links:    # a core reached by several buses keeps one DMA -> L1 link
        key = tuple(sorted(lk["between"]))
        if key not in seen:
            seen.add(key)
            unique.append(lk)
    d["components"], d["links"] = comps, unique
    return d


def save_platform(doc: dict, path) -> None:
    """Write a platform document as YAML, its stated defaults as a comment header."""
    import yaml
    head = "# " + doc.get("source", "") + "\n# " + doc.get("description", "").replace("; ", "\n#   ") + "\n"
    Path(path).write_text(head + yaml.safe_dump(doc, sort_keys=False, width=100))
