#!/usr/bin/env python3
"""Peer side of bench/bench_tokenizer.c: encodes a text file with the Hugging Face `tokenizers`
package, RUNS times, on one thread, in the same mode as the slm side:
  whole  one encode() call for the whole text;
  lines  the text cut after every newline, encoded with encode_batch() (parallelism off).
Prints "tokens N", "hash H" (FNV-1a over the ids, to check both sides agree) and one
"time SECONDS" line per run.

usage: bench_tokenizer_peer.py TOKENIZER_JSON TEXT_FILE RUNS whole|lines"""
import os
import sys
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
try:
    from tokenizers import Tokenizer
except ImportError:
    print("tokenizers package not installed", file=sys.stderr)
    sys.exit(77)


def fnv(ids):
    h = 0xCBF29CE484222325
    for i in ids:
        h = ((h ^ (i & 0xFFFFFFFF)) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    tok = Tokenizer.from_file(sys.argv[1])
    tok.no_truncation()
    tok.no_padding()
    with open(sys.argv[2], encoding="utf-8", newline="") as f:
        text = f.read()
    runs, mode = int(sys.argv[3]), sys.argv[4]
    lines = None
    if mode == "lines":
        parts = text.split("\n")
        lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    ids = []
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        if lines is None:
            ids = tok.encode(text, add_special_tokens=False).ids
        else:
            encs = tok.encode_batch(lines, add_special_tokens=False)
        times.append(time.perf_counter() - t0)
        if lines is not None:
            ids = [i for e in encs for i in e.ids]
    print(f"tokens {len(ids)}")
    print(f"hash {fnv(ids)}")
    for t in times:
        print(f"time {t:.6f}")


if __name__ == "__main__":
    main()
