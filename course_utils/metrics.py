"""GLUE MRPC's metric (accuracy and F1) for the active profile.

``full`` with the Hub loads ``evaluate.load("glue", "mrpc")``; otherwise the local evaluate
module in ``course_utils/metrics/glue_mrpc`` computes the same two numbers offline.
"""

from __future__ import annotations

from typing import Any

from course_utils.profiles import LOCAL_METRIC_DIR, Profile, get_profile


def mrpc_metric(profile: Profile | None = None, **kwargs: Any) -> Any:
    """An ``evaluate`` metric with ``add_batch`` and ``compute() -> {"accuracy", "f1"}``.

    Extra keyword arguments go to ``evaluate.load`` (``experiment_id``, ``keep_in_memory``...).
    """
    import evaluate

    profile = profile or get_profile()
    if profile.metric == "glue":
        return evaluate.load("glue", "mrpc", **kwargs)
    return evaluate.load(profile.metric, **kwargs)


def local_metric(**kwargs: Any) -> Any:
    """The local GLUE MRPC module, whatever the profile."""
    import evaluate

    return evaluate.load(str(LOCAL_METRIC_DIR), **kwargs)
