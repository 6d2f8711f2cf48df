"""First-order off-chip DRAM / HyperRAM timing, computed analytically per burst.

The memory's port is a :class:`~hwsim.sim.interconnect.Channel` whose ``service`` is a
:class:`DramTiming`: when a burst of a transfer is granted the port, :meth:`DramTiming.burst_ps`
returns how long the data bus is busy with it, from the burst's addresses and the banks' state.
No event is scheduled per DRAM command or cycle: the whole burst is one SimPy timeout, as for
any other channel.

Model (parameters in cycles of the device clock, tCK; see :class:`hwsim.hardware.platform.Dram`):

* **Address map** (``row_bank_col``: row | bank | column from high to low bits, so
  sequential data fills one row, then the same row index of the next bank; ``bank_row_col``:
  bank | row | column, so sequential data stays in one bank and changes row). A burst is split
  into *segments* that stay inside one row.
* **Data bus**: ``data_bus_bits / 8 * transfers_per_cycle`` bytes per cycle; a segment moves
  ``ceil(bytes / atom)`` column bursts of ``atom = data_bus_bits / 8 * burst_length`` bytes,
  each ``burst_length / transfers_per_cycle`` cycles long, back to back.
* **Open page** (``page_policy: open``): a segment to the bank's open row starts at once (row
  hit); to a closed bank after ``t_rcd`` (activate); to another row after precharge and
  activate, ``t_rp + t_rcd``, where the precharge is no earlier than ``t_ras`` after that bank's
  last activate nor before its last data. The controller sees a transfer's next segment while
  the current one streams (one segment of look-ahead), so the activate of the *next* bank is
  hidden behind the current data; a request that arrives alone (random access) cannot hide it.
* **CAS latency** ``t_cl`` is paid by the first segment of each transfer (pipelined after
  that). **Closed page** (``page_policy: closed``, HyperRAM-like): every transaction (a burst,
  cut at ``max_transaction_bytes``, e.g. the HyperRAM tCSM cap) pays ``t_rcd`` (command /
  address) + ``t_cl`` (initial latency) before its data.
* **Refresh**: every ``t_refi`` the device refreshes all banks for ``t_rfc`` and closes every
  row. A refresh due during a segment waits for the segment's end (postponed, schedule kept),
  so on average refresh steals the fraction ``t_rfc / t_refi`` of the time.
* Writes are timed as reads (no tWR / tWTR turnaround: first order).

Closed forms (validated in ``tests/test_dram.py``): sequential streaming of S bytes takes
``t_cl + t_rcd + S / peak`` without refresh (row-hit bandwidth ``peak``), about
``peak x (1 - t_rfc / t_refi)`` with it; isolated random accesses of S bytes each take
``t_rp + t_rcd + t_cl + S / peak`` (row-miss bandwidth).
"""
from __future__ import annotations

from ..base.units import PS_PER_S

__all__ = ["DramTiming"]


