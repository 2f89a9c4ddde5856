#!/usr/bin/env bash
# The main job (chapter 12's README walks through it): on the shipped data/tinyshakespeare.txt and
# nothing else,
#   1. prepare: split the text 90/10 at a line break, train a 1,024-token BPE on the training part,
#      and write the token files;
#   2. train a small GPT-2 (4 layers, 4 heads, 128 channels, context 128) for MAIN_JOB_MINUTES
#      minutes (default 5) of training time, on chapter 08's fast kernels;
#   3. report the validation loss in nats per token, nats per character and bits per byte;
#   4. save the model (runs/main/train/model), the metrics and the loss curve
#      (runs/main/train/loss.svg), and print a sample.
# Everything goes to runs/main/ (MAIN_JOB_OUT), which git ignores. Run from anywhere, after the build:
#   ./scripts/run_main_job.sh                      # builds, then runs this
#   MAIN_JOB_MINUTES=1 bash scripts/main_job.sh     # a quicker (worse) run
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
gpt2="${GPT2_BIN:-$root/build/bin/gpt2}"
out="${MAIN_JOB_OUT:-runs/main}"
minutes="${MAIN_JOB_MINUTES:-5}"
if [ ! -x "$gpt2" ]; then
  echo "error: $gpt2 does not exist; build first (./scripts/run_main_job.sh builds and runs this)" >&2
  exit 1
fi
if ! seconds=$(awk -v m="$minutes" 'BEGIN { if (m + 0 > 0) printf "%.0f", m * 60; else exit 1 }'); then
  echo "error: MAIN_JOB_MINUTES must be a positive number of minutes, got '$minutes'" >&2
  exit 1
fi
[ "$seconds" -ge 1 ] || seconds=1

# The model and its training: chosen by short experiments on this 2-core machine (see the README).
vocab=1024
model=(--n-layer 4 --n-head 4 --n-embd 128 --context 128)
optim=(--batch-size 16 --lr 3e-3 --min-lr 3e-4 --warmup 50 --weight-decay 0.1 --grad-clip 1.0)
evals=(--eval-interval 200 --eval-steps 10 --checkpoint-interval 500)

rm -rf "$out"
mkdir -p "$out"
echo "== 1/4 prepare: data/tinyshakespeare.txt -> $out/data (BPE of $vocab tokens, 10% validation)"
"$gpt2" prepare --input data/tinyshakespeare.txt --vocab-size "$vocab" --val-fraction 0.1 --out "$out/data"

echo
echo "== 2/4 train: ${model[*]} ${optim[*]} for $minutes minute(s)"
start=$(date +%s)
"$gpt2" train --data "$out/data" --out "$out/train" "${model[@]}" "${optim[@]}" "${evals[@]}" \
  --time-budget "$seconds" --json >"$out/train_summary.json"
train_wall=$(($(date +%s) - start))

echo
echo "== 3/4 validation loss of the saved model on $out/data/val.txt"
# Disjoint windows of the 128-token context (every token predicted from 0 to 127 tokens before it,
# as in training), then the default sliding window (stride 64: at least 65 tokens of context).
"$gpt2" eval --model "$out/train/model" --input "$out/data/val.txt" --stride 128 --json >"$out/eval.json"
"$gpt2" eval --model "$out/train/model" --input "$out/data/val.txt" --json >"$out/eval_sliding.json"

field() { # field NAME FILE: a number from our one-line JSON
  sed -n "s/.*\"$1\":\([-0-9.eE+]*\).*/\1/p" "$2"
}
loss=$(field loss "$out/eval.json")
npc=$(field nats_per_char "$out/eval.json")
bpb=$(field bits_per_byte "$out/eval.json")
loss_s=$(field loss "$out/eval_sliding.json")
npc_s=$(field nats_per_char "$out/eval_sliding.json")
bpb_s=$(field bits_per_byte "$out/eval_sliding.json")
train_s=$(field training_seconds "$out/train_summary.json")
steps=$(field completed_steps "$out/train_summary.json")
for v in "$loss" "$npc" "$bpb" "$loss_s" "$npc_s" "$bpb_s" "$train_s" "$steps"; do
  if [ -z "$v" ]; then
    echo "error: could not read the results from $out/eval.json, $out/eval_sliding.json, $out/train_summary.json" >&2
    exit 1
  fi
done

echo
echo "== 4/4 a sample (temperature 0.8, top-k 50, seed 1337)"
"$gpt2" generate --model "$out/train/model" --prompt "ROMEO:" --max-new-tokens 200 --temperature 0.8 \
  --top-k 50 --seed 1337 | tee "$out/sample.txt"

{
  printf "| | value |\n|---|---|\n"
  printf "| training time | %.0f s (%s steps, budget %s s; the train command took %s s) |\n" \
    "$train_s" "$steps" "$seconds" "$train_wall"
  printf "| validation loss, disjoint 128-token windows | %.4f nats/token, **%.4f nats/char, %.4f bits/byte** |\n" \
    "$loss" "$npc" "$bpb"
  printf "| validation loss, sliding window (stride 64) | %.4f nats/token, %.4f nats/char, %.4f bits/byte |\n" \
    "$loss_s" "$npc_s" "$bpb_s"
} >"$out/results.md"

echo
echo "== results (also in $out/results.md)"
cat "$out/results.md"
echo
echo "model:        $out/train/model   (gpt2 generate --model $out/train/model --prompt ...)"
echo "metrics:      $out/train/metrics.csv"
echo "loss curve:   $out/train/loss.svg"
target=1.60
if awk -v x="$npc" -v t="$target" 'BEGIN { exit !(x <= t) }'; then
  echo "target:       $npc nats/char <= $target: reached"
else
  echo "target:       $npc nats/char > $target: not reached (a busy machine trains fewer steps in the budget)"
fi
