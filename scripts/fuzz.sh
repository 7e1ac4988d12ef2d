#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz/ and runs each for N seconds
# (default 60) from a seed corpus: the malformed files the tests generate, a valid generated
# file, and the small GGUF files of ../shared when present. Fails on any crash or leak.
set -euo pipefail
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SLM_SHARED_DIR:-$root/../shared}
cd "$root"
if [ ! -f build-fuzz/Makefile ]; then
    CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLM_FUZZ=ON \
        -DSLM_SHARED_DIR="$shared" >/dev/null
fi
make --no-print-directory -C build-fuzz -j"$(nproc)" fuzz_gguf test_gguf_hostile >/dev/null
seeds=build-fuzz/seeds/gguf
mkdir -p "$seeds" build-fuzz/corpus/gguf
SLM_CORPUS_DIR="$seeds" build-fuzz/test_gguf_hostile >/dev/null 2>&1
if [ -d "$shared/models" ]; then
    find "$shared/models" -name '*.gguf' -size -2M -exec cp {} "$seeds/" \;
fi
echo "fuzz_gguf: $(ls "$seeds" | wc -l) seed files, ${secs}s"
log=build-fuzz/fuzz_gguf.log
if ! build-fuzz/fuzz_gguf -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix=build-fuzz/ \
        build-fuzz/corpus/gguf "$seeds" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz_gguf: FAILED (crash input saved under build-fuzz/)" >&2
    exit 1
fi
runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
echo "fuzz_gguf: ok, ${runs} executions in ${secs}s ($((runs / secs)) exec/s), $(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)"
