#!/usr/bin/env bash
# The CUDA backend checked on a machine with an NVIDIA GPU, its driver and CUDA's libraries
# (NVRTC, cuBLASLt, NCCL: the CUDA toolkit's or PyPI's nvidia-* wheels) and no Swift. It runs
# from the bundle (launch/bundle.sh puts it at recsys-dist/gpu-check), in the current folder:
#   1. the GPUs the driver lists (no driver: its one-line error, exit 1);
#   2. every backend operation on cuda against the CPU backend on random inputs (check-backend);
#   3. the quickstart for 200 steps on cuda next to cpu: per-window losses within 1e-4 relative
#      (fp32, TF32 off);
#   4. bench of DLRM "small" and of the MLPerf DLRM (embedding dimension 128, bottom 13-512-256-128,
#      top 1024-1024-512-256-1, 26 tables of MLPERF_ROWS rows, batch 65,536) in fp32, TF32 and
#      bf16, with the fraction of the GEMM peak the MLPs reach;
#   5. PyTorch's DLRM on the GPU side by side, where TORCH_DLRM names torch_dlrm.py and a PyTorch
#      with CUDA is installed;
#   6. compute-sanitizer's memcheck over a short run, where it is installed.
# Writes gpu-check/summary.json (and each step's output beside it); exit 1 when a check fails.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run="$here/run"
out=${GPU_CHECK_OUT:-gpu-check}
rows=${MLPERF_ROWS:-4000000}
mkdir -p "$out"
cd "$out"

if ! "$run" devices > devices.txt 2> devices.err; then
    tail -n 1 devices.err >&2
    exit 1
fi
cat devices.txt
command -v python3 >/dev/null || { echo "error: gpu-check needs python3 to compare and summarise" >&2; exit 1; }

status=0
step() { echo "== $*"; }

step "every backend operation on cuda against cpu"
"$run" check-backend --backend cuda --format json > check-backend.json 2> check-backend.log || status=1
tail -n 1 check-backend.log

step "quickstart, 200 steps, cpu and cuda"
for backend in cpu cuda; do
    "$run" train --config "$here/configs/quickstart.yaml" --overwrite --format json --set training.max_steps=200 \
        --set training.backend=$backend --set checkpoint.run_name=gpu-check-$backend > quickstart-$backend.json 2> quickstart-$backend.log \
        || { status=1; tail -n 3 quickstart-$backend.log; }
done

step "bench: DLRM small and the MLPerf DLRM in fp32, TF32 and bf16"
mlperf=(--config "$here/configs/dlrm-criteo-terabyte.yaml" --set model.embedding_dimension=128 --set "model.bottom_mlp=[512, 256, 128]"
        --set "model.top_mlp=[1024, 1024, 512, 256, 1]" --set model.table_rows=$rows --set training.backend=cuda --batch-size 65536)
for precision in fp32 tf32 bf16; do
    case $precision in
        tf32) small=(--model dlrm --backend cuda --tf32); large=("${mlperf[@]}" --set training.tf32=true) ;;
        *) small=(--model dlrm --backend cuda --precision $precision); large=("${mlperf[@]}" --precision $precision) ;;
    esac
    "$run" bench "${small[@]}" --format json > bench-small-$precision.json 2> bench-small-$precision.log || { status=1; tail -n 2 bench-small-$precision.log; }
    "$run" bench "${large[@]}" --steps 20 --format json > bench-mlperf-$precision.json 2> bench-mlperf-$precision.log \
        || { status=1; tail -n 2 bench-mlperf-$precision.log; }
done

if [ -n "${TORCH_DLRM:-}" ] && python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    step "PyTorch's DLRM on the GPU"
    python3 "$TORCH_DLRM" --device cuda > torch-small.txt 2>&1 || tail -n 2 torch-small.txt
    python3 "$TORCH_DLRM" --device cuda --config mlperf > torch-mlperf.txt 2>&1 || tail -n 2 torch-mlperf.txt
fi

if command -v compute-sanitizer >/dev/null; then
    step "compute-sanitizer memcheck, 5 steps"
    compute-sanitizer --tool memcheck --error-exitcode 1 "$here/bin/recsys-dist" train --config "$here/configs/quickstart.yaml" --overwrite \
        --set training.max_steps=5 --set training.backend=cuda --set checkpoint.run_name=gpu-check-memcheck > memcheck.txt 2>&1 || status=1
    tail -n 2 memcheck.txt
fi

python3 - "$status" <<'PY' || status=1
import glob, json, os, sys

def last_json(path):
    try:
        lines = [line for line in open(path) if line.strip()]
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None

summary = {"devices": open("devices.txt").read().strip().splitlines(), "failed": int(sys.argv[1]) != 0}
check = last_json("check-backend.json")
summary["check_backend"] = check and {"failed": check["failed"], "operations": len(check["operations"]),
                                      "differences": [o for o in check["operations"] if not o["passed"]]}
cpu, cuda = last_json("quickstart-cpu.json"), last_json("quickstart-cuda.json")
if cpu and cuda:
    window = 20
    means = [[sum(l[i:i + window]) / len(l[i:i + window]) for i in range(0, len(l), window)] for l in (cpu["losses"], cuda["losses"])]
    worst = max(abs(a - b) / abs(a) for a, b in zip(*means))
    summary["quickstart"] = {"steps": len(cpu["losses"]), "window": window, "worst_relative_difference": worst,
                             "within_1e-4": worst <= 1e-4, "auc_cpu": cpu.get("auc"), "auc_cuda": cuda.get("auc"),
                             "samples_per_second_cpu": cpu.get("samples_per_second"),
                             "samples_per_second_cuda": cuda.get("samples_per_second")}
    summary["failed"] |= worst > 1e-4
else:
    summary["quickstart"] = None
    summary["failed"] = True
summary["bench"] = {}
for path in sorted(glob.glob("bench-*.json")):
    result = last_json(path)
    if result:
        keys = ["samples_per_second", "gemm_peak_gflops", "fraction_of_ceiling", "precision", "mlp_gflops"]
        summary["bench"][os.path.basename(path)[:-5]] = {k: result[k] for k in keys if k in result}
summary["torch"] = {name: open(name).read().strip().splitlines()[-3:] for name in glob.glob("torch-*.txt")}
if os.path.exists("memcheck.txt"):
    summary["memcheck"] = open("memcheck.txt").read().strip().splitlines()[-2:]
json.dump(summary, open("summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
sys.exit(1 if summary["failed"] else 0)
PY
exit $status
