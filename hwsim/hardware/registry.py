"""The registries of component types: spec classes by type name, models by spec class.

Both are filled by *definition*, never edited by hand (gem5 registers a SimObject by defining
its class; Stream picks a core's cost backend by the hardware it claims):

* defining a :class:`hwsim.hardware.platform.Component` subclass with a ``TYPE`` adds it to
  :data:`COMPONENT_TYPES` (the platform loader reads ``type:`` names from here);
* defining a :class:`hwsim.models.base.ComponentModel` subclass with ``spec=SpecClass`` adds
  it to :data:`MODELS` (mapping, engine and reports find behaviour with :func:`model_of`).

This module sits in ``hardware`` so that every layer above it can look a model up without
importing the ``models`` package (which sits above ``mapping``); ``hwsim.models`` is imported
by the package root, so the table is full before any platform is mapped.
"""
from __future__ import annotations

__all__ = ["COMPONENT_TYPES", "MODELS", "model_of", "register_model"]

#: type name (the ``type:`` of a platform file) -> spec class
COMPONENT_TYPES: dict = {}
#: spec class -> model instance (stateless: it is handed the component with each call)
MODELS: dict = {}


def register_model(spec_cls, model) -> None:
    if spec_cls in MODELS and type(MODELS[spec_cls]).__qualname__ != type(model).__qualname__:
        raise TypeError(f"{spec_cls.__name__} already has the model {type(MODELS[spec_cls]).__name__}")
    MODELS[spec_cls] = model


def model_of(component):
    """The model of ``component``'s type (its own class's, else its nearest base's), or
    ``None`` for types without behaviour of their own (memories, DMA engines, routers: the
    interconnect models them)."""
    for cls in type(component).__mro__:
        m = MODELS.get(cls)
        if m is not None:
            return m
    return None
