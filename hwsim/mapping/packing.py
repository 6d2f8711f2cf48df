"""2-D bin packing of crossbar weight blocks: MaxRects and lower bounds on the crossbars needed.

Items are ``(rows, cols)`` rectangles (weight blocks, :func:`hwsim.mapping.aimc.layer_blocks`),
bins are ``R x C`` crossbars. **No rotation**: a block's rows are the layer's input lines (one
DAC each) and its columns its outputs (one ADC each); an MVM sums currents along the columns
only, so a block turned by 90 degrees would compute the transposed product, not the layer.

**MaxRects** (J. Jylänki, "A Thousand Ways to Pack the Bin - A Practical Approach to
Two-Dimensional Rectangle Bin Packing", 2010, section 3): each bin keeps the list of its
*maximal* free rectangles (they may overlap each other). An item goes where it leaves the
shortest leftover side in a free rectangle that holds it (*Best Short Side Fit*, BSSF), the
longer leftover side, then the lowest bin, row and column breaking ties, over every open bin
(global best fit); a new bin opens only when no open bin holds it. After a placement every
free rectangle the item intersects is cut into its (up to four) maximal parts outside the
item, and free rectangles contained in another are dropped. The items are packed in three orders - decreasing area, decreasing short side,
decreasing rows (each with the other side, then the item's index breaking ties) - and the order
giving the fewest bins wins (the first in that list on a tie). Every choice is by a total
order on integers, so the result is deterministic.

**Groups**: items with the same ``groups`` key (the blocks of one layer) can be kept in
distinct bins, so the group's blocks still run their MVMs in parallel.

**Lower bounds** (:func:`lower_bounds`), valid for any packing without rotation:
``area = ceil(sum of item areas / (R C))``; ``columns``: items taller than ``R/2`` overlap in
rows when they share a bin, so their columns are disjoint there, ``ceil(sum of their cols / C)``;
``rows``: the same for items wider than ``C/2``; ``large``: items taller than ``R/2`` *and*
wider than ``C/2`` pairwise cannot share a bin; ``group``: with groups, the largest group.
"""
from __future__ import annotations

__all__ = ["maxrects", "lower_bounds", "ORDERS"]

#: item orders tried, by name: sort keys on ``(rows, cols)`` (ties by the item's index)
ORDERS = {
    "area": lambda h, w: (-h * w, -h, -w),
    "short_side": lambda h, w: (-min(h, w), -max(h, w), -h),
    "rows": lambda h, w: (-h, -w),
}


def _split(free: list, r0: int, c0: int, h: int, w: int) -> list:
    """Free rectangles ``(row, col, rows, cols)`` once ``[r0, r0+h) x [c0, c0+w)`` is used:
    each intersected rectangle becomes its maximal parts above, below, left and right of it;
    rectangles inside another are dropped; sorted by position (a total order)."""
    r1, c1 = r0 + h, c0 + w
    out = []
    for f in free:
        fr, fc, fh, fw = f
        fr1, fc1 = fr + fh, fc + fw
        if r0 >= fr1 or r1 <= fr or c0 >= fc1 or c1 <= fc:
            out.append(f)
            continue
        if r0 > fr:
            out.append((fr, fc, r0 - fr, fw))
        if r1 < fr1:
            out.append((r1, fc, fr1 - r1, fw))
        if c0 > fc:
            out.append((fr, fc, fh, c0 - fc))
        if c1 < fc1:
            out.append((fr, c1, fh, fc1 - c1))
    out = sorted(set(out))
    return [f for i, f in enumerate(out)
            if not any(j != i and g[0] <= f[0] and g[1] <= f[1] and f[0] + f[2] <= g[0] + g[2]
                       and f[1] + f[3] <= g[1] + g[3] for j, g in enumerate(out))]


def _pack_order(items: list, order: list, R: int, C: int, groups: list | None, limit: int | None):
    """One MaxRects-BSSF pass over ``items`` in ``order``: ``(placements, bins)``; placements
    ``None`` once more than ``limit`` bins are needed."""
    free: list = []       # per bin: its maximal free rectangles
    members: list = []    # per bin: the groups it holds (distinct groups only)
    place = [None] * len(items)
    for i in order:
        h, w = items[i]
        g = groups[i] if groups is not None else None
        best = None
        for b, rects in enumerate(free):
            if g is not None and g in members[b]:
                continue
            for fr, fc, fh, fw in rects:
                if h <= fh and w <= fw:
                    dh, dw = fh - h, fw - w
                    key = (min(dh, dw), max(dh, dw), b, fr, fc)
                    if best is None or key < best:
                        best = key
        if best is None:
            if limit is not None and len(free) >= limit:
                return None, len(free) + 1
            free.append([(0, 0, R, C)])
            members.append(set())
            b, r0, c0 = len(free) - 1, 0, 0
        else:
            b, r0, c0 = best[2:]
        free[b] = _split(free[b], r0, c0, h, w)
        if g is not None:
            members[b].add(g)
        place[i] = (b, r0, c0)
    return place, len(free)


def maxrects(items: list, R: int, C: int, groups: list | None = None,
             capacity: int | None = None) -> tuple:
    """Pack ``items`` (``[(rows, cols), ...]``) into ``R x C`` bins (module docstring).

    Args:
        groups: per item a group key; items of one group go to distinct bins (None: no
            constraint).
        capacity: bins available (None: unlimited).
    Returns:
        ``(placements, n_bins)``: ``placements[i] = (bin, row, col)`` of item ``i``'s top-left
        cell, bins numbered from 0 in the order they opened; ``(None, capacity + 1)`` when every
        order needs more than ``capacity`` bins (each pass stops there).
    Raises:
        ValueError: an item larger than a bin, or empty.
    """
    for h, w in items:
        if not (0 < h <= R and 0 < w <= C):
            raise ValueError(f"block {h}x{w} does not fit a {R}x{C} crossbar")
    best = None
    for key in ORDERS.values():
        order = sorted(range(len(items)), key=lambda i: (*key(*items[i]), i))
        place, n = _pack_order(items, order, R, C, groups, capacity)
        if place is not None and (best is None or n < best[1]):
            best = (place, n)
    return best if best is not None else (None, capacity + 1)


def lower_bounds(items: list, R: int, C: int, groups: list | None = None) -> dict:
    """Lower bounds on the bins any packing of ``items`` needs (module docstring):
    ``{"area", "columns", "rows", "large", "group", "bound"}``, ``bound`` their maximum."""
    tall = [w for h, w in items if 2 * h > R]
    wide = [h for h, w in items if 2 * w > C]
    sizes: dict = {}
    for g in groups or ():
        sizes[g] = sizes.get(g, 0) + 1
    out = {"area": -(-sum(h * w for h, w in items) // (R * C)),
           "columns": -(-sum(tall) // C),
           "rows": -(-sum(wide) // R),
           "large": sum(1 for h, w in items if 2 * h > R and 2 * w > C),
           "group": max(sizes.values(), default=0)}
    out["bound"] = max(out.values())
    return out
