#!/usr/bin/env bash
# The main job: build, then run the course's flagship demo on the shipped data.
# (Grows with the course; see the README's Quick start.)
source "$(dirname "$0")/common.sh"
ensure_packages $GPT2_BUILD_PACKAGES
configure_and_build build "$@"
cd "$GPT2_ROOT"
bash scripts/main_job.sh
