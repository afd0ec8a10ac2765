"""Every override is checked when the Setup cell runs and again at load time: one sentence that
names the setting or the file and says what to do, never a traceback.

COURSE_CHECKPOINT (missing tokenizer, config or weights; empty or unreadable folder; a Hub id
that cannot be resolved offline), full under HF_HUB_OFFLINE=1 with an empty cache, and
COURSE_DATA_DIR (empty or unreadable folder, a TSV that is not UTF-8: file and line)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import data, env, pipeline, profiles, tiny_bert
from course_utils.profiles import CourseSetupError, Profile, get_profile

REPO = Path(__file__).resolve().parents[1]
HEADER = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
ROW = "1\t1\t2\tThe cat sat.\tA cat sat.\n"


@pytest.fixture(autouse=True)
def clean(monkeypatch, tmp_path):
    for name in ("COURSE_PROFILE", "COURSE_CHECKPOINT", "COURSE_DATA_DIR", "HF_HUB_OFFLINE",
                 "HF_ENDPOINT", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # an empty Hugging Face cache
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setattr(profiles, "_hub_answer", None)
    monkeypatch.setattr(profiles, "hub_reachable", lambda timeout: False)  # offline machine
    monkeypatch.setattr(profiles, "accelerator", lambda: None)
    monkeypatch.setattr(profiles, "_checked_data", set())
    monkeypatch.setattr(tiny_bert, "tiny_checkpoint", lambda: "/cache/tiny-bert-v1-fake")


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "tokenizer.json").write_text("{}", encoding="utf-8")
    return folder


@pytest.fixture
def mrpc_dir(tmp_path):
    folder = tmp_path / "glue_mrpc"
    folder.mkdir()
    for name in ("train.tsv", "dev.tsv"):
        (folder / name).write_text(HEADER + ROW * 3, encoding="utf-8")
    (folder / "test.tsv").write_text(HEADER.replace("Quality", "index") + ROW, encoding="utf-8")
    return folder


def one_sentence(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and message.endswith(".")
    assert "Traceback" not in message
    return message


def refused(monkeypatch, **variables: str) -> str:
    """Set the variables; get_profile must raise one sentence, and the Setup check must show
    the same sentence as its [FAIL] line and return False."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(CourseSetupError) as caught:
        get_profile()
    message = one_sentence(caught)
    ok, lines = env.profile_lines()
    assert not ok and lines == [f"[FAIL] profile: {message}"]
    return message


# COURSE_CHECKPOINT --------------------------------------------------------------------------


def test_a_complete_model_folder_is_accepted(monkeypatch, model_dir):
    monkeypatch.setenv("COURSE_CHECKPOINT", str(model_dir))
    assert get_profile().checkpoint == str(model_dir)


def test_an_empty_model_folder(monkeypatch, tmp_path):
    (tmp_path / "empty").mkdir()
    message = refused(monkeypatch, COURSE_CHECKPOINT=str(tmp_path / "empty"))
    assert message.startswith(f"COURSE_CHECKPOINT={tmp_path / 'empty'} is an empty folder")
    assert "save_pretrained" in message and "unset COURSE_CHECKPOINT" in message


def test_a_model_folder_without_tokenizer_files(monkeypatch, model_dir):
    (model_dir / "tokenizer.json").unlink()
    message = refused(monkeypatch, COURSE_CHECKPOINT=str(model_dir))
    assert "has no tokenizer files (tokenizer.json or vocab.txt)" in message
    assert "[UNK]" in message and "tokenizer.save_pretrained" in message


def test_a_model_folder_without_config(monkeypatch, model_dir):
    (model_dir / "config.json").unlink()
    assert "has no config.json" in refused(monkeypatch, COURSE_CHECKPOINT=str(model_dir))


def test_a_model_folder_with_a_broken_config(monkeypatch, model_dir):
    (model_dir / "config.json").write_text("{not json", encoding="utf-8")
    message = refused(monkeypatch, COURSE_CHECKPOINT=str(model_dir))
    assert "its config.json cannot be read as JSON" in message


def test_a_model_folder_without_weights(monkeypatch, model_dir):
    (model_dir / "model.safetensors").unlink()
    message = refused(monkeypatch, COURSE_CHECKPOINT=str(model_dir))
    assert "has no model weights (model.safetensors or pytorch_model.bin)" in message


def test_an_unreadable_model_folder(monkeypatch, model_dir):
    # The tests run as root, who reads any folder: play the refusal the kernel would give.
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(profiles, "_list_dir", refuse)
    message = refused(monkeypatch, COURSE_CHECKPOINT=str(model_dir))
    assert message.startswith(f"COURSE_CHECKPOINT={model_dir} cannot be read (Permission denied)")
    assert "chmod" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_an_unreadable_model_folder_for_real(monkeypatch, model_dir):
    model_dir.chmod(0)
    try:
        assert "cannot be read" in refused(monkeypatch, COURSE_CHECKPOINT=str(model_dir))
    finally:
        model_dir.chmod(0o755)


def test_a_hub_id_not_in_the_cache_under_hf_hub_offline(monkeypatch):
    message = refused(monkeypatch, COURSE_CHECKPOINT="prajjwal1/bert-tiny", HF_HUB_OFFLINE="1")
    assert message.startswith(
        "HF_HUB_OFFLINE is set and COURSE_CHECKPOINT=prajjwal1/bert-tiny is not in the "
        "Hugging Face cache")
    assert "hf download prajjwal1/bert-tiny" in message


def test_a_hub_id_not_in_the_cache_while_the_hub_is_down(monkeypatch):
    message = refused(monkeypatch, COURSE_CHECKPOINT="prajjwal1/bert-tiny")
    assert "is not in the Hugging Face cache" in message
    assert "the Hub did not answer within 2 s" in message


