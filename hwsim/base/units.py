"""Simulation time and clock domains.

hwsim keeps time as an integer number of picoseconds (``ps``) so that components in different
clock domains share one exact time axis; floats never accumulate. A :class:`Clock` converts
between its own cycles and picoseconds at component boundaries with integer arithmetic:
``cycles -> ps`` rounds up (an operation ends on or after its last edge), ``ps -> cycles``
rounds up too (a partial cycle is still a cycle of the consumer).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PS_PER_S", "PS_PER_US", "TERA", "PJ_PER_MW_PS", "J_PER_PJ", "Clock", "ps_to_us_str",
           "ps_to_s"]

PS_PER_S = 10**12
PS_PER_US = 10**6
#: operations per tera-operation (TOPS = ops/s / TERA)
TERA = 10**12
#: energy of 1 mW for 1 ps in pJ (1e-3 W x 1e-12 s = 1e-15 J = 1e-3 pJ)
PJ_PER_MW_PS = 1e-3
#: joules per picojoule
J_PER_PJ = 1e-12


@dataclass(frozen=True)
class Clock:
    """A clock domain.

    Attributes:
        name: domain name as written in the platform file.
        freq_hz: frequency in Hz (integer, > 0).
    """

    name: str
    freq_hz: int

    def cycles_to_ps(self, cycles: int) -> int:
        """Duration of ``cycles`` cycles of this clock in ps (ceil to a whole ps)."""
        return -(-int(cycles) * PS_PER_S // self.freq_hz)

    def ps_to_cycles(self, ps: int) -> int:
        """Number of cycles of this clock that cover ``ps`` picoseconds (ceil).

        The picosecond is the time quantum: an excess below 1 ps is rounding from
        :meth:`cycles_to_ps`, not a started cycle, so ``ps_to_cycles(cycles_to_ps(n)) == n``.
        """
        ps = int(ps)
        return -(-(ps - 1) * self.freq_hz // PS_PER_S) if ps > 0 else 0

    def ps_to_cycles_floor(self, ps: int) -> int:
        """Whole cycles of this clock that elapse within ``ps`` picoseconds."""
        return int(ps) * self.freq_hz // PS_PER_S

    def next_edge_ps(self, ps: int) -> int:
        """Time of the first rising edge at or after ``ps`` (edges at k / freq_hz seconds)."""
        return self.cycles_to_ps(self.ps_to_cycles(ps))


def ps_to_us_str(ps: int) -> str:
    """Exact decimal rendering of ``ps`` in microseconds (for Chrome-trace ``ts``/``dur``)."""
    if ps.__class__ is int and ps >= PS_PER_US:   # the timeline's hot path: from the digits
        s = str(ps)
        frac = s[-6:].rstrip("0")
        return s[:-6] + "." + frac if frac else s[:-6]
    sign = "-" if ps < 0 else ""
    ps = abs(int(ps))
    whole, frac = divmod(ps, PS_PER_US)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


def ps_to_s(ps: int) -> float:
    """Picoseconds to seconds (float, for reporting only)."""
    return ps / PS_PER_S
