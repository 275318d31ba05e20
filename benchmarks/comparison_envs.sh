#!/usr/bin/env bash
# The two virtualenvs that benchmarks/drift_quality.py (and drift_speed.py) compare against:
# Evidently and NannyML, each in its own venv so that neither is a dependency of this package and
# neither constrains the project's own pandas or numpy.
#
#   bash benchmarks/comparison_envs.sh            # creates $BENCH_ENVS_DIR/{evidently,nannyml}
#   BENCH_ENVS_DIR=/somewhere bash benchmarks/comparison_envs.sh
#
# Then:
#   .venv/bin/python benchmarks/drift_quality.py \
#       --evidently-python /tmp/automl-bench-envs/evidently/bin/python \
#       --nannyml-python /tmp/automl-bench-envs/nannyml/bin/python
#
# Reproducible: the packages named are pinned, and everything they pull in is resolved as PyPI was
# on EXCLUDE_NEWER (uv's --exclude-newer), so a fresh machine gets the same versions.
# Evidently 0.7.23 cannot import pandas 3, hence pandas 2.3.3 there; NannyML 0.13.1 needs
# Python < 3.13 and imports statsmodels without declaring it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${BENCH_ENVS_DIR:-/tmp/automl-bench-envs}"
EXCLUDE_NEWER="${EXCLUDE_NEWER:-2026-12-01T00:00:00Z}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
UV="$ROOT/.venv/bin/uv"
if [ ! -x "$UV" ]; then
    UV="$(command -v uv || true)"
fi
if [ -z "$UV" ]; then
    echo "uv not found: run 'make setup' first (it installs uv into .venv)" >&2
    exit 1
fi

make_env() {
    local name="$1"
    shift
    local venv="$DIR/$name"
    if [ ! -x "$venv/bin/python" ]; then
        "$UV" venv -q --python "$PYTHON" "$venv"
    fi
    "$UV" pip install -q --python "$venv/bin/python" --exclude-newer "$EXCLUDE_NEWER" "$@"
    echo "$name: $venv/bin/python"
    "$venv/bin/python" -c "import importlib.metadata as m, sys; print('  python', sys.version.split()[0], *(f'{p} {m.version(p)}' for p in sys.argv[1:]))" \
        "$name" pandas numpy scipy scikit-learn
}

mkdir -p "$DIR"
make_env evidently "evidently==0.7.23" "pandas==2.3.3" "numpy==2.3.5" "scipy==1.16.3" "scikit-learn==1.7.2"
make_env nannyml "nannyml==0.13.1" "statsmodels==0.14.5" "pandas==2.3.3" "numpy==2.3.5" "scipy==1.16.3" "scikit-learn==1.7.2"
