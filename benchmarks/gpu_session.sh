#!/usr/bin/env bash
# The GPU session: one device call of at most BUDGET seconds (default 540; a call may run 600),
# in four stages, each under its own time limit; one stage's failure never stops the next.
#   0. proof (T0, default 90 s): benchmarks/cuda_proof.py asserts the CUDA graph capture of one
#      exact cell, one fast cell and one fused group and prints how many graphs dynamo compiled;
#      `python -m acai_repro.fusion_check` compares fused with solo training on CUDA (ACAI,
#      VQ-VAE, 5 steps). Any failure (a missing module too): the rest runs on the exact path only.
#   1. rates (T1, default 150 s): benchmarks/pack.py, per proven path (fused, exact, fast; fused
#      and exact capped at T1_FUSED/T1_EXACT, fast gets the rest): one ACAI cell (fused: a group
#      of 3) and the 18-cell pack, FLOP/s against the card's FP32 peak.
#   2. science: gpu-quick Table 1 (3 seeds, 2^20 images) on the proven path with the highest
#      18-cell rate (benchmarks/science_check.py path), then one line per model against the
#      committed exact records (science_check.py compare).
#   3. protocol: config/protocol-seed0.yaml with whatever is left: its ACAI cell alone
#      (GS_PROTOCOL=table: the whole seed-0 Table 1), on the fast path when proven, else exact
#      (results/protocol-seed0-exact); its evaluation histories however far it got.
# Out folder ($1, default $OUT, else benchmarks/results/gpu-session): session.log (written as it
# goes) and gs.tgz, every raw output, rewritten after each stage: a call stopped at its limit
# still returns all up to its last finished stage. Two files, no folder (a call returns 8).
# The raw outputs live in GS_WORK/gs (default /tmp/gpu_session/gs, emptied first).
#
# A stage gets min(its limit, time left - GS_RESERVE); under GS_MIN_STAGE seconds it is skipped.
# A command is sent SIGTERM at its limit - GS_GRACE (a pack saves its state), SIGKILL GS_GRACE
# later. STAGES="2 3" GS_ALLOWED="fused fast exact" reruns stages without stage 0, trusting the
# paths it names (default exact). Overrides for the CPU rehearsal (tests/test_gpu_session.py),
# the same script: GS_DEVICE, GS_PROOF_CMD, GS_FUSION_CMD, GS_PACK_CMD, GS_SNAKEMAKE,
# GS_RESULTS (a folder for the tables' results roots), GS_CONFIG_EXTRA (config files after each
# table's own: tiny sizes).
# Usage: docs/gpu.md, "Running the GPU session".
set -u -o pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}
dev=${GS_DEVICE:-cuda}
budget=${BUDGET:-540}
stages=" ${STAGES:-0 1 2 3} "
grace=${GS_GRACE:-15} reserve=${GS_RESERVE:-15} min_stage=${GS_MIN_STAGE:-20}
out=${1:-${OUT:-benchmarks/results/gpu-session}}
work=${GS_WORK:-/tmp/gpu_session}/gs
log=$out/session.log
read -r -a proof_cmd <<<"${GS_PROOF_CMD:-$py benchmarks/cuda_proof.py --device $dev}"
read -r -a fusion_cmd <<<"${GS_FUSION_CMD:-$py -m acai_repro.fusion_check --device $dev --models acai vqvae --steps 5}"
read -r -a pack_cmd <<<"${GS_PACK_CMD:-$py benchmarks/pack.py --device $dev --no-solo --warmup 10 --rounds 50 --repeats 3 --profile-rounds 3}"
# --nolock: a Snakemake killed at its limit leaves its lock behind; --rerun-incomplete: its
# unfinished jobs rerun (their cells resume from train_state.pt)
read -r -a snakemake_cmd <<<"${GS_SNAKEMAKE:-$py -m snakemake --cores all --nolock --rerun-incomplete}"
extra=(${GS_CONFIG_EXTRA:-})
rm -rf "$work" && mkdir -p "$work" "$out" && : >"$log"

