"""The pipeline a user drives, top to bottom: load -> map -> simulate -> report.

    import hwsim
    platform = hwsim.load_platform("platforms/pulp_imc_cluster.yaml")   # hardware/
    trace = hwsim.load_trace("traces/mobilenetv2.json")                  # workload/
    mapping = hwsim.map_trace(platform, trace)                           # mapping/ (optional)
    result = hwsim.simulate(platform, trace, timeline="out/t.json")      # sim/ -> report/
    print(result.summary())

Each step lives in the package named in its comment; this module only joins them. Importers:
``import_onnx`` (ONNX graph -> trace), ``scalesim_topology`` / ``zigzag_workload`` (peer
workloads -> trace), ``scalesim_config`` / ``zigzag_hardware`` / ``stream_system`` (peer
hardware -> platform document for ``platform_from_dict``; ``save_platform`` writes it).
"""
from __future__ import annotations

from . import models  # noqa: F401  (registers every component model)
from .hardware.peer_formats import save_platform, scalesim_config, stream_system, zigzag_hardware
from .hardware.platform import load_platform, platform_from_dict
from .mapping.mapper import map_trace
from .sim.engine import Simulation, simulate
from .workload.onnx_import import import_onnx
from .workload.peer_formats import scalesim_topology, zigzag_workload
from .workload.trace import load_trace, trace_from_dict

__all__ = ["load_platform", "platform_from_dict", "load_trace", "trace_from_dict", "map_trace",
           "simulate", "Simulation", "import_onnx", "scalesim_topology", "scalesim_config",
           "zigzag_workload", "zigzag_hardware", "stream_system", "save_platform"]
