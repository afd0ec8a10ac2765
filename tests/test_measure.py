"""course_utils.measure: what chapter 5's strategy table reports."""

from __future__ import annotations

import time

import pytest
import torch

from course_utils.checks.strategies import checker_bert
from course_utils.measure import PeakMemory, count_parameters, training_state_megabytes


def test_counts_and_state_follow_requires_grad() -> None:
    model = checker_bert(2)
    _, total = count_parameters(model)
    assert count_parameters(model) == (total, total)
    model.base_model.requires_grad_(False)  # only the head (16 x 2 weights + 2 biases) trains
    assert count_parameters(model) == (16 * 2 + 2, total)
    # a gradient and AdamW's two running averages per trainable float32 value
    assert training_state_megabytes(model) == pytest.approx(3 * 34 * 4 / 2**20)
    model.requires_grad_(False)
    assert count_parameters(model) == (0, total) and training_state_megabytes(model) == 0


def test_peak_memory_on_a_cpu_catches_a_block_freed_before_the_end() -> None:
    with PeakMemory("cpu", interval=0.001) as peak:
        block = torch.ones(16 * 2**20)  # 64 MB, written, so resident
        time.sleep(0.05)  # several samples while it is alive
        del block  # freed (returned to the system) before the block ends
    assert peak.method == "process RSS growth (psutil)"
    assert 48 < peak.megabytes < 256, f"measured {peak.megabytes:.1f} MB for a 64 MB tensor"


def test_peak_memory_of_nothing_is_small() -> None:
    with PeakMemory() as peak:
        pass
    assert 0 <= peak.megabytes < 16
