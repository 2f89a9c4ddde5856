#!/usr/bin/env bash
# Builds everything and runs every test, in three steps:
#   1. the tests of common/ and of the chapters (build/);
#   2. the exercises against the course's solutions: every task must pass (build/, label exercise);
#   3. the exercises against the shipped stubs: every task must report "not implemented yet"
#      (build-student/, through scripts/check_exercises.sh), which proves that no test passes on
#      an unfinished stub. Once you have filled in stubs yourself, step 3 names the tasks you have
#      finished: that is expected (scripts/check_exercises.sh reports your progress).
# Extra arguments go to cmake when configuring (CI passes -DGPT2_WERROR=ON).
source "$(dirname "$0")/common.sh"
ensure_packages $GPT2_BUILD_PACKAGES

configure_and_build build "$@"
echo "== 1. tests of common/ and the chapters =="
ctest --test-dir "$GPT2_ROOT/build" --output-on-failure --no-tests=error -j "$JOBS" -LE '^exercise$'

echo "== 2. exercises, solutions: every task passes on its solution.cpp =="
ctest --test-dir "$GPT2_ROOT/build" --output-on-failure --no-tests=error -j "$JOBS" -L '^exercise$'

echo "== 3. exercises, stubs: every task fails on its stub.cpp with 'not implemented yet' =="
cmake -S "$GPT2_ROOT" -B "$GPT2_ROOT/build-student" -DCMAKE_BUILD_TYPE=Release -DGPT2_EXERCISES=student \
  -DGPT2_DOCS=OFF "$@"
bash "$GPT2_ROOT/scripts/check_exercises.sh" --expect-unfinished
