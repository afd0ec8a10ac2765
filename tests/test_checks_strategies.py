"""The chapter-5 checkers: right answers in several styles pass, each named mistake is named."""

from __future__ import annotations

import pytest
import torch
from checker_asserts import fails_with, passes
from transformers import TrainingArguments

from course_utils.checks import strategies as check

STRATEGIES = ("full", "lower", "head")


# --- exercise 1: freeze ----------------------------------------------------------------------


def freeze_modules(model, strategy):
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}")
    model.requires_grad_(True)
    encoder = model.bert
    if strategy == "lower":
        encoder.embeddings.requires_grad_(False)
        for layer in encoder.encoder.layer[: len(encoder.encoder.layer) // 2]:
            layer.requires_grad_(False)
    elif strategy == "head":
        encoder.requires_grad_(False)
    return [p for p in model.parameters() if p.requires_grad]


def freeze_by_name(model, strategy):
    n = model.config.num_hidden_layers
    frozen = {
        "full": (),
        "lower": ("bert.embeddings.", *(f"bert.encoder.layer.{i}." for i in range(n // 2))),
        "head": ("bert.",),
    }
    if strategy not in frozen:
        raise ValueError("strategy must be 'full', 'lower' or 'head'")
    trainable = []
    for name, param in model.named_parameters():
        param.requires_grad = not name.startswith(frozen[strategy])
        if param.requires_grad:
            trainable.append(param)
    return trainable


def freeze_base_model_generator(model, strategy):
    if strategy not in {"full", "lower", "head"}:
        raise ValueError(strategy)
    for p in model.parameters():
        p.requires_grad = True
    base = model.base_model
    parts = []
    if strategy == "head":
        parts = [base]
    elif strategy == "lower":
        layers = base.encoder.layer
        parts = [base.embeddings, *list(layers)[: len(layers) // 2]]
    for part in parts:
        for p in part.parameters():
            p.requires_grad = False
    return (p for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("answer", [freeze_modules, freeze_by_name, freeze_base_model_generator])
def test_freeze_accepts_correct_answers(answer, capsys):
    line = passes(check.freeze, answer, capsys)
    assert "trainable share with 4 layers" in line and "full 100%" in line
    passes(check.freeze, answer, capsys, num_layers=3, order=("head", "full", "lower"))
    passes(check.freeze, answer, capsys, num_layers=6)


def test_freeze_stub_says_not_answered():
    def freeze(model, strategy):
        # YOUR CODE HERE
        raise NotImplementedError()

    fails_with(check.freeze, freeze, "not answered yet")


def _variant(strategy_override=None, returns=None, unknown_ok=False):
    """freeze_modules with one part replaced, to build each mistake."""

    def freeze(model, strategy):
        if strategy not in STRATEGIES:
            if unknown_ok:
                return list(model.parameters())
            raise ValueError(strategy)
        if strategy_override and strategy in strategy_override:
            strategy_override[strategy](model)
        else:
            freeze_modules(model, strategy)
        if returns is not None:
            return returns(model)
        return [p for p in model.parameters() if p.requires_grad]

    return freeze


def _only_switch_off(model, strategy):
    if strategy not in STRATEGIES:
        raise ValueError(strategy)
    if strategy == "lower":
        model.bert.embeddings.requires_grad_(False)
        for layer in model.bert.encoder.layer[: len(model.bert.encoder.layer) // 2]:
            layer.requires_grad_(False)
    elif strategy == "head":
        model.bert.requires_grad_(False)
    return [p for p in model.parameters() if p.requires_grad]


def _freeze_layers(model, numbers, embeddings=True, pooler=False):
    model.requires_grad_(True)
    if embeddings:
        model.bert.embeddings.requires_grad_(False)
    for i in numbers:
        model.bert.encoder.layer[i].requires_grad_(False)
    if pooler:
        model.bert.pooler.requires_grad_(False)


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        (_variant({"head": lambda m: m.requires_grad_(False)}), ["classification head is frozen"]),
        (_only_switch_off, ["after freeze(model, 'head'), freeze(model, 'lower') left pooler, "
                            "layers 2, 3 frozen", "switch requires_grad back to True"]),
        (_variant({"head": lambda m: (m.requires_grad_(True),
                                      m.bert.embeddings.requires_grad_(False),
                                      m.bert.encoder.requires_grad_(False))}),
         ["strategy 'head' trains only the classification head", "pooler belongs to the "
                                                                  "pretrained encoder"]),
        (_variant({"head": lambda m: (m.requires_grad_(True),
                                      m.bert.encoder.requires_grad_(False))}),
         ["embeddings, pooler of the encoder are still trainable"]),
        (_variant({"lower": lambda m: _freeze_layers(m, [0, 1], embeddings=False)}),
         ["embeddings are still trainable under 'lower'"]),
        (_variant({"lower": lambda m: _freeze_layers(m, [2, 3])}),
         ["you froze the upper layers (2, 3)", "encoder.layer[0] is the lowest"]),
        (_variant({"lower": lambda m: _freeze_layers(m, [0, 1, 2, 3])}),
         ["all 4 encoder layers are frozen under 'lower'"]),
        (_variant({"lower": lambda m: _freeze_layers(m, [0])}),
         ["frozen encoder layers are 0", "expected layers 0, 1"]),
        (_variant({"lower": lambda m: _freeze_layers(m, [0, 1], pooler=True)}),
         ["the pooler is frozen under 'lower'"]),
        (_variant({"full": lambda m: m.bert.embeddings.requires_grad_(False)}),
         ["strategy 'full' updates the whole model, but embeddings is frozen"]),
        (_variant(returns=lambda m: list(m.parameters())),
         ["the optimizer would receive", "frozen parameter tensors", "under 'lower'"]),
        (_variant(returns=lambda m: m.parameters()), ["the optimizer would receive"]),
        (_variant(returns=lambda m: [p for p in m.bert.parameters() if p.requires_grad]),
         ["missing from what you returned", "classifier.weight", "never update them"]),
        (_variant(returns=lambda m: [(n, p) for n, p in m.named_parameters() if p.requires_grad]),
         ["(name, parameter) pairs"]),
        (_variant(returns=lambda m: [p.detach().clone() for p in m.parameters()
                                     if p.requires_grad]),
         ["not parameters of the model"]),
        (_variant(returns=lambda m: [p for p in m.parameters() if p.requires_grad] * 2),
         ["appear twice"]),
        (_variant(returns=lambda m: None), ["returned None", "return the parameters"]),
        (_variant(returns=lambda m: m), ["returned a BertForSequenceClassification"]),
        (_variant(unknown_ok=True), ["freeze(model, 'haed') returned normally", "ValueError"]),
    ],
)
def test_freeze_names_each_mistake(answer, phrases):
    fails_with(check.freeze, answer, *phrases)


def test_freeze_key_error_for_unknown_strategy():
    def freeze(model, strategy):
        layers = {"full": 0, "lower": 1, "head": 2}[strategy]
        return freeze_modules(model, STRATEGIES[layers])

    fails_with(check.freeze, freeze, "raised KeyError", "raise ValueError")


def test_freeze_names_module_attribute_and_partial_freezing():
    def attribute(model, strategy):
        freeze_modules(model, strategy)
        if strategy == "lower":
            model.bert.embeddings.requires_grad_(True)
            model.bert.embeddings.requires_grad = False  # a plain attribute: freezes nothing
        return [p for p in model.parameters() if p.requires_grad]

    fails_with(check.freeze, attribute, "only creates a plain attribute", "requires_grad_(False)")

    def weights_only(model, strategy):
        freeze_modules(model, "full")
        if strategy == "head":
            for name, p in model.bert.named_parameters():
                if name.endswith("weight"):
                    p.requires_grad = False
        elif strategy not in STRATEGIES:
            raise ValueError(strategy)
        elif strategy == "lower":
            freeze_modules(model, "lower")
        return [p for p in model.parameters() if p.requires_grad]

    fails_with(check.freeze, weights_only, "is only partly frozen under 'head'",
               "weights and biases")

    def module_call(model, strategy):
        model.bert.requires_grad(False)

    fails_with(check.freeze, module_call, "a module has no `requires_grad`", "AttributeError")


def test_freeze_hidden_layer_counts_change_the_expected_layers():
    fails_with(check.freeze, _variant({"lower": lambda m: _freeze_layers(m, [0, 1])}),
               "expected layers 0, 1, 2", num_layers=6)
    fails_with(check.freeze, _variant({"lower": lambda m: _freeze_layers(m, [0, 1])}),
               "expected layer 0", num_layers=3)


# --- exercise 2: training_arguments -----------------------------------------------------------


def args_minimal(output_dir, hparams):
    return TrainingArguments(
        output_dir=output_dir,
        learning_rate=hparams.lr,
        num_train_epochs=hparams.epochs,
        per_device_train_batch_size=hparams.batch_size,
        seed=hparams.seed,
        weight_decay=0.01,
        max_grad_norm=0.0,
        eval_strategy="epoch",
        logging_strategy="epoch",
        save_strategy="no",
    )


def args_explicit(output_dir, hparams):
    settings = dict(
        learning_rate=hparams.lr, num_train_epochs=hparams.epochs,
        per_device_train_batch_size=hparams.batch_size, per_device_eval_batch_size=32,
        seed=hparams.seed, optim="adamw_torch", weight_decay=0.01, max_grad_norm=0,
        lr_scheduler_type="linear", warmup_steps=0, eval_strategy="epoch",
        logging_strategy="epoch", save_strategy="no", report_to="none", disable_tqdm=True,
        use_cpu=True,
    )
    return TrainingArguments(output_dir, **settings)


@pytest.mark.parametrize("answer", [args_minimal, args_explicit])
def test_training_arguments_accepts_correct_answers(answer, capsys):
    line = passes(check.training_arguments, answer, capsys)
    assert "no clipping" in line
    passes(check.training_arguments, answer, capsys, lr=5e-4, epochs=1, batch_size=4, seed=0)


def _args_with(**changes):
    def make(output_dir, hparams):
        args = args_minimal(output_dir, hparams)
        settings = {k: v for k, v in args.to_dict().items() if k in _FIELDS}
        settings.update(changes)
        return TrainingArguments(**settings)

    return make


_FIELDS = ("output_dir", "learning_rate", "num_train_epochs", "per_device_train_batch_size",
           "seed", "weight_decay", "max_grad_norm", "eval_strategy", "logging_strategy",
           "save_strategy")


@pytest.mark.parametrize(
    ("changes", "phrases"),
    [
        ({"weight_decay": 0.0}, ["weight_decay is 0 (the Trainer's default, 0.0)",
                                 "weight_decay=0.01"]),
        ({"max_grad_norm": 1.0}, ["max_grad_norm is 1 (the Trainer's default)",
                                  "max_grad_norm=0"]),
        ({"learning_rate": 5e-5}, ["learning_rate is 5e-05", "hparams.lr"]),
        ({"num_train_epochs": 3}, ["num_train_epochs is 3", "hparams.epochs"]),
        ({"per_device_train_batch_size": 8}, ["per_device_train_batch_size is 8",
                                              "hparams.batch_size"]),
        ({"seed": 42}, ["seed is 42", "hparams.seed"]),
        ({"eval_strategy": "no"}, ["eval_strategy is 'no'", "eval_strategy='epoch'"]),
        ({"logging_strategy": "steps"}, ["logging_strategy is 'steps'"]),
        ({"save_strategy": "steps"}, ["save_strategy is 'steps'", "checkpoint every 500"]),
        ({"gradient_accumulation_steps": 2}, ["gradient_accumulation_steps is 2"]),
        ({"lr_scheduler_type": "cosine"}, ["lr_scheduler_type is 'cosine'"]),
        ({"warmup_steps": 0.1}, ["the schedule warms up"]),
        ({"optim": "sgd"}, ["optim is 'sgd'"]),
        ({"output_dir": "somewhere_else"}, ["output_dir is 'somewhere_else'"]),
    ],
)
def test_training_arguments_names_each_mistake(changes, phrases):
    fails_with(check.training_arguments, _args_with(**changes), *phrases)


def test_training_arguments_old_names_and_wrong_types():
    def old_name(output_dir, hparams):
        return TrainingArguments(output_dir=output_dir, evaluation_strategy="epoch")

    fails_with(check.training_arguments, old_name, "`evaluation_strategy` is now `eval_strategy`")

    def as_dict(output_dir, hparams):
        return {"output_dir": output_dir, "learning_rate": hparams.lr}

    fails_with(check.training_arguments, as_dict, "returned a dict")

    def stub(output_dir, hparams):
        raise NotImplementedError()

    fails_with(check.training_arguments, stub, "not answered yet")


# --- exercise 3: fast_adamw -------------------------------------------------------------------


def adamw_fused(params, lr):
    return torch.optim.AdamW(params, lr=lr, fused=True)


def adamw_fused_with_fallback(params, lr):
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.01, fused=True)
    except RuntimeError:
        return torch.optim.AdamW(params, lr=lr)


@pytest.mark.parametrize("answer", [adamw_fused, adamw_fused_with_fallback])
def test_fast_adamw_accepts_correct_answers(answer, capsys):
    line = passes(check.fast_adamw, answer, capsys)
    assert "fused AdamW" in line
    passes(check.fast_adamw, answer, capsys, lr=0.01, seed=3, dtype=torch.float64)


_outside = [torch.nn.Parameter(torch.zeros(2))]


@pytest.mark.parametrize(
    ("answer", "phrases"),
    [
        (lambda params, lr: torch.optim.AdamW(params, lr=lr), ["this is the default AdamW",
                                                                "fused=True"]),
        (lambda params, lr: torch.optim.AdamW(params, lr=lr, foreach=True),
         ["foreach=True is faster than the default"]),
        (lambda params, lr: torch.optim.Adam(params, lr=lr, fused=True),
         ["you built torch.optim.Adam"]),
        (lambda params, lr: torch.optim.SGD(params, lr=lr), ["returned a SGD"]),
        (lambda params, lr: torch.optim.AdamW(_outside, lr=lr, fused=True),
         ["not the 4 parameters it was given"]),
        (lambda params, lr: torch.optim.AdamW(params, fused=True), ["the learning rate is 0.001"]),
        (lambda params, lr: torch.optim.AdamW(params, lr=lr, weight_decay=0.0, fused=True),
         ["weight_decay is 0.0"]),
        (lambda params, lr: torch.optim.AdamW(params, lr=lr, eps=1e-3, fused=True),
         ["away from torch's default AdamW"]),
    ],
)
def test_fast_adamw_names_each_mistake(answer, phrases):
    fails_with(check.fast_adamw, answer, *phrases)
