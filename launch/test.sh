#!/usr/bin/env bash
# Install what is missing, build, and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install-dependencies.sh
# The TensorBoard test reads the event files with the real tensorboard package, the export tests
# score exported models with onnxruntime, the retrieval export's item vectors are read with h5py (from PyPI).
if ! .venv-test/bin/python -c "import tensorboard, onnxruntime, numpy, h5py" 2>/dev/null; then
    python3 -m venv .venv-test
    .venv-test/bin/pip install --quiet tensorboard onnxruntime numpy h5py
fi
# The CUDA test compiles the kernels with NVRTC, which runs without a GPU (from PyPI).
if ! ls .venv-test/lib/python3*/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so.* >/dev/null 2>&1; then
    .venv-test/bin/pip install --quiet nvidia-cuda-nvrtc-cu12 || echo "warning: nvidia-cuda-nvrtc-cu12 not installed: the NVRTC test will skip"
fi
swift build --build-tests
swift test "$@"
