"""What the course loads (checkpoint, data, metric): the ``full``, ``smoke`` and ``auto`` profiles.

``COURSE_PROFILE`` picks the profile (``auto`` by default: ``full`` when the Hub answers within
2 s, else ``smoke``). ``COURSE_CHECKPOINT`` and ``COURSE_DATA_DIR`` override the checkpoint and
the data in any profile. The Hub is probed at most once per process, by :func:`hub_reachable`
(tests replace it), and never when ``HF_HUB_OFFLINE`` is set.
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PROFILE_NAMES = ("full", "smoke", "auto")
FULL_CHECKPOINT = "bert-base-uncased"
HUB_URL = "https://huggingface.co"
PROBE_TIMEOUT = 2.0
MRPC_FILES = ("train.tsv", "dev.tsv", "test.tsv")

_PACKAGE_DIR = Path(__file__).resolve().parent
FIXTURE_DIR = _PACKAGE_DIR / "fixtures" / "paraphrase"
LOCAL_METRIC_DIR = _PACKAGE_DIR / "metrics" / "glue_mrpc"

_TRUE = {"1", "true", "yes", "on"}
_hub_answer: bool | None = None  # the cached result of the one probe of this process


class CourseSetupError(RuntimeError):
    """The course cannot load what it needs; the message says what to set, without a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython hook: show the sentence, not a trace
        return str(self).splitlines()


@dataclass(frozen=True)
class Profile:
    """What the notebooks load: a checkpoint, a data source and a metric, and why."""

    name: str  # "full" or "smoke"
    checkpoint: str  # a Hub id or a local model directory
    data_dir: str | None  # MRPC TSV files; None = the Hub (full) or the shipped fixture (smoke)
    metric: str  # "glue" (evaluate's glue/mrpc on the Hub) or a local evaluate module directory
    reason: str  # why this profile was chosen, in one sentence

    def summary(self) -> str:
        """What the profile loads, in a few words."""
        if self.checkpoint == FULL_CHECKPOINT:
            model = f"{FULL_CHECKPOINT} from the Hub"
        elif _is_tiny(self.checkpoint):
            model = "tiny BERT built locally"
        else:
            model = f"checkpoint {self.checkpoint}"
        if self.data_dir is not None:
            data = f"MRPC TSV files in {self.data_dir}"
        elif self.name == "full":
            data = "GLUE MRPC from the Hub"
        else:
            data = "paraphrase fixture shipped with course_utils"
        return f"{model}, {data}"

    def headline(self) -> str:
        """One line: the profile, what it loads and why."""
        why = f"; {self.reason}" if "(" in self.reason else f" ({self.reason})"
        return f"Profile: {self.name} — {self.summary()}{why}"

    def describe(self) -> str:
        """A few lines saying what will be loaded and why."""
        if self.data_dir is not None:
            data = f"MRPC TSV files (train.tsv, dev.tsv, test.tsv) in {self.data_dir}"
        elif self.name == "full":
            data = 'GLUE MRPC from the Hub (load_dataset("glue", "mrpc"))'
        else:
            data = f"paraphrase fixture shipped with course_utils ({FIXTURE_DIR})"
        if self.metric == "glue":
            metric = 'evaluate.load("glue", "mrpc") from the Hub'
        else:
            metric = f"accuracy and F1 of GLUE MRPC, local evaluate module {self.metric}"
        return "\n".join(
            [
                f"Profile: {self.name} — {self.reason}",
                f"  checkpoint: {self.checkpoint}",
                f"  data:       {data}",
                f"  metric:     {metric}",
            ]
        )


