"""What the chapter-4b script tests share: load train.py as a module, a free port, a clean
Accelerate state."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "solutions" / "04b_launching" / "train.py"
MINIMAL = REPO / "solutions" / "04b_launching" / "train_minimal.py"


def load_script(name: str = "chapter4_train") -> ModuleType:
    """``solutions/04b_launching/train.py`` imported under ``name``."""
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reset_accelerate() -> None:
    """Forget every Accelerator of this process (notebook_launcher refuses to start next to one)."""
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
