#!/usr/bin/env bash
# The course in one command. Needs only Python 3.11 (python3.11 or python3) with its venv module.
#
#   bash course.sh lab [ARGS...]      set up .venv, open JupyterLab on notebooks/
#   bash course.sh test [ARGS...]     set up .venv, run every test: tests/ and nbval over solutions/
#   bash course.sh check [ARGS...]    set up .venv, check the environment (python -m course_utils.env)
#   bash course.sh release [CHAPTER]  set up .venv, regenerate notebooks/ from solutions/
#   bash course.sh setup              set up .venv only
#
# Setting up creates .venv if it is missing, installs the pinned requirements.txt and the
# course_utils package (again only when requirements.txt or pyproject.toml changed) and puts
# .venv/bin first on PATH. ARGS go to the command: `bash course.sh test -k roundtrip -x`,
# `bash course.sh test tests/test_no_leaks.py` (paths replace the default tests/ solutions/).
# PYTHON=/path/to/python3.11 chooses the interpreter that creates .venv.
set -euo pipefail

here=${BASH_SOURCE[0]%/*}
[[ $here != "${BASH_SOURCE[0]}" ]] || here=.
cd "$here"
VENV="$PWD/.venv"
STAMP="$VENV/.course-installed"
export PIP_DISABLE_PIP_VERSION_CHECK=1

die() {
    echo "course.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

is_py311() {
    "$1" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info < (3, 12))' >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3; do
        if [[ -n $candidate ]] && command -v "$candidate" >/dev/null 2>&1 && is_py311 "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

found_pythons() {
    local candidate found=()
    for candidate in "${PYTHON:-}" python3.11 python3; do
        if [[ -n $candidate ]] && command -v "$candidate" >/dev/null 2>&1; then
            found+=("$candidate is $("$candidate" --version 2>&1)")
        fi
    done
    if [[ ${#found[@]} -eq 0 ]]; then
        echo "no python3.11 or python3 on PATH"
    else
        local joined
        joined=$(printf '%s, ' "${found[@]}")
        echo "${joined%, }"
    fi
}

setup() {
    if [[ ! -x $VENV/bin/python ]]; then
        local python
        python=$(find_python) || die "Python 3.11 is needed to create .venv; \
found: $(found_pythons). Install one (python.org, pyenv, uv, deadsnakes, 'brew install \
python@3.11'), then run again, or point PYTHON at it: PYTHON=/path/to/python3.11 bash course.sh $*"
        echo "course.sh: creating .venv with $python ($("$python" --version 2>&1))"
        "$python" -m venv "$VENV" || die "could not create .venv (on Debian/Ubuntu: apt install python3.11-venv)"
    fi
    is_py311 "$VENV/bin/python" || die ".venv is not Python 3.11: remove it (rm -rf .venv) and run again"

    local want
    want=$("$VENV/bin/python" -c 'import hashlib, sys
print(hashlib.sha256(b"".join(open(p, "rb").read() for p in sys.argv[1:])).hexdigest())' \
        requirements.txt pyproject.toml)
    if [[ ! -f $STAMP || $(<"$STAMP") != "$want" ]]; then
        echo "course.sh: installing requirements.txt into .venv (the first time takes a few minutes)"
        "$VENV/bin/python" -m pip install -r requirements.txt
        "$VENV/bin/python" -m pip install --no-deps -e .
        echo "$want" >"$STAMP"
    fi
    export VIRTUAL_ENV="$VENV"
    export PATH="$VENV/bin:$PATH"
}

command=${1:-}
[[ -n $command ]] || usage
shift

case $command in
lab)
    setup "$command"
    root_flag=()
    [[ $(id -u) -ne 0 ]] || root_flag=(--allow-root) # Jupyter refuses root without it (containers)
    exec jupyter lab ${root_flag[@]+"${root_flag[@]}"} notebooks/ "$@"
    ;;
test)
    setup "$command"
    export COURSE_PROFILE=smoke HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
    # The tiny smoke model is fastest on one thread, and kernels, graders and launched
    # processes share the cores: one thread each keeps them from waiting on one another.
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    paths=(tests solutions)
    if [[ $# -gt 0 && $1 != -* ]]; then
        paths=() # the arguments name what to test
    fi
    # --nbval-lax collects every .ipynb under the given paths and checks that its cells run;
    # tests/fixtures holds data, not tests. Tests run on one worker per core (pytest-xdist);
    # a file stays on one worker (a notebook's cells run in order), except the round trip,
    # shared out by chapter (conftest.py). COURSE_TEST_WORKERS=0, or `-n 0` at the end,
    # runs everything in one process.
    exec python -m pytest --nbval-lax --nbval-current-env --ignore=tests/fixtures \
        -n "${COURSE_TEST_WORKERS:-auto}" --dist loadfile ${paths[@]+"${paths[@]}"} "$@"
    ;;
check)
    setup "$command"
    exec python -m course_utils.env "$@"
    ;;
release)
    setup "$command"
    exec python tools/release.py "$@"
    ;;
setup)
    setup "$command"
    echo "course.sh: .venv is ready ($(python --version 2>&1)); activate it with: source .venv/bin/activate"
    ;;
*)
    usage
    ;;
esac
