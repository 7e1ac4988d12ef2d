#!/usr/bin/env python3
"""Reference ids for tests/test_tokenizer_hf.c: generates a varied corpus (code, numbers, emoji,
CJK, accents, whitespace runs, special-token text) from a fixed seed and encodes every string with
the Hugging Face `tokenizers` package, with and without special tokens.

usage: tokenizer_oracle.py TOKENIZER_JSON OUT_JSON [N [VARIANT]]
VARIANT "qwen2" rewrites a byte-level tokenizer.json the way Qwen2 files are written (NFC
normalizer, Split regex + ByteLevel without regex) and saves it as OUT_JSON.tokenizer.json; the
"tokenizer" field of the output names the file the ids belong to.
Exit 77 when the `tokenizers` package is missing (the C test then skips visibly)."""
import json
import random
import sys

try:
    from tokenizers import Tokenizer
except ImportError:
    print("tokenizers package not installed", file=sys.stderr)
    sys.exit(77)

WORDS = ("the quick brown fox jumps over lazy dog Once upon a time there was little girl named "
         "Lily she loved play park HELLO World naïve café résumé façade Ångström São Paulo Zürich "
         "Straße Dvořák Łódź İstanbul ĳssel œuvre ﬁnance Ελληνικά русский текст עברית العربية "
         "हिन्दी ภาษาไทย 日本語 テキスト ひらがな 漢字 中文 한국어 문장 Tiếng Việt don't I'm we'll "
         "they've she'd it's O'Neil").split()
CODE = [
    "int main(void) {\n    return 0;\n}",
    "def f(x):\n\treturn x**2 + 1  # square",
    "for (size_t i = 0; i < n; ++i) a[i] += b[i] * 3.5f;",
    "if (x != NULL && *x == '\\0') { printf(\"%s\\n\", s); }",
    "SELECT id, name FROM users WHERE age >= 21 ORDER BY name;",
    "<div class=\"note\">Tom &amp; Jerry &lt;3</div>",
    "const f = async (a, b) => { await g(a ?? b); };",
    "x = [1,2,3]; y = {'k': None, \"v\": True}",
    "fn main() -> Result<(), Box<dyn Error>> { Ok(()) }",
    "#include <stdio.h>\n#define MAX(a,b) ((a)>(b)?(a):(b))",
    "$ ls -la | grep '^d' > out.txt 2>&1",
    "https://example.org/a/b?q=1&r=two#frag mail@example.com",
]
EMOJI = ["😀", "🚀", "🔥", "👍🏽", "🌍", "😶‍🌫️", "✅", "🦙", "👩‍👩‍👧", "🇫🇷", "❤️", "1️⃣", "🙏"]
PUNCT = list(".,;:!?()[]{}<>\"'`~@#$%^&*-_+=/\\|…—–“”‘’«»¿¡·•§¶©®™°±×÷")
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\t\t", "        ", "\u00a0",
          "\u3000", "\u2009", "\u200b", "\x0b", "\x0c"]
ACCENTED = "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝčćđšžřůěňťďĺľŕ"
# Random code points come from long-assigned blocks: characters added or re-categorised by recent
# Unicode versions are classified differently by the package's tables and by utf8proc, which is a
# difference of Unicode data, not of the tokenizer algorithm.
RANGES = [(0x21, 0x7E), (0xA1, 0x24F), (0x391, 0x3C9), (0x400, 0x45F), (0x5D0, 0x5EA),
          (0x621, 0x64A), (0x905, 0x939), (0x2010, 0x2027), (0x2190, 0x21FF), (0x2200, 0x22FF),
          (0x2500, 0x257F), (0x3041, 0x3096), (0x30A1, 0x30FA), (0x4E00, 0x9FA5), (0xAC00, 0xD7A3),
          (0x1F600, 0x1F64F)]
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "\u0301"]


def number(r):
    k = r.randrange(6)
    if k == 0:
        return str(r.randrange(10 ** r.randrange(1, 12)))
    if k == 1:
        return f"{r.uniform(-1e6, 1e6):.{r.randrange(0, 6)}f}"
    if k == 2:
        return f"{r.randrange(1, 1000):,}"
    if k == 3:
        return f"{r.uniform(0, 10):.2e}"
    if k == 4:
        return f"2024-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}T{r.randrange(24):02d}:00Z"
    return "".join(r.choice("0123456789٠١٢٣४५६½²") for _ in range(r.randrange(1, 8)))


def piece(r, specials):
    k = r.randrange(12)
    if k <= 3:
        w = r.choice(WORDS)
        return w.upper() if r.random() < 0.1 else w
    if k == 4:
        return number(r)
    if k == 5:
        return r.choice(CODE)
    if k == 6:
        return "".join(r.choice(EMOJI) for _ in range(r.randrange(1, 4)))
    if k == 7:
        return "".join(r.choice(PUNCT) for _ in range(r.randrange(1, 5)))
    if k == 8:
        return r.choice(SPACES)
    if k == 9:
        return "".join(r.choice(ACCENTED) for _ in range(r.randrange(1, 8)))
    if k == 10:
        return r.choice(COMBINING)
    if specials and r.random() < 0.5:
        return r.choice(specials)
    lo, hi = r.choice(RANGES)
    return "".join(chr(r.randrange(lo, hi + 1)) for _ in range(r.randrange(1, 4)))


def corpus(n, specials):
    r = random.Random(20261122)
    out = ["", " ", "   ", "\n", "a", "Hello world", "  leading", "trailing  ", "a" * 300,
           "x" * 5000, "word " * 400, "\t \n \r\n  \u00a0 ", "".join(EMOJI), "".join(PUNCT)]
    while len(out) < n - 2:
        parts = [piece(r, specials) for _ in range(r.randrange(1, 14))]
        sep = r.choice(["", " ", " ", " ", "\n"])
        out.append(sep.join(parts))
    # two long documents (tens of KB: long inputs take other code paths, e.g. a word cache)
    out.append(" ".join(out[20:600]))
    out.append("\n".join(out[600:1400]))
    return out


QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")


def qwen2_variant(path, out_path):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    doc["normalizer"] = {"type": "NFC"}
    doc["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": QWEN2_SPLIT}, "behavior": "Isolated",
         "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
         "use_regex": False}]}
    new_path = out_path + ".tokenizer.json"
    with open(new_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    return new_path


def main():
    path, out_path = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    if len(sys.argv) > 4 and sys.argv[4] == "qwen2":
        path = qwen2_variant(path, out_path)
    tok = Tokenizer.from_file(path)
    tok.no_truncation()
    tok.no_padding()
    specials = [t.content for t in tok.get_added_tokens_decoder().values()]
    cases = []
    for i, text in enumerate(corpus(n, specials)):
        add = i % 2 == 1
        cases.append({"text": text, "add_special": add,
                      "ids": tok.encode(text, add_special_tokens=add).ids})
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"tokenizer": path, "cases": cases}, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
