"""hwsim: a cycle-level discrete-event simulator of TinyML hardware.

    import hwsim
    platform = hwsim.load_platform("platforms/pulp_imc_cluster.yaml")
    trace = hwsim.load_trace("traces/mobilenetv2.json")
    result = hwsim.simulate(platform, trace, timeline="out/timeline.json")
    print(result.summary()); print(result.layers_table())

The package follows the data flow (imports only go down this list; see docs/architecture.md):
``base`` (units, errors, source maps) -> ``workload`` (traces, zoo, importers, training) ->
``hardware`` (platform specs) -> ``mapping`` (plans) -> ``report`` (records, energy, timeline)
-> ``sim`` (the SimPy engine) -> ``api`` (the pipeline) -> ``explore`` (sweeps, what-if,
compare, plots) -> ``cli``.
"""
from .api import (Simulation, load_platform, load_trace, map_trace, platform_from_dict, simulate,
                  trace_from_dict)
from .base.errors import (ConfigError, DeadlockError, HwsimError, MappingError, SimulationError,
                          SimulationLimitError)

__version__ = "0.1.0"
__all__ = ["load_platform", "load_trace", "simulate", "map_trace", "platform_from_dict",
           "trace_from_dict", "Simulation", "HwsimError", "ConfigError", "MappingError",
           "SimulationError", "DeadlockError", "SimulationLimitError"]
