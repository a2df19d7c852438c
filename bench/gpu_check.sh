#!/usr/bin/env bash
# The GPU figures docs/training.md leaves pending, in one prepared run on a CUDA machine (a borrowed
# machine may come with minutes of it, all tries together, so everything goes in one call):
#
#     bench/gpu_check.sh ZIP OUT        # ZIP: digit-recognizer.zip; OUT: a folder for what it finds
#     bench/gpu_check.sh ZIP OUT best   # a second call: a GPU `best`, 15 members (Deotte's count) on the holdout
#
# 1. tests/test_cuda.py (train on the GPU, read on the CPU, an ensemble's checked submission) and the
#    device tests; 2. `default` trained on every row of train.csv, timed (python -m bench.train); 3. the
#    same recipe scored on the 10,000-row holdout (python -m bench.accuracy --device cuda); 4. `fast`,
#    timed; 5. predicting test.csv with step 2's model on the GPU and on the CPU, timed.
# Each step has its own time limit so one that hangs cannot take the others' minutes; together they
# fit one 10-minute device command (570 s; an H200 should need a fraction). Needs python3
# (or $PYTHON) with torch (CUDA), pandas, pyarrow, scikit-learn, typer, rich, matplotlib; not the kaggle client.
# DEVICE=cpu runs the same steps on the CPU, and BENCH_ARGS adds options to every bench's line (how the
# script itself is checked without a GPU: DEVICE=cpu BENCH_ARGS="--set epochs=1" bench/gpu_check.sh ...).
set -u -o pipefail
zip=${1:?usage: bench/gpu_check.sh ZIP OUT [best]}
out=${2:?usage: bench/gpu_check.sh ZIP OUT [best]}
only=${3:-all}
device=${DEVICE:-cuda}
py=${PYTHON:-python3}
read -r -a extra <<<"${BENCH_ARGS:-}"
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Five files come back at most (a device run returns 8): steps.txt (the machine, then each step's
# exit and seconds), log.txt (every step's output), train.jsonl, accuracy.jsonl and the holdout's probabilities.
step() {  # step NAME LIMIT_S COMMAND...: run with its output appended to OUT/log.txt, say how it ended
    local name=$1 limit=$2
    shift 2
    local started=$SECONDS
    echo "== $name: $*" >>"$out/log.txt"
    timeout "$limit" "$@" >>"$out/log.txt" 2>&1
    echo "$name: exit $? in $((SECONDS - started)) s" | tee -a "$out/steps.txt"
}

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
    "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available())"
    echo "cpus: $(nproc)"
} >>"$out/steps.txt" 2>&1

if [ "$only" = best ]; then  # its own 10-minute command: the members, their overlap, the average
    step best 540 "$py" -m bench.accuracy --zip "$zip" --preset best --seed 40 --set members=15 --device "$device" \
        --label "best15-$device-s40" --output "$out/accuracy.jsonl" --probs-dir "$out" "${extra[@]}"
    exit 0
fi
step tests 120 env KAGGLE_JOB_TEST_DEVICE="$device" "$py" -m pytest -q -p no:cacheprovider \
    tests/test_cuda.py tests/test_devices.py
step default 150 "$py" -m bench.train --zip "$zip" --preset default --device "$device" \
    --checkpoint "$work/default.pt" --output "$out/train.jsonl" "${extra[@]}"
step holdout 150 "$py" -m bench.accuracy --zip "$zip" --preset default --seed 24 --device "$device" \
    --label "default-$device-s24" --output "$out/accuracy.jsonl" --probs-dir "$out" "${extra[@]}"
step fast 60 "$py" -m bench.train --zip "$zip" --preset fast --device "$device" --output "$out/train.jsonl" \
    "${extra[@]}"
"$py" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('test.csv', sys.argv[2])" "$zip" "$work"
for where in "$device" cpu; do
    step "predict-$where" 45 "$py" -m jobs predict --checkpoint "$work/default.pt" -i "$work/test.csv" \
        -o "$work/submission-$where.csv" --device "$where" --log-format json
done
cmp -s "$work/submission-$device.csv" "$work/submission-cpu.csv"
echo "submissions from $device and cpu identical: $([ $? = 0 ] && echo yes || echo no)" | tee -a "$out/steps.txt"
