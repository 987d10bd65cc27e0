#!/usr/bin/env bash
# Every GPU check and measurement of the project, in one run sized for one lent H100/H200
# sitting (BUDGET seconds in all, default 560: one device call is at most 600 s). Each step has
# its own timeout, gets at most what is left, and is skipped when under 15 s are left. In the
# order of priority:
#   1. pack_fused, pack_fast, pack_exact: benchmarks/pack.py --device cuda with seed fusion (each
#      model's group of 3 seeds, one ACAI group of 3, the 18-cell Table 1 pack as six groups), on
#      the fast path (solo rate of each model, one ACAI cell, the 18-cell pack) and on the exact
#      path (float32 convolutions: today's default), each with FLOP/s against the card's FP32
#      peak and a profile (kernels per cell-step, convolution/GEMM share of device time)
#   2. protocol_seed0: config/protocol-seed0.yaml, Table 1 at 2^24 images per cell, seed 0, the
#      six models as one pack on the fast path (resumes from its train_state.pt files when rerun
#      on the same machine); what it trained is copied out however far it got
#   3. pytest_cuda_fast: the fast path's and seed fusion's CUDA tests (graphed = eager, the same
#      bits again, kill-and-resume, a mixed pack = each model alone) and the mixed exact pack
#   4. science_*: config/gpu-quick-fused.yaml, gpu-quick-fast.yaml, gpu-quick.yaml (exact) and
#      gpu-quick-fast-tf32.yaml, Table 1 with 3 seeds at 2^20 images: seed fusion and the fast
#      path against the exact one, TF32 against float32 (docs/gpu.md)
#   5. pytest_cuda: the whole of tests/test_cuda.py
# After each finished table its figures (Fig. 3, Fig. 5, training curves) are rendered by the
# figure rules alone and brought back. RESERVE seconds (default 45) are kept free of the tables
# for that and the archive.
# SKIP="pack tests" (names: pack protocol tests science alltests figures) leaves steps out, e.g. on a
# second call to the same warm machine that only continues the protocol table:
#   SKIP="pack tests" BUDGET=300 bash benchmarks/gpu_session.sh "$OUT/gs2"
# Step timeouts: T_PACK (each path), T_PROTOCOL, T_TESTS, T_SCIENCE (each config), seconds.
#
# Usage (the device tool, carrying the wheels made by benchmarks/gpu_wheels.sh here):
#   run(command='MEASURED_COMMIT=<sha> BUDGET=560 bash benchmarks/gpu_session.sh "$OUT/gs"',
#       carry=[".gpu_wheels"], timeout_s=600)
# Raw outputs, with card, driver, torch, the commit and the commands, land in OUT_FOLDER (default
# $OUT/gs when $OUT is set, else benchmarks/results/<card>), and all of it in OUT_FOLDER.tgz (a
# device call returns at most 8 files): commit it as benchmarks/results/<card>-<date>/.
set -u -o pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}
budget=${BUDGET:-560}
skip=" ${SKIP:-} "
end=$((SECONDS + budget))
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
short=$(echo "$card" | grep -oiE '[A-Z]?[0-9]{3,4}' | head -1 | tr 'A-Z' 'a-z')
out=${1:-${OUT:+$OUT/gs}}
out=${out:-benchmarks/results/${short:-gpu}}
mkdir -p "$out"

