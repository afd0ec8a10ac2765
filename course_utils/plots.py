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


# --- Chapter 3: the evaluation loop ------------------------------------------------------------


def plot_history(history: Sequence[Mapping[str, float]], *, title: str = "", axes=None):
    """A training run epoch by epoch: the mean training loss (left) and the validation accuracy
    and F1 (right), the best epoch by accuracy marked. ``history`` holds one dict per epoch with
    ``train_loss``, ``accuracy`` and ``f1``, and optionally ``eval_loss`` (the validation loss,
    drawn with the training loss). Returns the two Axes."""
    import matplotlib.pyplot as plt

    if axes is None:  # constrained layout keeps the title clear of the panels' titles
        _, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    loss_ax, metric_ax = axes
    epochs = list(range(1, len(history) + 1))
    loss_ax.plot(epochs, [row["train_loss"] for row in history], marker="o", color="C0",
                 label="training")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("mean training loss")
    loss_ax.set_title("training loss")
    if history and all("eval_loss" in row for row in history):  # the validation loss, if kept
        loss_ax.plot(epochs, [row["eval_loss"] for row in history], marker="o", color="C3",
                     label="validation")
        loss_ax.set_ylabel("mean loss")
        loss_ax.set_title("training and validation loss")
        loss_ax.legend()
    for index, key in enumerate(("accuracy", "f1")):
        metric_ax.plot(epochs, [row[key] for row in history], marker="o", color=f"C{index + 1}",
                       label=key)
    if history:
        accuracies = [row["accuracy"] for row in history]
        best = accuracies.index(max(accuracies))
        metric_ax.axvline(best + 1, color="grey", linestyle=":", label=f"best: epoch {best + 1}")
    metric_ax.set_xlabel("epoch")
    metric_ax.set_ylabel("validation score")
    metric_ax.set_title("validation metrics")
    metric_ax.legend()
    for ax in axes:
        ax.set_xticks(epochs)
    if title:
        loss_ax.figure.suptitle(title)
    return axes


# --- Chapter 5: beyond the loop ----------------------------------------------------------------


def plot_strategies(rows: Sequence[Mapping[str, float]], *, title: str = "", axes=None):
    """Fine-tuning strategies side by side: trainable parameters (log scale), seconds per epoch,
    memory (the measured peak next to the gradients and AdamW state the strategy implies) and
    validation accuracy and F1. Each row has ``strategy``, ``trainable``,
    ``seconds_per_epoch``, ``peak_mb``, ``state_mb``, ``accuracy`` and ``f1``. Returns the
    four Axes."""
    import matplotlib.pyplot as plt

    if axes is None:  # constrained layout keeps the title clear of the panels' titles
        _, axes = plt.subplots(1, 4, figsize=(14, 3.6), layout="constrained")
    names = [str(row["strategy"]) for row in rows]
    places = list(range(len(rows)))
    params_ax, time_ax, memory_ax, score_ax = axes
    params_ax.bar(places, [row["trainable"] for row in rows], color="C0")
    params_ax.set_yscale("log")
    params_ax.set_title("trainable parameters")
    time_ax.bar(places, [row["seconds_per_epoch"] for row in rows], color="C1")
    time_ax.set_title("seconds per epoch")
    width = 0.38
    for offset, key, label, color in ((-width / 2, "peak_mb", "measured peak", "C4"),
                                      (width / 2, "state_mb", "grads + AdamW", "C5")):
        memory_ax.bar([p + offset for p in places], [row[key] for row in rows], width,
                      color=color, label=label)
    memory_ax.set_title("memory while training (MB)")
    memory_ax.legend(fontsize="small")
    for offset, key, color in ((-width / 2, "accuracy", "C2"), (width / 2, "f1", "C3")):
        score_ax.bar([p + offset for p in places], [row[key] for row in rows], width,
                     color=color, label=key)
    score_ax.set_ylim(0, 1.15)  # room for the legend above the bars
    score_ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    score_ax.set_title("validation scores")
    score_ax.legend(loc="upper center", ncol=2, fontsize="small")
    for ax in axes:
        ax.set_xticks(places, names)
    if title:
        params_ax.figure.suptitle(title)
    return axes


def plot_runs(histories: Mapping[str, Sequence[Mapping[str, float]]], *, title: str = "",
              axes=None):
    """Several training runs epoch by epoch, one line each: the mean training loss (left) and
    the validation accuracy (right, solid) and F1 (right, dashed). Each history holds one dict
    per epoch with ``train_loss``, ``accuracy`` and ``f1``. Returns the two Axes."""
    import matplotlib.pyplot as plt

    if axes is None:  # constrained layout keeps the title clear of the panels' titles
        _, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    loss_ax, metric_ax = axes
    for index, (name, history) in enumerate(histories.items()):
        epochs = list(range(1, len(history) + 1))
        color = f"C{index}"
        marker = "os^vD"[index % 5]
        loss_ax.plot(epochs, [row["train_loss"] for row in history], color=color,
                     marker=marker, label=name)
        metric_ax.plot(epochs, [row["accuracy"] for row in history], color=color,
                       marker=marker, label=f"{name}: accuracy")
        metric_ax.plot(epochs, [row["f1"] for row in history], color=color, linestyle="--",
                       marker=marker, alpha=0.6, label=f"{name}: F1")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("mean training loss")
    loss_ax.set_title("training loss")
    loss_ax.legend()
    metric_ax.set_xlabel("epoch")
    metric_ax.set_ylabel("validation score")
    metric_ax.set_title("validation accuracy (solid) and F1 (dashed)")
    metric_ax.legend(fontsize="small")
    if title:
        loss_ax.figure.suptitle(title)
    return axes


def plot_step_times(parts: Mapping[str, Mapping[str, float]], *, title: str = "", ax=None):
    """Stacked horizontal bars, one per variant, of where a training step's time goes:
    ``parts[variant]`` maps a part ("forward + backward", "optimizer step", ...) to milliseconds.
    Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.6 * len(parts) + 1.6), layout="constrained")
    kinds: list[str] = []
    for split in parts.values():
        kinds += [kind for kind in split if kind not in kinds]
    names = list(parts)
    lefts = [0.0] * len(names)
    for index, kind in enumerate(kinds):
        widths = [parts[name].get(kind, 0.0) for name in names]
        ax.barh(names, widths, left=lefts, color=f"C{index}", label=kind)
        lefts = [left + width for left, width in zip(lefts, widths, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds per training step")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=len(kinds), fontsize="small")
    ax.set_title(title)
    return ax
