"""Check the course environment: ``python -m course_utils.env`` or ``check_environment()``.

Prints one line per key package (``[OK] torch 2.13.0`` / ``[FAIL] transformers 4.1.0 (need
5.23.0)`` / ``[FAIL] nbval not installed``), then the device and the active profile, and
nothing else.

What a version is compared with depends on where the check runs:

- in the course's own environment (the repository's ``.venv`` made by ``course.sh``, or Binder,
  both installed from ``requirements.txt``): the exact pins of that ``requirements.txt``;
- anywhere else (Colab, a student's own environment): the supported minimum versions,
  ``MINIMUM_VERSIONS``. Those are the versions of a test environment that ran every solution
  notebook (``tools/check_minimums.sh``; README, "Supported versions"). Colab's own torch is
  kept even when it is older than the oldest torch tested: that line says so as ``[WARN]``.

In Colab, :func:`install_missing` installs the student packages that are missing or older than
their minimum, at their pinned versions (``pins.txt``), and leaves alone what Colab already
provides at a supported version (ipywidgets 7 stays 7), and torch in any case.

The student packages (``STUDENT_PACKAGES``) and a profile that cannot load decide the verdict.
The instructor and test tools (``INSTRUCTOR_PACKAGES``: nbgrader, nbval, jupyterlab, pytest) are
shown for information, as ``[--]`` when missing and ``[WARN]`` when off their pin, and never fail
the check. The module exits with 0 when everything needed is OK, else 1.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from course_utils.i18n import _

STUDENT_PACKAGES = (
    "torch", "transformers", "datasets", "evaluate", "accelerate", "tqdm", "matplotlib",
    "ipywidgets", "numpy",
)
INSTRUCTOR_PACKAGES = ("nbgrader", "nbval", "jupyterlab", "pytest")
# The oldest versions a test environment ran every solution notebook with (smoke profile):
# tools/check_minimums.sh builds that environment; README, "Supported versions", has its result.
MINIMUM_VERSIONS = {
    "torch": "2.13", "transformers": "4.57.1", "datasets": "4.0", "evaluate": "0.4.6",
    "accelerate": "1.10.1", "tqdm": "4.67", "matplotlib": "3.10", "ipywidgets": "7.7",
    "numpy": "2.0",
}
PACKAGED_PINS = Path(__file__).resolve().parent / "pins.txt"
NEVER_INSTALLED = ("torch",)  # Colab's own build matches its GPU/TPU runtime: never replace it
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def normalize(name: str) -> str:
    """A distribution name as pip compares it: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: str | os.PathLike) -> dict[str, str]:
    """The ``name==version`` lines of a requirements file, by normalized name."""
    pins = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            pins[normalize(match.group(1))] = match.group(2)
    return pins


def find_requirements(starts: Iterable[Path] | None = None) -> Path | None:
    """The nearest ``requirements.txt`` that pins transformers, walking up from each start."""
    if starts is None:
        starts = [Path(__file__).resolve().parent, Path.cwd()]
    for start in starts:
        for folder in [start, *start.parents]:
            candidate = folder / "requirements.txt"
            if candidate.is_file() and "transformers" in read_pins(candidate):
                return candidate
    return None


def on_colab() -> bool:
    """True in a Google Colab runtime."""
    return "google.colab" in sys.modules or bool(os.environ.get("COLAB_RELEASE_TAG"))


def on_binder() -> bool:
    """True on mybinder.org (BinderHub sets these in every session it starts)."""
    return any(os.environ.get(name) for name in ("BINDER_LAUNCH_HOST", "BINDER_REPO_URL"))


def pinned_requirements() -> Path | None:
    """The ``requirements.txt`` whose exact pins apply here, or None (minimum versions apply).

    Pins apply in the course's own environment: the repository's ``.venv`` (``course.sh``) or
    Binder, where this package is installed from the repository next to its requirements.txt.
    """
    if on_colab():
        return None
    requirements = find_requirements([Path(__file__).resolve().parent])
    if requirements is None:
        return None
    venv = requirements.parent / ".venv"
    here = Path(sys.prefix).resolve()
    if on_binder() or (venv.is_dir() and here == venv.resolve()):
        return requirements
    return None


def _same_release(installed: str, pinned: str) -> bool:
    try:
        from packaging.version import Version

        return Version(installed).public == Version(pinned).public  # 2.13.0+cpu is 2.13.0
    except Exception:
        return installed.split("+")[0] == pinned


def _at_least(installed: str, minimum: str) -> bool:
    try:
        from packaging.version import Version

        return Version(installed) >= Version(minimum)
    except Exception:
        return True


@dataclass(frozen=True)
class PackageStatus:
    """One package: what is installed, what is wanted, and whether that is fine."""

    name: str
    installed: str | None
    wanted: str | None  # "5.23.0" (exact pin), ">= 4.40" (minimum) or None
    ok: bool
    optional: bool = False
    warning: str | None = None  # ok, but worth a line: e.g. Colab's torch, older than tested

    def line(self) -> str:
        """The report line, e.g. ``[FAIL] transformers 4.1.0 (need 5.23.0)``."""
        note = _(" (for instructors and tests)") if self.optional else ""
        if self.installed is None:
            return _("{mark} {name} not installed{note}").format(
                mark="[--]" if self.optional else "[FAIL]", name=self.name, note=note
            )
        if self.ok and self.warning:
            return f"[WARN] {self.name} {self.installed} ({self.warning})"
        if self.ok:
            return f"[OK] {self.name} {self.installed}"
        mark = "[WARN]" if self.optional else "[FAIL]"
        return _("{mark} {name} {installed} (need {wanted}){note}").format(
            mark=mark, name=self.name, installed=self.installed, wanted=self.wanted, note=note
        )


