#!/usr/bin/env bash
# Builds the HTML docs (Doxygen, formulas by a local MathJax) into build/docs/html/index.html.
source "$(dirname "$0")/common.sh"
ensure_packages $GPT2_BUILD_PACKAGES $GPT2_DOCS_PACKAGES
cmake -S "$GPT2_ROOT" -B "$GPT2_ROOT/build" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$GPT2_ROOT/build" --target docs
echo "Docs: $GPT2_ROOT/build/docs/html/index.html (check them in a browser: scripts/check_docs.sh)"
