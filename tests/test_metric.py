"""The local GLUE MRPC metric: hand-computed values, sklearn's numbers, evaluate's add_batch
protocol, offline loading, and which metric mrpc_metric picks for each profile."""

from __future__ import annotations

import os
import subprocess
import sys

import evaluate
import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score

from course_utils import metrics
from course_utils.metrics import local_metric, mrpc_metric
from course_utils.profiles import LOCAL_METRIC_DIR, Profile


@pytest.fixture(scope="module")
def metric():
    return local_metric()


def sklearn_scores(predictions, references) -> dict[str, float]:
    return {
        "accuracy": accuracy_score(references, predictions),
        "f1": f1_score(references, predictions, zero_division=0.0),
    }


def test_hand_computed_example(metric):
    # tp = 2 (items 0, 3), fp = 1 (item 2), fn = 1 (item 4), 3 of 5 right.
    scores = metric.compute(predictions=[1, 0, 1, 1, 0], references=[1, 0, 0, 1, 1])
    assert scores == {"accuracy": pytest.approx(0.6), "f1": pytest.approx(2 / 3)}
    assert set(scores) == {"accuracy", "f1"}
    assert all(type(value) is float for value in scores.values())


def test_f1_is_for_the_positive_class_not_the_majority(metric):
    # All 0s predicted and right 3 times out of 4: accuracy 0.75, but F1 of class 1 is 0.
    scores = metric.compute(predictions=[0, 0, 0, 0], references=[0, 0, 0, 1])
    assert scores == {"accuracy": 0.75, "f1": 0.0}


@pytest.mark.parametrize(
    ("predictions", "references", "expected"),
    [
        ([1, 1, 1], [1, 1, 1], {"accuracy": 1.0, "f1": 1.0}),
        ([0, 0], [0, 0], {"accuracy": 1.0, "f1": 0.0}),  # no positives anywhere
        ([0, 0, 0], [1, 1, 1], {"accuracy": 0.0, "f1": 0.0}),  # no positive predictions
        ([1, 1], [0, 0], {"accuracy": 0.0, "f1": 0.0}),  # no positive references
        ([1, 1, 1, 1], [1, 0, 0, 0], {"accuracy": 0.25, "f1": 0.4}),
    ],
)
def test_edge_cases_agree_with_sklearn(metric, predictions, references, expected):
    scores = metric.compute(predictions=predictions, references=references)
    assert scores == pytest.approx(expected)
    assert scores == pytest.approx(sklearn_scores(predictions, references))


@pytest.mark.parametrize("seed", range(5))
def test_random_labels_agree_with_sklearn(metric, seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 500))
    references = rng.integers(0, 2, size)
    predictions = np.where(rng.random(size) < 0.7, references, 1 - references)
    scores = metric.compute(predictions=predictions, references=references)
    assert scores == pytest.approx(sklearn_scores(predictions, references), abs=1e-12)


def test_add_batch_accumulates_like_one_compute(metric):
    rng = np.random.default_rng(7)
    predictions, references = rng.integers(0, 2, 101), rng.integers(0, 2, 101)
    for start in range(0, 101, 16):  # torch tensors, as an evaluation loop passes them
        metric.add_batch(
            predictions=torch.from_numpy(predictions[start:start + 16]),
            references=torch.from_numpy(references[start:start + 16]),
        )
    assert metric.compute() == pytest.approx(sklearn_scores(predictions, references))


def test_labels_other_than_0_and_1_are_refused(metric):
    with pytest.raises(ValueError, match="0 and 1"):
        metric.compute(predictions=[0, 2], references=[0, 1])


def test_load_metric_picks_the_module_of_the_profile(monkeypatch):
    calls = []
    monkeypatch.setattr(evaluate, "load", lambda *args, **kw: calls.append((args, kw)) or "m")
    mrpc_metric(Profile("full", "bert-base-uncased", None, "glue", "test"))
    mrpc_metric(Profile("smoke", "tiny", None, str(LOCAL_METRIC_DIR), "test"), keep_in_memory=True)
    assert calls == [
        (("glue", "mrpc"), {}),
        ((str(LOCAL_METRIC_DIR),), {"keep_in_memory": True}),
    ]


def test_load_metric_smoke_is_the_local_module():
    loaded = mrpc_metric(Profile("smoke", "tiny", None, str(LOCAL_METRIC_DIR), "test"))
    assert isinstance(loaded, evaluate.Metric) and loaded.name == "glue_mrpc"
    assert loaded.features["predictions"].dtype == "int64"
    assert metrics.LOCAL_METRIC_DIR == LOCAL_METRIC_DIR


def test_the_local_module_loads_offline_into_a_fresh_cache(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path),
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    code = (
        "import evaluate, sys; m = evaluate.load(sys.argv[1]); "
        "print(m.compute(predictions=[1, 0, 1], references=[1, 1, 1]))"
    )
    done = subprocess.run([sys.executable, "-c", code, str(LOCAL_METRIC_DIR)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "{'accuracy': 0.6666666666666666, 'f1': 0.8}"
