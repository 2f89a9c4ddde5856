#!/usr/bin/env bash
# Downloads one of OpenAI's GPT-2 models from the Hugging Face hub into models/<name>/, in the
# layout chapter 05 reads (config.json, model.safetensors, vocab.json, merges.txt):
#
#   ./scripts/download_gpt2.sh                 # gpt2 (124M parameters, about 0.55 GB)
#   ./scripts/download_gpt2.sh gpt2-medium     # 355M, about 1.5 GB; also gpt2-large (774M, about 3.3 GB), gpt2-xl (1.5B, about 6.4 GB)
#   ./scripts/download_gpt2.sh gpt2 /some/dir  # somewhere else than models/gpt2
#
# Then: ./build/bin/ch05_demo --model models/gpt2 --prompt "The meaning of life is"
# Needs curl or wget and a network. The tests never call this script.
set -euo pipefail

name="${1:-gpt2}"
case "$name" in
  gpt2 | gpt2-medium | gpt2-large | gpt2-xl) ;;
  -h | --help)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "error: unknown model '$name' (known: gpt2, gpt2-medium, gpt2-large, gpt2-xl)" >&2
    exit 1
    ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${2:-$root/models/$name}"
base="${GPT2_HF_MIRROR:-https://huggingface.co}/openai-community/$name/resolve/main"
mkdir -p "$dest"

fetch() {
  local url="$1" out="$2"
  if command -v curl >/dev/null 2>&1; then
    curl --fail --location --retry 3 --progress-bar -o "$out" "$url"
  elif command -v wget >/dev/null 2>&1; then
    wget --tries=3 -q --show-progress -O "$out" "$url"
  else
    echo "error: neither curl nor wget is installed (apt-get install curl)" >&2
    exit 1
  fi
}

for file in config.json vocab.json merges.txt model.safetensors; do
  if [ -s "$dest/$file" ]; then
    echo "$dest/$file: already there"
    continue
  fi
  echo "downloading $name/$file"
  # Into a temporary name first, so an interrupted download never looks complete.
  fetch "$base/$file" "$dest/$file.part"
  mv "$dest/$file.part" "$dest/$file"
done
echo "done: $dest (config.json, model.safetensors, vocab.json, merges.txt)"
