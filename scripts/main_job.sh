#!/usr/bin/env bash
# The main job (chapter 12's README walks through it): on the shipped data/tinyshakespeare.txt and
# nothing else,
#   1. prepare: split the text 90/10 at a line break, train a BPE on the training part, and write
#      the token files;
#   2. train a small GPT-2 for a fixed number of steps (4 to 8 minutes on two idle cores,
#      depending on the CPU: chapter 12), on chapter 08's fast kernels;
#   3. report the validation loss in nats per token, nats per character and bits per byte;
#   4. save the model (runs/main/train/model), the metrics and the loss curve
#      (runs/main/train/loss.svg), and print a sample.
# Everything goes to runs/main/ (MAIN_JOB_OUT), which git ignores. Run from anywhere, after the build:
#   ./scripts/run_main_job.sh                      # builds, then runs this
#   MAIN_JOB_STEPS=500 bash scripts/main_job.sh     # a quicker (worse) run, still exact
#   MAIN_JOB_MINUTES=2 bash scripts/main_job.sh     # as many steps as fit in 2 minutes (not exact)
#
# Reproducible: with the fixed number of steps, every loss and the sample are the same bit for bit
# on every machine that runs the same kernel set, whatever its speed, its load or OMP_NUM_THREADS
# (chapter 08). The kernel sets (portable, AVX2, AVX-512) differ in the last bits of their sums, so
# each prints its own numbers: the script leaves the choice to the program, which takes the widest
# set the CPU has (AVX-512, else AVX2), and the README lists the results of both. GPT2_SIMD=avx2 on
# a CPU with AVX-512 prints the AVX2 numbers (up to 1.7 times slower); GPT2_SIMD=portable
# prints yet others. Times and tokens per second always depend on the machine.
# Environment: MAIN_JOB_OUT (default runs/main), GPT2_BIN (default build/bin/gpt2), MAIN_JOB_STEPS
# (default below), MAIN_JOB_MINUTES (a time budget instead of the steps), GPT2_SIMD (default
# unset: the widest set the CPU has).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
gpt2="${GPT2_BIN:-$root/build/bin/gpt2}"
out="${MAIN_JOB_OUT:-runs/main}"
default_steps=7600
if [ ! -x "$gpt2" ]; then
  echo "error: $gpt2 does not exist; build first (./scripts/run_main_job.sh builds and runs this)" >&2
  exit 1
fi
if [ -n "${MAIN_JOB_MINUTES:-}" ] && [ -n "${MAIN_JOB_STEPS:-}" ]; then
  echo "error: give MAIN_JOB_STEPS (a fixed run) or MAIN_JOB_MINUTES (a time budget), not both" >&2
  exit 1
fi
if [ -n "${MAIN_JOB_MINUTES:-}" ]; then
  minutes="$MAIN_JOB_MINUTES"
  if ! seconds=$(awk -v m="$minutes" 'BEGIN { if (m + 0 > 0) printf "%.0f", m * 60; else exit 1 }'); then
    echo "error: MAIN_JOB_MINUTES must be a positive number of minutes, got '$minutes'" >&2
    exit 1
  fi
  [ "$seconds" -ge 1 ] || seconds=1
  length=(--time-budget "$seconds")
  length_text="for $minutes minute(s) (the schedule sized to the budget: the result depends on the machine's speed)"
else
  steps="${MAIN_JOB_STEPS:-$default_steps}"
  if ! [[ "$steps" =~ ^[0-9]+$ ]] || [ "$steps" -lt 1 ] || [ "$steps" -gt 1000000 ]; then
    echo "error: MAIN_JOB_STEPS must be a whole number of steps from 1 to 1000000, got '$steps'" >&2
    exit 1
  fi
  length=(--steps "$steps")
  length_text="for $steps steps"
fi

# The model and its training: chosen by measured experiments (chapter 12's README).
vocab=1024
model=(--n-layer 4 --n-head 2 --n-embd 128 --context 128)
optim=(--batch-size 8 --lr 2e-3 --min-lr 2e-5 --warmup 100 --beta2 0.99 --weight-decay 0.3 --grad-clip 1.0 --embd-pdrop 0.1 --resid-pdrop 0.1 --attn-pdrop 0)
evals=(--eval-interval 200 --eval-steps 10 --checkpoint-interval 500)

