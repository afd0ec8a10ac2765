#!/usr/bin/env bash
# The course in one command. Needs only Python 3.11 (python3.11 or python3) with its venv module.
#
#   bash course.sh lab [ARGS...]      set up .venv, open JupyterLab on notebooks/
#   bash course.sh test [ARGS...]     set up .venv, run every test: tests/ and nbval over solutions/
#   bash course.sh check [ARGS...]    set up .venv, check the environment (python -m course_utils.env)
#   bash course.sh release [CHAPTER]  set up .venv, regenerate notebooks/ from solutions/
#   bash course.sh setup              set up .venv only
#   bash course.sh --help             this text
#
# Setting up creates .venv if it is missing, installs the pinned requirements.txt and the
# course_utils package (again only when requirements.txt or pyproject.toml changed) and puts
# .venv/bin first on PATH. ARGS go to the command: `bash course.sh test -k roundtrip -x`,
# `bash course.sh test tests/test_no_leaks.py` (paths replace the default tests/ solutions/).
# PYTHON=/path/to/python3.11 chooses the interpreter that creates .venv (it must be 3.11).
# Without an NVIDIA GPU (no nvidia-smi), torch is PyTorch's CPU build (about 190 MB) from
# download.pytorch.org/whl/cpu when that answers, not PyPI's CUDA build (GBs of nvidia-*).
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

COMMANDS="lab, test, check, release, setup"
TORCH_CPU_INDEX=${COURSE_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu} # tests set it

usage() { # usage EXIT_CODE: the header of this file; to stdout for --help, else to stderr
    if [[ $1 -eq 0 ]]; then
        sed -n '2,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    else
        sed -n '2,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    fi
    exit "$1"
}

python_version() { # the X.Y.Z of a Python interpreter, or nothing if it is not one
    "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null </dev/null |
        grep -E '^[0-9]+\.[0-9]+\.[0-9]+$' || true
}

is_py311() {
    "$1" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info < (3, 12))' >/dev/null 2>&1
}

find_python() {
    local candidate
    if [[ -n ${PYTHON:-} ]]; then # asked for: that one, or a clear refusal, never another
        command -v "$PYTHON" >/dev/null 2>&1 || die "PYTHON=$PYTHON: no such program; \
set PYTHON to a Python 3.11 interpreter (e.g. PYTHON=/usr/bin/python3.11) or unset it"
        local version
        version=$(python_version "$PYTHON")
        [[ -n $version ]] || die "PYTHON=$PYTHON is not a Python interpreter; \
set PYTHON to a Python 3.11 interpreter or unset it"
        is_py311 "$PYTHON" || die "PYTHON=$PYTHON is Python $version, and the course needs \
3.11; set PYTHON to a Python 3.11 interpreter or unset it"
        echo "$PYTHON"
        return 0
    fi
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && is_py311 "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

found_pythons() {
    local candidate version found=()
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then
            version=$(python_version "$candidate")
            found+=("$candidate is ${version:-not a working Python}")
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

torch_source() { # pip arguments for torch's build on this machine; says which build, how large
    if command -v nvidia-smi >/dev/null 2>&1; then
        echo "course.sh: NVIDIA GPU found: torch is PyPI's CUDA build (about 0.5 GB, plus \
several GB of nvidia-* packages)" >&2
        return 0
    fi
    if [[ -n ${CI:-} ]]; then
        echo "course.sh: CI: torch from the configured package index" >&2
        return 0
    fi
    if "$1" - "$TORCH_CPU_INDEX" <<'PY' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/", method="HEAD"), timeout=5)
PY
        echo "course.sh: no NVIDIA GPU (no nvidia-smi): torch is the CPU build (about 190 MB) \
from $TORCH_CPU_INDEX" >&2
        echo "--extra-index-url $TORCH_CPU_INDEX"
    else
        echo "course.sh: no NVIDIA GPU, and $TORCH_CPU_INDEX does not answer: torch comes \
from your package index (on Linux, PyPI's torch is the CUDA build: about 0.5 GB plus several \
GB of nvidia-* packages)" >&2
    fi
}

setup() {
    if [[ -n ${PYTHON:-} ]]; then
        find_python >/dev/null # not in a subshell: a bad PYTHON stops here, with its reason
    fi
    if [[ ! -x $VENV/bin/python ]]; then
        local python
        python=$(find_python) || die "Python 3.11 is needed to create .venv; \
found: $(found_pythons). Install one (python.org, pyenv, uv, deadsnakes, 'brew install \
python@3.11'), then run again, or point PYTHON at it: PYTHON=/path/to/python3.11 bash course.sh $*"
        echo "course.sh: creating .venv with $python (Python $(python_version "$python"))"
        "$python" -m venv "$VENV" || die "could not create .venv (on Debian/Ubuntu: apt install python3.11-venv)"
    fi
    is_py311 "$VENV/bin/python" || die ".venv is not Python 3.11: remove it (rm -rf .venv) and run again"

    local want
    want=$("$VENV/bin/python" -c 'import hashlib, sys
print(hashlib.sha256(b"".join(open(p, "rb").read() for p in sys.argv[1:])).hexdigest())' \
        requirements.txt pyproject.toml)
    if [[ ! -f $STAMP || $(<"$STAMP") != "$want" ]]; then
        echo "course.sh: installing requirements.txt into .venv (the first time takes a few minutes)"
        local torch_args
        torch_args=$(torch_source "$VENV/bin/python")
        # shellcheck disable=SC2086 # torch_args is empty or two words
        "$VENV/bin/python" -m pip install $torch_args -r requirements.txt
        "$VENV/bin/python" -m pip install --no-deps -e .
        echo "$want" >"$STAMP"
    fi
    export VIRTUAL_ENV="$VENV"
    export PATH="$VENV/bin:$PATH"
}

# `source course.sh` (the tests do) defines the functions above and stops here.
if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
    return 0
fi

command=${1:-}
[[ -n $command ]] || usage 2
shift

case $command in
lab)
    setup "$command"
    # The students' lab: nbgrader's instructor UI (Formgrader, Create Assignment, the nbgrader
    # menu) is switched off by binder/jupyter_config, as on Binder (binder/start). Instructors
    # open theirs with: source .venv/bin/activate && jupyter lab
    export JUPYTER_CONFIG_PATH="$PWD/binder/jupyter_config${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"
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
    echo "course.sh: .venv is ready (Python $(python_version python)); activate it with: source .venv/bin/activate"
    ;;
-h | --help | help)
    usage 0
    ;;
*)
    echo "course.sh: unknown command '$command'; the commands are: $COMMANDS (bash course.sh --help)" >&2
    exit 2
    ;;
esac
