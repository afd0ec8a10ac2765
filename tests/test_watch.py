"""The shared watcher (course_utils/checks/watch.py): what it records, and that it cleans up."""

from __future__ import annotations

import traceback

import pytest
import torch
from torch import nn

from course_utils.checks import watch


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


# --- Moves: device placement seen on a CPU ---------------------------------------------------


def test_moves_sees_model_and_tensor_moves_on_a_cpu():
    model = _model()
    device = torch.device("cpu")
    with watch.Moves(model) as moves:
        model.to(device)
        x = torch.ones(2, 3)
        moved = x.to(device)  # on a CPU: the very same tensor
        kept = torch.zeros(2, 3)
        cast = kept.to(torch.float64)  # a dtype is not a device
    assert moves.model_moves == ["cpu"]
    assert moved is x and moves.moved(x)
    assert not moves.moved(kept) and not moves.moved(cast)
    assert moves.unmoved((x,), {"labels": kept}) == ["labels"]
    assert "to" not in torch.Tensor.__dict__  # the C method again, not a leftover wrapper
    assert nn.Module.to is nn.Module.__dict__["to"]


def test_device_problem_names_model_batch_and_part_of_a_batch():
    model = _model()
    with watch.Moves(model) as moves:
        pass
    assert "model.to(device) was not called" in watch.device_problem(moves, [], 1, "cpu")
    moves.model_moves.append("cpu")
    all_names = [["input_ids", "attention_mask", "labels"]] * 4
    assert "none of the batch's tensors" in watch.device_problem(moves, all_names, 4, "cpu")
    part = watch.device_problem(moves, [["labels"]] * 4, 4, "cpu")
    assert "labels (the other inputs were moved)" in part and "4 of 4 forward passes" in part
    assert watch.device_problem(moves, [[]] * 4, 4, "cpu") is None


def test_training_watch_with_moves_records_unmoved_inputs():
    model = _model()
    with watch.Moves(model) as moves, watch.TrainingWatch(model, moves) as spy:
        model.to("cpu")
        x = torch.ones(5, 3)
        model(x.to("cpu"))
        model(torch.ones(5, 3))
    assert spy.unmoved == [[], ["argument 0"]]


# --- TrainingWatch: the order of a training loop ------------------------------------------------


def test_training_watch_records_a_loop_in_order_and_restores_everything():
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, 1.0, 0.0, total_iters=2)
    with watch.TrainingWatch(model) as spy:
        model.train()
        for _ in range(2):
            optimizer.zero_grad()
            loss = model(torch.ones(4, 3)).sum()
            loss.backward()
            optimizer.step()
            scheduler.step()
    kinds = [kind for kind, _ in spy.events]
    assert kinds == ["train"] + ["zero_grad", "forward", "backward", "step", "scheduler"] * 2
    assert spy.backwards == [True, True]
    assert [s.lr for s in spy.steps] == [0.1, 0.05]
    assert len(spy.backward_losses) == 2 and spy.forwards_per_step() == [1, 1, 0]
    assert torch.Tensor.__dict__["backward"].__module__ == "torch._tensor"
    assert nn.Module.__dict__["train"].__name__ == "train"
    from torch.optim import optimizer as optimizer_module

    assert not optimizer_module._global_optimizer_pre_hooks


def test_training_watch_sees_gradients_left_over():
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with watch.TrainingWatch(model) as spy:
        for _ in range(3):
            model(torch.ones(2, 3)).sum().backward()
            optimizer.step()
    assert spy.backwards == [True, False, False] and spy.zero_calls == 0


# --- OptimizerWatch: loops without a model ------------------------------------------------------


def _fit(order: str) -> watch.OptimizerWatch:
    w = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.1)
    with watch.OptimizerWatch() as seen:
        for _ in range(3):
            loss = ((w - 1) ** 2).sum()
            if order == "between":
                loss.backward()
                optimizer.zero_grad()
                optimizer.step()
            elif order == "before":
                optimizer.zero_grad()
                optimizer.step()
                loss.backward()
            else:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return seen


@pytest.mark.parametrize(("order", "expected"), [("right", (0, 0)), ("between", (3, 0)),
                                                 ("before", (2, 1))])
def test_optimizer_watch_tells_empty_steps_apart(order, expected):
    seen = _fit(order)
    assert seen.empty_steps() == expected
    assert len(seen.optimizers) == 1


# --- values, errors, divergences ----------------------------------------------------------------


def test_graph_tensors_counts_only_tensors_that_hold_a_graph():
    w = torch.ones(1, requires_grad=True)
    loss = (w * 2).sum()
    assert watch.graph_tensors([loss, loss.detach(), 1.5, {"a": loss}]) == 2
    assert watch.graph_tensors(loss.item()) == 0


def test_pinned_points_at_the_students_line_not_into_torch():
    def answer(x):
        return torch.cat([x, torch.ones(3)])  # shapes do not fit: torch raises inside

    with pytest.raises(RuntimeError) as error:
        watch.pinned(answer)(torch.ones(2, 2))
    last = traceback.extract_tb(error.value.__traceback__)[-1]
    assert last.filename == __file__ and "torch.cat" in last.line


def test_pinned_leaves_non_callables_and_not_implemented_alone():
    assert watch.pinned(3) == 3

    def stub():
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        watch.pinned(stub)()


