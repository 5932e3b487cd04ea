#!/usr/bin/env bash
# Prepare what scripts/gpu_reference.py needs on the lent GPU machine beside the
# repository (docs/gpu.md), and check that what travels fits the device tool's
# 64 MiB limit:
#   .gpu_data/cifar10-jpeg.tar.gz  the CIFAR-10 archive (../shared does not travel)
#   .gpu_data/COMMIT               the commit (the copy that travels has no .git)
#   .gpu_data/site/airbench        airbench 0.1.8 (pure Python; the ceiling phase), from this
#                                  venv: the run puts .gpu_data/site on PYTHONPATH
# .gpu_data/ is git-ignored, so it travels only when `run` names it in `carry`.
# Otherwise the run needs torch, torchvision, numpy and pillow, which the
# machine has (tests/train/test_gpu_reference.py runs the smoke run with
# plotly, jinja2, fvcore, onnx and litert made unimportable).
#
# Usage: scripts/gpu_carry.sh [DEST]      (DEST defaults to .gpu_data)
# The archive is $EDGECNN_CIFAR10, else ../shared/datasets/cifar10-jpeg.tar.gz.
# Exit 2 when the archive is missing, 1 when the total is over 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-.gpu_data}"
src="${EDGECNN_CIFAR10:-../shared/datasets/cifar10-jpeg.tar.gz}"
if [ ! -f "$src" ]; then
  echo "error: no CIFAR-10 archive at $src (set EDGECNN_CIFAR10)" >&2
  exit 2
fi
mkdir -p "$dest"
cp -f "$src" "$dest/cifar10-jpeg.tar.gz"
commit="$(git rev-parse --short=12 HEAD)"
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  commit="$commit-dirty"
fi
echo "$commit" > "$dest/COMMIT"
py="${PY:-.venv/bin/python}"
airbench="$("$py" -c 'import airbench, os; print(os.path.dirname(airbench.__file__))' 2>/dev/null || true)"
if [ -z "$airbench" ]; then
  echo "error: airbench is not installed in $py (pip install 'airbench==0.1.8'; it is in the dev extra)" >&2
  exit 2
fi
rm -rf "$dest/site" && mkdir -p "$dest/site" && cp -r "$airbench" "$dest/site/airbench"
find "$dest/site" -name __pycache__ -prune -exec rm -rf {} +

# what travels: tracked files and untracked files git does not ignore, plus the carried folder
tree=$(git ls-files -z -co --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
carried=$(find "$dest" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
total=$((tree + carried))
limit=$((64 * 1024 * 1024))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "working tree $(mib "$tree") + $dest $(mib "$carried") = $(mib "$total") of $(mib "$limit") (commit $commit)"
if [ "$total" -gt "$limit" ]; then
  echo "error: $(mib "$total") would travel, over the 64 MiB limit" >&2
  exit 1
fi
