"""GLUE MRPC's metric as a local evaluate module: accuracy and F1 of the positive class.

Load it with ``evaluate.load(<this folder>)``; it needs no network. Same numbers as
``evaluate.load("glue", "mrpc")``: accuracy is the share of correct predictions, F1 is the
binary F1 of label 1 ("equivalent"), 0.0 when there is no true or predicted positive.
"""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Accuracy and binary F1 (positive class 1) for GLUE MRPC paraphrase labels."
_CITATION = """\
@inproceedings{wang2019glue,
  title={GLUE: A Multi-Task Benchmark and Analysis Platform for Natural Language Understanding},
  author={Wang, Alex and Singh, Amanpreet and Michael, Julian and Hill, Felix and Levy, Omer
          and Bowman, Samuel R.},
  booktitle={International Conference on Learning Representations},
  year={2019}
}
"""
_INPUTS = """
Args:
    predictions: predicted labels, 0 (not equivalent) or 1 (equivalent).
    references: true labels, 0 or 1.
Returns:
    {"accuracy": float, "f1": float}
Example:
    >>> metric = evaluate.load("course_utils/metrics/glue_mrpc")
    >>> metric.compute(predictions=[1, 0, 1], references=[1, 1, 1])
    {'accuracy': 0.6666666666666666, 'f1': 0.8}
"""


def accuracy_and_f1(predictions, references) -> dict:
    """Accuracy and the F1 of class 1, computed with numpy."""
    preds = np.asarray(predictions, dtype=np.int64)
    refs = np.asarray(references, dtype=np.int64)
    if preds.shape != refs.shape:
        raise ValueError(f"{preds.size} predictions but {refs.size} references")
    if preds.size == 0:
        raise ValueError("no predictions to score")
    bad = sorted(set(np.unique(np.concatenate([preds, refs])).tolist()) - {0, 1})
    if bad:
        raise ValueError(f"MRPC labels are 0 and 1; got {bad}")
    true_pos = int(np.sum((preds == 1) & (refs == 1)))
    false_pos = int(np.sum((preds == 1) & (refs == 0)))
    false_neg = int(np.sum((preds == 0) & (refs == 1)))
    denominator = 2 * true_pos + false_pos + false_neg
    f1 = 2 * true_pos / denominator if denominator else 0.0
    return {"accuracy": float(np.mean(preds == refs)), "f1": float(f1)}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class GlueMrpc(evaluate.Metric):
    """Accuracy and F1 for MRPC, fed with ``add_batch`` or ``compute``."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_INPUTS,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references):
        return accuracy_and_f1(predictions, references)