def test_first_divergence():
    assert watch.first_divergence([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) is None
    assert watch.first_divergence([1.0, 2.5, 3.0], [1.0, 2.0, 3.0]) == 1
    assert watch.first_divergence([1.0], [1.0, 2.0]) == 1


def test_is_device():
    assert watch.is_device("cpu") and watch.is_device(torch.device("cpu")) and watch.is_device(0)
    assert not watch.is_device(torch.float32) and not watch.is_device("not a device")
    assert not watch.is_device(True)


def test_moves_lists_the_unmoved_inputs_of_every_forward_pass():
    model = _model()
    with watch.Moves(model) as moves:
        model(torch.ones(1, 3).to("cpu"))
        model(torch.ones(1, 3))
    model(torch.ones(1, 3))  # after the block: not watched any more
    assert moves.forward_unmoved == [[], ["argument 0"]]


# --- Recorder and WatchedLoader: passes over a dataloader -----------------------------------------


class _Labelled(nn.Module):
    """Returns an output with logits and a loss, like a transformers classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x, labels=None):
        from transformers.modeling_outputs import SequenceClassifierOutput

        logits = self.linear(x)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def test_recorder_keeps_each_pass_its_labels_and_forwards():
    torch.manual_seed(0)
    model = _Labelled()
    batches = [{"x": torch.randn(4, 3), "labels": torch.tensor([0, 1, 1, 0])} for _ in range(3)]
    recorder = watch.Recorder(model)
    train = watch.WatchedLoader(batches, recorder, "train")
    evaluation = watch.WatchedLoader(batches, recorder, "eval", snapshot=True)
    assert len(evaluation) == 3
    try:
        model.train()
        for batch in train:
            model(**batch).loss.backward()
        model.eval()
        with torch.no_grad():
            for index, batch in enumerate(evaluation):
                if index < 2:  # the last batch never reaches the model
                    model(batch["x"])
        model(torch.randn(2, 3))  # outside any pass
    finally:
        recorder.remove()
    model(torch.randn(2, 3))  # removed: not recorded
    first, second = recorder.passes
    assert [p.phase for p in recorder.passes] == ["train", "eval"]
    assert first.complete(3) and not second.complete(3) and second.weights is not None
    assert first.examples == 12 and len(second.predictions()) == 8
    assert torch.equal(second.forwarded_labels(), torch.tensor([0, 1, 1, 0] * 2))
    assert all(f.training and f.grad_enabled and f.loss is not None for f in
               recorder.forwards[:3])
    assert [f.training or f.grad_enabled for f in recorder.forwards[3:5]] == [False, False]
    assert recorder.forwards[3].loss is not None  # from the labels of the pass's batch
    assert recorder.forwards[-1].phase == "other" and len(recorder.forwards) == 6
    assert recorder.phase_passes("eval") == [second]


def test_as_tensor_takes_tensors_arrays_lists_and_numbers():
    import numpy as np

    assert torch.equal(watch.as_tensor([1, 0, 1]), torch.tensor([1, 0, 1]))
    assert torch.equal(watch.as_tensor(np.array([1, 0])), torch.tensor([1, 0]))
    assert torch.equal(watch.as_tensor([torch.tensor([1]), torch.tensor([0, 1])]),
                       torch.tensor([1, 0, 1]))
    assert watch.as_tensor(3).item() == 3


# --- AccelerateWatch: one process of an Accelerate run ------------------------------------------


@pytest.fixture
def accelerate_state():
    """Accelerate's singletons as they were, after a test that built an Accelerator here."""
    from accelerate.state import AcceleratorState, GradientState, PartialState

    states = (PartialState, AcceleratorState, GradientState)
    saved = [dict(s._shared_state) for s in states]
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    yield
    watch.stop_accelerate_watch()
    for state, old in zip(states, saved, strict=True):
        state._shared_state.clear()
        state._shared_state.update(old)


def test_accelerate_watch_records_prepare_accumulate_and_the_order_inside(accelerate_state):
    from accelerate import Accelerator
    from accelerate.optimizer import AcceleratedOptimizer

    original_zero_grad = AcceleratedOptimizer.__dict__["zero_grad"]
    accelerator = Accelerator(cpu=True, gradient_accumulation_steps=2)
    probe = watch.start_accelerate_watch(accelerator)
    assert watch.accelerate_watch() is probe
    model = nn.Sequential()
    model.add_module("classifier", nn.Linear(3, 2))  # the watch hooks classifier.bias
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = torch.utils.data.DataLoader(torch.randn(8, 3), batch_size=2)
    probe.watch(model, optimizer)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    for batch in loader:
        with accelerator.accumulate(model):
            optimizer.zero_grad()  # first inside the block: the order is recorded
            accelerator.backward(model(batch).sum())
            optimizer.step()
    Accelerator(cpu=True, gradient_accumulation_steps=2)  # a second one is seen
    summary = probe.summary()
    assert summary["prepared"] == ["model", "optimizer", "other dataloader"]
    assert summary["calls"]["backward"] == 4 and summary["calls"]["accumulate"] == 4
    assert [b["sync"] for b in summary["blocks"]] == [False, True, False, True]
    assert summary["blocks"][1]["events"] == ["zero", "backward", "step"]
    assert summary["grad_passes"] == 4 and len(summary["lrs"]) == 2
    assert summary["new_accelerators"] == 1
    watch.stop_accelerate_watch()
    assert watch.accelerate_watch() is None
    assert AcceleratedOptimizer.__dict__["zero_grad"] is original_zero_grad


def test_first_sizes_and_kind_of():
    assert watch.first_sizes({"a": torch.ones(3, 2), "b": [torch.ones(2), torch.tensor(1)]}) \
        == [3, 2, 1]
    assert watch.kind_of(nn.Linear(1, 1)) == "model"
    assert watch.kind_of(torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)) == "optimizer"
    assert watch.kind_of(3) == "int"
