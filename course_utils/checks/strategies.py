"""Checkers for chapter 5, Beyond the loop: fine-tuning strategies and the Trainer.

``freeze`` runs the student's ``freeze(model, strategy)`` on small BERT classifiers built from a
config (random weights, a few milliseconds each) and compares ``requires_grad`` group by group
(embeddings, each encoder layer, pooler, head) with the strategy, then compares the parameters
it returns (what the optimizer will get) with the trainable ones. ``training_arguments`` reads
the ``TrainingArguments`` the student builds and names every setting that would make the
Trainer train differently from the hand-written loop.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from course_utils.feedback import Check, fmt
from course_utils.i18n import _
from course_utils.measure import count_parameters

# re-read with the checker (checks.load), like the feedback core
watch = importlib.reload(importlib.import_module("course_utils.checks.watch"))

STRATEGIES = ("full", "lower", "head")
ADAMW_OPTIMS = ("adamw_torch", "adamw_torch_fused")
WEIGHT_DECAY = 0.01  # torch.optim.AdamW's default: what the hand-written loop uses


# --- Exercise 1: freeze(model, strategy) ----------------------------------------------------


def checker_bert(num_layers: int = 4, seed: int = 0) -> nn.Module:
    """A small BERT sequence classifier (random weights) with ``num_layers`` encoder layers."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=num_layers,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=32,
                        num_labels=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return BertForSequenceClassification(config)


def _group(name: str, prefix: str) -> str:
    """The part of the model a parameter belongs to: 'embeddings', 'layer 3', 'pooler', 'head'."""
    if not name.startswith(prefix + "."):
        return "head"
    parts = name[len(prefix) + 1:].split(".")
    if parts[0] == "encoder" and len(parts) > 2 and parts[1] == "layer":
        return f"layer {parts[2]}"
    return parts[0]


def expected_trainable(group: str, strategy: str, num_layers: int) -> bool:
    """Whether a group trains under a strategy: 'lower' freezes the embeddings and the lower
    half of the layers (``num_layers // 2`` of them), 'head' freezes all of the encoder."""
    if strategy == "full" or group == "head":
        return True
    if strategy == "head":
        return False
    if group == "embeddings":
        return False
    if group.startswith("layer "):
        return int(group.split()[1]) >= num_layers // 2
    return True  # the pooler sits above the layers


