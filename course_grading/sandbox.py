"""The sandbox every submission is graded in: bubblewrap, with nothing of the course in reach.

`bubblewrap <https://github.com/containers/bubblewrap>`_ (``bwrap``, the Debian/Ubuntu/
Fedora package ``bubblewrap``; Flatpak's sandbox) is a maintained, audited tool that starts a
process in new Linux namespaces. The grader uses it so that each submission's code:

- sees only what grading needs, read-only: the system's programs and libraries, the Python
  environment, the ``course_utils`` package and the model caches. The course directory
  (``solutions/``, the gradebook, every other submission), any other copy of the course,
  the home directory (dotfiles, ``~/.ipython`` startup files) and the host's ``/tmp`` do
  not exist inside; ``/tmp`` is private and empty;
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


SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/sys")
SYSTEM_FILES = (  # what Python, torch and matplotlib read from /etc; nothing else of it
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/ssl",
    "/etc/fonts",
    "/etc/mime.types",
    "/etc/alternatives",
)


def _course_data_paths(home: Path) -> list[Path]:
    """Models and data the course is told to use (its cache, the override variables)."""
    paths = [Path(os.environ.get("COURSE_CACHE") or home / ".cache" / "course_utils")]
    for variable in ("COURSE_CHECKPOINT", "COURSE_DATA_DIR"):
        value = os.environ.get(variable, "")
        if value and (value.startswith(("/", "~", ".")) or os.sep in value):
            paths.append(Path(value).expanduser().resolve())
    return [path for path in paths if path.exists()]


def bwrap_command(hidden: list[Path], work_dir: Path | None = None) -> list[str]:
    """The ``bwrap`` arguments that start a command in a fresh sandbox.

    The sandbox starts empty and gets, read-only, only what grading needs: the system's
    programs and libraries, a few files of ``/etc``, the Python environment, the
    ``course_utils`` and ``course_grading`` packages, the Hugging Face model and data caches,
    the course's own cache (the smoke model) and the folders ``COURSE_CHECKPOINT`` and
    ``COURSE_DATA_DIR`` name. Nothing else of the machine exists inside: no home directory,
    no other copy of the course, no ``solutions/``, gradebook or other submission.
    ``hidden`` folders are covered again in case one of those lies inside them.
    ``work_dir``, if given, is the only writable folder besides the sandbox's own ``/tmp``
    (at ``/work`` inside).
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}")
    args = [
        bwrap,
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
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--dir",
        "/var/tmp",
    ]
    for folder in (*SYSTEM_DIRS, *SYSTEM_FILES):
        args += ["--ro-bind-try", folder, folder]
    home = Path.home()
    keep = [*_python_roots(), _package_dir("course_utils"), _package_dir("course_grading")]
    hf_home = Path(os.environ.get("HF_HOME", home / ".cache" / "huggingface"))
    keep += [hf_home / "hub", hf_home / "datasets"]  # models and data for `full`; no token
    keep += _course_data_paths(home)
    for folder in keep:
        if folder.exists():
            args += ["--ro-bind", str(folder), str(folder)]
    for folder in hidden:
        if folder.exists() and any(k.is_relative_to(folder) for k in keep if k.exists()):
            continue  # covering it would hide the environment; it is not bound anyway
        if folder.exists():
            args += ["--tmpfs", str(folder)]
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


def check_or_exit() -> None:
    """:func:`check_available`, or one sentence on stderr and exit status 1."""
    try:
        check_available()
    except SandboxUnavailable as error:
        print(f"Grading stopped: {error}.", file=sys.stderr)
        raise SystemExit(1) from None
