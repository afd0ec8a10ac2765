"""Figures drawn from code, so they stay true: the autograd graph of a real tensor, and the
cycle of a training step.

:func:`autograd_graph` walks a tensor's ``grad_fn`` / ``next_functions`` (what ``backward()``
will walk) and :func:`draw_autograd_graph` draws it with matplotlib (no graphviz needed).
:func:`draw_training_loop` draws the steps of one optimizer step as a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from course_utils.i18n import _

TRAINING_STEPS = (
    "model.train()",
    "optimizer.zero_grad()",
    "outputs = model(**batch)",
    "loss = outputs.loss",
    "loss.backward()",
    "optimizer.step()",
)


@dataclass(frozen=True)
class Node:
    """One node of an autograd graph: a backward function, or a leaf's ``AccumulateGrad``."""

    key: int
    label: str
    depth: int
    leaf: bool = False


@dataclass
class Graph:
    """The nodes reachable from a tensor's ``grad_fn`` and the edges ``backward()`` follows."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)  # (from, to): towards the leaves

    def labels(self) -> list[str]:
        return [node.label for node in self.nodes]

    def label_edges(self) -> list[tuple[str, str]]:
        names = {node.key: node.label for node in self.nodes}
        return [(names[a], names[b]) for a, b in self.edges]


def _leaf_label(fn: object, names: Mapping[str, torch.Tensor]) -> str:
    variable = getattr(fn, "variable", None)
    for name, tensor in names.items():
        if variable is tensor:
            return name
    shape = tuple(variable.shape) if isinstance(variable, torch.Tensor) else ()
    return f"leaf {shape}"


def autograd_graph(tensor: torch.Tensor,
                   names: Mapping[str, torch.Tensor] | None = None) -> Graph:
    """The graph ``tensor.backward()`` would walk; leaves get their name from ``names``.

    Each backward function is one node (labelled with its class, e.g. ``TanhBackward0``); a leaf
    that requires grad is its ``AccumulateGrad`` node, labelled with the leaf's name.
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(_("autograd_graph needs a tensor, not a {kind}.").format(
            kind=type(tensor).__name__))
    if tensor.grad_fn is None:
        raise ValueError(_("this tensor has no grad_fn, so there is no graph to draw: compute it "
                           "from a tensor with requires_grad=True, outside torch.no_grad()."))
    names = dict(names or {})
    graph = Graph()
    seen: dict[int, int] = {}
    pairs: list[tuple[int, int]] = []
    frontier = [(tensor.grad_fn, 0)]
    while frontier:  # breadth first: a node's depth is its shortest distance from the output
        fn, depth = frontier.pop(0)
        if id(fn) in seen:
            continue
        leaf = type(fn).__name__ == "AccumulateGrad"
        label = _leaf_label(fn, names) if leaf else type(fn).__name__
        seen[id(fn)] = len(graph.nodes)
        graph.nodes.append(Node(len(graph.nodes), label, depth, leaf))
        for child, _index in fn.next_functions:
            if child is not None:
                pairs.append((id(fn), id(child)))
                frontier.append((child, depth + 1))
    graph.edges = list(dict.fromkeys((seen[a], seen[b]) for a, b in pairs))
    return graph


def _box(ax, x: float, y: float, text: str, color: str) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=9, family="monospace",
            bbox={"boxstyle": "round,pad=0.4", "facecolor": color, "edgecolor": "0.3"})


def draw_autograd_graph(tensor: torch.Tensor, names: Mapping[str, torch.Tensor] | None = None,
                        *, title: str = "", ax=None):
    """Draw :func:`autograd_graph` top-down: the output at the top, the leaves at the bottom."""
    import matplotlib.pyplot as plt

    graph = autograd_graph(tensor, names)
    depth = max(node.depth for node in graph.nodes)
    if ax is None:
        _figure, ax = plt.subplots(figsize=(7, 1.0 + 0.9 * depth))
    rows: dict[int, list[Node]] = {}
    for node in graph.nodes:
        rows.setdefault(node.depth, []).append(node)
    where = {}
    for level, members in rows.items():
        for index, node in enumerate(members):
            where[node.key] = ((index + 1) / (len(members) + 1), depth - level)
    for start, end in graph.edges:
        (x0, y0), (x1, y1) = where[start], where[end]
        ax.annotate("", xy=(x1, y1 + 0.18), xytext=(x0, y0 - 0.18),
                    arrowprops={"arrowstyle": "->", "color": "0.4"})
    for node in graph.nodes:
        x, y = where[node.key]
        _box(ax, x, y, node.label, "#cde6c7" if node.leaf else "#d6e4f5")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, depth + 0.6)
    ax.axis("off")
    ax.set_title(title or _("what backward() walks (green: leaves that get a .grad)"))
    return ax


def training_loop_steps(*, scheduler: bool = True, clip: bool = False,
                        steps: Sequence[str] = TRAINING_STEPS) -> list[str]:
    """The calls of one turn of the loop, in order (``steps[0]``, train mode, comes before)."""
    labels = list(steps[1:])
    if clip:
        labels.insert(labels.index("optimizer.step()"), "clip_grad_norm_(...)")
    return labels + (["scheduler.step()"] if scheduler else [])


def draw_training_loop(*, scheduler: bool = True, clip: bool = False,
                       steps: Sequence[str] = TRAINING_STEPS, ax=None):
    """The steps of a training loop as a cycle (one turn per batch), with the scheduler step
    and, with ``clip=True``, gradient clipping between ``backward()`` and ``step()``."""
    import math

    import matplotlib.pyplot as plt

    labels = training_loop_steps(scheduler=scheduler, clip=clip, steps=steps)
    if ax is None:
        _figure, ax = plt.subplots(figsize=(6.5, 5))
    count = len(labels)
    points = [(math.cos(math.pi / 2 - 2 * math.pi * i / count),
               math.sin(math.pi / 2 - 2 * math.pi * i / count)) for i in range(count)]
    for i in range(count):
        (x0, y0), (x1, y1) = points[i], points[(i + 1) % count]
        ax.annotate("", xy=(x0 + 0.8 * (x1 - x0), y0 + 0.8 * (y1 - y0)),
                    xytext=(x0 + 0.2 * (x1 - x0), y0 + 0.2 * (y1 - y0)),
                    arrowprops={"arrowstyle": "->", "color": "0.3", "lw": 1.5})
    for (x, y), label in zip(points, labels, strict=True):
        extra = label in ("scheduler.step()", "clip_grad_norm_(...)")
        _box(ax, x, y, label, "#f5e6c8" if extra else "#d6e4f5")
    ax.text(0, 0.12, _("once per batch"), ha="center", fontsize=10)
    ax.text(0, -0.12, _("before the loop: {first}").format(first=steps[0]), ha="center",
            fontsize=9, family="monospace")
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.35, 1.35)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(_("one training step, repeated for every batch"))
    return ax
