#!/usr/bin/env bash
# Every check and measurement of packed training that needs a GPU, in one run sized for ~10
# minutes of one H100/H200 (BUDGET seconds in all, default 570; each step has its own timeout
# and the last steps get what is left):
#   1. tests/test_cuda.py (graphed = eager, kill-and-resume, and a mixed pack of all six
#      models bit-identical to each trained alone, graphed)
#   2. benchmarks/pack.py --device cuda: aggregate img/s of 1, 2, 4, 8 and 18 packed lines
#      cells beside each model's solo graphed rate, and a torch.profiler summary of a round
#   3. config/gpu-quick.yaml's Table 1 (18 cells, 2^20 images each, one pack), wall time
#   bash benchmarks/gpu_session.sh [OUT_FOLDER]   (T_TESTS, T_PACK, T_TABLE: step timeouts, s)
# Raw outputs, with card, driver, torch, the commit and the commands, land in OUT_FOLDER
# (default $OUT when set, else benchmarks/results/<card>); the table's results root is
# results/gpu-quick, the config's results_dir (rerunning the script resumes the pack from its
# train_state.pt files).
# The folder is meant to be committed as benchmarks/results/<card>/ (session.txt names it).
# As it ran on a lent machine with no package registry (benchmarks/results/h100/README.md):
#   pip install --target /tmp/site <carried wheels of snakemake, jsonschema, pooch and their needs>
#   PYTHONPATH=/tmp/site MEASURED_COMMIT=$(commit) BUDGET=540 bash benchmarks/gpu_session.sh /tmp/gs/h100
#   cp /tmp/gs/h100.tgz "$OUT"/
set -u -o pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}
budget=${BUDGET:-570}
end=$((SECONDS + budget))
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
short=$(echo "$card" | grep -oiE '[A-Z]?[0-9]{3,4}' | head -1 | tr 'A-Z' 'a-z')
out=${1:-${OUT:-benchmarks/results/${short:-gpu}}}
table_dir=results/gpu-quick
mkdir -p "$out" "$table_dir"

left() { echo $((end - SECONDS)); }
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

{
  date -u +"%Y-%m-%dT%H:%M:%SZ"
  # The device copy's .git may lag the working tree it carries: MEASURED_COMMIT names the
  # commit the working tree was (set it from the sending checkout's `git rev-parse HEAD`).
  echo "commit ${MEASURED_COMMIT:-$(git rev-parse HEAD 2>/dev/null)} (device copy's git: $(git rev-parse --short HEAD 2>/dev/null), $(git status --porcelain 2>/dev/null | wc -l) changed files)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
  echo "command: bash benchmarks/gpu_session.sh $*  (BUDGET=$budget); copy to benchmarks/results/${short:-gpu}/"
} 2>&1 | tee "$out/session.txt"

step pytest_cuda "${T_TESTS:-200}" $py -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py
step pack_bench "${T_PACK:-150}" $py benchmarks/pack.py --device cuda --warmup 50 --rounds 200 --repeats 3

# Table 1 from one pack; the time limit leaves room to copy what exists.
step table1_gpu_quick "${T_TABLE:-100000}" $py -m snakemake --cores all --configfile config/gpu-quick.yaml \
  -- "$table_dir/table1.tex"
mkdir -p "$out/gpu_quick"
cp "$table_dir"/table1.{tex,csv} "$out/gpu_quick/" 2>/dev/null
for f in "$table_dir"/lines/*/dz*/seed*/{evals.jsonl,metrics.json}; do
  [ -f "$f" ] && cp "$f" "$out/gpu_quick/$(echo "${f#"$table_dir"/lines/}" | tr / _)"
done
cp "$table_dir"/logs/train/packs/*.log "$table_dir"/benchmarks/train/packs/*.tsv "$out/gpu_quick/" 2>/dev/null
echo "done after $SECONDS s" | tee -a "$out/session.txt"
# One archive of everything (a machine that returns only a few files from $OUT can send this).
tar czf "$out.tgz" -C "$(dirname "$out")" "$(basename "$out")" && echo "archive: $out.tgz"

# ==== Figures of the gpu-quick run (an appended block; seconds on the trained cells) ====
# The workflow's own figure rules (--allowed-rules: never training) render Fig. 3, Fig. 5 and
# the training curves from results/gpu-quick; the PNGs come back in $out/gpu_quick/figures/ and
# in the archive, written again. Commit them into a result set, stamped with its provenance:
#   python -m acai_repro.figure_sets docs/<set> --configfile config/gpu-quick.yaml --rendered <out>/gpu_quick/figures
# Its own timeout (T_FIGURES, default 90 s) rather than the budget's remainder, which the Table 1
# step may have used up.
figures=(fig3_lines_interpolations.png fig5_vae_samples.png training_curves_lines_dz64.png)
mkdir -p "$out/gpu_quick/figures"
{
  echo "\$ snakemake (figure rules) -- ${figures[*]}"
  timeout --signal=TERM --kill-after=10 "${T_FIGURES:-90}" $py -m snakemake --cores all \
    --configfile config/gpu-quick.yaml \
    --allowed-rules fig3_lines_interpolations fig5_vae_samples training_curves \
    -- "${figures[@]/#/$table_dir/figures/}"
  echo "exit status $?"
} 2>&1 | tee "$out/figures_gpu_quick.txt"
for f in "${figures[@]}"; do
  cp "$table_dir/figures/$f" "$out/gpu_quick/figures/" 2>/dev/null || echo "no $f" | tee -a "$out/session.txt"
done
tar czf "$out.tgz" -C "$(dirname "$out")" "$(basename "$out")" && echo "archive with figures: $out.tgz"
