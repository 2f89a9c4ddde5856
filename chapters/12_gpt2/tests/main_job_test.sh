#!/usr/bin/env bash
# The main job's script, short: scripts/main_job.sh with MAIN_JOB_STEPS=8 on one thread and on two
# must print the same losses (every row of results.md but the time) and the same sample, bit for
# bit, as the README promises for the full run; and a wrong MAIN_JOB_STEPS or MAIN_JOB_MINUTES, or
# both at once, must stop with a message before anything is written.
# Usage: main_job_test.sh GPT2_BIN SCRATCH_DIR
set -euo pipefail
gpt2="$1"
scratch="$2"
script="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/scripts/main_job.sh"
rm -rf "$scratch"
mkdir -p "$scratch"

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

for threads in 1 2; do
  GPT2_BIN="$gpt2" MAIN_JOB_OUT="$scratch/t$threads" MAIN_JOB_STEPS=8 OMP_NUM_THREADS=$threads \
    bash "$script" >"$scratch/t$threads.log" 2>&1 || { cat "$scratch/t$threads.log"; fail "main_job.sh on $threads thread(s)"; }
  for f in results.md sample.txt train/loss.svg train/metrics.csv train/model/model.safetensors; do
    [ -s "$scratch/t$threads/$f" ] || fail "main_job.sh on $threads thread(s) did not write $f"
  done
  grep -q "^| steps | 8 " "$scratch/t$threads/results.md" || fail "results.md does not report 8 steps"
  grep -v "varies" "$scratch/t$threads/results.md" >"$scratch/t$threads.exact"
done
cmp "$scratch/t1.exact" "$scratch/t2.exact" || fail "the losses differ between 1 and 2 threads"
cmp "$scratch/t1/sample.txt" "$scratch/t2/sample.txt" || fail "the samples differ between 1 and 2 threads"

expect_error() { # expect_error TEXT ENV...: main_job.sh with ENV fails, says TEXT, writes nothing
  local text="$1"
  shift
  if env GPT2_BIN="$gpt2" MAIN_JOB_OUT="$scratch/bad" "$@" bash "$script" >"$scratch/bad.log" 2>&1; then
    fail "main_job.sh with $* succeeded"
  fi
  grep -q "$text" "$scratch/bad.log" || { cat "$scratch/bad.log"; fail "main_job.sh with $* did not say '$text'"; }
  [ ! -e "$scratch/bad" ] || fail "main_job.sh with $* wrote $scratch/bad"
}
expect_error "MAIN_JOB_STEPS must be" MAIN_JOB_STEPS=0
expect_error "MAIN_JOB_STEPS must be" MAIN_JOB_STEPS=ten
expect_error "MAIN_JOB_MINUTES must be" MAIN_JOB_MINUTES=-1
expect_error "not both" MAIN_JOB_STEPS=10 MAIN_JOB_MINUTES=1
echo "main_job.sh: the same losses and sample on 1 and 2 threads; bad settings refused"
