"""Exception types raised by hwsim.

Every user-facing error derives from :class:`HwsimError`, so scripts can catch one type and
the CLI can print one readable line and exit non-zero. Input errors name the file, the field
path (dotted, e.g. ``components.l1.size_bytes``) and what would be valid.
"""
from __future__ import annotations

import difflib

__all__ = ["HwsimError", "ConfigError", "MappingError", "SimulationError", "DeadlockError",
           "SimulationLimitError", "did_you_mean"]


class HwsimError(Exception):
    """Base class of every error hwsim raises on purpose."""


class ConfigError(HwsimError, ValueError):
    """A platform or trace file is malformed or inconsistent.

    Attributes:
        file: path of the offending file (or ``"<dict>"`` for in-memory input).
        field: dotted path of the offending field, e.g. ``components.l1.banks``.
        problem: what is wrong.
        fix: what would be valid.
        line: 1-based line of the field in the file when known (YAML platforms, JSON
            traces), else ``None``. Loaders fill it in from the parsed document's marks.
    """

    def __init__(self, file: str, field: str, problem: str, fix: str = "", line: int | None = None):
        self.file, self.field, self.problem, self.fix = str(file), field, problem, fix
        self.line = line
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.file}:{self.line}" if self.line and not self.field.startswith("line ") \
            else self.file
        msg = f"{where}: {self.field}: {self.problem}" if self.field else f"{where}: {self.problem}"
        if self.fix:
            msg += f" ({self.fix})"
        return msg

    def with_line(self, line: int | None):
        """Set :attr:`line` (if not yet known) and refresh the message; returns ``self``."""
        if line and not self.line:
            self.line = line
            self.args = (self._message(),)
        return self

    def __str__(self) -> str:
        return self.args[0] if self.args else self._message()


class MappingError(HwsimError):
    """A layer cannot be mapped onto the platform (e.g. no tile fits L1, no engine supports
    its bit width): each file is valid alone, the pair is not. Like :class:`ConfigError` it
    has ``file``, ``field``, ``problem``, ``fix`` and ``line``: ``file`` and
    ``field`` name the trace layer (``layers[3] (conv1)``) or the platform field at fault, and
    ``fix`` says which field to change. A bare message (``MappingError("...")``) is accepted
    for backward compatibility."""

    def __init__(self, problem: str, file: str = "", field: str = "", fix: str = "",
                 line: int | None = None):
        self.file, self.field, self.problem, self.fix = str(file), field, problem, fix
        self.line = line
        HwsimError.__init__(self, self._message())

    def _message(self) -> str:
        if not self.file:
            msg = f"{self.field}: {self.problem}" if self.field else self.problem
            return msg + (f" ({self.fix})" if self.fix else "")
        return ConfigError._message(self)

    with_line = ConfigError.with_line
    __str__ = ConfigError.__str__


class SimulationError(HwsimError):
    """The simulation reached an inconsistent state (deadlock, broken invariant)."""


class DeadlockError(SimulationError):
    """The event queue drained (deadlock) or simulated time stopped advancing (livelock)
    while layers remained. ``report`` lists which processes wait on which resources and who
    holds them; ``layers_done`` / ``layers_total`` / ``now_ps`` say how far the run got."""

    def __init__(self, message: str, report: str = "", now_ps: int = 0, layers_done: int = 0,
                 layers_total: int = 0, kind: str = "deadlock"):
        self.report, self.now_ps, self.kind = report, now_ps, kind
        self.layers_done, self.layers_total = layers_done, layers_total
        super().__init__(message + ("\n" + report if report else ""))


class SimulationLimitError(SimulationError):
    """A configured limit (``max_sim_s`` simulated seconds or ``max_wall_s`` wall-clock
    seconds) stopped the run. ``limit`` is ``"sim"`` or ``"wall"``; ``now_ps``,
    ``layers_done``, ``layers_total`` and ``running`` (layer names in progress) say how far
    it got."""

    def __init__(self, message: str, limit: str, now_ps: int, layers_done: int,
                 layers_total: int, running=()):
        self.limit, self.now_ps = limit, now_ps
        self.layers_done, self.layers_total, self.running = layers_done, layers_total, tuple(running)
        super().__init__(message)


class Interrupted(HwsimError):
    """The user interrupted the run (Ctrl-C, SIGINT). The message says where it stopped and
    what was kept (a cut timeline is marked incomplete; sweep records written so far stay and
    a rerun resumes). The CLI exits with status 130."""


def did_you_mean(name: str, choices) -> str:
    """Return ``"did you mean 'x'?"`` for the closest choice, or a list of valid choices."""
    choices = sorted(str(c) for c in choices)
    close = difflib.get_close_matches(str(name), choices, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return "valid: " + ", ".join(choices) if choices else "no valid choices"
