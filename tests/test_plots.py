"""The shared plots draw the numbers they are given, with titles clear of one another."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from course_utils import plots  # noqa: E402

ROWS = [
    {"strategy": "full", "trainable": 47522, "seconds_per_epoch": 0.83, "peak_mb": 8.3,
     "state_mb": 0.54, "accuracy": 0.95, "f1": 0.961},
    {"strategy": "lower", "trainable": 9666, "seconds_per_epoch": 0.70, "peak_mb": 0.1,
     "state_mb": 0.11, "accuracy": 0.634, "f1": 0.776},
    {"strategy": "head", "trainable": 66, "seconds_per_epoch": 0.53, "peak_mb": 0.1,
     "state_mb": 0.0, "accuracy": 0.634, "f1": 0.776},
]
HISTORY = [{"train_loss": 0.66, "accuracy": 0.63, "f1": 0.78},
           {"train_loss": 0.25, "accuracy": 0.93, "f1": 0.94}]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def heights(ax, label=None) -> list[float]:
    bars = [bar for container in ax.containers
            if label is None or container.get_label() == label for bar in container]
    return [bar.get_height() for bar in bars]


def titles_do_not_overlap(figure) -> None:
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    top = figure._suptitle.get_window_extent(renderer)
    for ax in figure.axes:
        assert not top.overlaps(ax.title.get_window_extent(renderer)), ax.get_title()


def test_strategies_shows_each_measured_column() -> None:
    params, time, memory, scores = plots.plot_strategies(ROWS, title="three strategies")
    assert heights(params) == [47522, 9666, 66] and params.get_yscale() == "log"
    assert heights(time) == [0.83, 0.70, 0.53]
    assert heights(memory, "measured peak") == [8.3, 0.1, 0.1]
    assert heights(memory, "grads + AdamW") == [0.54, 0.11, 0.0]
    assert heights(scores, "accuracy") == [0.95, 0.634, 0.634]
    assert heights(scores, "f1") == [0.961, 0.776, 0.776]
    assert [tick.get_text() for tick in scores.get_xticklabels()] == ["full", "lower", "head"]
    titles_do_not_overlap(params.figure)


def test_runs_draws_one_line_per_run_and_metric() -> None:
    loss, metrics = plots.plot_runs({"your loop": HISTORY, "Trainer": HISTORY[::-1]},
                                    title="same settings")
    assert [list(line.get_ydata()) for line in loss.lines] == [[0.66, 0.25], [0.25, 0.66]]
    assert [line.get_label() for line in metrics.lines] == [
        "your loop: accuracy", "your loop: F1", "Trainer: accuracy", "Trainer: F1"]
    titles_do_not_overlap(loss.figure)


def test_history_marks_the_best_epoch() -> None:
    loss, metrics = plots.plot_history(HISTORY, title="smoke profile")
    assert list(loss.lines[0].get_ydata()) == [0.66, 0.25]
    assert any(line.get_label() == "best: epoch 2" for line in metrics.lines)
    titles_do_not_overlap(loss.figure)


def test_step_times_stacks_the_parts_of_each_variant() -> None:
    parts = {"for-loop": {"forward + backward": 9.0, "optimizer step": 2.6},
             "fused": {"forward + backward": 8.7, "optimizer step": 0.9}}
    ax = plots.plot_step_times(parts, title="one step")
    widths = [bar.get_width() for container in ax.containers for bar in container]
    lefts = [bar.get_x() for container in ax.containers for bar in container]
    assert widths == pytest.approx([9.0, 8.7, 2.6, 0.9])
    assert lefts == pytest.approx([0.0, 0.0, 9.0, 8.7])


# --- Chapter 4: the sharding figure ------------------------------------------------------------


def _shares(num_rows: int, batch_size: int, processes: int) -> list[list[list[int]]]:
    from accelerate.data_loader import prepare_data_loader
    from torch.utils.data import DataLoader

    loader = DataLoader(list(range(num_rows)), batch_size=batch_size)
    return [[list(batch) for batch in prepare_data_loader(
        loader, num_processes=processes, process_index=rank, put_on_device=False).batch_sampler]
        for rank in range(processes)]


@pytest.mark.parametrize("num_rows, batch_size, processes", [(101, 8, 2), (13, 4, 2), (16, 4, 2),
                                                             (10, 3, 3)])
def test_the_gather_keeps_every_row_once_and_drops_only_repeats(num_rows, batch_size,
                                                                processes) -> None:
    from course_utils.sharding import gather_order

    slots = gather_order(_shares(num_rows, batch_size, processes), num_rows)
    kept = [slot.row for slot in slots if slot.kept]
    assert sorted(kept) == list(range(num_rows))
    assert all(slot.row in kept for slot in slots if not slot.kept)


def test_the_gather_order_is_what_gather_for_metrics_returns() -> None:
    """The same order as a real gather_for_metrics: in one process, per batch, the rows
    of process 0's batch then process 1's, cut at the dataset's length."""
    from course_utils.sharding import gather_order

    shares = _shares(13, 4, 2)
    order = [slot.row for slot in gather_order(shares, 13) if slot.kept]
    assert order == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]


def test_plot_shards_crosses_out_the_dropped_rows() -> None:
    from course_utils.sharding import plot_shards

    ax = plot_shards(_shares(13, 4, 2), 13)
    assert "13 rows on 2 processes: 16 slots, 3 of them repeats" in ax.get_title()
    assert len(ax.patches) == 16
    assert [t.get_text() for t in ax.get_yticklabels()] == ["process 0", "process 1"]


def test_gather_order_refuses_uneven_shares() -> None:
    from course_utils.sharding import gather_order

    with pytest.raises(ValueError, match="same number of batches"):
        gather_order([[[0, 1]], [[2, 3], [4]]], 5)
