"""The course's loop and the 🤗 Trainer run the same algorithm (chapter 5's claim, tested).

With the randomness taken away (dropout off, the Trainer's own batches for both) and the one
setting no argument aligns (the Trainer exempts biases and LayerNorm weights from weight decay;
the hand loop decays every weight, as torch's AdamW does), `pipeline.train` must reproduce the
Trainer's loss at every step and end with the same weights. A loop that differed in any step
(another optimizer implementation's rounding aside, a missed `scheduler.step()`, clipping, a
different schedule) would drift apart within a few steps.
"""

from __future__ import annotations

import os

import pytest
import torch
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

from course_utils import pipeline

EPOCHS = 1  # pipeline.train does not call set_epoch: one epoch keeps the batch order the same


class TrainerDecayingEveryWeight(Trainer):
    """The Trainer with weight decay on every parameter, as torch's AdamW in the hand loop."""

    def get_decay_parameter_names(self, model: torch.nn.Module) -> list[str]:
        return [name for name, _ in model.named_parameters()]


def without_dropout(model: torch.nn.Module) -> torch.nn.Module:
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0  # BERT's attention reads its dropout probability from here too
    return model


def record_losses(model: torch.nn.Module) -> list[float]:
    losses: list[float] = []
    model.register_forward_hook(lambda _module, _args, output: losses.append(output.loss.item()))
    return losses


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if os.environ.get("COURSE_PROFILE", "smoke") != "smoke":
        pytest.skip("needs the smoke profile's tiny BERT")
    setup = pipeline.prepare_mrpc()
    hparams, checkpoint = setup.hparams, setup.profile.checkpoint
    train_set = setup.tokenized["train"].select(range(160))
    args = TrainingArguments(
        output_dir=str(tmp_path_factory.mktemp("trainer")), learning_rate=hparams.lr,
        num_train_epochs=EPOCHS, per_device_train_batch_size=hparams.batch_size,
        seed=hparams.seed, weight_decay=0.01, max_grad_norm=0.0, optim="adamw_torch_fused",
        save_strategy="no", logging_strategy="no", report_to="none", use_cpu=True,
        disable_tqdm=True,
    )

    def make_trainer(model: torch.nn.Module) -> Trainer:
        return TrainerDecayingEveryWeight(model=model, args=args, train_dataset=train_set,
                                          data_collator=DataCollatorWithPadding(setup.tokenizer))

    by_trainer = without_dropout(pipeline.new_model(checkpoint, seed=hparams.seed))
    trainer_losses = record_losses(by_trainer)
    make_trainer(by_trainer).train()

    by_hand = without_dropout(pipeline.new_model(checkpoint, seed=hparams.seed))
    hand_losses = record_losses(by_hand)
    initial = {name: weight.detach().clone() for name, weight in by_hand.named_parameters()}
    batches = make_trainer(without_dropout(pipeline.new_model(checkpoint))).get_train_dataloader()
    returned = pipeline.train(by_hand, batches, epochs=EPOCHS, lr=hparams.lr,
                              device=torch.device("cpu"), progress=False)
    return {"trainer": (by_trainer, trainer_losses), "hand": (by_hand, hand_losses),
            "returned": returned, "steps": len(batches), "initial": initial}


def test_the_loop_reproduces_the_trainers_loss_at_every_step(runs: dict) -> None:
    trainer_losses, hand_losses = runs["trainer"][1], runs["hand"][1]
    assert len(hand_losses) == len(trainer_losses) == runs["steps"] == 20
    assert runs["returned"] == hand_losses  # pipeline.train returns what the model computed
    largest = max(abs(a - b) for a, b in zip(hand_losses, trainer_losses, strict=True))
    assert largest == 0.0, f"largest difference per step {largest:.3g}"


def test_the_loop_ends_with_the_trainers_weights(runs: dict) -> None:
    trainer_weights = dict(runs["trainer"][0].named_parameters())
    for name, weight in runs["hand"][0].named_parameters():
        assert torch.equal(weight.detach().cpu(), trainer_weights[name].detach().cpu()), name
    moved = [name for name, weight in runs["hand"][0].named_parameters()
             if not torch.equal(weight.detach().cpu(), runs["initial"][name])]
    assert "classifier.weight" in moved and len(moved) > len(trainer_weights) // 2, moved
