#!/usr/bin/env bash
# Builds the exercise programs and prints one line per task: passed, not implemented yet, or
# wrong (with the worst element, or the check that failed).
#
#   scripts/check_exercises.sh [NN ...]        your answers: exercises/NN_*/stub.cpp, built in
#                                              build-student/ (GPT2_EXERCISES=student)
#   scripts/check_exercises.sh --solutions [NN ...]   the course's solutions, built in build/
#   scripts/check_exercises.sh --expect-unfinished    succeeds only if every task reports "not
#                                              implemented yet" (the course as shipped; CI)
#
# NN picks chapters (03, or 3); without any, every chapter with exercises. Arguments starting
# with -D go to cmake when it configures the build folder. The exit status is 0 when every task
# passed (with --expect-unfinished: when every task is unfinished), 1 otherwise.
source "$(dirname "$0")/common.sh"

mode=student
chapters=()
cmake_args=()
for arg in "$@"; do
  case "$arg" in
    --solutions) mode=solution ;;
    --expect-unfinished) mode=unfinished ;;
    -D*) cmake_args+=("$arg") ;;
    -h | --help)
      sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    [0-9] | [0-9][0-9]) chapters+=("$(printf '%02d' "$((10#$arg))")") ;;
    *)
      echo "check_exercises.sh: unknown argument '$arg' (try --help)" >&2
      exit 2
      ;;
  esac
done

if [ "$mode" = solution ]; then
  dir="$GPT2_ROOT/build"
  exercises_mode=solution
else
  dir="$GPT2_ROOT/build-student"
  exercises_mode=student
fi
if [ ! -f "$dir/CMakeCache.txt" ] || [ ${#cmake_args[@]} -gt 0 ]; then
  ensure_packages $GPT2_BUILD_PACKAGES
  docs=()
  [ "$exercises_mode" = student ] && docs=(-DGPT2_DOCS=OFF)
  cmake -S "$GPT2_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DGPT2_EXERCISES="$exercises_mode" "${docs[@]}" \
    "${cmake_args[@]}" >/dev/null
elif ! grep -q "^GPT2_EXERCISES:STRING=$exercises_mode\$" "$dir/CMakeCache.txt"; then
  echo "check_exercises.sh: $dir is not configured with GPT2_EXERCISES=$exercises_mode" >&2
  exit 2
fi

targets=()
if [ ${#chapters[@]} -eq 0 ]; then
  targets=(gpt2_exercises)
else
  for nn in "${chapters[@]}"; do
    if ! compgen -G "$GPT2_ROOT/exercises/${nn}_*/CMakeLists.txt" >/dev/null; then
      echo "check_exercises.sh: there are no exercises for chapter $nn (exercises/${nn}_*)" >&2
      exit 2
    fi
    targets+=("gpt2_exercises_$nn")
  done
fi
# The build's own messages only matter when it fails (a compile error in your stub.cpp).
if ! build_log="$(cmake --build "$dir" -j "$JOBS" --target "${targets[@]}" 2>&1)"; then
  printf '%s\n' "$build_log" | grep -E -B2 -A8 'error|Error' | head -80 >&2
  echo "check_exercises.sh: the build failed (above: the first errors; full log: cmake --build $dir --target ${targets[*]})" >&2
  exit 1
fi

# Catch2 reads ',', '[', ']' and '\' in a test name as syntax; escape them to run one case.
catch_spec() { printf '%s' "$1" | sed 's/[][,\\]/\\&/g'; }

# The test cases of a program, one name a line (Catch2 2, or Catch2 3's spelling).
list_cases() { "$1" --list-test-names-only 2>/dev/null || "$1" --list-tests --verbosity quiet; }

total=0
passed=0
unfinished=0
skipped=0
details=()  # how to see Catch2's full report of each task that did not pass
while read -r nn program; do
  if [ ${#chapters[@]} -gt 0 ] && [[ ! " ${chapters[*]} " == *" $nn "* ]]; then continue; fi
  echo "== $(basename "$program") =="
  # One process per task, so that a crash or an endless loop in one task does not hide the others.
  while IFS= read -r name; do
    [ -n "$name" ] || continue
    if [ "${name:0:2}" != "$nn" ]; then
      echo "check_exercises.sh: warning: task '$name' of $(basename "$program") should be numbered $nn.K" >&2
    fi
    total=$((total + 1))
    rc=0
    out="$(timeout 300 "$program" "$(catch_spec "$name")" 2>&1)" || rc=$?
    line="$(printf '%s\n' "$out" | grep -m1 '^exercise [0-9][0-9]\.' || true)"
    if [ -z "$line" ]; then
      if [ "$rc" -eq 124 ]; then
        line="exercise $name: wrong: still running after 300 s (an endless loop?)"
      else
        line="exercise $name: wrong: the program stopped without a verdict (exit status $rc; run: $program \"$name\")"
      fi
    fi
    line="${line#exercise }"
    echo "  $line"
    case "$line" in
      *": passed") passed=$((passed + 1)) ;;
      *": not implemented yet"*) unfinished=$((unfinished + 1)) ;;
      *": skipped: "*) skipped=$((skipped + 1)) ;;
      *) details+=("${program#"$GPT2_ROOT"/} \"${name%% *}*\"") ;;
    esac
  done < <(list_cases "$program" | grep '^[0-9][0-9]\.')
done <"$dir/exercise_programs.txt"

if [ "$total" -eq 0 ]; then
  echo "check_exercises.sh: no exercise tasks found" >&2
  exit 1
fi
wrong=$((total - passed - unfinished - skipped))
echo "$passed of $total tasks passed, $unfinished not implemented yet, $wrong wrong, $skipped skipped"
# A skipped task (CUDA without a GPU) cannot be checked either way here.
case "$mode" in
  unfinished)
    if [ $((unfinished + skipped)) -ne "$total" ]; then
      echo "check_exercises.sh: every task must report 'not implemented yet' on its stub; the lines above" \
        "that do not either pass on the stub (the test cannot fail) or do not reach the stub's throw" >&2
      exit 1
    fi
    ;;
  *)
    if [ $((passed + skipped)) -ne "$total" ]; then
      if [ ${#details[@]} -gt 0 ]; then
        echo "Catch2's full report of a wrong task:"
        printf '  %s\n' "${details[@]}"
      fi
      exit 1
    fi
    ;;
esac
exit 0
