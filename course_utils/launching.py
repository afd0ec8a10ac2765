"""What chapter 4b's launch cells can start on this machine, and why: plain functions of the
device facts, so that every case (a CPU, a one-GPU Colab, several GPUs, a GPU that earlier
cells already used) is tested without the hardware.

:func:`this_machine` reads the facts; :func:`notebook_plan` says what ``notebook_launcher``
will do with them (Accelerate 1.10-1.15: on Colab with fewer than two GPUs it calls the function
once, in the notebook's process; elsewhere, with ``num_processes > 1``, it forks);
:func:`script_plan` chooses the ``accelerate launch`` configuration for ``train.py``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

FORKS_WITHOUT_GPU_SINCE = "1.12.0"


def _version(text: str) -> tuple:
    from packaging.version import Version

    return Version(text).release


@dataclass(frozen=True)
class Machine:
    """The facts a launch depends on."""

    gpus: int = 0  # torch.cuda.device_count()
    cuda_in_use: bool = False  # torch.cuda.is_initialized(): this process holds a CUDA context
    colab: bool = False
    kaggle: bool = False
    tpu: bool = False  # TPU_NAME or PJRT_DEVICE=TPU, what notebook_launcher looks for
    accelerate: str = FORKS_WITHOUT_GPU_SINCE  # Accelerate's version

    @property
    def forks_without_gpu(self) -> bool:
        """Accelerate before 1.12 cannot fork from a notebook on a machine without any
        accelerator: it asks torch for the current accelerator's type and gets None."""
        return _version(self.accelerate) >= _version(FORKS_WITHOUT_GPU_SINCE)

    def summary(self) -> str:
        where = "Colab" if self.colab else "Kaggle" if self.kaggle else "this machine"
        if self.tpu:
            device = "a TPU"
        elif self.gpus:
            device = f"{self.gpus} GPU{'s' if self.gpus > 1 else ''}"
            if self.cuda_in_use:
                device += " (CUDA already used by earlier cells)"
        else:
            device = "no GPU"
        return f"{where}, {device}"


def this_machine() -> Machine:
    """The facts of the machine this notebook runs on."""
    import accelerate
    import torch

    in_colab = "google.colab" in sys.modules
    in_kaggle = any(key.startswith("KAGGLE") for key in os.environ)  # as notebook_launcher
    tpu = bool(os.environ.get("TPU_NAME")) or os.environ.get("PJRT_DEVICE", "") == "TPU"
    return Machine(
        gpus=torch.cuda.device_count() if torch.cuda.is_available() else 0,
        cuda_in_use=torch.cuda.is_initialized(),
        colab=in_colab,
        kaggle=in_kaggle,
        tpu=tpu,
        accelerate=accelerate.__version__,
    )


@dataclass(frozen=True)
class Plan:
    """What a launch will run: how many processes, how, and why."""

    processes: int | None  # None: one per TPU core, as notebook_launcher decides
    how: str  # "fork": new processes; "in-process": the function runs once, here; "tpu"
    reason: str

    def describe(self) -> str:
        if self.how == "fork":
            what = f"{self.processes} processes, forked from this notebook"
        elif self.how == "in-process":
            what = "1 process: the function runs once, in this notebook's process"
        else:
            what = "one process per TPU core"
        return f"{what} ({self.reason})"

    @property
    def checks_for_an_outer_accelerator(self) -> bool:
        """Whether notebook_launcher refuses to start after an Accelerator was created outside:
        it checks only before it forks (or starts TPU processes)."""
        return self.how in ("fork", "tpu")


def notebook_plan(machine: Machine, wanted: int = 2) -> Plan:
    """What ``notebook_launcher(function, num_processes=...)`` should be asked for, and why."""
    if (machine.colab or machine.kaggle) and machine.tpu:
        return Plan(None, "tpu", "a Colab or Kaggle TPU: one process per core; not tested here")
    if machine.colab and machine.gpus < 2:
        device = "one GPU" if machine.gpus == 1 else "no GPU"
        return Plan(1, "in-process", f"on Colab with {device}, notebook_launcher does not fork: "
                                     "it calls the function once, here")
    if machine.gpus >= 2 and machine.cuda_in_use:
        return Plan(1, "in-process", f"{machine.gpus} GPUs, but earlier cells already used CUDA "
                                     "here, and a forked process cannot use its parent's CUDA; "
                                     "for all of them, restart the kernel and launch before "
                                     "anything touches CUDA, or use accelerate launch")
    if machine.gpus >= 2:
        return Plan(machine.gpus, "fork", f"{machine.gpus} GPUs: one process per GPU")
    if machine.gpus == 1:
        return Plan(1, "in-process", "one GPU: two processes cannot share it")
    if not machine.forks_without_gpu:
        return Plan(1, "in-process", f"Accelerate {machine.accelerate}'s notebook_launcher "
                                     "cannot fork on a machine without a GPU (fixed in "
                                     f"{FORKS_WITHOUT_GPU_SINCE}); pip install -U accelerate "
                                     f"for {wanted} processes")
    return Plan(wanted, "fork", f"no GPU: {wanted} CPU processes in one gloo group, "
                                "as the function asks for Accelerator(cpu=True)")


def script_plan(gpus: int) -> tuple[dict, str]:
    """The ``accelerate launch`` config entries for ``train.py`` on a machine with ``gpus``
    GPUs, and why. A new process starts with no CUDA context, so earlier cells do not matter."""
    if gpus == 1:
        return ({"distributed_type": "NO", "num_processes": 1},
                "one GPU: one process (two cannot share it)")
    if gpus >= 2:
        return ({"distributed_type": "MULTI_GPU", "num_processes": gpus},
                f"{gpus} GPUs: one process per GPU")
    return ({"distributed_type": "MULTI_GPU", "num_processes": 2},
            "no GPU: torchrun's launcher (MULTI_GPU) starts 2 processes, and train.py puts "
            "them on the CPU")
