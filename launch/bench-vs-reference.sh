#!/usr/bin/env bash
# `bench` against the PyTorch reference (`torch_dlrm.py` of the shared benchmarks), interleaved in
# the same minutes, as the README's speed figures are measured: each round runs this build, then
# (with --baseline BIN) another build of recsys-dist, then PyTorch, alternating the order every
# round; prints every round's samples/s with this build's ratio to each in that round, then the
# medians, with the ratio of the medians and the median of the rounds' ratios.
#   launch/bench-vs-reference.sh --model dlrm --precision bf16 [--threads 2] [--rounds 3] [--baseline /tmp/base/recsys-dist]
# PyTorch comes from $TORCH_PYTHON (default /tmp/torch-venv/bin/python; make it with
# `python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install numpy scikit-learn torch`) and
# the reference from $REFERENCE_BENCH (default ../shared/bench/torch_dlrm.py beside the repository).
set -euo pipefail
repository=$(cd "$(dirname "$0")/.." && pwd)
binary=${RECSYS_DIST_BIN:-$repository/.build/release/recsys-dist}
python=${TORCH_PYTHON:-/tmp/torch-venv/bin/python}
reference=${REFERENCE_BENCH:-$repository/../shared/bench/torch_dlrm.py}
model=dlrm precision=fp32 threads=1 rounds=3 baseline=
while [ $# -gt 0 ]; do
    case $1 in
        --model) model=$2; shift 2 ;;
        --precision) precision=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --baseline) baseline=$2; shift 2 ;;
        *) echo "$0: unknown option $1 (--model, --precision, --threads, --rounds, --baseline)" >&2; exit 2 ;;
    esac
done
case $model in
    dlrm|dcnv2|deepfm) torch_model=$model ;;
    wide-deep) torch_model=widedeep ;;
    *) echo "$0: --model must be dlrm, wide-deep, dcnv2 or deepfm (the models the reference has), not $model" >&2; exit 2 ;;
esac
case $precision in
    fp32) torch_precision=() ;;
    bf16) torch_precision=(--bf16) ;;
    *) echo "$0: --precision must be fp32 or bf16, not $precision" >&2; exit 2 ;;
esac
[ -x "$binary" ] || { echo "$0: no binary at $binary (swift build -c release)" >&2; exit 1; }
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "$0: --baseline $baseline is not an executable" >&2; exit 1; }
[ -x "$python" ] || { echo "$0: no python at $python (set TORCH_PYTHON to a python with torch)" >&2; exit 1; }
[ -f "$reference" ] || { echo "$0: no reference at $reference (set REFERENCE_BENCH)" >&2; exit 1; }

# The samples/s of the JSON line a command ends with (recsys-dist's or the reference's key).
samples_per_second() {
    "$@" | tail -1 | python3 -c 'import json, sys; r = json.load(sys.stdin); print(int(r.get("samples_per_second") or r["samples_per_sec"]))'
}
run() {
    case $1 in
        this) samples_per_second "$binary" bench --model "$model" --precision "$precision" --threads "$threads" --format json 2>/dev/null ;;
        baseline) samples_per_second "$baseline" bench --model "$model" --precision "$precision" --threads "$threads" --format json 2>/dev/null ;;
        pytorch) samples_per_second env OMP_NUM_THREADS="$threads" "$python" "$reference" --model "$torch_model" "${torch_precision[@]}" \
                     --threads "$threads" 2>/dev/null ;;
    esac
}
if [ "$precision" = bf16 ] && ! "$binary" bench --model "$model" --precision bf16 --steps 1 --warmup 0 --format json 2>/dev/null \
        | tail -1 | grep -q '"precision" *: *"bf16"'; then
    echo "warning: this CPU has no bf16 instructions: recsys-dist times fp32 products against PyTorch's bf16 autocast" >&2
fi

runs=(this)
[ -z "$baseline" ] || runs+=(baseline)
runs+=(pytorch)
declare -A figures ratios current
echo "$model, $precision, $threads thread(s), $rounds rounds (samples/s)"
for ((round = 1; round <= rounds; round++)); do
    order=("${runs[@]}")
    if ((round % 2 == 0)); then order=($(printf '%s\n' "${runs[@]}" | tac)); fi
    line="round $round:"
    for name in "${order[@]}"; do
        value=$(run "$name")
        figures[$name]+="$value "
        current[$name]=$value
        line+="  $name $value"
    done
    # This build against each other in the same round: the machine's drift between rounds cancels.
    for name in "${runs[@]:1}"; do
        ratio=$(python3 -c "print(f'{${current[this]} / ${current[$name]}:.2f}')")
        ratios[$name]+="$ratio "
        line+="  (${ratio}x $name)"
    done
    echo "$line"
done
median() { printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
this=$(median "${figures[this]}")
summary="medians: this $this"
for name in "${runs[@]:1}"; do
    other=$(median "${figures[$name]}")
    summary+=", $name $other ($(python3 -c "print(f'{$this / $other:.2f}')")x; median of the rounds' ratios $(median "${ratios[$name]}")x)"
done
echo "$summary"
