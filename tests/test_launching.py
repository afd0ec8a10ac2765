"""Chapter 4's launch plans for every kind of machine, with the device facts injected, and
checks that the plans agree with what Accelerate's notebook_launcher really does here."""

from __future__ import annotations

import os
import sys
import types

import accelerate  # before any test fakes google.colab: accelerate looks for it on import
import pytest

from course_utils import launching
from course_utils.launching import Machine, notebook_plan, script_plan

CASES = {
    # machine: (processes, how)
    Machine(): (2, "fork"),
    Machine(colab=True): (1, "in-process"),
    Machine(gpus=1, colab=True): (1, "in-process"),
    Machine(gpus=1, colab=True, cuda_in_use=True): (1, "in-process"),
    Machine(gpus=1): (1, "in-process"),
    Machine(gpus=1, cuda_in_use=True): (1, "in-process"),
    Machine(gpus=4): (4, "fork"),
    Machine(gpus=4, cuda_in_use=True): (1, "in-process"),
    Machine(gpus=2, kaggle=True): (2, "fork"),
    Machine(colab=True, tpu=True): (None, "tpu"),
    Machine(accelerate="1.10.1"): (1, "in-process"),  # its launcher crashes forking on a CPU
    Machine(colab=True, accelerate="1.10.1"): (1, "in-process"),
    Machine(gpus=2, accelerate="1.10.1"): (2, "fork"),
    Machine(accelerate="1.12.0"): (2, "fork"),
}


@pytest.mark.parametrize("machine", list(CASES), ids=lambda m: m.summary())
def test_each_machine_gets_its_plan(machine):
    plan = notebook_plan(machine)
    assert (plan.processes, plan.how) == CASES[machine]
    line = plan.describe()
    assert "\n" not in line and plan.reason in line


def test_the_reasons_say_why():
    assert "does not fork" in notebook_plan(Machine(gpus=1, colab=True)).reason
    used = notebook_plan(Machine(gpus=4, cuda_in_use=True)).reason
    assert "earlier cells already used CUDA" in used and "restart the kernel" in used
    assert "two processes cannot share it" in notebook_plan(Machine(gpus=1)).reason
    assert "Accelerator(cpu=True)" in notebook_plan(Machine()).reason
    assert "not tested here" in notebook_plan(Machine(colab=True, tpu=True)).reason
    old = notebook_plan(Machine(accelerate="1.11.0")).reason
    assert "Accelerate 1.11.0's notebook_launcher cannot fork" in old and "1.12.0" in old


def test_only_forking_launches_refuse_an_accelerator_made_outside():
    assert notebook_plan(Machine()).checks_for_an_outer_accelerator
    assert notebook_plan(Machine(gpus=4)).checks_for_an_outer_accelerator
    assert not notebook_plan(Machine(gpus=1, colab=True)).checks_for_an_outer_accelerator


@pytest.mark.parametrize(("gpus", "config"), [
    (0, {"distributed_type": "MULTI_GPU", "num_processes": 2}),
    (1, {"distributed_type": "NO", "num_processes": 1}),
    (8, {"distributed_type": "MULTI_GPU", "num_processes": 8}),
])
def test_script_plan(gpus, config):
    entries, reason = script_plan(gpus)
    assert entries == config and reason


def test_this_machine_reads_the_facts(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setenv("PJRT_DEVICE", "TPU")
    assert launching.this_machine() == Machine(gpus=3, cuda_in_use=True, colab=True,
                                               kaggle=launching.this_machine().kaggle, tpu=True,
                                               accelerate=accelerate.__version__)


# What Accelerate really does, on this CPU-only machine ---------------------------------------


@pytest.fixture
def fresh_accelerate_state():
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    yield
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def test_on_colab_without_gpus_notebook_launcher_runs_in_process(monkeypatch,
                                                                  fresh_accelerate_state):
    """The plan says "in-process, and no refusal": so does Accelerate, given Colab's IPython."""
    import IPython
    from accelerate import Accelerator, notebook_launcher

    for key in [k for k in os.environ if k.startswith("KAGGLE")]:
        monkeypatch.delenv(key)
    monkeypatch.delenv("TPU_NAME", raising=False)
    monkeypatch.delenv("PJRT_DEVICE", raising=False)

    class ColabShell:
        def __str__(self):
            return "<google.colab._shell.Shell object>"

    monkeypatch.setattr(IPython, "get_ipython", lambda: ColabShell())
    Accelerator(cpu=True)  # made outside the function: only a forking launch refuses
    calls = []
    notebook_launcher(lambda: calls.append("ran"), num_processes=2)
    assert calls == ["ran"]  # once, here
    plan = notebook_plan(Machine(colab=True))
    assert plan.how == "in-process" and not plan.checks_for_an_outer_accelerator


def test_off_colab_a_forking_launch_refuses_an_outer_accelerator(monkeypatch,
                                                                 fresh_accelerate_state):
    import IPython
    from accelerate import Accelerator, notebook_launcher

    for key in [k for k in os.environ if k.startswith("KAGGLE")]:
        monkeypatch.delenv(key)
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    Accelerator(cpu=True)
    with pytest.raises(ValueError, match="should only be initialized inside your training"):
        notebook_launcher(lambda: None, num_processes=2)
    assert notebook_plan(Machine()).checks_for_an_outer_accelerator
