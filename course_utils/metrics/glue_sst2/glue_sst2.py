"""GLUE SST-2's metric as a local evaluate module: accuracy.

Load it with ``evaluate.load(<this folder>)``; it needs no network. Same number as
``evaluate.load("glue", "sst2")``: the share of correct predictions.
"""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Accuracy for GLUE SST-2 sentiment labels (0 negative, 1 positive)."
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
    predictions: predicted labels, 0 (negative) or 1 (positive).
    references: true labels, 0 or 1.
Returns:
    {"accuracy": float}
Example:
    >>> metric = evaluate.load("course_utils/metrics/glue_sst2")
    >>> metric.compute(predictions=[1, 0, 1, 1], references=[1, 1, 1, 1])
    {'accuracy': 0.75}
"""


def accuracy(predictions, references) -> dict:
    """The share of correct predictions, computed with numpy."""
    preds = np.asarray(predictions, dtype=np.int64)
    refs = np.asarray(references, dtype=np.int64)
    if preds.shape != refs.shape:
        raise ValueError(f"{preds.size} predictions but {refs.size} references")
    if preds.size == 0:
        raise ValueError("no predictions to score")
    if np.any(refs < 0):
        raise ValueError("references of -1: that is SST-2's test split, which has no labels")
    bad = sorted(set(np.unique(np.concatenate([preds, refs])).tolist()) - {0, 1})
    if bad:
        raise ValueError(f"SST-2 labels are 0 and 1; got {bad}")
    return {"accuracy": float(np.mean(preds == refs))}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _INPUTS)
class GlueSst2(evaluate.Metric):
    """Accuracy for SST-2, fed with ``add_batch`` or ``compute``."""

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
        return accuracy(predictions, references)
