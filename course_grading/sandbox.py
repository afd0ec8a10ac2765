"""The sandbox every submission is graded in: bubblewrap, with nothing of the course in reach.

`bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``, the Debian/Ubuntu/
Fedora package ``bubblewrap``; Flatpak's sandbox) is a maintained, audited tool that starts a
process in new Linux namespaces. The grader uses it so that each submission's code:

- sees the machine read-only, with the course directory (``solutions/``, the gradebook,
  every other submission), the repository the checkers come from (but for the checker
  package itself and the Python environment, read-only), the home directory (dotfiles,
  ``~/.ipython`` startup files) and ``/tmp`` hidden behind empty, private folders;
- has no network (a new network namespace with only loopback), no view of the grader's
  processes (a new PID namespace) and no capabilities (a new user namespace, uid 65534);
- dies with the grader, and takes every process it started with it.

Where bubblewrap is missing or cannot create namespaces (macOS, Windows, a locked-down
container), :func:`check_available` says so in one sentence and grading stops, unless the
instructor sets ``COURSE_GRADE_UNSANDBOXED=1``, which runs the same grader without
isolation and says so loudly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

UNSANDBOXED_VARIABLE = "COURSE_GRADE_UNSANDBOXED"
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: "
    "`sudo dnf install bubblewrap`) and grade on Linux"
)


class SandboxUnavailable(RuntimeError):
    """Grading cannot be isolated here; the message says why and what to do."""


def unsandboxed_allowed() -> bool:
    return os.environ.get(UNSANDBOXED_VARIABLE, "") == "1"


def _python_roots() -> list[Path]:
    """Folders the sandboxed Python needs: the environment, its base and the interpreter's."""
    roots = {
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(os.path.realpath(sys.executable)).parents[1],
    }
    return sorted(roots)


def _package_dir(name: str) -> Path:
    module = __import__(name)
    return Path(module.__file__).resolve().parent


def bwrap_command(hidden: list[Path], work_dir: Path | None = None) -> list[str]:
    """The ``bwrap`` arguments that start a command in a fresh sandbox.

    ``hidden`` folders are covered by empty ones (the course directory, the repository,
    home); the Python environment and the ``course_utils``/``course_grading`` packages are
    then bound back read-only wherever they live. ``work_dir``, if given, is the only
    writable folder (at ``/work`` inside), and the command starts there.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}")
    args = [
        bwrap,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/dev/shm",
        "--unshare-all",
        "--unshare-user",
        "--uid",
        "65534",
        "--gid",
        "65534",
        "--hostname",
        "grader",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
    ]
    home = Path.home()
    for folder in {*hidden, home, Path("/root")}:
        if folder.exists():
            args += ["--tmpfs", str(folder)]
    for keep in [*_python_roots(), _package_dir("course_utils"), _package_dir("course_grading")]:
        if keep.exists():
            args += ["--ro-bind", str(keep), str(keep)]
    hf_cache = Path(os.environ.get("HF_HOME", home / ".cache" / "huggingface"))
    if hf_cache.exists():  # models and data sets a `full` grading run may need, read-only
        args += ["--ro-bind", str(hf_cache), str(hf_cache)]
    if work_dir is not None:
        args += ["--bind", str(work_dir), "/work", "--chdir", "/work"]
    else:
        args += ["--chdir", "/tmp"]
    args += ["--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp"]
    return args + ["--"]


def check_available() -> None:
    """Raise :class:`SandboxUnavailable` (one sentence) unless a sandbox can start here."""
    if unsandboxed_allowed():
        return
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(
            f"grading needs the bubblewrap sandbox, which runs only on Linux ({sys.platform} "
            f"here): grade on a Linux machine or in a Linux VM; to grade without isolation "
            f"anyway, at your own risk, set {UNSANDBOXED_VARIABLE}=1"
        )
    try:
        result = subprocess.run(
            [*bwrap_command([]), "true"], capture_output=True, text=True, timeout=30
        )
    except SandboxUnavailable as error:
        raise SandboxUnavailable(
            f"{error}; to grade without isolation anyway, at your own risk, set "
            f"{UNSANDBOXED_VARIABLE}=1"
        ) from None
    if result.returncode != 0:
        why = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise SandboxUnavailable(
            f"bubblewrap is installed but cannot create a sandbox here ({why}): allow "
            "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or "
            f"grade as root; to grade without isolation anyway, set {UNSANDBOXED_VARIABLE}=1"
        )
