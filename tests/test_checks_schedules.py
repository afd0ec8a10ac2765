"""The chapter-2b checkers: right answers in several styles pass, each named mistake is named."""

from __future__ import annotations

import math

import pytest
import torch
from checker_asserts import fails_with, passes
from torch import nn
from transformers import get_linear_schedule_with_warmup, get_scheduler

from course_utils.checks import schedules as check

# --- a linear schedule with warmup -------------------------------------------------------------


def warmup_get_scheduler(optimizer, num_training_steps, warmup_ratio):
    return get_scheduler("linear", optimizer=optimizer,
                         num_warmup_steps=math.ceil(warmup_ratio * num_training_steps),
                         num_training_steps=num_training_steps)


def warmup_named_helper(optimizer, num_training_steps, warmup_ratio):
    warmup = -int(-num_training_steps * warmup_ratio // 1)  # ceil without math
    return get_linear_schedule_with_warmup(optimizer, warmup, num_training_steps)


def warmup_lambda(optimizer, num_training_steps, warmup_ratio):
    warmup = math.ceil(num_training_steps * warmup_ratio)

    def factor(step):
        if step < warmup:
            return step / warmup
        return max(0.0, (num_training_steps - step) / (num_training_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@pytest.mark.parametrize("answer", [warmup_get_scheduler, warmup_named_helper, warmup_lambda])
@pytest.mark.parametrize("settings", [{}, {"num_training_steps": 23, "warmup_ratio": 0.3},
                                      {"num_training_steps": 7, "warmup_ratio": 0.06}])
def test_right_warmup_schedules_pass(answer, settings, capsys) -> None:
    line = passes(check.warmup_schedule, answer, capsys, **settings)
    assert "warmup steps" in line


def warmup_ratio_as_steps(optimizer, num_training_steps, warmup_ratio):
    return get_scheduler("linear", optimizer=optimizer, num_warmup_steps=warmup_ratio,
                         num_training_steps=num_training_steps)


def warmup_none(optimizer, num_training_steps, warmup_ratio):
    return get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                         num_training_steps=num_training_steps)


def warmup_rounded_down(optimizer, num_training_steps, warmup_ratio):
    return get_scheduler("linear", optimizer=optimizer,
                         num_warmup_steps=int(warmup_ratio * num_training_steps),
                         num_training_steps=num_training_steps)


def warmup_in_percent(optimizer, num_training_steps, warmup_ratio):
    return get_scheduler("linear", optimizer=optimizer, num_warmup_steps=int(warmup_ratio * 100),
                         num_training_steps=num_training_steps)


def warmup_decay_too_long(optimizer, num_training_steps, warmup_ratio):
    return get_scheduler("linear", optimizer=optimizer,
                         num_warmup_steps=math.ceil(warmup_ratio * num_training_steps),
                         num_training_steps=2 * num_training_steps)


def warmup_cosine(optimizer, num_training_steps, warmup_ratio):
    return get_scheduler("cosine", optimizer=optimizer,
                         num_warmup_steps=math.ceil(warmup_ratio * num_training_steps),
                         num_training_steps=num_training_steps)


def warmup_own_optimizer(optimizer, num_training_steps, warmup_ratio):
    mine = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=1e-3)
    return warmup_get_scheduler(mine, num_training_steps, warmup_ratio)


def warmup_returns_nothing(optimizer, num_training_steps, warmup_ratio):
    warmup_get_scheduler(optimizer, num_training_steps, warmup_ratio)


def warmup_already_stepped(optimizer, num_training_steps, warmup_ratio):
    scheduler = warmup_get_scheduler(optimizer, num_training_steps, warmup_ratio)
    scheduler.step()
    return scheduler


@pytest.mark.parametrize("answer, phrases, settings", [
    (warmup_ratio_as_steps, ["warmup in the wrong unit", "ceil(0.1 × 40) = 4"], {}),
    (warmup_none, ["there is no warmup", "= 4"], {}),
    (warmup_rounded_down, ["rounded down", "math.ceil"],
     {"num_training_steps": 23, "warmup_ratio": 0.3}),
    (warmup_in_percent, ["reaches its peak at step 10", "= 4 optimizer steps"], {}),
    (warmup_decay_too_long, ["not 0", "num_training_steps=40"], {}),
    (warmup_cosine, ["at step 5 the learning rate"], {}),
    (warmup_own_optimizer, ["never changes", "not on a new one"], {}),
    (warmup_returns_nothing, ["returned NoneType, not a scheduler"], {}),
    (warmup_already_stepped, ["reaches its peak at step 3"], {}),
])
def test_warmup_mistakes_are_named(answer, phrases, settings) -> None:
    fails_with(check.warmup_schedule, answer, *phrases, **settings)


def test_warmup_stub_says_not_answered() -> None:
    def stub(optimizer, num_training_steps, warmup_ratio):
        raise NotImplementedError()

    fails_with(check.warmup_schedule, stub, "not answered yet")


# --- one epoch with gradient clipping ----------------------------------------------------------


def clip_textbook(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    model.train()
    norms = []
    for inputs, targets in dataloader:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        scheduler.step()
        norms.append(norm.item())
    return norms


def clip_imported_name_zero_last(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    from torch.nn.utils import clip_grad_norm_

    model.train(True)
    norms = []
    for x, y in dataloader:
        loss_fn(model(x), y).backward()
        norms.append(float(clip_grad_norm_(model.parameters(), max_norm=max_norm)))
        optimizer.step()
        scheduler.step()
        model.zero_grad(set_to_none=True)
    return norms


def clip_nn_utils_param_list(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    params = [p for p in model.parameters() if p.requires_grad]
    model.train()
    norms = []
    for _step, batch in enumerate(dataloader):
        optimizer.zero_grad(set_to_none=False)
        outputs = model(batch[0])
        loss = loss_fn(outputs, batch[1])
        loss.backward()
        total = nn.utils.clip_grad_norm_(params, max_norm, norm_type=2.0)
        optimizer.step()
        scheduler.step()
        norms.append(float(total))
    return norms


@pytest.mark.parametrize("answer", [clip_textbook, clip_imported_name_zero_last,
                                    clip_nn_utils_param_list])
@pytest.mark.parametrize("settings", [{}, {"max_norm": 0.2, "num_batches": 9, "seed": 3},
                                      {"max_norm": 100.0, "lr": 0.05, "seed": 5}])
def test_right_clipped_epochs_pass(answer, settings, capsys) -> None:
    line = passes(check.clipped_epoch, answer, capsys, **settings)
    assert "steps clipped to" in line


def test_the_visible_case_really_clips(capsys) -> None:
    line = passes(check.clipped_epoch, clip_textbook, capsys)
    assert "6 of 6 steps clipped" in line


def clip_before_backward(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    model.train()
    norms = []
    for inputs, targets in dataloader:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)))
        loss.backward()
        optimizer.step()
        scheduler.step()
    return norms


def clip_after_step(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    model.train()
    norms = []
    for inputs, targets in dataloader:
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        optimizer.step()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)))
        scheduler.step()
    return norms


