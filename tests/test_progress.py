"""Progress bars end in their final state in saved notebooks: a widget bar (as tqdm.auto draws
in a kernel) also leaves its final line as text on stdout when it closes, once; text bars and
disabled bars are left alone; pipeline.train's bar ends where training ended, even on error."""

from __future__ import annotations

import pytest
import torch
import tqdm.auto
from tqdm.notebook import tqdm as notebook_tqdm

from course_utils import pipeline, progress


@pytest.fixture
def in_a_kernel(monkeypatch):
    """tqdm.auto as it is in a Jupyter kernel: the widget bar."""
    monkeypatch.setattr(tqdm.auto, "tqdm", notebook_tqdm)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_a_widget_bar_leaves_its_final_line_once(in_a_kernel, capsys):
    bar = progress.progress_bar(total=8, desc="training")
    assert isinstance(bar, notebook_tqdm)
    capsys.readouterr()  # the widget's first frame (0%), as a saved notebook keeps it
    for _ in range(8):
        bar.update(1)
    bar.set_postfix(loss="0.412")
    bar.close()
    bar.close()
    out, err = capsys.readouterr()
    assert err == ""
    (line,) = lines(out)
    assert line.startswith("training: 100%|") and "8/8" in line and "loss=0.412" in line


def test_disabled_and_leave_false_bars_print_nothing(in_a_kernel, capsys):
    for options in ({"disable": True}, {"leave": False}):
        bar = progress.progress_bar(total=3, **options)
        capsys.readouterr()
        bar.update(3)
        bar.close()
        assert capsys.readouterr().out == "", options


def test_a_text_bar_is_left_as_tqdm_draws_it(capsys):
    bar = progress.progress_bar(total=2, desc="text", mininterval=0)
    assert not isinstance(bar, notebook_tqdm)
    bar.update(2)
    bar.close()
    out, err = capsys.readouterr()
    assert out == "" and "2/2" in err


class Exploding(torch.nn.Module):
    """A classifier whose third forward pass raises."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 2)
        self.calls = 0

    def forward(self, x, labels):
        self.calls += 1
        if self.calls == 3:
            raise RuntimeError("boom")
        logits = self.linear(x)
        return type("Out", (), {"loss": torch.nn.functional.cross_entropy(logits, labels)})


def test_train_leaves_the_line_of_where_it_stopped(in_a_kernel, capsys):
    batches = [{"x": torch.randn(4, 2), "labels": torch.tensor([0, 1, 0, 1])}] * 4
    with pytest.raises(RuntimeError, match="boom"):
        pipeline.train(Exploding(), batches, epochs=2, lr=0.1, device=torch.device("cpu"))
    (line,) = lines(capsys.readouterr().out)[-1:]
    assert line.startswith("training:  25%|") and "2/8" in line