left() { echo $((budget - SECONDS)); }
say() { echo "[$(printf %3d $SECONDS) s] $*" | tee -a "$log"; }
min() { if (($1 < $2)); then echo "$1"; else echo "$2"; fi; }
# run_step NAME LIMIT CMD...: CMD with LIMIT seconds of wall time at most, its output in
# $work/NAME.txt and its last lines in the log; returns its exit status (124: timed out).
run_step() {
  local name=$1 limit=$2 t rc start=$SECONDS
  shift 2
  t=$((limit - grace))
  if ((t < 1)); then
    say "   $name: skipped, ${limit} s left"
    return 125
  fi
  say "-- $name (limit ${limit} s: SIGTERM at ${t} s): $*"
  { echo "\$ $*"; timeout --signal=TERM --kill-after="$grace" "$t" "$@"; } >"$work/$name.txt" 2>&1
  rc=$?
  tail -n "${GS_TAIL:-8}" "$work/$name.txt" | sed 's/^/   | /' | tee -a "$log"
  say "   $name: exit status $rc$( ((rc == 124 || rc == 137)) && echo ' (timed out)') after $((SECONDS - start)) s"
  return $rc
}
# begin_stage N WANT: sets stage_end (WANT seconds, or what is left); false when too little is left.
begin_stage() {
  local limit
  limit=$(min "$2" $(($(left) - reserve)))
  if [[ "$stages" != *" $1 "* ]]; then
    say "== stage $1: not asked for (STAGES=${STAGES:-})"
    return 1
  elif ((limit < min_stage)); then
    say "== stage $1: skipped, ${limit} s left of the budget"
    return 1
  fi
  stage_end=$((SECONDS + limit)) stage_start=$SECONDS
  say "== stage $1 (limit ${limit} s)"
}
stage_left() { echo $((stage_end - SECONDS)); }
# end_stage N: the log line and the archive rewritten.
end_stage() {
  say "== stage $1 ended after $((SECONDS - stage_start)) s"
  archive "$1"
}
# archive N: every raw output (files over GS_MAX_FILE_KB left out and named, the log never)
# into $out/gs.tgz, written beside it and renamed, so the archive is always a whole one.
archive() {
  local max=${GS_MAX_FILE_KB:-4096} big size
  cp "$log" "$work/session.log"
  big=$(cd "$work/.." && find gs -type f -size +"$max"k ! -path gs/session.log | tr '\n' ' ')
  (cd "$work/.." && find gs -type f \( ! -size +"$max"k -o -path gs/session.log \) -print0 |
    tar czf "$out/gs.tgz.part" --null -T -) &&
    mv -f "$out/gs.tgz.part" "$out/gs.tgz"
  size=$(($(stat -c %s "$out/gs.tgz") / 1024))
  say "   archive after stage $1: $out/gs.tgz, $(find "$work" -type f | wc -l) files, $size KiB${big:+; left out (over $max KiB): $big}"
  ((size < 16384)) || say "   ERROR: the archive is over 16 MiB: it will not come back"
}
# results_dir CONFIG...: the results root the workflow would use (later files win).
results_dir() {
  $py -c 'import sys, yaml; d = {}
for f in sys.argv[1:]: d.update(yaml.safe_load(open(f)) or {})
print(d["results_dir"])' config/config.yaml "$@"
}
# table_configs CONFIG SUFFIX YAML: sets configs: CONFIG, then (when SUFFIX, YAML or GS_RESULTS
# says so) an overlay in $work with YAML and the results root moved to <root>SUFFIX (under
# GS_RESULTS when set), then GS_CONFIG_EXTRA.
table_configs() {
  local config=$1 suffix=$2 yaml=${3:-} root overlay
  configs=("$config")
  if [ -n "$suffix$yaml${GS_RESULTS:-}" ]; then
    root=$(results_dir "$config")$suffix
    overlay=$work/$(basename "$root").yaml
    [ -n "${GS_RESULTS:-}" ] && root=$GS_RESULTS/$(basename "$root")
    printf 'results_dir: %s\n%s\n' "$root" "$yaml" >"$overlay"
    configs+=("$overlay")
  fi
  configs+=("${extra[@]}")
}
# records ROOT NAME: the table, every cell's evals.jsonl, metrics.json and spec.json (flat), the
# training logs and Snakemake benchmarks, into $work/NAME: however far training got.
records() {
  local root=$1 dest=$work/$2 f
  mkdir -p "$dest"
  cp "$root"/table1.{tex,csv} "$dest/" 2>/dev/null
  for f in "$root"/lines/*/dz*/seed*/{evals.jsonl,metrics.json,spec.json}; do
    [ -f "$f" ] && cp "$f" "$dest/$(echo "${f#"$root"/lines/}" | tr / _)"
  done
  cp -r "$root/logs" "$root/benchmarks" "$dest/" 2>/dev/null
  say "   records of $root: $(find "$dest" -name '*evals.jsonl' | wc -l) evaluation histories"
}
# install_missing: of the packages benchmarks/gpu_wheels.sh carried, those the device lacks
# (pip --prefix keeps every requirement the device already satisfies, torch above all).
install_missing() {
  local wheels=${GS_WHEELS:-.gpu_wheels} prefix missing=() wanted req site
  prefix=$(dirname "$work")/site
  [ -d "$wheels" ] || { say "no $wheels: nothing installed"; return 0; }
  # a folder from before requirements.txt was written: the same three packages, unpinned
  wanted=$(cat "$wheels/requirements.txt" 2>/dev/null || echo snakemake jsonschema pooch)
  for req in $wanted; do
    $py -c "import ${req%%==*}" 2>/dev/null || missing+=("$req")
  done
  if ((${#missing[@]} == 0)); then
    say "carried wheels not needed: the device has" $wanted
    return 0
  fi
  $py -m pip install -q --no-index --find-links "$wheels" --prefix "$prefix" "${missing[@]}" 2>&1 | tail -3 | tee -a "$log"
  site=$(find "$prefix" -type d -name site-packages | head -1)
  export PYTHONPATH="$PYTHONPATH:$site" PATH="$prefix/bin:$PATH"
  say "installed from the carried wheels: ${missing[*]}; into $site: $(ls "$site" 2>/dev/null | grep -v -e dist-info -e __pycache__ | tr '\n' ' ')"
}

{
  date -u +"%Y-%m-%dT%H:%M:%SZ"
  # The device copy's .git may lag the working tree it carries: MEASURED_COMMIT names the
  # commit the working tree was (set it from the sending checkout's `git rev-parse HEAD`).
  echo "commit ${MEASURED_COMMIT:-$(git rev-parse HEAD 2>/dev/null)} (device copy's git: $(git rev-parse --short HEAD 2>/dev/null), $(git status --porcelain 2>/dev/null | wc -l) changed files)"
  echo "card: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -1)"
  $py -c "import platform, torch; print('python', platform.python_version(), '| torch', torch.__version__, '| CUDA', torch.version.cuda, '| cuDNN', torch.backends.cudnn.version(), '| device', torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA')" 2>&1
  echo "command: BUDGET=$budget STAGES='${STAGES:-0 1 2 3}' GS_DEVICE=$dev bash benchmarks/gpu_session.sh $*"
} 2>&1 | tee -a "$log"
install_missing

# ---- stage 0: the proof ---------------------------------------------------------------
allowed=${GS_ALLOWED:-exact}
if begin_stage 0 "${T0:-90}"; then
  run_step stage0_proof $(($(stage_left) - ${T0_FUSION:-30})) "${proof_cmd[@]}"
  proof=$?
  run_step stage0_fusion "$(stage_left)" "${fusion_cmd[@]}"
  fusion=$?
  if ((proof == 0 && fusion == 0)); then
    allowed="fused fast exact"
    say "stage 0 passed: every path proven"
  else
    allowed=exact
    say "stage 0 FAILED (proof exit $proof, fusion check exit $fusion): the rest runs on the exact path only"
  fi
  end_stage 0
else
  say "paths trusted without a proof in this run: $allowed"
fi

# ---- stage 1: rates ---------------------------------------------------------------------
if begin_stage 1 "${T1:-150}"; then
  for path in fused exact fast; do
    [[ " $allowed " == *" $path "* ]] || continue
    case $path in
      fused) limit=$(min "${T1_FUSED:-45}" "$(stage_left)") sizes="3 18" ;;
      exact) limit=$(min "${T1_EXACT:-45}" "$(stage_left)") sizes="1 18" ;;
      fast) limit=$(stage_left) sizes="1 18" ;;
    esac
    run_step "stage1_pack_$path" "$limit" "${pack_cmd[@]}" --paths "$path" --sizes $sizes
  done
  end_stage 1
fi

# ---- stage 2: the science check ---------------------------------------------------------
if begin_stage 2 "$(left)"; then
  packs=()
  for path in $allowed; do packs+=("$path=$work/stage1_pack_$path.txt"); done
  science=$($py benchmarks/science_check.py path --allowed $allowed --pack "${packs[@]}" 2>"$work/stage2_path.txt")
  case $science in fused) config=config/gpu-quick-fused.yaml ;; fast) config=config/gpu-quick-fast.yaml ;; *) config=config/gpu-quick.yaml ;; esac
  say "science check on the $science path: $config ($(cat "$work/stage2_path.txt"))"
  table_configs "$config" ""
  root=$(results_dir "${configs[@]}")
  run_step stage2_science $(($(stage_left) - 5)) "${snakemake_cmd[@]}" --configfile "${configs[@]}" -- "$root/table1.tex"
  records "$root" science
  if [ -f "$root/table1.csv" ]; then
    $py benchmarks/science_check.py compare "$root/table1.csv" >"$work/stage2_compare.txt" 2>&1
    say "science check (exit $?):"
    sed 's/^/   /' "$work/stage2_compare.txt" | tee -a "$log"
  else
    say "science check: no table1.csv in $root (training not finished; STAGES=\"2 3\" GS_ALLOWED=$science on the same machine resumes it)"
  fi
  end_stage 2
fi

# ---- stage 3: the protocol scale --------------------------------------------------------
if begin_stage 3 "$(left)"; then
  if [[ " $allowed " == *" fast "* ]]; then
    table_configs config/protocol-seed0.yaml ""
  else # that config is on the fast path, which is not proven: the exact path, in its own folder
    table_configs config/protocol-seed0.yaml -exact "training: {fast_path: false}"
  fi
  root=$(results_dir "${configs[@]}")
  target=$root/lines/acai/dz64/seed0/metrics.json # Table 1's ACAI cell (dz 64)
  [ "${GS_PROTOCOL:-acai}" = table ] && target=$root/table1.tex
  run_step stage3_protocol $(($(stage_left) - 3)) "${snakemake_cmd[@]}" --configfile "${configs[@]}" -- "$target"
  records "$root" protocol
  end_stage 3
fi

say "done after $SECONDS s"
archive end
