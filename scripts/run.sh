#!/usr/bin/env bash
# The main job of `make run`: show what slm reads from a real model file. Uses stories260K from
# ../shared when present, else generates a small random-weight model with build/mkmodel.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SLM_SHARED_DIR:-$root/../shared}
model=$(realpath -m "$shared/models/stories260K/stories260K.gguf")
if [ ! -f "$model" ]; then
    model=$root/build/demo-random.gguf
    [ -f "$model" ] || "$root/build/mkmodel" "$model"
fi
"$root/build/slm" show "$model"