def _groups(model: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    prefix = model.base_model_prefix
    groups: dict[str, list[tuple[str, nn.Parameter]]] = {}
    for name, param in model.named_parameters():
        groups.setdefault(_group(name, prefix), []).append((name, param))
    return groups


def _names(groups: Iterable[str]) -> str:
    groups = list(groups)
    layers = [g for g in groups if g.startswith("layer ")]
    others = [g for g in groups if not g.startswith("layer ")]
    text = others[:]
    if layers:
        numbers = ", ".join(g.split()[1] for g in layers)
        label = _("layers {numbers}") if len(layers) > 1 else _("layer {numbers}")
        text.insert(min(1, len(text)), label.format(numbers=numbers))
    return ", ".join(text)


def _layer_numbers(groups: Iterable[str]) -> list[int]:
    return sorted(int(g.split()[1]) for g in groups if g.startswith("layer "))


def _explain_freeze(error: Exception) -> str | None:
    text = str(error)
    if isinstance(error, AttributeError) and "requires_grad" in text:
        return (_(
            "a module has no `requires_grad` of its own: call `module.requires_grad_(False)` (a "
            "method, with the underscore), or set `p.requires_grad = False` on each of "
            "`module.parameters()`"
        ))
    if isinstance(error, (AttributeError, TypeError)) and "layer" in text:
        return (_(
            "the encoder layers are `model.bert.encoder.layer` (a ModuleList: index it, or slice "
            "it, like a list)"
        ))
    return None


def _call_freeze(check: Check, freeze_fn: Callable, model: nn.Module,
                 strategy: str) -> list[Any]:
    result = check.call(watch.pinned(freeze_fn), model, strategy, name="freeze",
                        explain=_explain_freeze)
    flagged = [name for name, module in model.named_modules()
               if "requires_grad" in vars(module)]
    if flagged:
        check.fail(
            _(
                "`module.requires_grad = ...` was set on {flagged}: on a module that only creates "
                "a plain attribute and freezes nothing. Call `module.requires_grad_(False)` (with "
                "the underscore), or set `p.requires_grad` on each of `module.parameters()`."
            ).format(flagged=flagged[0] or _("the model"))
        )
    if result is None:
        check.fail(
            _(
                "freeze(model, {strategy!r}) returned None: return the parameters the optimizer "
                "should get, e.g. `[p for p in model.parameters() if p.requires_grad]`."
            ).format(strategy=strategy)
        )
    if isinstance(result, (nn.Module, torch.optim.Optimizer)):
        check.fail(
            _(
                "freeze(model, {strategy!r}) returned a {kind}: return the list of trainable "
                "parameters (the tensors themselves), which you then pass to AdamW."
            ).format(strategy=strategy, kind=type(result).__name__)
        )
    try:
        returned = list(result)
    except TypeError:
        check.fail(_(
            "freeze(model, {strategy!r}) returned a {kind}, which is not a list of parameters."
        ).format(strategy=strategy, kind=type(result).__name__))
    if any(isinstance(item, tuple) for item in returned):
        check.fail(
            _(
                "you returned (name, parameter) pairs: return the parameters themselves, e.g. `[p "
                "for p in model.parameters() if p.requires_grad]` (AdamW needs tensors)."
            )
        )
    if not all(isinstance(item, torch.Tensor) for item in returned):
        kinds = sorted({type(item).__name__ for item in returned if
                        not isinstance(item, torch.Tensor)})
        check.fail(_(
            "freeze(model, {strategy!r}) returned a list holding {kinds}: it should hold only the "
            "model's parameter tensors."
        ).format(strategy=strategy, kinds=', '.join(kinds)))
    return returned


def _check_requires_grad(check: Check, model: nn.Module, strategy: str, num_layers: int,
                         before: str | None) -> None:
    groups = _groups(model)
    after = ""
    if before:
        after = _(" (after an earlier freeze(model, {before!r}))").format(before=before)
    frozen_head = [name for name, p in groups.get("head", []) if not p.requires_grad]
    if frozen_head:
        check.fail(
            _(
                "the classification head is frozen under strategy {strategy!r}{after}: "
                "{frozen_head} has requires_grad=False. The head is new and starts from random "
                "weights: it is the one part every strategy must train, or the model cannot learn "
                "the task at all."
            ).format(strategy=strategy, after=after, frozen_head=frozen_head[0])
        )
    partial, wrong_frozen, wrong_trainable = [], [], []
    for group, members in groups.items():
        flags = {p.requires_grad for _, p in members}
        if len(flags) > 1:
            partial.append(group)
            continue
        trains = flags == {True}
        want = expected_trainable(group, strategy, num_layers)
        if trains and not want:
            wrong_trainable.append(group)
        elif want and not trains:
            wrong_frozen.append(group)
    if partial:
        group = partial[0]
        mixed = [name for name, p in groups[group] if not p.requires_grad]
        check.fail(
            _(
                "{group} is only partly frozen under {strategy!r}{after}: {mixed} of its {groups} "
                "parameter tensors are frozen (e.g. {example}). Freeze or train a part as a "
                "whole: every tensor of `part.parameters()`, weights and biases."
            ).format(
                group=group,
                strategy=strategy,
                after=after,
                mixed=len(mixed),
                groups=len(groups[group]),
                example=mixed[0],
            )
        )
    if not wrong_frozen and not wrong_trainable:
        return
    if before and wrong_frozen:  # the same strategies passed on fresh models
        check.fail(
            _(
                "after freeze(model, {before!r}), freeze(model, {strategy!r}) left {wrong_frozen} "
                "frozen: freeze must also switch requires_grad back to True for the parts the "
                "strategy trains, not only switch parts off (e.g. start with "
                "`model.requires_grad_(True)`)."
            ).format(before=before, strategy=strategy, wrong_frozen=_names(wrong_frozen))
        )
    if strategy == "full":
        check.fail(
            _(
                "strategy 'full' updates the whole model, but {wrong_frozen} {verb} "
                "frozen{after}."
            ).format(
                wrong_frozen=_names(wrong_frozen),
                verb=_("is") if len(wrong_frozen) == 1 else _("are"),
                after=after,
            )
        )
    if strategy == "head":
        pooler = (_(
            " The pooler belongs to the pretrained encoder (model.bert.pooler), not to the new "
            "head: freeze it too."
        ) if wrong_trainable == ["pooler"] else "")
        check.fail(
            _(
                "strategy 'head' trains only the classification head, but {wrong_trainable} of "
                "the encoder {verb} still trainable{after}.{pooler}"
            ).format(
                wrong_trainable=_names(wrong_trainable),
                verb=_("is") if len(wrong_trainable) == 1 else _("are"),
                after=after,
                pooler=pooler,
            )
        )
    # strategy == "lower"
    half = num_layers // 2
    want_frozen = list(range(half))
    frozen_layers = _layer_numbers(g for g, m in groups.items() if not m[0][1].requires_grad)
    layers_text = (_("layers {numbers}").format(numbers=", ".join(map(str, want_frozen)))
                   if half > 1 else _("layer {numbers}").format(numbers=0) if half == 1
                   else _("no layer"))
    rule = (_(
        "'lower' freezes the embeddings and the lower half of the {num_layers} encoder layers "
        "({layers_text}, the ones closest to the embeddings), and trains the rest"
    ).format(num_layers=num_layers, layers_text=layers_text))
    if "embeddings" in wrong_trainable:
        check.fail(_(
            "the embeddings are still trainable under 'lower'{after}: {rule}."
        ).format(after=after, rule=rule))
    if "pooler" in wrong_frozen:
        check.fail(_(
            "the pooler is frozen under 'lower'{after}: it sits above the encoder layers, so it "
            "trains with the upper half. {rule}."
        ).format(after=after, rule=rule))
    if frozen_layers == list(range(num_layers)) and half < num_layers:
        check.fail(_(
            "all {num_layers} encoder layers are frozen under 'lower'{after}: {rule}."
        ).format(num_layers=num_layers, after=after, rule=rule))
    upper = list(range(num_layers - half, num_layers))
    if half and frozen_layers == upper and upper != want_frozen:
        check.fail(
            _(
                "you froze the upper layers ({upper}) under 'lower'{after}: encoder.layer[0] is "
                "the lowest, right above the embeddings. {rule}."
            ).format(upper=', '.join(map(str, upper)), after=after, rule=rule)
        )
    check.fail(
        _(
            "under 'lower' the frozen encoder layers are {frozen_layers}{after}, expected "
            "{layers_text}: {rule}."
        ).format(
            frozen_layers=_layer_numbers_text(frozen_layers),
            after=after,
            layers_text=layers_text,
            rule=rule,
        )
    )


def _layer_numbers_text(numbers: Sequence[int]) -> str:
    return ", ".join(map(str, numbers)) if numbers else _("none")


def _check_returned(check: Check, model: nn.Module, strategy: str, returned: list[Any]) -> None:
    names = {id(p): name for name, p in model.named_parameters()}
    strangers = [p for p in returned if id(p) not in names]
    if strangers:
        check.fail(
            _(
                "{strangers} of the tensors you returned are not parameters of the model (copies, "
                "or tensors made from them?): return the model's own parameters, `p for p in "
                "model.parameters()`, so the optimizer updates the model."
            ).format(strangers=len(strangers))
        )
    ids = [id(p) for p in returned]
    if len(ids) != len(set(ids)):
        twice = next(names[i] for i in ids if ids.count(i) > 1)
        check.fail(_(
            "some parameters appear twice in what you returned (e.g. {twice}): the optimizer "
            "would update them twice per step."
        ).format(twice=twice))
    frozen = [names[id(p)] for p in returned if not p.requires_grad]
    if frozen:
        check.fail(
            _(
                "the optimizer would receive {frozen} frozen parameter {tensors} under "
                "{strategy!r} (e.g. {example}): return only the trainable ones "
                "(`p.requires_grad`), so the optimizer holds exactly what is trained and a frozen "
                "part cannot start moving if something else turns its gradients on."
            ).format(
                frozen=len(frozen),
                tensors=_("tensors") if len(frozen) > 1 else _("tensor"),
                strategy=strategy,
                example=frozen[0],
            )
        )
    given = set(ids)
    missing = [name for name, p in model.named_parameters()
               if p.requires_grad and id(p) not in given]
    if missing:
        check.fail(
            _(
                "{missing} trainable parameter {tensors_are} missing from what you returned "
                "under {strategy!r} (e.g. {example}): the optimizer would never update them. "
                "Return every parameter with requires_grad=True."
            ).format(
                missing=len(missing),
                tensors_are=_("tensors are") if len(missing) > 1 else _("tensor is"),
                strategy=strategy,
                example=missing[0],
            )
        )


def freeze(freeze_fn: Callable, num_layers: int = 4,
           order: Sequence[str] = STRATEGIES) -> None:
    """Check ``freeze(model, strategy) -> trainable parameters`` for 'full', 'lower', 'head'."""
    with Check("freeze") as check:
        shares = []
        for strategy in order:  # each strategy on a fresh model
            model = checker_bert(num_layers)
            returned = _call_freeze(check, freeze_fn, model, strategy)
            _check_requires_grad(check, model, strategy, num_layers, None)
            _check_returned(check, model, strategy, returned)
            trainable, total = count_parameters(model)
            shares.append(f"{strategy} {100 * trainable / total:.0f}%")
            check.case()
        model = checker_bert(num_layers, seed=1)  # the same model, strategy after strategy
        sequence = [*order, *reversed(order)]
        for before, strategy in zip(sequence, sequence[1:], strict=False):
            if before == strategy:
                continue
            returned = _call_freeze(check, freeze_fn, model, strategy)
            _check_requires_grad(check, model, strategy, num_layers, before)
            _check_returned(check, model, strategy, returned)
            check.case()
        _check_unknown_strategy(check, freeze_fn, num_layers)
        check.case(_(
            "trainable share with {num_layers} layers: {shares}"
        ).format(num_layers=num_layers, shares=', '.join(shares)))


def _check_unknown_strategy(check: Check, freeze_fn: Callable, num_layers: int) -> None:
    model = checker_bert(num_layers)
    try:
        freeze_fn(model, "haed")
    except ValueError:
        return
    except NotImplementedError:
        check.call(freeze_fn, model, "haed", name="freeze")
    except Exception as error:
        check.fail(
            _(
                "freeze(model, 'haed') raised {kind}: for a strategy it does not know, raise "
                "ValueError with a message naming the three strategies."
            ).format(kind=type(error).__name__)
        )
    check.fail(
        _(
            "freeze(model, 'haed') returned normally: a typo in the strategy would silently train "
            "the wrong parts. Raise ValueError for any strategy other than 'full', 'lower', "
            "'head'."
        )
    )


# --- Exercise 2: the hand loop's settings as TrainingArguments -------------------------------


def _explain_arguments(error: Exception) -> str | None:
    text = str(error)
    renamed = {
        "evaluation_strategy": _(
            "`evaluation_strategy` is now `eval_strategy` (renamed in transformers 4.46; 5.x no "
            "longer accepts the old name)"
        ),
        "no_cuda": _("`no_cuda` is now `use_cpu`"),
        "overwrite_output_dir": _(
            "`overwrite_output_dir` no longer exists in transformers 5.x: leave it out"
        ),
    }
    if isinstance(error, TypeError):
        for old, hint in renamed.items():
            if f"'{old}'" in text:
                return hint
        if "unexpected keyword argument" in text:
            return (_(
                "TrainingArguments does not take that argument ({text}): check the spelling "
                "against the list in the exercise"
            ).format(text=text.split(':')[-1].strip()))
    return None


def training_arguments(make_args: Callable, lr: float = 2e-5, epochs: int = 2,
                       batch_size: int = 16, seed: int = 7) -> None:
    """Check ``make_training_args(output_dir, hparams)``: the hand loop's settings, nothing else."""
    import tempfile

    from transformers import TrainingArguments

    from course_utils.pipeline import Hyperparameters

    hparams = Hyperparameters(lr=lr, epochs=epochs, batch_size=batch_size, seed=seed)
    output_dir = tempfile.mkdtemp(prefix="check-training-args-")
    with Check("training_arguments") as check:
        args = check.call(watch.pinned(make_args), output_dir, hparams, name="make_training_args",
                          explain=_explain_arguments)
        if not isinstance(args, TrainingArguments):
            check.fail(_(
                "make_training_args returned a {kind}: build and return a "
                "transformers.TrainingArguments(...)."
            ).format(kind=type(args).__name__))
        check.case()
        if os.path.abspath(str(args.output_dir)) != os.path.abspath(output_dir):
            check.fail(_(
                "output_dir is {output_dir!r}: use the folder you were given ({given!r}), "
                "a temporary one, so nothing lands next to the notebook."
            ).format(output_dir=args.output_dir, given=output_dir))
        check.case()
        same = [
            ("learning_rate", args.learning_rate, hparams.lr, "hparams.lr"),
            ("num_train_epochs", args.num_train_epochs, hparams.epochs, "hparams.epochs"),
            ("per_device_train_batch_size", args.per_device_train_batch_size,
             hparams.batch_size, "hparams.batch_size"),
            ("seed", args.seed, hparams.seed, "hparams.seed"),
        ]
        for field, got, want, source in same:
            if got != want:
                hint = (_(" (the Trainer's default is 5e-5)") if field == "learning_rate" else
                        _(" (the Trainer's default is 8)") if "batch" in field else
                        _(" (the Trainer's default is 3)") if "epochs" in field else
                        _(" (the Trainer's default is 42)") if field == "seed" else "")
                check.fail(_(
                    "{field} is {got!r}, the hand loop uses {want!r}: set {field}={source}{hint}."
                ).format(field=field, got=got, want=want, source=source, hint=hint))
            check.case()
        if args.gradient_accumulation_steps != 1:
            check.fail(_(
                "gradient_accumulation_steps is {gradient_accumulation_steps}: the hand loop "
                "steps after every batch, so leave it at 1."
            ).format(gradient_accumulation_steps=args.gradient_accumulation_steps))
        check.case()
        scheduler = str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type))
        if scheduler != "linear":
            check.fail(_(
                "lr_scheduler_type is {scheduler!r}: the hand loop decays the learning rate "
                "linearly to 0, which is 'linear' (the default)."
            ).format(scheduler=scheduler))
        warmup = args.get_warmup_steps(100)
        if warmup:
            check.fail(_(
                "the schedule warms up ({warmup} of 100 steps with your settings): the hand loop "
                "starts at the full learning rate, so leave warmup_steps at 0."
            ).format(warmup=warmup))
        check.case()
        optim = str(getattr(args.optim, "value", args.optim))
        if optim not in ADAMW_OPTIMS:
            check.fail(_(
                "optim is {optim!r}: the hand loop uses torch's AdamW; keep the default "
                "('adamw_torch_fused', torch's fused AdamW kernel)."
            ).format(optim=optim))
        check.case()
        if args.weight_decay != WEIGHT_DECAY:
            default = _(" (the Trainer's default, 0.0)") if args.weight_decay == 0 else ""
            check.fail(
                _(
                    "weight_decay is {weight_decay}{default}, but torch.optim.AdamW, which the "
                    "hand loop builds without arguments, decays by {WEIGHT_DECAY}: set "
                    "weight_decay={WEIGHT_DECAY}."
                ).format(
                    weight_decay=fmt(args.weight_decay),
                    default=default,
                    WEIGHT_DECAY=WEIGHT_DECAY,
                )
            )
        check.case()
        if args.max_grad_norm:
            default = _(" (the Trainer's default)") if args.max_grad_norm == 1.0 else ""
            check.fail(
                _(
                    "max_grad_norm is {max_grad_norm}{default}: the Trainer would clip the "
                    "gradients' norm to that before every step, which the hand loop never does. "
                    "Set max_grad_norm=0 to switch clipping off."
                ).format(max_grad_norm=fmt(args.max_grad_norm), default=default)
            )
        check.case()
        if args.fp16 or args.bf16:
            check.fail(_(
                "mixed precision is on (fp16/bf16): the hand loop computes in float32; leave both "
                "off."
            ))
        check.case()
        strategies = [
            ("eval_strategy", "epoch", _(
                "evaluate on the validation set after every epoch, as the chapter-3 loop does"
            )),
            ("logging_strategy", "epoch", _(
                "log the mean training loss of every epoch, so it can be compared with the hand "
                "loop's"
            )),
            ("save_strategy", "no", _(
                "the hand loop saves nothing while it trains (the default writes a checkpoint "
                "every 500 steps)"
            )),
        ]
        for field, want, why in strategies:
            value = getattr(args, field)
            got = str(getattr(value, "value", value))
            if got != want:
                check.fail(
                    _("{field} is {got!r}: set {field}={want!r} to {why}.").format(
                        field=field, got=got, want=want, why=why
                    )
                )
            check.case()
        check.case(_(
            "lr {learning_rate}, {num_train_epochs} epochs, batch {per_device_train_batch_size}, "
            "weight decay {weight_decay}, no clipping"
        ).format(
            learning_rate=fmt(args.learning_rate),
            num_train_epochs=fmt(args.num_train_epochs),
            per_device_train_batch_size=args.per_device_train_batch_size,
            weight_decay=fmt(args.weight_decay),
        ))


