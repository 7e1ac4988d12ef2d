#!/usr/bin/env python3
"""Peer side of bench/bench_embed.c: sentence-transformers (torch, CPU) embeds the same texts with
the same thread count. For each FILE:BATCH given, it encodes every line of FILE with
model.encode(lines, batch_size=BATCH), once to warm up and then RUNS times, and prints
"FILE:BATCH time T1 T2 ..." (seconds per run).

LAYERS > 0 keeps only the first LAYERS encoder layers, to time a model of another depth with the
same shape (used when the slm side runs a synthetic model of that depth).

usage: bench_embed_peer.py MODEL_DIR THREADS LAYERS RUNS FILE:BATCH..."""
import os
import sys
import time


def main():
    model_dir, threads, layers, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError:
        print("sentence-transformers / torch not installed", file=sys.stderr)
        sys.exit(77)
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    model = SentenceTransformer(model_dir, device="cpu")
    if layers > 0:
        enc = model[0].auto_model.encoder
        enc.layer = enc.layer[:layers]
        model[0].auto_model.config.num_hidden_layers = layers
    model.eval()
    for spec in sys.argv[5:]:
        path, batch = spec.rsplit(":", 1)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")[:-1]
        times = []
        with torch.inference_mode():
            for r in range(runs + 1):
                t0 = time.perf_counter()
                model.encode(lines, batch_size=int(batch), convert_to_numpy=True,
                             normalize_embeddings=True, show_progress_bar=False)
                if r:
                    times.append(time.perf_counter() - t0)
        print(spec, "time", " ".join("%.6f" % t for t in times), flush=True)


if __name__ == "__main__":
    main()
