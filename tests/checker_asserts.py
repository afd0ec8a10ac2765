"""Assertions shared by the checker tests: a right answer passes, a mistake is named."""

from __future__ import annotations

import pytest

from course_utils.feedback import CheckFailed


def fails_with(checker, answer, *phrases, **kwargs) -> str:
    """Run ``checker(answer)``, expect a failure whose message holds every phrase."""
    with pytest.raises(CheckFailed) as failure:
        checker(answer, **kwargs)
    message = str(failure.value)
    assert message.startswith("✗ "), message
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in {message!r}"
    return message


def passes(checker, answer, capsys, **kwargs) -> str:
    """Run ``checker(answer)``, expect it to print a ``✓`` verdict as its last line."""
    checker(answer, **kwargs)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("✓ "), line
    return line