def hub_reachable(timeout: float = PROBE_TIMEOUT) -> bool:
    """True when ``HUB_URL`` answers an HTTPS HEAD request within ``timeout`` seconds.

    Any HTTP answer counts, even an error status. The request runs in a daemon thread so that
    a slow DNS lookup cannot make the caller wait longer than ``timeout``.
    """
    answer: list[bool] = []

    def probe() -> None:
        request = urllib.request.Request(HUB_URL, method="HEAD")
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                answer.append(True)
        except urllib.error.HTTPError:
            answer.append(True)
        except (OSError, ValueError):
            answer.append(False)

    thread = threading.Thread(target=probe, name="course-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answer and answer[0])


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` asks the Hugging Face libraries not to use the network."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def _hub_answers() -> bool:
    """Probe the Hub once per process (never when offline) and remember the answer."""
    global _hub_answer
    if hub_offline():
        return False
    if _hub_answer is None:
        _hub_answer = hub_reachable(PROBE_TIMEOUT)
    return _hub_answer


def _checkpoint_override() -> str | None:
    value = os.environ.get("COURSE_CHECKPOINT", "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if value.startswith(("/", ".", "~")) or path.exists():
        raise CourseSetupError(
            f"COURSE_CHECKPOINT={value} is not a model directory: set it to a folder made by "
            "save_pretrained, or to a Hub id such as bert-base-uncased."
        )
    return value


def _data_dir_override() -> str | None:
    value = os.environ.get("COURSE_DATA_DIR", "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise CourseSetupError(
            f"COURSE_DATA_DIR={value} is not a directory: set it to a folder holding GLUE MRPC's "
            "train.tsv, dev.tsv and test.tsv, or unset it."
        )
    missing = [name for name in MRPC_FILES if not (path / name).is_file()]
    if missing:
        raise CourseSetupError(
            f"COURSE_DATA_DIR={value} has no {' or '.join(missing)}: it must hold GLUE MRPC's "
            "original train.tsv, dev.tsv and test.tsv."
        )
    return str(path.resolve())


def is_tiny_checkpoint(checkpoint: str) -> bool:
    """True for the smoke profile's tiny BERT (randomly initialised: it needs a larger lr)."""
    return Path(checkpoint).name.startswith("tiny-bert-")


_is_tiny = is_tiny_checkpoint  # older name, used by course_utils.pipeline


def _smoke(checkpoint: str | None, data_dir: str | None, reason: str) -> Profile:
    if checkpoint is None:
        from course_utils import tiny_bert

        checkpoint = tiny_bert.tiny_checkpoint()
    return Profile("smoke", checkpoint, data_dir, str(LOCAL_METRIC_DIR), reason)


def _full(checkpoint: str | None, data_dir: str | None, reason: str) -> Profile:
    needs_hub = checkpoint is None or data_dir is None
    if hub_offline():
        reason = "HF_HUB_OFFLINE is set, so Hub names load from the local Hugging Face cache"
        metric = str(LOCAL_METRIC_DIR)
    elif _hub_answers():
        metric = "glue"
    elif needs_hub:
        raise CourseSetupError(
            f"COURSE_PROFILE=full needs the Hugging Face Hub, which did not answer within "
            f"{PROBE_TIMEOUT:g} s: set COURSE_PROFILE=smoke to work offline, or set "
            "COURSE_CHECKPOINT and COURSE_DATA_DIR to local copies of the model and of MRPC."
        )
    else:
        metric = str(LOCAL_METRIC_DIR)
    return Profile("full", checkpoint or FULL_CHECKPOINT, data_dir, metric, reason)


def get_profile(verbose: bool = False) -> Profile:
    """The active profile, from ``COURSE_PROFILE``, ``COURSE_CHECKPOINT`` and ``COURSE_DATA_DIR``.

    Raises :class:`CourseSetupError` with one sentence saying what to set when the variables
    are wrong, or when ``full`` needs the Hub and the Hub does not answer within 2 s.
    """
    requested = os.environ.get("COURSE_PROFILE", "").strip().lower() or "auto"
    if requested not in PROFILE_NAMES:
        raise CourseSetupError(
            f"COURSE_PROFILE={requested} is not a profile: use one of "
            f"{', '.join(PROFILE_NAMES)} (auto is the default)."
        )
    checkpoint = _checkpoint_override()
    data_dir = _data_dir_override()
    if requested == "smoke":
        profile = _smoke(checkpoint, data_dir, "COURSE_PROFILE=smoke is set")
    elif requested == "full":
        profile = _full(checkpoint, data_dir, "COURSE_PROFILE=full is set")
    elif hub_offline():
        reason = (
            "HF_HUB_OFFLINE is set: using the offline smoke profile "
            "(set COURSE_PROFILE=full to insist)"
        )
        profile = _smoke(checkpoint, data_dir, reason)
    elif _hub_answers():
        profile = _full(checkpoint, data_dir, f"auto: the Hub answered within {PROBE_TIMEOUT:g} s")
    else:
        reason = (
            f"Hub not reachable within {PROBE_TIMEOUT:g} s: using the offline smoke profile "
            "(set COURSE_PROFILE=full to insist)"
        )
        profile = _smoke(checkpoint, data_dir, reason)
    if verbose:
        print(profile.headline())
    return profile
