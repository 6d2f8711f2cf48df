"""hwsim: a cycle-level discrete-event simulator of TinyML hardware.

    import hwsim
    platform = hwsim.load_platform("platforms/pulp_imc_cluster.yaml")
    trace = hwsim.load_trace("traces/mobilenetv2.json")
    result = hwsim.simulate(platform, trace, timeline="out/timeline.json")
    print(result.summary()); print(result.layers_table())
"""
from .engine import Simulation, simulate
from .errors import (ConfigError, DeadlockError, HwsimError, MappingError, SimulationError,
                     SimulationLimitError)
from .mapper import map_trace
from .platform import load_platform, platform_from_dict
from .trace import load_trace, trace_from_dict

__version__ = "0.1.0"
__all__ = ["load_platform", "load_trace", "simulate", "map_trace", "platform_from_dict",
           "trace_from_dict", "Simulation", "HwsimError", "ConfigError", "MappingError",
           "SimulationError", "DeadlockError", "SimulationLimitError"]
