"""What the course loads (checkpoint, data, metric): the ``full``, ``smoke`` and ``auto`` profiles.

``COURSE_PROFILE`` picks the profile (``auto`` by default: ``full`` when a GPU or TPU is
present *and* the Hub answers within 2 s, else ``smoke``). ``COURSE_CHECKPOINT`` and
``COURSE_DATA_DIR`` override the checkpoint and the data in any profile; :func:`get_profile`
checks them (folders, files, Hub ids under ``HF_HUB_OFFLINE``) and says in one sentence what is
wrong. The Hub (``HF_ENDPOINT`` when set) is probed at most once per process and address, by
:func:`hub_reachable` (tests replace it), never when ``HF_HUB_OFFLINE`` is set and never on a
machine without an accelerator. :func:`accelerator` (tests replace it) says which GPU or TPU is
present.

The smoke profile's tiny BERT runs fastest on one thread (torch's default, one thread per core,
made it 4-10 times slower on a busy 2-core machine), so :func:`get_profile` sets
``torch.set_num_threads(1)`` for it, unless ``OMP_NUM_THREADS`` says otherwise, and gives torch
its own thread count back for any other checkpoint.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
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
SENTIMENT_FIXTURE_DIR = _PACKAGE_DIR / "fixtures" / "sentiment"  # chapter 6: SST-2-shaped
LOCAL_METRIC_DIR = _PACKAGE_DIR / "metrics" / "glue_mrpc"

_TRUE = {"1", "true", "yes", "on"}
_hub_answer: dict[str, bool] | None = None  # the probe's answer, by address, in this process
_default_threads: int | None = None  # torch's own thread count, before smoke changed it
SMOKE_THREADS = 1
FULL_ON_CPU_COST = "bert-base-uncased on all of MRPC takes hours per chapter on a CPU"
OPT_IN = "to insist, run %env COURSE_PROFILE=full in a cell, or export COURSE_PROFILE=full"


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


def hub_url() -> str:
    """The Hub's address: ``HF_ENDPOINT`` (a mirror) when it is set, else ``HUB_URL``."""
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or HUB_URL


def accelerator() -> str | None:
    """The accelerator the full profile can use: "CUDA GPU", "TPU", "Apple MPS GPU", or None.

    A TPU counts when ``torch_xla`` is installed (Colab's TPU runtime ships it).
    """
    if importlib.util.find_spec("torch_xla") is not None:
        return "TPU"
    try:
        import torch
    except ImportError:
        return None
    if torch.cuda.is_available():
        return "CUDA GPU"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "Apple MPS GPU"
    return None


def hub_reachable(timeout: float = PROBE_TIMEOUT) -> bool:
    """True when :func:`hub_url` answers an HTTP(S) HEAD request within ``timeout`` seconds.

    Any HTTP answer counts, even an error status. The request runs in a daemon thread so that
    a slow DNS lookup cannot make the caller wait longer than ``timeout``.
    """
    answer: list[bool] = []

    def probe() -> None:
        request = urllib.request.Request(hub_url(), method="HEAD")
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
        _hub_answer = {}
    url = hub_url()
    if url not in _hub_answer:
        _hub_answer[url] = hub_reachable(PROBE_TIMEOUT)
    return _hub_answer[url]


def _hub_name() -> str:
    url = hub_url()
    return "the Hub" if url == HUB_URL else f"the Hub at HF_ENDPOINT={url}"


def apply_threads(profile: Profile) -> int | None:
    """Give torch the thread count that suits the profile's model; returns the count set.

    The tiny BERT gets ``SMOKE_THREADS`` (one), any other checkpoint torch's own default. An
    explicit ``OMP_NUM_THREADS`` wins: then nothing is changed. Does nothing when torch is
    missing.
    """
    global _default_threads
    if os.environ.get("OMP_NUM_THREADS", "").strip():
        return None
    if "torch" not in sys.modules and importlib.util.find_spec("torch") is None:
        return None
    import torch

    if _default_threads is None:
        _default_threads = torch.get_num_threads()
    wanted = SMOKE_THREADS if is_tiny_checkpoint(profile.checkpoint) else _default_threads
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    return wanted


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model",
                   "sentencepiece.bpe.model", "tokenizer.model")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "pytorch_model.bin.index.json")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