# --- Exercise 3: the fast AdamW ---------------------------------------------------------------


def _toy_parameters(seed: int, dtype: torch.dtype) -> list[nn.Parameter]:
    generator = torch.Generator().manual_seed(seed)
    shapes = [(6, 4), (6,), (3, 6), (3,)]
    return [nn.Parameter(torch.randn(shape, generator=generator, dtype=dtype))
            for shape in shapes]


def _fill_grads(params: Sequence[torch.Tensor], seed: int) -> None:
    generator = torch.Generator().manual_seed(seed + 1)
    for p in params:
        p.grad = torch.randn(p.shape, generator=generator, dtype=p.dtype)


def fast_adamw(make_adamw: Callable, lr: float = 3e-4, seed: int = 0,
               dtype: torch.dtype = torch.float32) -> None:
    """Check ``make_adamw(params, lr)``: torch's AdamW over exactly ``params``, fused kernel."""
    params = _toy_parameters(seed, dtype)
    with Check("fast_adamw") as check:
        optimizer = check.call(watch.pinned(make_adamw), params, lr, name="make_adamw")
        if isinstance(optimizer, torch.optim.Adam) and not isinstance(
                optimizer, torch.optim.AdamW):
            check.fail(_(
                "you built torch.optim.Adam: its weight_decay adds an L2 term to the gradient, "
                "while AdamW decays the weights directly (decoupled). Use torch.optim.AdamW."
            ))
        if not isinstance(optimizer, torch.optim.AdamW):
            check.fail(_(
                "make_adamw returned a {kind}: return a torch.optim.AdamW(...)."
            ).format(kind=type(optimizer).__name__))
        check.case()
        held = [p for group in optimizer.param_groups for p in group["params"]]
        if sorted(map(id, held)) != sorted(map(id, params)):
            check.fail(_(
                "the optimizer holds {held} tensors, not the {params} parameters it was given: "
                "build it over `params` (the argument), not over a model's parameters."
            ).format(held=len(held), params=len(params)))
        check.case()
        group = optimizer.param_groups[0]
        if group["lr"] != lr:
            check.fail(_(
                "the learning rate is {lr!r}, not the lr argument ({given!r})."
            ).format(lr=group["lr"], given=lr))
        if group["weight_decay"] != WEIGHT_DECAY:
            check.fail(_(
                "weight_decay is {weight_decay!r}: keep AdamW's default ({WEIGHT_DECAY}), like "
                "the loop you are speeding up."
            ).format(weight_decay=group['weight_decay'], WEIGHT_DECAY=WEIGHT_DECAY))
        check.case()
        if not group.get("fused"):
            if group.get("foreach"):
                check.fail(
                    _(
                        "foreach=True is faster than the default on a CPU (one call per operation "
                        "for all tensors at once), but it still makes a pass over memory for each "
                        "of AdamW's operations. fused=True does the whole update in one pass per "
                        "tensor: pass fused=True."
                    )
                )
            check.fail(
                _(
                    "this is the default AdamW: on a CPU, torch picks its for-loop implementation "
                    "(a dozen small operations per tensor, one tensor at a time), the slowest of "
                    "the three. Pass fused=True, as the Trainer does (optim='adamw_torch_fused')."
                )
            )
        check.case()
        reference_params = [p.detach().clone().requires_grad_(True) for p in params]
        _fill_grads(params, seed)
        _fill_grads(reference_params, seed)
        reference = torch.optim.AdamW(reference_params, lr=lr)
        for _repeat in range(3):
            optimizer.step()
            reference.step()
        error = max((a - b).abs().max().item()
                    for a, b in zip(params, reference_params, strict=True))
        if error > 1e-5:
            check.fail(_(
                "three steps of your optimizer end {error} away from torch's default AdamW with "
                "the same lr: keep betas, eps and amsgrad at their defaults."
            ).format(error=fmt(error)))
        check.case(_(
            "fused AdamW; 3 steps end {error:.1e} from the default AdamW, rounding only: should "
            "be below 1e-5"
        ).format(error=error))
