#!/usr/bin/env bash
# The checks that need a GPU, in one run (sized for a ~10-minute lease on one H100/H200):
# the CUDA tests, library-vs-reference training steps on the device, and the dense
# batched K-Means (1,000 restarts) beside scikit-learn on that machine's CPU cores.
#   bash benchmarks/gpu_session.sh [MNIST_FOLDER] [OUT_FOLDER]
# Outputs land in OUT_FOLDER (default: benchmarks/results); their tables are in
# benchmarks/README.md with the card they were measured on.
set -u -o pipefail
mnist=${1:-../shared/data/mnist}
out=${2:-benchmarks/results}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c "import torch, numba, numpy, sklearn; print('torch', torch.__version__, 'numba', numba.__version__,
  'numpy', numpy.__version__, 'sklearn', sklearn.__version__, torch.cuda.get_device_name())" | tee -a "$out/gpu.txt"
timeout 240 python3 -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py 2>&1 | tee "$out/pytest_cuda.txt"
timeout 150 python3 benchmarks/train_step.py --device cuda --steps 30 --repeats 3 2>&1 | tee "$out/train_step_cuda.txt"
timeout 300 python3 benchmarks/kmeans.py --device cuda --restarts 1000 --no-same-starts --mnist "$mnist" 2>&1 |
  tee "$out/kmeans_cuda.txt"