def installed_version(name: str) -> str | None:
    """The installed version of a distribution, or None (tests replace it to play Colab)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_package(
    name: str, pins: dict[str, str] | None = None, optional: bool = False
) -> PackageStatus:
    """Compare one installed package with its pin, else with its minimum version, if any."""
    installed = installed_version(name)
    if installed is None:
        return PackageStatus(name, None, None, False, optional)
    pin = (pins or {}).get(normalize(name))
    if pin is not None:
        return PackageStatus(name, installed, pin, _same_release(installed, pin), optional)
    minimum = MINIMUM_VERSIONS.get(name)
    if minimum is None:
        return PackageStatus(name, installed, None, True, optional)
    if not _at_least(installed, minimum) and name in NEVER_INSTALLED:
        warning = _(
            "older than {minimum}, the oldest tested; kept, since the platform's own "
            "build matches its GPU or TPU"
        ).format(minimum=minimum)
        return PackageStatus(name, installed, f">= {minimum}", True, optional, warning)
    return PackageStatus(name, installed, f">= {minimum}", _at_least(installed, minimum), optional)


def device_line() -> str:
    """Which accelerator torch will use: a CUDA GPU, a TPU, Apple's MPS, or the CPU."""
    try:
        import torch
    except ImportError:
        return _("[FAIL] device: torch is not installed")
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        return _("[OK] device: CUDA GPU {name} ({count} visible)").format(
            name=torch.cuda.get_device_name(0), count=count
        )
    if importlib.util.find_spec("torch_xla") is not None:
        return _("[OK] device: TPU (torch_xla is installed)")
    if torch.backends.mps.is_available():
        return _("[OK] device: Apple MPS GPU")
    return _("[OK] device: CPU only ({cores} cores): fine for the smoke profile").format(
        cores=os.cpu_count()
    )


def profile_lines() -> tuple[bool, list[str]]:
    """The active profile and what it loads, or the reason it cannot load; never raises."""
    try:
        from course_utils import profiles

        profile = profiles.get_profile()
        lines = ["[OK] " + profile.describe()]
        if profile.name == "full" and profiles.accelerator() is None:
            lines.append(
                _(
                    "[WARN] full on a CPU: {cost}; run "
                    "%env COURSE_PROFILE=smoke in a cell for minutes instead"
                ).format(cost=profiles.FULL_ON_CPU_COST)
            )
    except Exception as error:  # the check must report, not crash
        return False, [_("[FAIL] profile: {error}").format(error=error)]
    return True, lines


def check_environment(packages: Iterable[str] | None = None) -> bool:
    """Print the report; True when the packages, the device and the profile are all OK.

    ``packages`` replaces the student packages checked (the instructor tools are then skipped).
    """
    requirements = pinned_requirements()
    if requirements is not None:
        pins = read_pins(requirements)
        source = _("the pins of {path} (the course's own environment)").format(path=requirements)
    else:
        pins = {}
        source = _("the supported minimum versions (this is not the course's own .venv)")
    print(
        _("Python {version}; packages compared with {source}").format(
            version=platform.python_version(), source=source
        )
    )
    required = list(packages) if packages is not None else list(STUDENT_PACKAGES)
    optional = [] if packages is not None else list(INSTRUCTOR_PACKAGES)
    statuses = [check_package(name, pins) for name in required]
    statuses += [check_package(name, pins, optional=True) for name in optional]
    for status in statuses:
        print(status.line())
    device = device_line()
    print(device)
    profile_ok, lines = profile_lines()
    print("\n".join(lines))
    packages_ok = all(status.ok for status in statuses if not status.optional)
    return packages_ok and profile_ok and not device.startswith("[FAIL]")


def install_missing(run=subprocess.run) -> list[str]:
    """Install, at their pinned versions, the student packages that are missing or too old.

    Packages already installed at a version the code supports are left as they are (a Colab
    runtime's versions match each other), and torch is never touched. Returns the ``pip``
    requirements it installed.
    """
    pins = read_pins(PACKAGED_PINS)
    wanted = []
    for name in STUDENT_PACKAGES:
        if name in NEVER_INSTALLED:
            continue
        status = check_package(name)  # compared with the minimum version, not the pin
        if (status.installed is None or not status.ok) and normalize(name) in pins:
            wanted.append(f"{name}=={pins[normalize(name)]}")
    if wanted:
        print(_("Installing: {packages}").format(packages=" ".join(wanted)))
        run([sys.executable, "-m", "pip", "install", "--quiet", *wanted], check=True)
    else:
        print(_("Nothing to install: every course package is already here."))
    return wanted


def main() -> int:
    """Run the check; the exit code is 0 when everything needed is OK, else 1."""
    return 0 if check_environment() else 1


if __name__ == "__main__":
    sys.exit(main())
