#!/usr/bin/env bash
# The main job of `make run`: what slm reads from a model file, then text generated from it.
# Uses stories260K from ../shared when present, else a small random-weight model made by
# build/mkmodel (its text is gibberish, but every layer of the engine runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SLM_SHARED_DIR:-$root/../shared}
model=$(realpath -m "$shared/models/stories260K/stories260K.gguf")
if [ ! -f "$model" ]; then
    model=$root/build/demo-random.gguf
    [ -f "$model" ] || "$root/build/mkmodel" "$model"
fi
"$root/build/slm" show "$model"
echo
"$root/build/slm" run "$model" "Once upon a time" --temperature 0 --max-tokens 200
