"""Chapter 4's figure of how batches are shared out between processes and gathered back.

:func:`gather_order` replays what ``accelerator.gather_for_metrics`` does with the batches each
process iterated: at every step it concatenates the processes' batches (process 0 first) and,
once as many rows as the dataset holds have been handed over, drops the rest of the last step.
:func:`plot_shards` draws it. The shares come from a real split (Accelerate's own
``prepare_data_loader``), so the figure changes with the data and the batch size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Slot:
    """One row as a process saw it: its process, batch, place in the batch and dataset row."""

    process: int
    batch: int
    position: int
    row: int
    kept: bool  # what gather_for_metrics keeps; False for the padding it drops


def gather_order(shares: Sequence[Sequence[Sequence[int]]], num_rows: int) -> list[Slot]:
    """Every slot of ``shares[process][batch] = [row, ...]`` in the order the gather hands them
    over, each marked kept or dropped as ``gather_for_metrics`` does for ``num_rows`` rows."""
    if not shares or len({len(batches) for batches in shares}) != 1:
        raise ValueError("every process must have the same number of batches")
    slots, handed = [], 0
    for batch in range(len(shares[0])):
        for process, batches in enumerate(shares):
            for position, row in enumerate(batches[batch]):
                slots.append(Slot(process, batch, position, int(row), handed < num_rows))
                handed += 1
    return slots


def plot_shards(shares: Sequence[Sequence[Sequence[int]]], num_rows: int, ax=None):
    """One lane per process, one square per row it saw (labelled with the row number), batches
    side by side; the rows ``gather_for_metrics`` drops are crossed out. Returns the Axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    slots = gather_order(shares, num_rows)
    width = max(len(batch) for batches in shares for batch in batches)
    batches = len(shares[0])
    if ax is None:
        _, ax = plt.subplots(figsize=(min(18, 0.28 * batches * (width + 1) + 1.5),
                                      1.0 + 0.9 * len(shares)), layout="constrained")
    cmap = plt.get_cmap("viridis")
    for slot in slots:
        x = slot.batch * (width + 1) + slot.position
        y = len(shares) - 1 - slot.process
        ax.add_patch(Rectangle((x, y), 0.95, 0.8, color=cmap(slot.row / max(1, num_rows - 1)),
                               alpha=1.0 if slot.kept else 0.35))
        ax.text(x + 0.47, y + 0.4, str(slot.row), ha="center", va="center", fontsize=5,
                color="white" if slot.kept else "black")
        if not slot.kept:
            ax.plot([x, x + 0.95], [y, y + 0.8], color="red", linewidth=1)
            ax.plot([x, x + 0.95], [y + 0.8, y], color="red", linewidth=1)
    ax.set_xlim(-0.5, batches * (width + 1))
    ax.set_ylim(-0.2, len(shares))
    ax.set_yticks([len(shares) - 1 - p + 0.4 for p in range(len(shares))],
                  [f"process {p}" for p in range(len(shares))])
    ax.set_xticks([b * (width + 1) + width / 2 for b in range(batches)],
                  [f"step {b + 1}" for b in range(batches)], fontsize="small")
    ax.tick_params(length=0)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    dropped = sum(not slot.kept for slot in slots)
    ax.set_title(f"{num_rows} rows on {len(shares)} processes: {len(slots)} slots, "
                 f"{dropped} of them repeats that gather_for_metrics drops (crossed out)",
                 fontsize="medium")
    return ax