_checked_data: set[tuple] = set()  # data folders already read in full, by path and file stamps


def _list_dir(path: Path) -> list[str]:
    """The names in a folder (tests replace it to play an unreadable one: they run as root)."""
    return os.listdir(path)


def _names_in(path: Path, setting: str, what: str) -> set[str]:
    try:
        names = set(_list_dir(path))
    except OSError as error:
        raise CourseSetupError(
            f"{setting}={path} cannot be read ({error.strerror or error}): give yourself read "
            f"access to it (chmod -R u+rX {path}), or set {setting} to another copy of {what}."
        ) from None
    if not names:
        raise CourseSetupError(
            f"{setting}={path} is an empty folder: put {what} in it, or unset {setting}."
        )
    return names


def check_model_dir(path: str | os.PathLike, setting: str = "COURSE_CHECKPOINT") -> None:
    """Raise :class:`CourseSetupError` unless ``path`` holds a config, weights and a tokenizer."""
    path = Path(path)
    names = _names_in(path, setting, "a model and its tokenizer saved with save_pretrained")
    save_both = (
        f"save both there with model.save_pretrained(folder) and "
        f"tokenizer.save_pretrained(folder), or set {setting} to a folder made that way."
    )
    if "config.json" not in names:
        raise CourseSetupError(f"{setting}={path} has no config.json: {save_both}")
    try:
        json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CourseSetupError(
            f"{setting}={path}: its config.json cannot be read as JSON ({error}): {save_both}"
        ) from None
    if not names.intersection(WEIGHT_FILES):
        raise CourseSetupError(
            f"{setting}={path} has no model weights (model.safetensors or pytorch_model.bin): "
            f"{save_both}"
        )
    if not names.intersection(TOKENIZER_FILES):
        raise CourseSetupError(
            f"{setting}={path} has no tokenizer files (tokenizer.json or vocab.txt), so every "
            f"word would become [UNK]: {save_both}"
        )


def _cache_home() -> Path:
    home = os.environ.get("HF_HOME", "").strip()
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return Path(xdg or "~/.cache").expanduser() / "huggingface"


def hub_cache_dir() -> Path:
    """Where huggingface_hub keeps downloaded models (``HF_HUB_CACHE``, else ``HF_HOME``/hub)."""
    value = os.environ.get("HF_HUB_CACHE", "") or os.environ.get("HUGGINGFACE_HUB_CACHE", "")
    return Path(value.strip()).expanduser() if value.strip() else _cache_home() / "hub"


def datasets_cache_dir() -> Path:
    """Where 🤗 Datasets keeps prepared datasets (``HF_DATASETS_CACHE``, else ``HF_HOME``)."""
    value = os.environ.get("HF_DATASETS_CACHE", "").strip()
    return Path(value).expanduser() if value else _cache_home() / "datasets"


def model_in_cache(repo_id: str) -> bool:
    """True when the Hugging Face cache holds a snapshot of ``repo_id`` with its config.json."""
    folder = hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))
    return any(folder.glob("snapshots/*/config.json"))


def mrpc_in_cache() -> bool:
    """True when GLUE MRPC was downloaded before (the datasets cache or the Hub cache)."""
    if any(datasets_cache_dir().glob("*glue/mrpc")):  # glue/mrpc or nyu-mll___glue/mrpc
        return True
    return any(hub_cache_dir().glob("datasets--*glue/snapshots/*/mrpc"))


def _check_hub_id(value: str, setting: str) -> None:
    """A Hub id must be loadable: in the local cache, or with the Hub answering."""
    if not _HUB_ID.match(value):
        raise CourseSetupError(
            f"{setting}={value} is neither a folder nor a Hub id (like bert-base-uncased or "
            "google-bert/bert-base-uncased): set it to a model folder or to a Hub id."
        )
    if model_in_cache(value):
        return
    download = (
        f"download it while online (hf download {value} --local-dir <folder>) and set "
        "COURSE_CHECKPOINT to that folder, or set COURSE_PROFILE=smoke to work offline."
    )
    if hub_offline():
        raise CourseSetupError(
            f"HF_HUB_OFFLINE is set and {setting}={value} is not in the Hugging Face cache "
            f"({hub_cache_dir()}): {download}"
        )
    if not _hub_answers():
        raise CourseSetupError(
            f"{setting}={value} is not in the Hugging Face cache ({hub_cache_dir()}) and "
            f"{_hub_name()} did not answer within {PROBE_TIMEOUT:g} s: {download}"
        )


