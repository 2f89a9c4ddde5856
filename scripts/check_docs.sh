#!/usr/bin/env bash
# Opens every page of the HTML docs (build/docs/html, made by scripts/build_docs.sh or
# `cmake --build build --target docs`) in headless Chromium and fails on any MathJax error or any
# picture, script or style sheet a page cannot load. About a minute and a half for 500 pages on
# two cores. Arguments go to scripts/check_docs.py (--jobs N, --verbose, another html folder).
source "$(dirname "$0")/common.sh"
ensure_packages $GPT2_DOCS_CHECK_PACKAGES
# Debian's python3, which has Debian's python3-websocket (not a python of its own that may be first on PATH).
exec /usr/bin/python3 "$GPT2_ROOT/scripts/check_docs.py" "$@"
