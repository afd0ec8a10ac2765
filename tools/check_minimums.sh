#!/usr/bin/env bash
# Check the supported minimum versions (course_utils/env.py, MINIMUM_VERSIONS): build a second
# environment with exactly those versions and run every solution notebook in it under nbval,
# offline, in the smoke profile, on one thread.
#
#   bash tools/check_minimums.sh            # builds .venv-min (once), then runs the notebooks
#   bash tools/check_minimums.sh -x -v      # extra pytest arguments
#
# It needs PyPI (the old versions are downloaded once) and takes a few minutes; CI does not run
# it, to stay within its time budget. Record the result in README.md ("Supported versions").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv-min
PYTHON=${PYTHON:-python3.11}
# One line per student package: exactly the minimum of MINIMUM_VERSIONS (X.Y means X.Y.0).
# torch: the oldest this machine can install offline (no older CPU build is at hand).
MINIMUMS=(
    torch==2.13.0
    transformers==4.57.1  # 4.57.0 is yanked on PyPI
    datasets==4.0.0
    evaluate==0.4.6
    accelerate==1.10.1
    tqdm==4.67.0
    matplotlib==3.10.0
    ipywidgets==7.7.0
    numpy==2.0.0
)
# What the notebooks and the test run need besides, at the course's pins.
TOOLS=$(grep -E '^(pytest|nbval|ipykernel|nbformat|nbclient|scikit-learn)==' requirements.txt)

started=$SECONDS
if [[ ! -x $VENV/bin/python ]]; then
    command -v "$PYTHON" >/dev/null || { echo "check_minimums: $PYTHON not found (set PYTHON)" >&2; exit 1; }
    "$PYTHON" -m venv "$VENV"
fi
# shellcheck disable=SC2086
"$VENV/bin/python" -m pip install --quiet "${MINIMUMS[@]}" $TOOLS
"$VENV/bin/python" -m pip install --quiet --no-deps -e .
echo "check_minimums: installed in $((SECONDS - started)) s:"
"$VENV/bin/python" - "${MINIMUMS[@]}" <<'PY'
import importlib.metadata
import sys

wrong = []
for requirement in sys.argv[1:]:
    name, wanted = requirement.split("==")
    have = importlib.metadata.version(name)
    print(f"  {name} {have}")
    if have.split("+")[0] != wanted:
        wrong.append(f"{name} {have} (wanted {wanted})")
if wrong:
    sys.exit("check_minimums: not the minimum versions: " + ", ".join(wrong))
PY

export COURSE_PROFILE=smoke HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 OMP_NUM_THREADS=1
export COURSE_CACHE=${COURSE_CACHE:-$PWD/$VENV/course-cache}  # its own tiny BERT build
status=0
"$VENV/bin/python" -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider -q \
    solutions "$@" || status=$?
echo "check_minimums: exit $status after $((SECONDS - started)) s"
exit "$status"
