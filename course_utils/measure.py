"""Measuring a training run's cost: trainable parameters, optimizer-state memory, peak memory.

Chapter 5 measures its fine-tuning strategies with these; its checker counts with them too.
"""

from __future__ import annotations

import os
import threading
import time

import torch
from torch import nn


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) numbers of parameter values."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def training_state_megabytes(model: nn.Module) -> float:
    """Memory that trainable parameters add in training, in MB: a gradient and AdamW's two
    moment estimates per trainable value (frozen ones have none of the three)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    return sum(3 * p.numel() * p.element_size() for p in trainable) / 2**20


class PeakMemory:
    """Peak memory of a block, in MB: ``with PeakMemory(device) as peak: ...; peak.megabytes``.

    On a CUDA GPU it is ``torch.cuda.max_memory_allocated`` above what was allocated when the
    block started (exact: the tensors the block created). On a CPU it is the growth of the
    process's resident memory (RSS, read with psutil every few milliseconds in a thread):
    rougher, because the allocator keeps freed memory and reuses it. ``method`` says which.
    """

    def __init__(self, device: torch.device | str | None = None, interval: float = 0.002) -> None:
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.interval = interval
        self.megabytes = 0.0
        self.method = ("torch.cuda.max_memory_allocated" if self.device.type == "cuda"
                       else "process RSS growth (psutil)")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
            return self
        import psutil

        self._process = psutil.Process(os.getpid())
        self._start = self._peak = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._process.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc: object) -> bool:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            peak = max(self._peak, self._process.memory_info().rss)
        self.megabytes = max(peak - self._start, 0) / 2**20
        return False
