#!/usr/bin/env python3
"""Test oracle: sentence-transformers embeddings of a set of varied sentences.

The sentences are cut from the given corpus files (at line breaks and sentence ends; files named
*.lines hold one text per line, kept whole), kept when
3..4000 characters long, de-duplicated, in order, at most --max of them. The model is a
sentence-transformers folder, or a plain Hugging Face BertModel folder (--pooling then says how
to pool). Writes {"texts":[...], "ids":[[...]], "embeddings":[[...]]} (normalized vectors, the
tokenizer's ids with [CLS]/[SEP]) to --out. Exit status 77 when sentence-transformers is missing.

usage: st_embed.py --model DIR --out OUT.json [--pooling mean|cls] [--max 600] CORPUS..."""
import argparse
import json
import re
import sys


def sentences(paths, limit):
    seen, out = set(), []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            continue
        for line in text.split("\n"):
            parts = [line] if path.endswith(".lines") else re.split(r"(?<=[.!?])\s+", line)
            for s in parts:
                s = s.strip()
                if 3 <= len(s) <= 4000 and s not in seen:
                    seen.add(s)
                    out.append(s)
                    if len(out) == limit:
                        return out
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pooling", default="mean")
    ap.add_argument("--max", type=int, default=600)
    ap.add_argument("corpus", nargs="+")
    a = ap.parse_args()
    try:
        import torch
        from sentence_transformers import SentenceTransformer, models
    except ImportError:
        print("sentence-transformers is not installed", file=sys.stderr)
        sys.exit(77)
    torch.set_num_threads(2)
    texts = sentences(a.corpus, a.max)
    import os
    if os.path.exists(os.path.join(a.model, "modules.json")):
        model = SentenceTransformer(a.model, device="cpu")
    else:
        tr = models.Transformer(a.model, max_seq_length=512)
        pool = models.Pooling(tr.auto_model.config.hidden_size, pooling_mode=a.pooling)
        model = SentenceTransformer(modules=[tr, pool, models.Normalize()], device="cpu")
    model.max_seq_length = 512
    emb = model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
    tok = model.tokenizer
    ids = [tok(t, truncation=True, max_length=512)["input_ids"] for t in texts]
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump({"texts": texts, "ids": ids, "embeddings": [[float(x) for x in v] for v in emb]}, f)


if __name__ == "__main__":
    main()
