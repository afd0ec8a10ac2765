"""Blind answers of 02_training_loop and 02b_schedules_and_accumulation (chapter 2 before it was
split): each wrong one fails (named), each right one passes."""

from __future__ import annotations

import pytest
from blind_answers import cases, check_answer


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
@pytest.mark.parametrize(
    "path", cases("02_training_loop") + cases("02b_schedules_and_accumulation"))
def test_blind_answer(path):
    check_answer(path)
