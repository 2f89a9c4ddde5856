#!/usr/bin/env bash
# Builds everything and runs every test: the chapters' tests and the exercises in solution mode
# (build/), then the exercises in student mode (build-student/), where every exercise test must
# fail on the unfinished stubs (CTest counts such an expected failure as passed).
# Extra arguments go to cmake when configuring build/ (CI passes -DGPT2_WERROR=ON).
source "$(dirname "$0")/common.sh"
ensure_packages $GPT2_BUILD_PACKAGES

configure_and_build build "$@"
ctest --test-dir "$GPT2_ROOT/build" --output-on-failure --no-tests=error -j "$JOBS"

echo "== exercises in student mode: every test must fail on the stubs =="
cmake -S "$GPT2_ROOT" -B "$GPT2_ROOT/build-student" -DCMAKE_BUILD_TYPE=Release -DGPT2_EXERCISES=student -DGPT2_DOCS=OFF "$@"
cmake --build "$GPT2_ROOT/build-student" -j "$JOBS" --target gpt2_exercises
ctest --test-dir "$GPT2_ROOT/build-student" -L student --output-on-failure --no-tests=error -j "$JOBS"