def test_a_cached_hub_id_loads_offline(monkeypatch, tmp_path):
    snapshot = tmp_path / "hf-home" / "hub" / "models--prajjwal1--bert-tiny" / "snapshots" / "a1"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("COURSE_CHECKPOINT", "prajjwal1/bert-tiny")
    assert get_profile().checkpoint == "prajjwal1/bert-tiny"


def test_something_that_is_neither_a_folder_nor_a_hub_id(monkeypatch):
    message = refused(monkeypatch, COURSE_CHECKPOINT="my model (copy)")
    assert "is neither a folder nor a Hub id" in message


# full under HF_HUB_OFFLINE=1 with an empty cache ---------------------------------------------


def test_full_offline_with_an_empty_cache_names_the_model(monkeypatch, tmp_path):
    message = refused(monkeypatch, COURSE_PROFILE="full", HF_HUB_OFFLINE="1")
    assert message.startswith(
        "HF_HUB_OFFLINE is set and bert-base-uncased is not in the Hugging Face cache "
        f"({tmp_path / 'hf-home' / 'hub'})")


def test_full_offline_with_the_model_but_no_mrpc_names_the_data(monkeypatch, model_dir):
    message = refused(monkeypatch, COURSE_PROFILE="full", HF_HUB_OFFLINE="1",
                      COURSE_CHECKPOINT=str(model_dir))
    assert message.startswith("HF_HUB_OFFLINE is set and GLUE MRPC is not in the datasets cache")
    assert "COURSE_DATA_DIR" in message


def test_full_offline_with_local_copies_is_fine(monkeypatch, model_dir, mrpc_dir):
    for name, value in {"COURSE_PROFILE": "full", "HF_HUB_OFFLINE": "1",
                        "COURSE_CHECKPOINT": str(model_dir),
                        "COURSE_DATA_DIR": str(mrpc_dir)}.items():
        monkeypatch.setenv(name, value)
    assert get_profile().name == "full"


# COURSE_DATA_DIR ----------------------------------------------------------------------------


def test_an_empty_data_folder(monkeypatch, tmp_path):
    (tmp_path / "nothing").mkdir()
    message = refused(monkeypatch, COURSE_DATA_DIR=str(tmp_path / "nothing"))
    assert message.startswith(f"COURSE_DATA_DIR={tmp_path / 'nothing'} is an empty folder")


def test_an_unreadable_data_folder(monkeypatch, mrpc_dir):
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(profiles, "_list_dir", refuse)
    message = refused(monkeypatch, COURSE_DATA_DIR=str(mrpc_dir))
    assert message.startswith(f"COURSE_DATA_DIR={mrpc_dir} cannot be read (Permission denied)")


def test_a_tsv_that_is_not_utf8_names_file_and_line(monkeypatch, mrpc_dir):
    latin1 = (HEADER + ROW + "0\t3\t4\tZürich said so.\tZurich said so.\n").encode("latin-1")
    (mrpc_dir / "dev.tsv").write_bytes(latin1)
    message = refused(monkeypatch, COURSE_DATA_DIR=str(mrpc_dir))
    assert message.startswith(f"{mrpc_dir / 'dev.tsv'}, line 3: not UTF-8 text (byte 0xfc at "
                              "column 8)")
    assert "save the file as UTF-8" in message


def test_a_good_data_folder_is_read_once_until_it_changes(monkeypatch, mrpc_dir):
    reads = []
    real = data.read_mrpc_file
    monkeypatch.setattr(data, "read_mrpc_file", lambda path: reads.append(path) or real(path))
    monkeypatch.setenv("COURSE_DATA_DIR", str(mrpc_dir))
    get_profile()
    get_profile()
    assert len(reads) == 3
    (mrpc_dir / "train.tsv").write_bytes(b"\xff\xfe" + HEADER.encode())  # broken afterwards
    with pytest.raises(CourseSetupError, match=r"train\.tsv, line 1: not UTF-8"):
        get_profile()


# At load time: the files changed after the Setup cell ------------------------------------------


def test_load_mrpc_checks_the_folder_again(mrpc_dir):
    profile = Profile("smoke", "/cache/tiny-bert-v1-fake", str(mrpc_dir), "m", "test")
    assert len(data.load_mrpc(profile)["train"]) == 3
    (mrpc_dir / "test.tsv").unlink()
    with pytest.raises(CourseSetupError) as caught:
        data.load_mrpc(profile)
    assert one_sentence(caught).startswith(f"COURSE_DATA_DIR={mrpc_dir} has no test.tsv")


def test_prepare_mrpc_checks_the_model_folder_again(model_dir, mrpc_dir):
    profile = Profile("full", str(model_dir), str(mrpc_dir), "m", "test")
    (model_dir / "tokenizer.json").unlink()  # deleted after the Setup cell ran
    with pytest.raises(CourseSetupError) as caught:
        pipeline.prepare_mrpc(profile)
    assert "has no tokenizer files" in one_sentence(caught)


# The Setup check, as a student runs it ------------------------------------------------------


def test_the_setup_check_reports_a_bad_override_without_a_traceback(tmp_path):
    (tmp_path / "empty-model").mkdir()
    variables = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "COURSE_PROFILE": "smoke",
                 "COURSE_CHECKPOINT": str(tmp_path / "empty-model"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "course_utils.env"], env=variables,
                          cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert done.returncode == 1
    assert (f"[FAIL] profile: COURSE_CHECKPOINT={tmp_path / 'empty-model'} is an empty folder"
            in done.stdout)
    assert "Traceback" not in done.stdout + done.stderr
