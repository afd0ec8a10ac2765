"""The figures are drawn from the real objects: the autograd graph of a tensor, the loop's steps."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils import figures  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def rnn_cell():
    """Chapter 1's recurrent cell: tanh(W_h h + W_x x), summed."""
    torch.manual_seed(0)
    W_h = torch.randn(20, 20, requires_grad=True)
    W_x = torch.randn(20, 10, requires_grad=True)
    x, prev_h = torch.randn(1, 10), torch.randn(1, 20)
    return torch.tanh(W_h @ prev_h.T + W_x @ x.T).sum(), {"W_h": W_h, "W_x": W_x}


def test_the_rnn_cell_graph_is_what_backward_walks() -> None:
    loss, names = rnn_cell()
    graph = figures.autograd_graph(loss, names)
    assert graph.labels() == ["SumBackward0", "TanhBackward0", "AddBackward0", "MmBackward0",
                              "MmBackward0", "W_h", "W_x"]
    edges = graph.label_edges()
    assert edges[:2] == [("SumBackward0", "TanhBackward0"), ("TanhBackward0", "AddBackward0")]
    assert sorted(edges[2:]) == [("AddBackward0", "MmBackward0"), ("AddBackward0", "MmBackward0"),
                                 ("MmBackward0", "W_h"), ("MmBackward0", "W_x")]
    assert [n.label for n in graph.nodes if n.leaf] == ["W_h", "W_x"]
    assert [n.depth for n in graph.nodes] == [0, 1, 2, 3, 3, 4, 4]


def test_a_tensor_used_twice_is_one_node() -> None:
    w = torch.ones(3, requires_grad=True)
    graph = figures.autograd_graph((w * w).sum(), {"w": w})
    assert graph.labels() == ["SumBackward0", "MulBackward0", "w"]
    assert graph.label_edges() == [("SumBackward0", "MulBackward0"), ("MulBackward0", "w")]


def test_unnamed_leaves_show_their_shape() -> None:
    graph = figures.autograd_graph((torch.ones(2, 3, requires_grad=True) * 2).sum())
    assert graph.labels()[-1] == "leaf (2, 3)"


@pytest.mark.parametrize("value, message", [
    (torch.ones(3), "no grad_fn"),
    ([1.0, 2.0], "needs a tensor, not a list"),
])
def test_no_graph_is_one_sentence(value, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        figures.autograd_graph(value)


def test_the_drawing_shows_every_node() -> None:
    loss, names = rnn_cell()
    ax = figures.draw_autograd_graph(loss, names)
    texts = [t.get_text() for t in ax.texts if t.get_text()]
    assert sorted(texts) == sorted(figures.autograd_graph(loss, names).labels())


def test_the_loop_cycle_in_order() -> None:
    assert figures.training_loop_steps() == [
        "optimizer.zero_grad()", "outputs = model(**batch)", "loss = outputs.loss",
        "loss.backward()", "optimizer.step()", "scheduler.step()"]
    clipped = figures.training_loop_steps(clip=True, scheduler=False)
    assert clipped.index("clip_grad_norm_(...)") == clipped.index("loss.backward()") + 1
    assert clipped[-1] == "optimizer.step()"
    ax = figures.draw_training_loop(clip=True)
    texts = [t.get_text() for t in ax.texts if t.get_text()]
    for label in figures.training_loop_steps(clip=True):
        assert label in texts
    assert any("model.train()" in t for t in texts)