class DramTiming:
    """Bank/row/refresh state of one DRAM device and its per-burst service time."""

    __slots__ = ("dram", "clock", "banks", "row_bytes", "atom", "atom_ps", "t_rcd", "t_cl",
                 "t_rp", "t_ras", "t_refi", "t_rfc", "closed", "bank_first", "max_tx",
                 "open_row", "act_ps", "last_end", "next_ref", "bus_free", "ahead_t",
                 "ahead_off", "ahead_ps", "peak_bytes_per_ps", "n_hits", "n_misses",
                 "n_empty", "n_refresh", "simple", "simple_hold")

    def __init__(self, dram):
        self.dram = dram
        clk = self.clock = dram.clock
        cyc = clk.cycles_to_ps
        self.banks = dram.banks
        self.row_bytes = dram.row_bytes
        self.atom = dram.data_bus_bits // 8 * dram.burst_length
        # one column burst: burst_length transfers at transfers_per_cycle per clock (exact ps)
        self.atom_ps = -(-dram.burst_length * PS_PER_S // (dram.transfers_per_cycle * clk.freq_hz))
        self.t_rcd, self.t_cl, self.t_rp = cyc(dram.t_rcd_cycles), cyc(dram.t_cl_cycles), cyc(dram.t_rp_cycles)
        self.t_ras = cyc(dram.t_ras_cycles)
        self.t_refi, self.t_rfc = cyc(dram.t_refi_cycles), cyc(dram.t_rfc_cycles)
        self.closed = dram.page_policy == "closed"
        self.bank_first = dram.address_map == "bank_row_col"
        self.max_tx = dram.max_transaction_bytes
        self.open_row = [None] * self.banks
        self.act_ps = [-(10**18)] * self.banks
        self.last_end = [0] * self.banks
        self.next_ref = self.t_refi if self.t_refi else None
        self.bus_free = 0
        self.ahead_t = None      # transfer whose next segment the controller already sees
        self.ahead_off = 0
        self.ahead_ps = 0
        self.peak_bytes_per_ps = self.atom / self.atom_ps
        self.n_hits = self.n_misses = self.n_empty = self.n_refresh = 0
        self.simple = self.closed and self.banks == 1 and not self.t_rp and not self.t_ras
        self.simple_hold: dict = {}

    # -- address map ---------------------------------------------------------------------
    def decode(self, addr: int) -> tuple:
        """(bank, row, byte offset within the row) of a byte address."""
        rb, nb = self.row_bytes, self.banks
        col = addr % rb
        rest = addr // rb
        if self.bank_first:
            size_rows = max(1, self.dram.size_bytes // (rb * nb))
            return (rest // size_rows) % nb, rest % size_rows, col
        return rest % nb, rest // nb, col

    # -- service time --------------------------------------------------------------------
    def burst_ps(self, now: int, t, off0: int, off1: int) -> int:
        """Time in ps the data bus is held for bytes [off0, off1) of transfer ``t``,
        starting at ``now`` (the port was granted at ``now``); updates the device state."""
        time = now if now > self.bus_free else self.bus_free
        n = off1 - off0
        nr = self.next_ref
        if self.simple:
            # closed page, one bank, no tRP/tRAS (HyperRAM): transactions back to back, each
            # a fixed duration for its size (cached); refreshes fall between transactions
            hold = self.simple_hold.get(n)
            if hold is None:   # (each transaction's ps, the start of the last after the first's)
                max_tx = self.max_tx or n
                lat, atom, atom_ps = self.t_rcd + self.t_cl, self.atom, self.atom_ps
                durs = tuple(lat + (-(-min(max_tx, n - k) // atom)) * atom_ps
                             for k in range(0, n, max_tx))
                hold = self.simple_hold[n] = (durs, sum(durs[:-1]))
            durs, last_start = hold
            if nr is None or time + last_start < nr:   # no refresh due at any transaction
                time += last_start + durs[-1]
                self.bus_free = self.last_end[0] = time
                self.n_misses += len(durs)
                return time - now
            busy = self.bus_free   # the data in flight: a refresh waits for its end
            for d in durs:
                if nr is not None and time >= nr:   # _refresh, inlined (most bursts meet one)
                    refi = self.t_refi
                    k = (time - nr) // refi
                    if k > 1:   # refreshes entirely in the idle past happened on schedule
                        self.n_refresh += k - 1
                        nr += (k - 1) * refi
                    while time >= nr:
                        end = (nr if nr > busy else busy) + self.t_rfc
                        if end > time:
                            time = end
                        self.n_refresh += 1
                        nr += refi
                    self.next_ref = nr
                time += d
                busy = time
            self.bus_free = self.last_end[0] = time
            self.n_misses += len(durs)
            return time - now
        addr = t.address_of(off0) if t.row_bytes else (t.addr or 0) + off0
        atom, atom_ps = self.atom, self.atom_ps
        act_ps, last_end = self.act_ps, self.last_end
        if self.closed:
            # every transaction: activate (command/address) + latency + data, then precharge
            max_tx = self.max_tx or n
            t_rp, t_ras, lat = self.t_rp, self.t_ras, self.t_rcd + self.t_cl
            while n > 0:
                seg = n if n < max_tx else max_tx
                if nr is not None and time >= nr:
                    time = self._refresh(time)
                    nr = self.next_ref
                bank = self.decode(addr)[0] if self.banks > 1 else 0
                act = max(time, last_end[bank] + t_rp, act_ps[bank] + t_ras + t_rp)
                act_ps[bank] = act
                time = act + lat + (-(-seg // atom)) * atom_ps
                last_end[bank] = self.bus_free = time
                self.n_misses += 1
                addr += seg
                n -= seg
            self.bus_free = time
            return time - now
        # open page: the earliest time a command for this burst could be issued is when the
        # controller first saw it (one segment of look-ahead within a transfer)
        cmd = self.ahead_ps if (self.ahead_t is t and self.ahead_off == off0) else now
        first = off0 == 0
        rb, nbk = self.row_bytes, self.banks
        open_row = self.open_row
        t_rcd, t_rp, t_ras = self.t_rcd, self.t_rp, self.t_ras
        while n > 0:
            if self.bank_first:
                bank, row, col = self.decode(addr)
            else:
                rest, col = divmod(addr, rb)
                rest, bank = rest // nbk, rest % nbk
                row = rest
            seg = rb - col
            if n < seg:
                seg = n
            if nr is not None and time >= nr:
                time = self._refresh(time)
                nr = self.next_ref
                open_row = self.open_row
            if cmd > time:
                cmd = time
            if open_row[bank] == row:
                ready = time
                self.n_hits += 1
            else:
                if open_row[bank] is None:
                    act = max(cmd, last_end[bank])
                    self.n_empty += 1
                else:
                    act = max(cmd, act_ps[bank] + t_ras, last_end[bank]) + t_rp
                    self.n_misses += 1
                act_ps[bank] = act
                open_row[bank] = row
                ready = act + t_rcd
            if first:
                ready += self.t_cl
                first = False
            start = time if time > ready else ready
            time = start + (-(-seg // atom)) * atom_ps
            last_end[bank] = self.bus_free = time
            cmd = start       # the next segment is visible while this one streams
            addr += seg
            n -= seg
        self.bus_free = time
        self.ahead_t, self.ahead_off, self.ahead_ps = t, off1, cmd
        return time - now

    def _refresh(self, time: int) -> int:
        """Apply the refreshes due by ``time``; return when the device can next be used."""
        nr = self.next_ref
        if nr is None or time < nr:
            return time
        refi = self.t_refi
        # refreshes entirely in the idle past happened on schedule
        k = (time - nr) // refi
        if k > 1:
            self.n_refresh += k - 1
            nr += (k - 1) * refi
        while time >= nr:
            start = max(nr, self.bus_free)   # postponed until the segment in flight ends
            end = start + self.t_rfc
            if end > time:
                time = end
            self.n_refresh += 1
            nr += refi
        self.next_ref = nr
        if not self.closed:
            self.open_row = [None] * self.banks
        return time

    # -- closed forms (for tests and docs) -----------------------------------------------
    def row_hit_bandwidth(self, refresh: bool = True) -> float:
        """Streaming bandwidth in bytes/ps: peak x (1 - tRFC/tREFI)."""
        bw = self.peak_bytes_per_ps
        if refresh and self.t_refi:
            bw *= 1 - self.t_rfc / self.t_refi
        return bw

    def row_miss_bandwidth(self, nbytes: int, refresh: bool = True) -> float:
        """Bandwidth in bytes/ps of isolated accesses of ``nbytes`` that each conflict with
        the open row: nbytes / (tRP + tRCD + tCL + data)."""
        data = -(-nbytes // self.atom) * self.atom_ps
        bw = nbytes / (self.t_rp + self.t_rcd + self.t_cl + data)
        if refresh and self.t_refi:
            bw *= 1 - self.t_rfc / self.t_refi
        return bw