def _checkpoint_override() -> str | None:
    value = os.environ.get("COURSE_CHECKPOINT", "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if path.is_dir():
        check_model_dir(path)
        return str(path.resolve())
    if value.startswith(("/", ".", "~")) or path.exists():
        raise CourseSetupError(
            f"COURSE_CHECKPOINT={value} is not a model directory: set it to a folder made by "
            "save_pretrained, or to a Hub id such as bert-base-uncased."
        )
    _check_hub_id(value, "COURSE_CHECKPOINT")
    return value


def check_data_dir(path: str | os.PathLike, setting: str = "COURSE_DATA_DIR") -> None:
    """Raise :class:`CourseSetupError` unless the three MRPC files are there and readable.

    Each file is read in full (header, fields, labels, UTF-8) once per change, so a broken line
    is reported, with its file and line number, as soon as the Setup cell runs.
    """
    from course_utils.data import read_mrpc_file

    path = Path(path)
    names = _names_in(path, setting, "GLUE MRPC's train.tsv, dev.tsv and test.tsv")
    missing = [name for name in MRPC_FILES if name not in names]
    if missing:
        raise CourseSetupError(
            f"{setting}={path} has no {' or '.join(missing)}: it must hold GLUE MRPC's "
            "original train.tsv, dev.tsv and test.tsv."
        )
    try:
        stamps = tuple((name, (path / name).stat().st_mtime_ns, (path / name).stat().st_size)
                       for name in MRPC_FILES)
    except OSError:
        stamps = None
    key = (str(path.resolve()), stamps)
    if stamps is not None and key in _checked_data:
        return
    for name in MRPC_FILES:
        read_mrpc_file(path / name)
    if stamps is not None:
        _checked_data.add(key)


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
    check_data_dir(path)
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
        if checkpoint is None and not model_in_cache(FULL_CHECKPOINT):
            raise CourseSetupError(
                f"HF_HUB_OFFLINE is set and {FULL_CHECKPOINT} is not in the Hugging Face cache "
                f"({hub_cache_dir()}): unset HF_HUB_OFFLINE to download it, set "
                "COURSE_CHECKPOINT to a local copy, or set COURSE_PROFILE=smoke to work offline."
            )
        if data_dir is None and not mrpc_in_cache():
            raise CourseSetupError(
                f"HF_HUB_OFFLINE is set and GLUE MRPC is not in the datasets cache "
                f"({datasets_cache_dir()}): unset HF_HUB_OFFLINE to download it, set "
                "COURSE_DATA_DIR to a folder with its TSV files, or set COURSE_PROFILE=smoke."
            )
    elif _hub_answers():
        metric = "glue"
    elif needs_hub:
        raise CourseSetupError(
            f"COURSE_PROFILE=full needs {_hub_name()}, which did not answer within "
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
    elif (device := accelerator()) is None:
        reason = (
            f"auto: no GPU or TPU here, so the smoke profile ({FULL_ON_CPU_COST}; {OPT_IN})"
        )
        profile = _smoke(checkpoint, data_dir, reason)
    elif _hub_answers():
        profile = _full(
            checkpoint, data_dir,
            f"auto: {device} present and {_hub_name()} answered within {PROBE_TIMEOUT:g} s",
        )
    else:
        reason = (
            f"auto: {device} present but {_hub_name()} did not answer within "
            f"{PROBE_TIMEOUT:g} s: using the offline smoke profile (set COURSE_PROFILE=full "
            "to insist)"
        )
        profile = _smoke(checkpoint, data_dir, reason)
    apply_threads(profile)
    if verbose:
        print(profile.headline())
    return profile
