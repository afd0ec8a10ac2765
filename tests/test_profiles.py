"""Profiles: which checkpoint, data and metric each setting of the variables gives, and the
Hub probe (faked here, or run against servers on 127.0.0.1: never the real Hub)."""

from __future__ import annotations

import dataclasses
import http.server
import socket
import threading
import time
from pathlib import Path

import pytest

from course_utils import profiles, tiny_bert
from course_utils.profiles import (
    FULL_CHECKPOINT,
    LOCAL_METRIC_DIR,
    CourseSetupError,
    Profile,
    get_profile,
    hub_reachable,
)

TINY = "/cache/tiny-bert-v1-fake"


class FakeHub:
    """Stands in for hub_reachable: answers ``up`` and counts the probes."""

    def __init__(self) -> None:
        self.up = False
        self.calls = 0

    def __call__(self, timeout: float) -> bool:
        self.calls += 1
        assert timeout == pytest.approx(2.0)
        return self.up


@pytest.fixture(autouse=True)
def hub(monkeypatch):
    for name in ("COURSE_PROFILE", "COURSE_CHECKPOINT", "COURSE_DATA_DIR", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(profiles, "_hub_answer", None)
    fake = FakeHub()
    monkeypatch.setattr(profiles, "hub_reachable", fake)
    monkeypatch.setattr(tiny_bert, "tiny_checkpoint", lambda: TINY)
    return fake


@pytest.fixture
def mrpc_dir(tmp_path):
    for name in ("train.tsv", "dev.tsv", "test.tsv"):
        (tmp_path / name).write_text("", encoding="utf-8")
    return tmp_path


def test_smoke_is_the_tiny_bert_the_fixture_and_the_local_metric(monkeypatch, hub):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    profile = get_profile()
    assert profile == Profile("smoke", TINY, None, str(LOCAL_METRIC_DIR), profile.reason)
    assert "COURSE_PROFILE=smoke" in profile.reason
    assert hub.calls == 0


def test_auto_with_the_hub_is_full(hub):
    hub.up = True
    profile = get_profile()
    assert (profile.name, profile.checkpoint, profile.data_dir, profile.metric) == (
        "full", FULL_CHECKPOINT, None, "glue")


def test_auto_without_the_hub_is_smoke_and_says_why(hub):
    profile = get_profile()
    assert profile.name == "smoke" and profile.checkpoint == TINY
    assert profile.reason == (
        "Hub not reachable within 2 s: using the offline smoke profile "
        "(set COURSE_PROFILE=full to insist)"
    )


def test_the_hub_is_probed_once_per_process(hub):
    for _ in range(3):
        get_profile()
    assert hub.calls == 1


def test_full_without_the_hub_fails_fast_with_one_sentence(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    start = time.perf_counter()
    with pytest.raises(CourseSetupError) as caught:
        get_profile()
    assert time.perf_counter() - start < 0.5
    message = str(caught.value)
    assert "\n" not in message and message.count(". ") == 0 and message.endswith(".")
    for needed in ("COURSE_PROFILE=smoke", "COURSE_CHECKPOINT", "COURSE_DATA_DIR"):
        assert needed in message


def test_full_with_the_hub_uses_evaluate_glue(monkeypatch, hub):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    hub.up = True
    profile = get_profile()
    assert (profile.name, profile.checkpoint, profile.metric) == ("full", FULL_CHECKPOINT, "glue")


def test_full_with_local_copies_needs_no_hub(monkeypatch, tmp_path, mrpc_dir):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    monkeypatch.setenv("COURSE_PROFILE", "full")
    monkeypatch.setenv("COURSE_CHECKPOINT", str(model_dir))
    monkeypatch.setenv("COURSE_DATA_DIR", str(mrpc_dir))
    profile = get_profile()
    assert profile.name == "full"
    assert (profile.checkpoint, profile.data_dir) == (str(model_dir), str(mrpc_dir))
    assert profile.metric == str(LOCAL_METRIC_DIR)  # the Hub did not answer: same formulas


def test_hf_hub_offline_skips_the_probe(monkeypatch, hub):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.up = True
    assert get_profile().name == "smoke"
    monkeypatch.setenv("COURSE_PROFILE", "full")  # insisting: names load from the HF cache
    profile = get_profile()
    assert (profile.name, profile.checkpoint) == ("full", FULL_CHECKPOINT)
    assert profile.metric == str(LOCAL_METRIC_DIR)
    assert hub.calls == 0


def test_an_unknown_profile_names_the_allowed_values(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    with pytest.raises(CourseSetupError, match="COURSE_PROFILE=fast.*full, smoke, auto"):
        get_profile()


def test_data_dir_overrides_every_profile(monkeypatch, hub, mrpc_dir):
    monkeypatch.setenv("COURSE_DATA_DIR", str(mrpc_dir))
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    assert get_profile().data_dir == str(mrpc_dir)
    hub.up = True
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert get_profile().data_dir == str(mrpc_dir)


def test_data_dir_missing_a_file_says_which(monkeypatch, mrpc_dir):
    (mrpc_dir / "dev.tsv").unlink()
    monkeypatch.setenv("COURSE_DATA_DIR", str(mrpc_dir))
    with pytest.raises(CourseSetupError, match=r"has no dev\.tsv"):
        get_profile()


def test_data_dir_that_is_not_a_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(CourseSetupError, match="is not a directory"):
        get_profile()


def test_checkpoint_override_replaces_the_tiny_bert(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setattr(tiny_bert, "tiny_checkpoint", lambda: pytest.fail("built the tiny BERT"))
    monkeypatch.setenv("COURSE_CHECKPOINT", "prajjwal1/bert-tiny")
    assert get_profile().checkpoint == "prajjwal1/bert-tiny"
    monkeypatch.setenv("COURSE_CHECKPOINT", str(tmp_path))
    assert get_profile().checkpoint == str(tmp_path)


def test_a_checkpoint_path_that_does_not_exist_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CHECKPOINT", str(tmp_path / "missing-model"))
    with pytest.raises(CourseSetupError, match="is not a model directory"):
        get_profile()


def test_verbose_prints_one_line(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    get_profile(verbose=True)
    assert capsys.readouterr().out == (
        "Profile: smoke — tiny BERT built locally, paraphrase fixture shipped with course_utils "
        "(COURSE_PROFILE=smoke is set)\n"
    )


def test_describe_says_what_is_loaded(monkeypatch, mrpc_dir):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_DATA_DIR", str(mrpc_dir))
    lines = get_profile().describe().splitlines()
    assert lines[0] == "Profile: smoke — COURSE_PROFILE=smoke is set"
    assert lines[1].split() == ["checkpoint:", TINY]
    assert str(mrpc_dir) in lines[2] and str(LOCAL_METRIC_DIR) in lines[3]


def test_profile_is_frozen():
    profile = Profile("smoke", TINY, None, "m", "r")
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.name = "full"


def test_setup_error_shows_only_its_message_in_ipython():
    error = CourseSetupError("first line\nsecond line")
    assert error._render_traceback_() == ["first line", "second line"]
    assert isinstance(error, RuntimeError)


# The real probe, against local servers ---------------------------------------------------


class _Quiet(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_HEAD(self):  # noqa: N802 (the stdlib's name)
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def local_url(monkeypatch):
    def serve(status: int) -> None:
        handler = type("Handler", (_Quiet,), {"status": status})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        monkeypatch.setattr(profiles, "HUB_URL", f"http://127.0.0.1:{server.server_port}")
        return server

    servers = []
    yield lambda status: servers.append(serve(status))
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [200, 404])
def test_probe_counts_any_http_answer(local_url, status):
    local_url(status)
    assert hub_reachable(1.0) is True


def test_probe_of_a_silent_server_gives_up_after_the_timeout(monkeypatch):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts the connection, never answers
    monkeypatch.setattr(profiles, "HUB_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
    start = time.perf_counter()
    try:
        assert hub_reachable(0.3) is False
    finally:
        silent.close()
    assert time.perf_counter() - start < 1.0


def test_probe_of_a_closed_port_is_false(monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(profiles, "HUB_URL", f"http://127.0.0.1:{port}")
    assert hub_reachable(1.0) is False


def test_probe_module_default_targets_the_hub():
    assert profiles.HUB_URL == "https://huggingface.co"
    assert profiles.PROBE_TIMEOUT == 2.0
    assert Path(profiles.FIXTURE_DIR, "train.tsv").is_file()
