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
REAL_PROBE = hub_reachable


class FakeHub:
    """Stands in for hub_reachable: answers ``up`` and counts the probes. ``device`` stands in
    for profiles.accelerator (None: a CPU-only machine)."""

    def __init__(self) -> None:
        self.up = False
        self.calls = 0
        self.device = None

    def __call__(self, timeout: float) -> bool:
        self.calls += 1
        assert timeout == pytest.approx(2.0)
        return self.up


@pytest.fixture(autouse=True)
def hub(monkeypatch, tmp_path):
    for name in ("COURSE_PROFILE", "COURSE_CHECKPOINT", "COURSE_DATA_DIR", "HF_HUB_OFFLINE",
                 "HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE",
                 "HF_DATASETS_CACHE", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))  # an empty cache
    monkeypatch.setattr(profiles, "_hub_answer", None)
    fake = FakeHub()
    monkeypatch.setattr(profiles, "hub_reachable", fake)
    monkeypatch.setattr(profiles, "accelerator", lambda: fake.device)
    monkeypatch.setattr(tiny_bert, "tiny_checkpoint", lambda: TINY)
    return fake


MRPC_HEADER = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
MRPC_ROW = "1\t1\t2\tThe cat sat.\tA cat sat.\n"


@pytest.fixture
def mrpc_dir(tmp_path):
    folder = tmp_path / "mrpc"
    folder.mkdir()
    for name in ("train.tsv", "dev.tsv"):
        (folder / name).write_text(MRPC_HEADER + MRPC_ROW, encoding="utf-8")
    (folder / "test.tsv").write_text(MRPC_HEADER.replace("Quality", "index") + MRPC_ROW,
                                     encoding="utf-8")
    return folder


@pytest.fixture
def model_dir(tmp_path):
    """A folder with what save_pretrained writes for a BERT (the files' names, tiny contents)."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    return folder


def test_smoke_is_the_tiny_bert_the_fixture_and_the_local_metric(monkeypatch, hub):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    profile = get_profile()
    assert profile == Profile("smoke", TINY, None, str(LOCAL_METRIC_DIR), profile.reason)
    assert "COURSE_PROFILE=smoke" in profile.reason
    assert hub.calls == 0


def test_auto_with_a_gpu_and_the_hub_is_full(hub):
    hub.up, hub.device = True, "CUDA GPU"
    profile = get_profile()
    assert (profile.name, profile.checkpoint, profile.data_dir, profile.metric) == (
        "full", FULL_CHECKPOINT, None, "glue")
    assert profile.reason == "auto: CUDA GPU present and the Hub answered within 2 s"


def test_auto_without_a_gpu_is_smoke_even_when_the_hub_answers(hub):
    hub.up = True
    profile = get_profile()
    assert profile.name == "smoke" and profile.checkpoint == TINY
    assert profile.reason.startswith("auto: no GPU or TPU here, so the smoke profile")
    assert "%env COURSE_PROFILE=full" in profile.reason and "hours" in profile.reason
    assert hub.calls == 0  # no accelerator: the Hub does not matter, so it is not probed
    line = profile.headline()
    assert "\n" not in line and "%env COURSE_PROFILE=full" in line


def test_auto_with_a_tpu_but_no_hub_is_smoke_and_says_why(hub):
    hub.device = "TPU"
    profile = get_profile()
    assert profile.name == "smoke" and profile.checkpoint == TINY
    assert profile.reason == (
        "auto: TPU present but the Hub did not answer within 2 s: using the offline smoke "
        "profile (set COURSE_PROFILE=full to insist)"
    )


def test_the_hub_is_probed_once_per_process(hub):
    hub.device = "CUDA GPU"
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


def test_full_with_local_copies_needs_no_hub(monkeypatch, model_dir, mrpc_dir):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    monkeypatch.setenv("COURSE_CHECKPOINT", str(model_dir))
    monkeypatch.setenv("COURSE_DATA_DIR", str(mrpc_dir))
    profile = get_profile()
    assert profile.name == "full"
    assert (profile.checkpoint, profile.data_dir) == (str(model_dir), str(mrpc_dir))
    assert profile.metric == str(LOCAL_METRIC_DIR)  # the Hub did not answer: same formulas


def test_hf_hub_offline_skips_the_probe(monkeypatch, hub, tmp_path):
    cache_model(tmp_path / "empty-hf-home" / "hub", FULL_CHECKPOINT)
    cache_mrpc(tmp_path / "empty-hf-home" / "datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.up, hub.device = True, "CUDA GPU"
    assert get_profile().name == "smoke"
    monkeypatch.setenv("COURSE_PROFILE", "full")  # insisting: names load from the HF cache
    profile = get_profile()
    assert (profile.name, profile.checkpoint) == ("full", FULL_CHECKPOINT)
    assert profile.metric == str(LOCAL_METRIC_DIR)
    assert hub.calls == 0


def cache_model(hub_cache: Path, repo_id: str) -> None:
    """What huggingface_hub leaves in its cache after downloading a model's config."""
    snapshot = hub_cache / f"models--{repo_id.replace('/', '--')}" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}", encoding="utf-8")