rm -rf "$out"
mkdir -p "$out"
echo "== 1/4 prepare: data/tinyshakespeare.txt -> $out/data (BPE of $vocab tokens, 10% validation)"
"$gpt2" prepare --input data/tinyshakespeare.txt --vocab-size "$vocab" --val-fraction 0.1 --out "$out/data"

echo
echo "== 2/4 train: ${model[*]} ${optim[*]} $length_text, kernels: ${GPT2_SIMD:-the widest set this CPU has}"
# The shell's `time` gives the wall-clock and the CPU seconds (user + system, all threads) of the
# training command; its own messages still go to stderr (through descriptor 3).
TIMEFORMAT='%R %U %S'
{ time "$gpt2" train --data "$out/data" --out "$out/train" "${model[@]}" "${optim[@]}" "${evals[@]}" \
  "${length[@]}" --json >"$out/train_summary.json" 2>&3; } 3>&2 2>"$out/train_time.txt"
read -r train_wall train_user train_sys <"$out/train_time.txt"

echo
echo "== 3/4 validation loss of the saved model on $out/data/val.txt"
# Disjoint windows of the 128-token context (every token predicted from 0 to 127 tokens before it,
# as in training), then the default sliding window (stride 64: at least 65 tokens of context).
"$gpt2" eval --model "$out/train/model" --input "$out/data/val.txt" --stride 128 --json >"$out/eval.json"
"$gpt2" eval --model "$out/train/model" --input "$out/data/val.txt" --json >"$out/eval_sliding.json"

field() { # field NAME FILE: a number or a string from our one-line JSON
  sed -n "s/.*\"$1\":\"*\([-0-9.eE+a-z]*\).*/\1/p" "$2"
}
loss=$(field loss "$out/eval.json")
npc=$(field nats_per_char "$out/eval.json")
bpb=$(field bits_per_byte "$out/eval.json")
loss_s=$(field loss "$out/eval_sliding.json")
npc_s=$(field nats_per_char "$out/eval_sliding.json")
bpb_s=$(field bits_per_byte "$out/eval_sliding.json")
train_loss=$(field train_loss_last20 "$out/train_summary.json")
train_s=$(field training_seconds "$out/train_summary.json")
done_steps=$(field completed_steps "$out/train_summary.json")
tokens=$(field tokens_trained "$out/train_summary.json")
kernels=$(field kernels "$out/train_summary.json")
for v in "$loss" "$npc" "$bpb" "$loss_s" "$npc_s" "$bpb_s" "$train_loss" "$train_s" "$done_steps" "$tokens" "$kernels"; do
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
  printf "| steps | %s (%s training tokens), on the %s kernels |\n" "$done_steps" "$tokens" "$kernels"
  printf "| training loss, mean of the last 20 steps | %.4f nats/token |\n" "$train_loss"
  printf "| validation loss, disjoint 128-token windows | %.4f nats/token, **%.4f nats/char, %.4f bits/byte** |\n" \
    "$loss" "$npc" "$bpb"
  printf "| validation loss, sliding window (stride 64) | %.4f nats/token, %.4f nats/char, %.4f bits/byte |\n" \
    "$loss_s" "$npc_s" "$bpb_s"
  printf "| training time (varies) | %.0f s (%.0f s of CPU time), %.0f tokens/s, OMP_NUM_THREADS=%s |\n" \
    "$train_wall" "$(awk -v u="$train_user" -v s="$train_sys" 'BEGIN { print u + s }')" \
    "$(awk -v n="$tokens" -v t="$train_s" 'BEGIN { print (t > 0 ? n / t : 0) }')" "${OMP_NUM_THREADS:-all cores}"
} >"$out/results.md"

echo
echo "== results (also in $out/results.md)"
cat "$out/results.md"
echo
echo "model:        $out/train/model   (gpt2 generate --model $out/train/model --prompt ...)"
echo "metrics:      $out/train/metrics.csv"
echo "loss curve:   $out/train/loss.svg"
if [ -z "${MAIN_JOB_MINUTES:-}" ] && [ "$done_steps" = "$default_steps" ]; then
  echo "exact:        the README's results for the $kernels kernels are the ones to compare with"
fi
target=1.50
if awk -v x="$npc" -v t="$target" 'BEGIN { exit !(x <= t) }'; then
  echo "target:       $npc nats/char <= $target: reached"
else
  echo "target:       $npc nats/char > $target: not reached"
fi
