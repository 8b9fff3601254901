#!/usr/bin/env bash
# Paddle Lite models (.nb) for Android (arm) and x86 from a ppfom/PaddleGAN checkpoint.
#
#   bash deploy/lite/build_lite.sh CONFIG WEIGHTS OUT [SIZE] [TARGETS...]
#   bash deploy/lite/build_lite.sh configs/firstorder_vox_mobile_256.yaml vox-mobile.pdparams lite_models
#
# paddlelite wheels exist only up to Python 3.10, and only paddlepaddle 2.x writes the legacy .pdmodel
# that paddle_lite_opt reads, so this creates (once) a Python 3.10 venv outside the repository at
# $PPFOM_LITE_VENV (default ~/.cache/ppfom/venv-lite-py310) with pinned versions and runs
# deploy/lite/export_lite.py in it. Without a Python 3.10 it says so and exits 75 (nothing written).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${PPFOM_LITE_VENV:-$HOME/.cache/ppfom/venv-lite-py310}"
PINS=("paddlepaddle==2.6.2" "paddlelite==2.13rc0" "numpy<2")

# ppfom's own runtime requirements, read from setup.py so this list never goes stale.
requirements() {
    "$VENV/bin/python" - "$ROOT/setup.py" <<'PY'
import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
for node in ast.walk(tree):
    if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "REQUIRES" for t in node.targets):
        print("\n".join(ast.literal_eval(node.value)))
PY
}

find_python310() {
    if command -v python3.10 >/dev/null && python3.10 -c "" 2>/dev/null; then echo python3.10; return; fi
    if command -v pyenv >/dev/null; then
        local v; v="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | tail -1 || true)"
        if [ -n "$v" ] && PYENV_VERSION="$v" python3.10 -c "" 2>/dev/null; then echo "env PYENV_VERSION=$v python3.10"; return; fi
    fi
    return 1
}

if [ "${1:-}" = "--env-only" ]; then shift; ENV_ONLY=1; else ENV_ONLY=0; fi
if [ ! -x "$VENV/bin/python" ]; then
    if ! PY310="$(find_python310)"; then
        echo "skipped: no Python 3.10 found (paddlelite wheels stop at 3.10); install one, e.g. 'pyenv install 3.10'" >&2
        exit 75
    fi
    echo "creating $VENV" >&2
    $PY310 -m venv "$VENV"
fi
mapfile -t REQS < <(requirements)
if ! PYTHONPATH="$ROOT" "$VENV/bin/python" -c "import paddle, paddlelite, ppfom" 2>/dev/null; then
    echo "installing ${PINS[*]} and ppfom's requirements into $VENV" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PINS[@]}" "${REQS[@]}"
fi
[ "$ENV_ONLY" = 1 ] && { echo "$VENV"; exit 0; }

CONFIG="$1"; WEIGHTS="$2"; OUT="$3"; SIZE="${4:-256}"; shift 3; [ $# -gt 0 ] && shift
TARGETS=("${@:-arm x86}")
# shellcheck disable=SC2068
PYTHONPATH="$ROOT" "$VENV/bin/python" "$HERE/export_lite.py" --config "$CONFIG" --weights "$WEIGHTS" \
    --out "$OUT" --size "$SIZE" --targets ${TARGETS[@]}