def cache_mrpc(datasets_cache: Path) -> None:
    """What 🤗 Datasets leaves after load_dataset("glue", "mrpc") (its prepared Arrow files)."""
    (datasets_cache / "nyu-mll___glue" / "mrpc" / "0.0.0").mkdir(parents=True)


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


def test_checkpoint_override_replaces_the_tiny_bert(monkeypatch, hub, model_dir):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setattr(tiny_bert, "tiny_checkpoint", lambda: pytest.fail("built the tiny BERT"))
    hub.up = True  # a Hub id that is not cached loads only when the Hub answers
    monkeypatch.setenv("COURSE_CHECKPOINT", "prajjwal1/bert-tiny")
    assert get_profile().checkpoint == "prajjwal1/bert-tiny"
    monkeypatch.setenv("COURSE_CHECKPOINT", str(model_dir))
    assert get_profile().checkpoint == str(model_dir)


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


# HF_ENDPOINT: a mirror of the Hub, played by a server on 127.0.0.1 --------------------------


@pytest.fixture
def fake_hub_endpoint(monkeypatch, hub):
    """A real HTTP server standing in for the Hub, reached through HF_ENDPOINT with the real
    probe; returns the list of the requests it received."""
    requests: list[str] = []

    class Handler(_Quiet):
        def do_HEAD(self):  # noqa: N802
            requests.append(self.path)
            super().do_HEAD()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(profiles, "hub_reachable", REAL_PROBE)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}/")
    yield requests
    server.shutdown()
    server.server_close()


def test_hf_endpoint_is_the_address_probed(monkeypatch):
    assert profiles.hub_url() == "https://huggingface.co"
    monkeypatch.setenv("HF_ENDPOINT", "https://hf-mirror.example/")
    assert profiles.hub_url() == "https://hf-mirror.example"


def test_a_fake_hub_through_hf_endpoint_without_a_gpu_gives_smoke(fake_hub_endpoint, capsys):
    profile = get_profile(verbose=True)
    assert profile.name == "smoke" and profile.checkpoint == TINY
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and "no GPU or TPU here" in line
    assert "%env COURSE_PROFILE=full" in line
    assert fake_hub_endpoint == []  # without an accelerator the Hub is not even asked


def test_a_fake_hub_through_hf_endpoint_with_a_gpu_gives_full(fake_hub_endpoint, hub):
    hub.device = "CUDA GPU"
    url = profiles.hub_url()
    assert url.startswith("http://127.0.0.1:") and not url.endswith("/")
    profile = get_profile()
    assert (profile.name, profile.checkpoint, profile.metric) == ("full", FULL_CHECKPOINT, "glue")
    assert profile.reason == (
        f"auto: CUDA GPU present and the Hub at HF_ENDPOINT={url} answered within 2 s")
    assert fake_hub_endpoint == ["/"]


def test_a_silent_hf_endpoint_with_a_gpu_gives_smoke_naming_the_endpoint(monkeypatch, hub):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(profiles, "hub_reachable", REAL_PROBE)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    hub.device = "CUDA GPU"
    profile = get_profile()
    assert profile.name == "smoke"
    assert f"the Hub at HF_ENDPOINT=http://127.0.0.1:{port} did not answer" in profile.reason


# Threads: the smoke profile's tiny BERT runs on one --------------------------------------


@pytest.fixture
def threads(monkeypatch):
    import torch

    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(profiles, "_default_threads", None)
    torch.set_num_threads(2)
    yield torch
    torch.set_num_threads(before)


def test_smoke_runs_the_tiny_bert_on_one_thread(monkeypatch, threads):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    get_profile()
    assert threads.get_num_threads() == 1


def test_another_checkpoint_gets_torchs_own_thread_count_back(monkeypatch, threads, model_dir):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    get_profile()
    assert threads.get_num_threads() == 1
    monkeypatch.setenv("COURSE_CHECKPOINT", str(model_dir))  # not the tiny BERT
    get_profile()
    assert threads.get_num_threads() == 2


def test_an_explicit_omp_num_threads_is_left_alone(monkeypatch, threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    get_profile()
    assert threads.get_num_threads() == 2
