#!/usr/bin/env bash
# The measurements of chapter 10's README, in one command: the main job's model fine-tuned on the
# chapter's two datasets (data/finetune), every way, with accuracy, trainable parameters, time and
# memory.
#
#   bash scripts/main_job.sh                                # first: runs/main/train/model
#   bash chapters/10_finetuning/results.sh [MODEL_DIR] [OUT_DIR]
#
# MODEL_DIR defaults to runs/main/train/model, OUT_DIR to runs/finetune (git ignores runs/).
# FT_STEPS (default 120) and SFT_STEPS (default 150) set the lengths of the runs. Prints a
# Markdown table per task; every run's own files stay in OUT_DIR (summary.json, metrics.csv).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
gpt2="${GPT2_BIN:-$root/build/bin/gpt2}"
model="${1:-runs/main/train/model}"
out="${2:-runs/finetune}"
steps="${FT_STEPS:-120}"
sft_steps="${SFT_STEPS:-150}"
data=data/finetune
mkdir -p "$out"

field() { # field NAME FILE: a number from our one-line or indented JSON
  sed -n "s/.*\"$1\": *\([-0-9.eE+]*\).*/\1/p" "$2" | head -1
}

echo "model: $model; $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(uptime | sed 's/.*load/load/')"
echo
echo "## who speaks this line? ($steps steps, B=16)"
echo
echo "| trains | trainable parameters | test accuracy | training time | peak memory |"
echo "|---|---:|---:|---:|---:|"
classify_run() { # classify_run NAME LR FLAGS...
  local name="$1" lr="$2"
  shift 2
  "$gpt2" finetune --task classify --model "$model" --train "$data/speakers_train.jsonl" \
    --val "$data/speakers_validation.jsonl" --out "$out/$name" --force --steps "$steps" --lr "$lr" \
    --batch-size 16 --eval-interval 0 --checkpoint-interval 0 --no-progress "$@" 2>"$out/$name.log"
  "$gpt2" classify --model "$out/$name/model" --eval "$data/speakers_test.jsonl" --json >"$out/$name.test.json"
  local s="$out/$name/summary.json"
  printf '| %s | %s | %s | %s s | %s MB |\n' "$name" "$(field trainable_parameters "$s")" \
    "$(field accuracy "$out/$name.test.json")" "$(field training_seconds "$s")" "$(field max_rss_mb "$s")"
}
classify_run head-only 1e-2 --head-only
classify_run last-1-block 1e-3 --train-last 1
classify_run lora-r8 3e-3 --lora-rank 8 --lora-targets c_attn,c_fc
classify_run everything 1e-3

echo
echo "## instructions: exact match on data/finetune/sft_heldout.jsonl ($sft_steps steps, B=16)"
echo
"$gpt2" chat --model "$model" --eval "$data/sft_heldout.jsonl" --max-new-tokens 12 --json >"$out/sft_before.json"
echo "| model | trainable parameters | exact match | training time | peak memory |"
echo "|---|---:|---:|---:|---:|"
printf '| the main job'"'"'s model, not fine-tuned | | %s | | |\n' "$(field exact_match "$out/sft_before.json")"
sft_run() { # sft_run NAME LR FLAGS...
  local name="$1" lr="$2"
  shift 2
  "$gpt2" finetune --task sft --model "$model" --train "$data/sft_train.jsonl" --out "$out/$name" --force \
    --steps "$sft_steps" --lr "$lr" --batch-size 16 --eval-interval 0 --checkpoint-interval 0 --no-progress \
    "$@" 2>"$out/$name.log"
  "$gpt2" chat --model "$out/$name/model" --eval "$data/sft_heldout.jsonl" --max-new-tokens 12 --json \
    >"$out/$name.heldout.json"
  local s="$out/$name/summary.json"
  printf '| %s | %s | %s | %s s | %s MB |\n' "$name" "$(field trainable_parameters "$s")" \
    "$(field exact_match "$out/$name.heldout.json")" "$(field training_seconds "$s")" "$(field max_rss_mb "$s")"
}
sft_run sft-lora-r8 3e-3 --lora-rank 8 --lora-targets c_attn,c_fc
sft_run sft-everything 1e-3
