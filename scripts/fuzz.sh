#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz/ and runs each for N seconds
# (default 60) from a seed corpus. Fails on any crash, leak or broken invariant.
#  - fuzz_gguf: the malformed files test_gguf_hostile generates, a valid generated file, and the
#    small GGUF files of ../shared;
#  - fuzz_tokenizer: the vocabularies test_tokenizer builds (GGUF) and the tokenizer.json documents
#    test_tokenizer_hf builds, the small tokenizer.json of ../shared, and the tokenizer test strings of ../shared (text, run through its real
#    vocabularies).
set -euo pipefail
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SLM_SHARED_DIR:-$root/../shared}
cd "$root"
# configured every time, so a new fuzz/fuzz_*.c is picked up by an existing build-fuzz/
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLM_FUZZ=ON \
    -DSLM_SHARED_DIR="$shared" >/dev/null
make --no-print-directory -C build-fuzz -j"$(nproc)" fuzz_gguf fuzz_tokenizer test_gguf_hostile \
    test_tokenizer test_tokenizer_hf >/dev/null

mkdir -p build-fuzz/seeds/gguf build-fuzz/seeds/tokenizer
SLM_CORPUS_DIR=build-fuzz/seeds/gguf build-fuzz/test_gguf_hostile >/dev/null 2>&1
# seeds only: these tests run (and must pass) in make test; here they may lack python oracles
for t in test_tokenizer test_tokenizer_hf; do
    SLM_CORPUS_DIR=build-fuzz/seeds/tokenizer build-fuzz/$t >/dev/null 2>&1 || true
done
if [ -d "$shared/models" ]; then
    find "$shared/models" -name '*.gguf' -size -2M -exec cp {} build-fuzz/seeds/gguf/ \;
    cp "$shared/models/TinyStories-656K/tokenizer.json" build-fuzz/seeds/tokenizer/tinystories.json
    # the reference tokenizer test strings, one seed each (separated by __ggml_vocab_test__ lines)
    for inp in "$shared"/models/tokenizers/llama.cpp/ggml-vocab-{gpt-2,llama-spm,bert-bge}.gguf.inp; do
        awk -v dir=build-fuzz/seeds/tokenizer -v base="$(basename "$inp" .gguf.inp)" \
            'BEGIN { RS = "\n__ggml_vocab_test__\n" }
             { f = sprintf("%s/%s-%03d.txt", dir, base, NR); printf "%s", $0 > f; close(f) }' "$inp"
    done
fi

run() { # target max_len
    local t=$1 seeds=build-fuzz/seeds/${1#fuzz_} log=build-fuzz/$1.log
    mkdir -p "build-fuzz/corpus/${t#fuzz_}"
    echo "$t: $(ls "$seeds" | wc -l) seed files, ${secs}s"
    if ! SLM_SHARED_DIR="$shared" build-fuzz/"$t" -max_total_time="$secs" -max_len="$2" \
            -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=build-fuzz/ \
            "build-fuzz/corpus/${t#fuzz_}" "$seeds" >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "$t: FAILED (crash input saved under build-fuzz/)" >&2
        exit 1
    fi
    local runs
    runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    echo "$t: ok, ${runs} executions in ${secs}s ($((runs / secs)) exec/s), $(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)"
}
run fuzz_gguf 65536
run fuzz_tokenizer 131072
