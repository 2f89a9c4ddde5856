#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ (see fuzz/README.md), building them first in build-fuzz/
# (clang, -DGPT2_FUZZ=ON) when needed.
#
#   scripts/fuzz.sh TARGET SECONDS        fuzz one target for that long (e.g. fuzz_safetensors 300)
#   scripts/fuzz.sh --runs N [TARGET...]  N runs of each target (all of them by default): CI's check
#   scripts/fuzz.sh --list                the targets
#
# The committed seeds in fuzz/corpus/TARGET/ are only read; what the fuzzer finds goes to
# build-fuzz/corpus/TARGET/, and an input that crashes to build-fuzz/crashes/TARGET/ (the script
# then fails and prints how to replay it).
source "$(dirname "$0")/common.sh"

FUZZ_BUILD="$GPT2_ROOT/build-fuzz"
targets() {
  local f
  for f in "$GPT2_ROOT"/fuzz/fuzz_*.cpp; do basename "$f" .cpp; done
}

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

build() {
  ensure_packages $GPT2_BUILD_PACKAGES $GPT2_FUZZ_PACKAGES
  if [ ! -f "$FUZZ_BUILD/CMakeCache.txt" ]; then
    local launcher=()
    command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    cmake -S "$GPT2_ROOT" -B "$FUZZ_BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
      -DGPT2_FUZZ=ON -DGPT2_OPENMP=OFF -DGPT2_DOCS=OFF "${launcher[@]}" >/dev/null
  fi
  cmake --build "$FUZZ_BUILD" -j "$JOBS" --target "$@"
}

# run_target TARGET libFuzzer-options...
run_target() {
  local target="$1"
  shift
  [ -d "$GPT2_ROOT/fuzz/corpus/$target" ] || { echo "error: no seed corpus fuzz/corpus/$target" >&2; exit 1; }
  local corpus="$FUZZ_BUILD/corpus/$target" crashes="$FUZZ_BUILD/crashes/$target"
  mkdir -p "$corpus" "$crashes"
  echo "== $target $* =="
  # The first directory gets what the fuzzer finds; the committed seeds are only read.
  if ! (cd "$FUZZ_BUILD" && "$FUZZ_BUILD/bin/$target" -artifact_prefix="$crashes/" -print_final_stats=1 -print_funcs=0 \
          "$@" "$corpus" "$GPT2_ROOT/fuzz/corpus/$target"); then
    echo "error: $target found a crash, saved in $crashes/. Replay it with:" >&2
    echo "  $FUZZ_BUILD/bin/$target $crashes/<file>" >&2
    echo "then turn it into a regression test in the chapter whose reader failed (fuzz/README.md)." >&2
    return 1
  fi
}

[ $# -ge 1 ] || usage
case "$1" in
  --list)
    targets
    ;;
  --runs)
    [ $# -ge 2 ] || usage
    runs="$2"
    shift 2
    list=("$@")
    [ ${#list[@]} -gt 0 ] || mapfile -t list < <(targets)
    build "${list[@]}"
    for t in "${list[@]}"; do run_target "$t" -runs="$runs"; done
    ;;
  -*)
    usage
    ;;
  *)
    [ $# -eq 2 ] || usage
    build "$1"
    run_target "$1" -max_total_time="$2"
    ;;
esac
