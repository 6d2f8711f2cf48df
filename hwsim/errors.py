"""Exception types raised by hwsim.

Every user-facing error derives from :class:`HwsimError`, so scripts can catch one type and
the CLI can print one readable line and exit non-zero. Input errors name the file, the field
path (dotted, e.g. ``components.l1.size_bytes``) and what would be valid.
"""
from __future__ import annotations

import difflib


class HwsimError(Exception):
    """Base class of every error hwsim raises on purpose."""


class ConfigError(HwsimError, ValueError):
    """A platform or trace file is malformed or inconsistent.

    Attributes:
        file: path of the offending file (or ``"<dict>"`` for in-memory input).
        field: dotted path of the offending field, e.g. ``components.l1.banks``.
        problem: what is wrong.
        fix: what would be valid.
    """

    def __init__(self, file: str, field: str, problem: str, fix: str = ""):
        self.file, self.field, self.problem, self.fix = str(file), field, problem, fix
        msg = f"{self.file}: {field}: {problem}" if field else f"{self.file}: {problem}"
        if fix:
            msg += f" ({fix})"
        super().__init__(msg)


class MappingError(HwsimError):
    """A layer cannot be mapped onto the platform (e.g. no tile fits L1)."""


class SimulationError(HwsimError):
    """The simulation reached an inconsistent state (deadlock, broken invariant)."""


def did_you_mean(name: str, choices) -> str:
    """Return ``"did you mean 'x'?"`` for the closest choice, or a list of valid choices."""
    choices = sorted(str(c) for c in choices)
    close = difflib.get_close_matches(str(name), choices, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return "valid: " + ", ".join(choices) if choices else "no valid choices"
