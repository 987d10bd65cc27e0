#!/usr/bin/env bash
# Every check and measurement of issue 8 that needs a GPU, in one run sized for a ~12-minute
# lease on one H100/H200 (BUDGET seconds in all, default 570; each step has its own timeout
# and the last steps get what is left):
#   1. tests/test_cuda.py (graphed = eager bit for bit, kill-and-resume with graphs, ...)
#   2. benchmarks/train_step.py --device cuda: eager vs graphed img/s per model at lines dz64,
#      MNIST dz256, SVHN dz256, and one full lines evaluation on the device
#   3. 1, 2, 4, 8 graphed lines ACAI cells at once (separate processes): aggregate img/s
#   4. the lines ACAI cell of the protocol (2^24 images), as far as the time left allows;
#      it checkpoints every minute, so the next session resumes it (same command); then
#      lines Baseline if time is left.
#   bash benchmarks/gpu_session.sh [OUT_FOLDER]   (T_TESTS, T_BENCH, T_SHARE: step timeouts, s)
# Raw outputs, with card, driver, torch and the commands, land in OUT_FOLDER (default:
# benchmarks/results/<card>, committed; cells' weights stay under results/gpu_session).
set -u -o pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}
budget=${BUDGET:-570}
end=$((SECONDS + budget))
card=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
short=$(echo "$card" | grep -oiE '[A-Z]?[0-9]{3,4}' | head -1 | tr 'A-Z' 'a-z')
out=${1:-benchmarks/results/${short:-gpu}}
cells=results/gpu_session
mkdir -p "$out" "$cells"

left() { echo $((end - SECONDS)); }
# step NAME SECONDS COMMAND...: run with min(SECONDS, time left), output to $out/NAME.txt.
step() {
  local name=$1 want=$2 t
  shift 2
  t=$(left)
  ((want < t)) && t=$want
  if ((t < 15)); then echo "skipped $name: no time left" | tee -a "$out/session.txt"; return; fi
  echo "== $name (timeout ${t}s): $*" | tee -a "$out/session.txt"
  { echo "\$ $*"; timeout --signal=TERM --kill-after=20 "$t" "$@"; echo "exit status $?"; } 2>&1 |
    tee "$out/$name.txt"
}

{
  date -u +"%Y-%m-%dT%H:%M:%SZ"
  echo "commit $(git rev-parse HEAD 2>/dev/null) $(git status --porcelain 2>/dev/null | wc -l) changed files"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
  echo "command: bash benchmarks/gpu_session.sh $*  (BUDGET=$budget)"
} 2>&1 | tee "$out/session.txt"

step pytest_cuda "${T_TESTS:-170}" $py -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py
step train_step_cuda "${T_BENCH:-170}" $py benchmarks/train_step.py --device cuda --steps 40 --graphed-steps 300 --repeats 3

# Several cells on one GPU: N processes capture, then replay together for 10 s from a common start.
share() {
  for n in 1 2 4 8; do
    local start=$(($(date +%s) + 20)) pids=()
    for i in $(seq "$n"); do
      $py benchmarks/train_step.py --device cuda --sustain 10 --start-at "$start" \
        --settings "lines dz64" --models acai >"$out/share_${n}_$i.txt" 2>&1 &
      pids+=($!)
    done
    wait "${pids[@]}"
    echo "$n processes: $(cat "$out"/share_"${n}"_*.txt | grep -oE '[0-9]+ img/s' | awk '{s += $1} END {print s}') img/s aggregate"
  done
}
export -f share
export py out
step gpu_share "${T_SHARE:-170}" bash -c share

# The protocol cell, for the time left (a rerun resumes it from train_state.pt).
cell() {
  local model=$1
  $py - "$model" "$cells" <<'EOF'
import sys
from acai_repro.config import cell_spec, load_config, with_run_settings
from acai_repro.train import train_cell

model, cells = sys.argv[1], sys.argv[2]
config = load_config("config/config.yaml")
dz = config["table1"].get("dz_by_model", {}).get(model, config["table1"]["dz"])
spec = with_run_settings(cell_spec(config, "lines", model, dz, 0), config)
spec["device"] = "cuda"
spec["training"].update(cuda_graphs="auto", checkpoint_minutes=1, progress_seconds=30, check_every=64)
train_cell(spec, f"{cells}/lines/{model}/dz{dz}/seed0")
EOF
}
export -f cell
export cells
step cell_lines_acai 100000 bash -c "cell acai"
step cell_lines_baseline 100000 bash -c "cell baseline"
for model in acai baseline; do
  for f in "$cells"/lines/"$model"/dz*/seed0/{metrics.json,evals.jsonl}; do
    [ -f "$f" ] && cp "$f" "$out/cell_lines_${model}_$(basename "$f")"
  done
done
echo "done after $SECONDS s" | tee -a "$out/session.txt"
