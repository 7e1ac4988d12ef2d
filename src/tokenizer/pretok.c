/* Byte-level BPE pre-tokenizers: one table row per known tokenizer.ggml.pre value, each the list of
 * regular expressions the model's reference tokenizer splits text with (applied one after the
 * other, every regex splitting each piece left by the previous one into matches and the gaps
 * between them). Compiled with PCRE2 (UTF, Unicode properties, JIT). */
#include "tokenizer/internal.h"

#include <string.h>

/* The GPT-2 expression, shared by most rows. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_LLAMA3                                                                                  \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"     \
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                                   \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"     \
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* The same two as tokenizer.json files write them (case-insensitive contractions). */
#define RE_LLAMA3_HF                                                                               \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "                     \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"                                                               \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2_HF                                                                                \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "                          \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"                                                               \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_BLOOM " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"
/* deepseek-llm: an optional space and a run of cased letters (the reference lists them as
 * ranges rather than \p{LC}). */
// clang-format off
#define RE_DEEPSEEK_LETTERS \
    "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}" \
    "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}" \
    "\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}" \
    "\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}" \
    "\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}" \
    "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}" \
    "\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}" \
    "\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}" \
    "\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}" \
    "\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}" \
    "\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}" \
    "\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}" \
    "\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}" \
    "\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}" \
    "\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}" \
    "\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}" \
    "\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}" \
    "\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+"
// clang-format on
#define RE_CJK "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"

struct pre_row {
    const char *const *names; /* the tokenizer.ggml.pre values of this row, NULL-terminated */
    const char *re[SLM__PRE_MAX_REGEX];
    const char *hf_re;  /* the same single regex as tokenizer.json files spell it, or NULL */
    bool ignore_merges; /* a word that is itself a token is not split by merges */
    bool add_bos;       /* default for tokenizer.ggml.add_bos_token */
};

