"""Progress bars that end in their final state, also in saved notebooks and HTML exports.

In JupyterLab, ``tqdm.auto`` draws a widget. A saved notebook, an HTML export or an nbgrader
feedback page keeps only the widget's first frame as text (``0%| | 0/60``) unless the widget
state was saved too, so every finished bar looks stuck at 0%. :func:`progress_bar` is
``tqdm.auto.tqdm`` that, when a widget bar closes, also prints its final line as plain text on
stdout (never stderr: a graded cell's stderr costs points), e.g.
``training: 100%|██████████| 60/60 [00:03<00:00, 17.21it/s, loss=0.412]``. Text bars (a
terminal, a script) are left as tqdm draws them.

Use it as a context manager, or close it in a ``finally``, so that a loop that raises still
leaves the line of where it stopped rather than a stale bar.
"""

from __future__ import annotations

from typing import Any


def _notebook_class() -> type | None:
    try:
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:
        return None
    return notebook_tqdm


def progress_bar(*args: Any, **kwargs: Any) -> Any:
    """``tqdm.auto.tqdm(*args, **kwargs)``; a widget bar also prints its final line on close."""
    from tqdm.auto import tqdm

    bar = tqdm(*args, **kwargs)
    notebook = _notebook_class()
    if notebook is not None and isinstance(bar, notebook):
        _leave_a_final_line(bar)
    return bar


def _leave_a_final_line(bar: Any) -> None:
    """Wrap ``bar.close`` so that the first close also prints the final state as text."""
    original_close = bar.close
    state = {"done": False}

    def close() -> None:
        first = not state["done"] and not bar.disable
        state["done"] = True
        original_close()
        if first and bar.leave:
            print(final_line(bar), flush=True)

    bar.close = close


def final_line(bar: Any) -> str:
    """The bar's current state as one line of text, as a terminal would show it."""
    from tqdm import tqdm as text_tqdm

    return text_tqdm.format_meter(**bar.format_dict)
