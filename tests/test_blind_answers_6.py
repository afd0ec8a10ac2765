"""Blind answers of 06_capstone: each wrong one fails (named), each right one passes."""

from __future__ import annotations

import pytest
from blind_answers import cases, check_answer


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
@pytest.mark.parametrize("path", cases("06_capstone"))
def test_blind_answer(path):
    check_answer(path)