static const struct pre_row pre_table[] = {
    {(const char *const[]){"default", NULL},
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"},
     NULL,
     false,
     false},
    {(const char *const[]){"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                           "midm-2.0", "lfm2", NULL},
     {RE_LLAMA3},
     RE_LLAMA3_HF,
     true,
     true},
    {(const char *const[]){"dbrx", "smaug-bpe", "chatglm-bpe", "glm4", NULL},
     {RE_LLAMA3},
     NULL,
     false,
     false},
    {(const char *const[]){"deepseek-llm", NULL},
     {"[\r\n]", RE_DEEPSEEK_LETTERS,
      "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      "\\s+$", RE_CJK, "\\p{N}+"},
     NULL,
     false,
     false},
    {(const char *const[]){"deepseek-coder", NULL},
     {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}"},
     NULL,
     false,
     false},
    {(const char *const[]){"falcon", NULL},
     {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"},
     NULL,
     false,
     false},
    {(const char *const[]){"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone",
                           "minerva-7b", NULL},
     {"\\p{N}", RE_GPT2},
     NULL,
     false,
     false},
    {(const char *const[]){"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en",
                           "jina-v2-es", "jina-v2-de", "jina-v2-code", "roberta-bpe", "mpt", "olmo",
                           "jais", "trillion", NULL},
     {RE_GPT2},
     NULL,
     false,
     false},
    {(const char *const[]){"qwen2", "qwen2.5", "qwen-2.5", "deepseek-r1-qwen", "stablelm2",
                           "megrez", "hunyuan", NULL},
     {RE_QWEN2},
     RE_QWEN2_HF,
     false,
     false},
    {(const char *const[]){"poro-chat", "bloom", "gpt3-finnish", NULL},
     {RE_BLOOM},
     NULL,
     false,
     false},
    {(const char *const[]){"viking", NULL}, {RE_BLOOM, "\\p{N}"}, NULL, false, false},
    {(const char *const[]){"tekken", NULL},
     {"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?("
      "(?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|"
      "\\s+(?!\\S)"},
     NULL,
     true,
     true},
    {(const char *const[]){"gpt-4o", "llama4", NULL},
     {"[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?"
      "i:'s|'t|"
      "'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{"
      "Lm}\\p{Lo}"
      "\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|"
      "\\s+(?!\\S)|\\s+"},
     NULL,
     false,
     false},
};

/* The GPT-2 expression on its own, for tokenizer.json ByteLevel(use_regex) pre-tokenizers. */
const char *const slm__re_gpt2 = RE_GPT2;

int slm__pre_find(const char *name, size_t len, const char **canonical) {
    if (!name || !len) name = "default", len = 7;
    for (size_t r = 0; r < SLM_ARRAY_LEN(pre_table); r++)
        for (const char *const *n = pre_table[r].names; *n; n++)
            if (strlen(*n) == len && !memcmp(*n, name, len)) {
                *canonical = *n;
                return (int)r;
            }
    return -1;
}

int slm__pre_match(const char *const *patterns, int n) {
    for (size_t r = 0; r < SLM_ARRAY_LEN(pre_table); r++) {
        const struct pre_row *p = &pre_table[r];
        if (n == 1 && p->hf_re && !strcmp(patterns[0], p->hf_re)) return (int)r;
        int k = 0;
        while (k < n && k < SLM__PRE_MAX_REGEX && p->re[k] && !strcmp(p->re[k], patterns[k])) k++;
        if (k == n && (k == SLM__PRE_MAX_REGEX || !p->re[k])) return (int)r;
    }
    return -1;
}

const char *slm__pre_row_name(int row) {
    SLM_ASSERT(row >= 0 && (size_t)row < SLM_ARRAY_LEN(pre_table));
    return pre_table[row].names[0];
}

static void *pcre_alloc(size_t n, void *ctx) {
    (void)ctx;
    return slm__malloc(n);
}
static void pcre_free(void *p, void *ctx) {
    (void)ctx;
    slm__free(p);
}

slm_status slm__pre_setup_custom(slm_tokenizer *t, const char *const *patterns, int n) {
    if (n > SLM__PRE_MAX_REGEX)
        return slm__error(SLM_E_UNSUPPORTED, "tokenizer: more than %d pre-tokenizer regexes",
                          SLM__PRE_MAX_REGEX);
    pcre2_general_context *gc = pcre2_general_context_create(pcre_alloc, pcre_free, NULL);
    pcre2_compile_context *cc = gc ? pcre2_compile_context_create(gc) : NULL;
    if (!cc) {
        pcre2_general_context_free(gc);
        return slm__error(SLM_E_NOMEM, "tokenizer: out of memory");
    }
    slm_status st = SLM_OK;
    for (int i = 0; i < n && st == SLM_OK; i++) {
        int err;
        PCRE2_SIZE at;
        pcre2_code *re = pcre2_compile(
            (PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED,
            PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF, &err, &at, cc);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(err, msg, sizeof msg);
            st = slm__error(SLM_E_INVALID_MODEL, "tokenizer: pre-tokenizer regex %d: %s at %zu", i,
                            (const char *)msg, (size_t)at);
            break;
        }
        /* JIT is a speed-up only: the interpreter gives the same matches if it is unavailable. */
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
        t->re[t->n_re++] = re;
    }
    pcre2_compile_context_free(cc);
    pcre2_general_context_free(gc);
    return st;
}

slm_status slm__pre_setup(slm_tokenizer *t, int row) {
    SLM_ASSERT(row >= 0 && (size_t)row < SLM_ARRAY_LEN(pre_table));
    const struct pre_row *p = &pre_table[row];
    int n = 0;
    while (n < SLM__PRE_MAX_REGEX && p->re[n]) n++;
    t->pre = row;
    t->pre_name = p->names[0];
    t->ignore_merges = p->ignore_merges;
    t->add_bos = p->add_bos;
    return slm__pre_setup_custom(t, p->re, n);
}
