"""Component models: the behaviour of each compute-engine type (see :mod:`hwsim.models.base`).

Importing a model module registers its model (by class definition); the line below is the
registry: one module per component type. ``hwsim.api`` imports this package, so every model
is known before a platform is mapped.
"""
from . import aimc, cores, dw_accel, ne16  # noqa: F401  (one line: the registered models)

__all__ = ["aimc", "cores", "dw_accel", "ne16"]