left() { echo $((end - SECONDS)); }
skipped() { [[ "$skip" == *" $1 "* ]]; }
# step NAME SECONDS COMMAND...: run with min(SECONDS, time left), output to $out/NAME.txt.
step() {
  local name=$1 want=$2 t start=$SECONDS
  shift 2
  t=$(left)
  ((want < t)) && t=$want
  if ((t < 15)); then echo "skipped $name: no time left" | tee -a "$out/session.txt"; return; fi
  echo "== $name (timeout ${t}s): $*" | tee -a "$out/session.txt"
  { echo "\$ $*"; timeout --signal=TERM --kill-after=20 "$t" "$@"; echo "exit status $?"; } 2>&1 |
    tee "$out/$name.txt"
  echo "   $name took $((SECONDS - start)) s" | tee -a "$out/session.txt"
}
# records ROOT NAME: a table's CSV/tex, every cell's evals.jsonl, metrics.json, spec.json,
# the pack logs and benchmarks, copied flat into $out/NAME (however far training got).
records() {
  local root=$1 dest=$out/$2 f
  mkdir -p "$dest"
  cp "$root"/table1.{tex,csv} "$dest/" 2>/dev/null
  for f in "$root"/lines/*/dz*/seed*/{evals.jsonl,metrics.json,spec.json}; do
    [ -f "$f" ] && cp "$f" "$dest/$(echo "${f#"$root"/lines/}" | tr / _)"
  done
  cp "$root"/logs/train/packs/*.log "$root"/benchmarks/train/packs/*.tsv "$dest/" 2>/dev/null
  return 0
}
results_root() {
  $py -c "from acai_repro.config import load_config; print(load_config('config/config.yaml', '$1')['results_dir'])"
}
# table CONFIG NAME SECONDS: Table 1 of a config through Snakemake (leaving RESERVE seconds for
# the rest), then its records and figures.
table() {
  local config=$1 name=$2 want=$3 root t
  root=$(results_root "$config")
  t=$(($(left) - ${RESERVE:-45}))
  ((want < t)) && t=$want
  step "$name" "$t" $py -m snakemake --cores all --configfile "$config" -- "$root/table1.tex"
  records "$root" "$name"
  figures "$config" "$root" "$name"
}
# figures CONFIG ROOT NAME: Fig. 3, Fig. 5 and the training curves of a finished Table 1, by the
# workflow's own figure rules only (--allowed-rules: never training; seconds), into
# $out/NAME/figures. Commit them into the set, stamped with its provenance:
#   python -m acai_repro.figure_sets docs/<set> --configfile CONFIG --rendered <out>/NAME/figures
figures() {
  local config=$1 root=$2 name=$3 f
  local pngs=(fig3_lines_interpolations.png fig5_vae_samples.png training_curves_lines_dz64.png)
  skipped figures && return 0
  [ -f "$root/table1.csv" ] || return 0 # a table not finished: no weights to draw from
  step "${name}_figures" "${T_FIGURES:-60}" $py -m snakemake --cores all --configfile "$config" \
    --allowed-rules fig3_lines_interpolations fig5_vae_samples training_curves -- "${pngs[@]/#/$root/figures/}"
  mkdir -p "$out/$name/figures"
  for f in "${pngs[@]}"; do
    cp "$root/figures/$f" "$out/$name/figures/" 2>/dev/null || echo "no $f for $name" | tee -a "$out/session.txt"
  done
}

{
  date -u +"%Y-%m-%dT%H:%M:%SZ"
  # The device copy's .git may lag the working tree it carries: MEASURED_COMMIT names the
  # commit the working tree was (set it from the sending checkout's `git rev-parse HEAD`).
  echo "commit ${MEASURED_COMMIT:-$(git rev-parse HEAD 2>/dev/null)} (device copy's git: $(git rev-parse --short HEAD 2>/dev/null), $(git status --porcelain 2>/dev/null | wc -l) changed files)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
  echo "command: BUDGET=$budget SKIP='${SKIP:-}' bash benchmarks/gpu_session.sh $*"
} 2>&1 | tee "$out/session.txt"

# The machine reaches no registry: Snakemake and friends from the carried wheels.
if [ -d .gpu_wheels ] && ! $py -c "import snakemake" 2>/dev/null; then
  $py -m pip install -q --no-index --find-links .gpu_wheels --target /tmp/gpu_site \
    snakemake==9.27.1 jsonschema==4.26.0 pooch==1.9.0 2>&1 | tail -2 | tee -a "$out/session.txt"
  export PYTHONPATH="$PYTHONPATH:/tmp/gpu_site" PATH="/tmp/gpu_site/bin:$PATH"
fi

if ! skipped pack; then
  step pack_fused "${T_PACK:-150}" $py benchmarks/pack.py --device cuda --paths fused --sizes 3 18 \
    --warmup 20 --rounds 100 --repeats 3
  step pack_fast "${T_PACK:-150}" $py benchmarks/pack.py --device cuda --paths fast --sizes 1 18 \
    --warmup 20 --rounds 100 --repeats 3
  step pack_exact "${T_PACK:-150}" $py benchmarks/pack.py --device cuda --paths exact --sizes 1 18 \
    --warmup 20 --rounds 100 --repeats 3
fi
skipped protocol || table config/protocol-seed0.yaml protocol_seed0 "${T_PROTOCOL:-100000}"
skipped tests || step pytest_cuda_fast "${T_TESTS:-150}" $py -m pytest -q -p no:cacheprovider -rs \
  tests/test_cuda.py -k "fast or fused or mixed_pack"
if ! skipped science; then
  table config/gpu-quick-fused.yaml science_fused "${T_SCIENCE:-400}"
  table config/gpu-quick-fast.yaml science_fast "${T_SCIENCE:-400}"
  table config/gpu-quick.yaml science_exact "${T_SCIENCE:-600}"
  table config/gpu-quick-fast-tf32.yaml science_fast_tf32 "${T_SCIENCE:-400}"
fi
skipped alltests || step pytest_cuda "${T_TESTS:-300}" $py -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py

echo "done after $SECONDS s" | tee -a "$out/session.txt"
# One archive of everything (a device call returns at most 8 files).
tar czf "$out.tgz" -C "$(dirname "$out")" "$(basename "$out")" && echo "archive: $out.tgz"
