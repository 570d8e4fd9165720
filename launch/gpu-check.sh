#!/usr/bin/env bash
# The CUDA backend checked on a machine with an NVIDIA GPU, its driver and CUDA's libraries
# (NVRTC, cuBLASLt, NCCL: the CUDA toolkit's or PyPI's nvidia-* wheels) and no Swift. It runs
# from the bundle (launch/bundle.sh puts it at recsys-dist/gpu-check), in the current folder:
#   1. the GPUs the driver lists (no driver: its one-line error, exit 1);
#   2. every backend operation on cuda against the CPU backend on random inputs (check-backend);
#   3. the quickstart for 200 steps on cuda next to cpu, with fp32 tables and with bf16 tables: the
#      losses of its 10-step windows within 1e-4 relative (fp32 products, TF32 off);
#   4. bench of DLRM "small" and of the MLPerf DLRM (embedding dimension 128, bottom 13-512-256-128,
#      top 1024-1024-512-256-1, 26 tables of MLPERF_ROWS rows, batch 65,536) in fp32, TF32 and
#      bf16, with the fraction of the GEMM peak the MLPs reach;
#   5. PyTorch's DLRM on the GPU side by side, where TORCH_DLRM names torch_dlrm.py and a PyTorch
#      with CUDA is installed;
#   6. compute-sanitizer's memcheck over a short run, where it is installed.
# Writes gpu-check/summary.json (and each step's output beside it); exit 1 when a check fails.
# Its sizes can be made smaller (the tests run it on the emulated device): GPU_CHECK_STEPS (200),
# GPU_CHECK_SAMPLES (the quickstart's training samples), GPU_CHECK_BENCH_STEPS (50), MLPERF_ROWS
# (4,000,000), MLPERF_BATCH (65,536); GPU_CHECK_RUN and GPU_CHECK_CONFIGS name the binary and
# the configs outside a bundle.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run=${GPU_CHECK_RUN:-$here/run}
configs=${GPU_CHECK_CONFIGS:-$here/configs}
out=${GPU_CHECK_OUT:-gpu-check}
steps=${GPU_CHECK_STEPS:-200}
bench_steps=${GPU_CHECK_BENCH_STEPS:-50}
rows=${MLPERF_ROWS:-4000000}
batch=${MLPERF_BATCH:-65536}
quickstart=(--config "$configs/quickstart.yaml" --overwrite --format json --set training.max_steps=$steps --set training.log_every=10)
[ -n "${GPU_CHECK_SAMPLES:-}" ] && quickstart+=(--set data.synthetic.train_samples=$GPU_CHECK_SAMPLES --set data.synthetic.eval_samples=$GPU_CHECK_SAMPLES)
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
echo "$(grep -c '^ok' check-backend.log) operations match"
grep -v '^ok' check-backend.log

step "quickstart, $steps steps, cpu and cuda, with fp32 and with bf16 tables"
for tables in fp32 bf16; do
    for backend in cpu cuda; do
        name=quickstart-$backend$([ $tables = bf16 ] && echo -bf16-tables || true)
        "$run" train "${quickstart[@]}" --set training.backend=$backend --set model.table_precision=$tables \
            --set checkpoint.run_name=gpu-check-$backend-$tables > $name.json 2> $name.log || { status=1; tail -n 3 $name.log; }
    done
done

step "bench: DLRM small and the MLPerf DLRM in fp32, TF32 and bf16"
mlperf=(--config "$configs/dlrm-criteo-terabyte.yaml" --set model.embedding_dimension=128 --set "model.bottom_mlp=[512, 256, 128]"
        --set "model.top_mlp=[1024, 1024, 512, 256, 1]" --set model.table_rows=$rows --set training.backend=cuda --batch-size $batch)
