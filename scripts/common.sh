# Shared by the scripts in this folder (source it, do not run it).
# Installs missing Debian packages: apt-get as root, sudo otherwise, and a clear message naming the
# packages when neither is possible.
set -euo pipefail

GPT2_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

# What building and testing needs (the compiler itself is assumed: g++ 12 or newer).
# openmpi-bin and libopenmpi-dev: chapter 11 (mpirun and the MPI library; the build works without them).
# qemu-user runs chapter 08's tests on emulated CPUs without AVX-512 and without AVX.
GPT2_BUILD_PACKAGES="cmake make g++ pkg-config catch2 nlohmann-json3-dev libstb-dev libutf8proc-dev libcpp-httplib-dev openmpi-bin libopenmpi-dev qemu-user"
# What the browser test of `gpt2 serve`'s page needs (it is skipped without them).
GPT2_BROWSER_PACKAGES="chromium python3"
# What the HTML docs need.
GPT2_DOCS_PACKAGES="doxygen libjs-mathjax"
# What checking them in a real browser needs (scripts/check_docs.sh).
GPT2_DOCS_CHECK_PACKAGES="chromium python3-websocket"
# What the fuzz targets need (scripts/fuzz.sh): clang with libFuzzer and the sanitizers' runtime.
GPT2_FUZZ_PACKAGES="clang libclang-rt-14-dev"

ensure_packages() {
  local missing=()
  local p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "Installing missing packages: ${missing[*]}" >&2
  local apt=(apt-get)
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      apt=(sudo apt-get)
    else
      echo "error: these Debian packages are missing and I am neither root nor have sudo:" >&2
      echo "  ${missing[*]}" >&2
      echo "Install them with: apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"; then
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -q
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"; then
      echo "error: could not install: ${missing[*]}" >&2
      exit 1
    fi
  fi
}

# configure_and_build BUILD_DIR [cmake options...]
configure_and_build() {
  local dir="$1"
  shift
  cmake -S "$GPT2_ROOT" -B "$GPT2_ROOT/$dir" -DCMAKE_BUILD_TYPE=Release "$@"
  cmake --build "$GPT2_ROOT/$dir" -j "$JOBS"
}
