"""Plots the notebooks share. Each function draws one figure and returns its Axes.

Chapter-specific plots are appended below, one section per chapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def plot_curves(series: Mapping[str, Sequence[float]], *, xlabel: str = "step",
                ylabel: str = "", title: str = "", smooth: int = 1, ax=None):
    """One line per named series; ``smooth`` > 1 also draws a running mean over that window."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for index, (name, values) in enumerate(series.items()):
        values = list(values)
        color = f"C{index}"
        if smooth > 1 and len(values) >= smooth:
            ax.plot(values, color=color, alpha=0.3)
            means = [sum(values[i - smooth + 1 : i + 1]) / smooth
                     for i in range(smooth - 1, len(values))]
            ax.plot(range(smooth - 1, len(values)), means, color=color, label=name)
        else:
            ax.plot(values, color=color, label=name, marker="o" if len(values) < 15 else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(series) > 1 or smooth > 1:
        ax.legend()
    return ax