def clip_never(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    model.train()
    norms = []
    for inputs, targets in dataloader:
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        norms.append(float(torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))))
        optimizer.step()
        scheduler.step()
    return norms


def clip_fixed_one(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    return clip_textbook(model, dataloader, optimizer, scheduler, loss_fn, 1.0)


def clip_by_value(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    model.train()
    norms = []
    for inputs, targets in dataloader:
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        norms.append(float(torch.nn.utils.get_total_norm([p.grad for p in model.parameters()])))
        torch.nn.utils.clip_grad_value_(model.parameters(), max_norm)
        optimizer.step()
        scheduler.step()
    return norms


def clip_no_scheduler(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    model.train()
    norms = []
    for inputs, targets in dataloader:
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)))
        optimizer.step()
    return norms


def clip_scheduler_per_epoch(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    norms = clip_no_scheduler(model, dataloader, optimizer, scheduler, loss_fn, max_norm)
    scheduler.step()
    return norms


def clip_eval_mode(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    norms = []
    for inputs, targets in dataloader:
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)))
        optimizer.step()
        scheduler.step()
    return norms


def clip_never_zeroed(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    model.train()
    norms = []
    for inputs, targets in dataloader:
        loss_fn(model(inputs), targets).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)))
        optimizer.step()
        scheduler.step()
    return norms


def clip_returns_clipped(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    norms = clip_textbook(model, dataloader, optimizer, scheduler, loss_fn, max_norm)
    return [min(n, max_norm) for n in norms]


def clip_returns_tensor_list(model, dataloader, optimizer, scheduler, loss_fn, max_norm):
    clip_textbook(model, dataloader, optimizer, scheduler, loss_fn, max_norm)


@pytest.mark.parametrize("answer, phrases", [
    (clip_before_backward, ["runs before loss.backward()", "after loss.backward() and before"]),
    (clip_after_step, ["runs after optimizer.step()", "changes nothing"]),
    (clip_never, ["never clipped", "max_norm is 0.5"]),
    (clip_fixed_one, ["max_norm=1", "pass max_norm"]),
    (clip_by_value, ["another direction", "clip_grad_value_"]),
    (clip_no_scheduler, ["scheduler.step() never ran"]),
    (clip_scheduler_per_epoch, ["once after every optimizer.step()", "[0, 0, 0"]),
    (clip_eval_mode, ["eval mode", "model.train()"]),
    (clip_never_zeroed, ["zero_grad"]),
    (clip_returns_clipped, ["after clipping", "returns the norm before"]),
    (clip_returns_tensor_list, ["one norm per batch", "NoneType"]),
])
def test_clipping_mistakes_are_named(answer, phrases) -> None:
    fails_with(check.clipped_epoch, answer, *phrases)


def test_clip_grad_norm_is_restored_after_the_check() -> None:
    from torch.nn.utils import clip_grad

    before = (torch.nn.utils.clip_grad_norm_, clip_grad.clip_grad_norm_)
    with pytest.raises(AssertionError):
        check.clipped_epoch(clip_after_step)
    assert (torch.nn.utils.clip_grad_norm_, clip_grad.clip_grad_norm_) == before
