#!/usr/bin/env bash
# The wheels a lent GPU machine needs beside its own CUDA torch: it reaches no package registry,
# and its Python (3.12) differs from this machine's. Downloads Snakemake, jsonschema and pooch
# with their dependencies into .gpu_wheels/ (git-ignored, ~30 MB): pure-Python wheels as they
# are, compiled ones again for CPython 3.12 on x86-64 Linux, sdists built into wheels here.
# Carry the folder to the device (device tool: carry [".gpu_wheels"]); gpu_session.sh installs,
# of the packages named in .gpu_wheels/requirements.txt, those the device lacks, and of their
# dependencies those the device does not satisfy (its own torch, numpy, ... stay):
#   bash benchmarks/gpu_wheels.sh [PYTHON_VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-3.12}
pip=${PIP:-python3 -m pip}
out=.gpu_wheels
requirements=(snakemake==9.27.1 jsonschema==4.26.0 pooch==1.9.0)
rm -rf "$out" && mkdir -p "$out/any"
$pip download -q -d "$out/any" "${requirements[@]}"
for sdist in "$out"/any/*.tar.gz; do
  [ -e "$sdist" ] || continue
  $pip wheel -q --no-deps -w "$out" "$sdist"
done
for wheel in "$out"/any/*.whl; do
  name=$(basename "$wheel")
  case "$name" in
    *-none-any.whl | *-abi3-*) mv "$wheel" "$out/" ;;
    *)  # a compiled wheel of this machine's Python: the same version for the device's
      pkg=$(echo "$name" | cut -d- -f1) ver=$(echo "$name" | cut -d- -f2)
      $pip download -q --no-deps --only-binary=:all: --python-version "$version" \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
        -d "$out" "$pkg==$ver" ;;
  esac
done
rm -rf "$out/any"
printf '%s\n' "${requirements[@]}" >"$out/requirements.txt"
echo "$(ls "$out" | wc -l) wheels, $(du -sh "$out" | cut -f1) in $out"