for precision in fp32 tf32 bf16; do
    case $precision in
        tf32) small=(--model dlrm --backend cuda --tf32); large=("${mlperf[@]}" --set training.tf32=true) ;;
        *) small=(--model dlrm --backend cuda --precision $precision); large=("${mlperf[@]}" --precision $precision) ;;
    esac
    "$run" bench "${small[@]}" --steps $bench_steps --warmup 2 --format json > bench-small-$precision.json 2> bench-small-$precision.log \
        || { status=1; tail -n 2 bench-small-$precision.log; }
    "$run" bench "${large[@]}" --steps $bench_steps --warmup 2 --format json > bench-mlperf-$precision.json 2> bench-mlperf-$precision.log \
        || { status=1; tail -n 2 bench-mlperf-$precision.log; }
done

if [ -n "${TORCH_DLRM:-}" ] && python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    step "PyTorch's DLRM on the GPU"
    python3 "$TORCH_DLRM" --device cuda > torch-small.txt 2>&1 || tail -n 2 torch-small.txt
    python3 "$TORCH_DLRM" --device cuda --config mlperf > torch-mlperf.txt 2>&1 || tail -n 2 torch-mlperf.txt
fi

if command -v compute-sanitizer >/dev/null; then
    step "compute-sanitizer memcheck, 5 steps"
    compute-sanitizer --tool memcheck --error-exitcode 1 "$here/bin/recsys-dist" train --config "$configs/quickstart.yaml" --overwrite \
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
# The quickstart on cpu and cuda, with fp32 tables and with bf16 tables (the device draws the
# CPU's stochastic rounding, so the two train alike too).
for key, suffix in [("quickstart", ""), ("quickstart_bf16_tables", "-bf16-tables")]:
    cpu, cuda = last_json(f"quickstart-cpu{suffix}.json"), last_json(f"quickstart-cuda{suffix}.json")
    if cpu and cuda and cpu["losses"] and len(cpu["losses"]) == len(cuda["losses"]):
        # The mean training loss of every 10-step window (training.log_every).
        worst = max(abs(a - b) / abs(a) for a, b in zip(cpu["losses"], cuda["losses"]))
        summary[key] = {"steps": cpu["steps"], "windows": len(cpu["losses"]), "worst_relative_difference": worst,
                        "within_1e-4": worst <= 1e-4, "auc_cpu": cpu.get("auc"), "auc_cuda": cuda.get("auc"),
                        "samples_per_second_cpu": cpu.get("samples_per_second"),
                        "samples_per_second_cuda": cuda.get("samples_per_second")}
        summary["failed"] |= worst > 1e-4
    else:
        summary[key] = None
        summary["failed"] = True
# Dense peaks from NVIDIA's data sheets (TFLOP/s: fp32 on CUDA cores, TF32 and bf16 on tensor cores).
peaks = {"H200": (67, 495, 989), "H100": (67, 495, 989), "A100": (19.5, 156, 312), "L40S": (91.6, 183, 362)}
device = " ".join(summary["devices"])
peak = next((value for name, value in peaks.items() if name in device), None)
summary["bench"] = {}
for path in sorted(glob.glob("bench-*.json")):
    result = last_json(path)
    if not result:
        summary["failed"] = True
        continue
    kind = "tf32" if result.get("tf32") else result["precision"]
    entry = {k: result[k] for k in ["samples_per_second", "global_batch_size", "gemm_peak_gflops", "fraction_of_ceiling"]}
    entry["mlp_tflops"] = result["mlp_flops_per_sample"] * result["samples_per_second"] / 1e12
    if peak:
        entry["fraction_of_data_sheet_peak"] = entry["mlp_tflops"] / peak[["fp32", "tf32", "bf16"].index(kind)]
    summary["bench"][os.path.basename(path)[:-5]] = entry
summary["torch"] = {name: open(name).read().strip().splitlines()[-3:] for name in glob.glob("torch-*.txt")}
if os.path.exists("memcheck.txt"):
    summary["memcheck"] = open("memcheck.txt").read().strip().splitlines()[-2:]
json.dump(summary, open("summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
sys.exit(1 if summary["failed"] else 0)
PY
exit $status
