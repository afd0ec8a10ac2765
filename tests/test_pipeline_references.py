"""The course's own versions of exercises (``course_utils.pipeline``) pass the exercises' checks.

Demo cells fall back to them while a student's answer is unwritten, so they must be right.
"""

from __future__ import annotations

from course_utils import checks, pipeline


def test_freeze_passes_chapter_5s_check() -> None:
    checks.load("strategies").freeze(pipeline.freeze)


def test_training_arguments_pass_chapter_5s_check() -> None:
    checks.load("strategies").training_arguments(pipeline.training_arguments)


def test_train_keeping_best_passes_chapter_3s_check() -> None:
    def train_and_keep_best(model, train_dataloader, eval_dataloader, epochs, lr, device,
                            save_dir):
        rows = pipeline.train_keeping_best(model, train_dataloader, eval_dataloader,
                                           epochs=epochs, lr=lr, device=device,
                                           save_dir=save_dir)
        return [{k: v for k, v in row.items() if k != "eval_loss"} for row in rows]

    checks.load("evaluation").train_and_keep_best(train_and_keep_best)
