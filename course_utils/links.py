"""Where the course lives online: the one repository name every badge and install line uses.

Forks change ``REPOSITORY`` (and ``BRANCH``) here, then run ``python tools/student_cells.py``
and ``python tools/release.py`` to regenerate the badges, the Colab setup cells and the
README's chapter table.
"""

from __future__ import annotations

from urllib.parse import quote

REPOSITORY = "course-maintainers/write-your-own-training-loop"  # owner/name on GitHub
BRANCH = "main"


def colab_url(path: str) -> str:
    """Open a notebook of the repository (``notebooks/...ipynb``) in Google Colab."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{path}"


def binder_url(path: str) -> str:
    """Launch the repository on Binder with JupyterLab open at ``path``."""
    return f"https://mybinder.org/v2/gh/{REPOSITORY}/{BRANCH}?labpath={quote(path, safe='')}"


def install_spec() -> str:
    """What ``pip install`` takes to install course_utils straight from the repository."""
    return f"course-utils @ git+https://github.com/{REPOSITORY}@{BRANCH}"


COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"


def badges(path: str) -> str:
    """The two Markdown badges for one notebook."""
    return (f"[![Open In Colab]({COLAB_BADGE})]({colab_url(path)}) "
            f"[![Launch Binder]({BINDER_BADGE})]({binder_url(path)})")
