/* Sentence-embedding throughput of slm against sentence-transformers (torch, CPU, the same thread
 * count) in one run: sentences/s at batch 1 and batch 32, for short (~12 tokens) and long (~200
 * tokens) texts, both sides embedding the same generated texts (tokenization, pooling and
 * normalisation included). Each configuration runs several times after a warm-up; best, median
 * and spread are reported because the machine is shared.
 *
 * usage: bench_embed --model M.gguf [--peer-model HF_DIR] [--peer-layers N] [--threads 2]
 *                    [--runs 5] [--n-short 256] [--n-long 64] [--json]
 * The peer is bench/bench_embed_peer.py (found under $SLM_SOURCE_DIR, default "."); it needs
 * sentence-transformers. --peer-layers keeps only the first N layers of the peer model, to time a
 * model of the same shape when the slm side runs a synthetic one of that depth. */
#include "slm.h"
#include "slm/gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *const words[] = {
    "the", "model", "small", "language", "runs", "on", "a", "laptop", "with", "little", "memory",
    "search", "finds", "documents", "about", "weather", "in", "Paris", "and", "Berlin", "people",
    "often", "ask", "why", "sky", "is", "blue", "during", "summer", "afternoons", "while", "cats",
    "sleep", "near", "warm", "windows", "engineers", "measure", "latency", "of", "every", "request",
    "before", "shipping", "new", "features", "to", "customers", "who", "care", "quality", "music",
    "history", "river", "mountain", "quickly", "slowly", "bright", "dark", "computer", "kitchen",
    "garden", "question", "answer", "train", "station", "coffee", "morning", "evening", "library",
};

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static unsigned next_word(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % (sizeof words / sizeof words[0]));
}

/* n texts of `len` words each (a capital letter, commas now and then, a full stop), one per line
 * of the file at path; the texts themselves in *texts (heap). */
static char **make_texts(const char *path, int n, int len) {
    FILE *f = fopen(path, "w");
    char **texts = calloc((size_t)n, sizeof *texts);
    if (!f || !texts) exit(1);
    for (int i = 0; i < n; i++) {
        char buf[8192];
        size_t at = 0;
        for (int w = 0; w < len; w++) {
            const char *word = words[next_word()];
            at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s%s", w ? " " : "", word,
                                   w % 11 == 10 ? "," : "");
        }
        snprintf(buf + at, sizeof buf - at, ".");
        buf[0] = (char)(buf[0] - 'a' + 'A');
        texts[i] = strdup(buf);
        fprintf(f, "%s\n", buf);
    }
    fclose(f);
    return texts;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct stats {
    double best, median, worst; /* sentences/s */
    bool ok;
};

static struct stats stats_of(double *times, int runs, int n) {
    qsort(times, (size_t)runs, sizeof *times, cmp_double);
    return (struct stats){n / times[0], n / times[runs / 2], n / times[runs - 1], true};
}

struct config {
    const char *name;
    int batch;
    char **texts;
    int n;
    char path[256];
    double mean_tokens;
    struct stats me, peer;
};

static void run_slm(slm_embedder *e, struct config *c, int runs, float *out) {
    double times[64];
    for (int r = 0; r <= runs; r++) {
        double t0 = now_s();
        for (int i = 0; i < c->n; i += c->batch) {
            int k = c->n - i < c->batch ? c->n - i : c->batch;
            slm_status st = slm_embed(e, (const char *const *)c->texts + i, (size_t)k, out, NULL);
            if (st != SLM_OK) {
                fprintf(stderr, "bench_embed: %s\n", slm_error_detail());
                exit(1);
            }
        }
        if (r) times[r - 1] = now_s() - t0;
    }
    c->me = stats_of(times, runs, c->n);
}

static void run_peer(const char *src, const char *peer_model, int threads, int layers, int runs,
                     struct config *cs, int n_cs) {
    char cmd[8192];
    int at = snprintf(cmd, sizeof cmd, "python3 '%s/bench/bench_embed_peer.py' '%s' %d %d %d", src,
                      peer_model, threads, layers, runs);
    for (int i = 0; i < n_cs; i++)
        at += snprintf(cmd + at, sizeof cmd - (size_t)at, " '%s:%d'", cs[i].path, cs[i].batch);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    char line[4096];
    while (fgets(line, sizeof line, p)) {
        for (int i = 0; i < n_cs; i++) {
            char spec[300];
            snprintf(spec, sizeof spec, "%s:%d time ", cs[i].path, cs[i].batch);
            if (strncmp(line, spec, strlen(spec))) continue;
            double times[64];
            int n = 0;
            char *s = line + strlen(spec), *end;
            while (n < runs && (times[n] = strtod(s, &end), end != s)) {
                n++;
                s = end;
            }
            if (n == runs) cs[i].peer = stats_of(times, runs, cs[i].n);
        }
    }
    int rc = pclose(p);
    if (rc) fprintf(stderr, "bench_embed: the peer exited with status %d\n", rc);
}

int main(int argc, char **argv) {
    const char *src = getenv("SLM_SOURCE_DIR"), *model = NULL, *peer_model = NULL;
    if (!src) src = ".";
    int threads = 2, runs = 5, n_short = 256, n_long = 64, layers = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) json = 1;
        else if (v && !strcmp(a, "--model")) model = argv[++i];
        else if (v && !strcmp(a, "--peer-model")) peer_model = argv[++i];
        else if (v && !strcmp(a, "--peer-layers")) layers = atoi(argv[++i]);
        else if (v && !strcmp(a, "--threads")) threads = atoi(argv[++i]);
        else if (v && !strcmp(a, "--runs")) runs = atoi(argv[++i]);
        else if (v && !strcmp(a, "--n-short")) n_short = atoi(argv[++i]);
        else if (v && !strcmp(a, "--n-long")) n_long = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_embed --model M.gguf [--peer-model HF_DIR] "
                            "[--peer-layers N] [--threads 2] [--runs 5] [--n-short 256] "
                            "[--n-long 64] [--json]\n");
            return 2;
        }
    }
    if (!model || threads < 1 || runs < 1 || runs > 64 || n_short < 1 || n_long < 1) {
        fprintf(stderr, "bench_embed: --model is required; runs 1..64\n");
        return 2;
    }
    slm_model *m = NULL;
    slm_tokenizer *tok = NULL;
    slm_embedder *e = NULL;
    struct slm_embed_params p = slm_embed_default_params();
    p.n_threads = threads;
    if (slm_model_load(model, NULL, &m) || slm_tokenizer_from_gguf(slm_model_get_gguf(m), &tok) ||
        slm_embedder_create(m, tok, &p, &e)) {
        fprintf(stderr, "bench_embed: %s: %s\n", model, slm_error_detail());
        return 1;
    }
    char dir[] = "/tmp/bench_embed.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    struct config cs[4] = {{.name = "short", .batch = 1}, {.name = "short", .batch = 32},
                           {.name = "long", .batch = 1}, {.name = "long", .batch = 32}};
    char **short_texts = NULL, **long_texts = NULL;
    char short_path[256], long_path[256];
    snprintf(short_path, sizeof short_path, "%s/short.txt", dir);
    snprintf(long_path, sizeof long_path, "%s/long.txt", dir);
    short_texts = make_texts(short_path, n_short, 10);
    long_texts = make_texts(long_path, n_long, 170);
    for (int i = 0; i < 4; i++) {
        bool is_short = !strcmp(cs[i].name, "short");
        cs[i].texts = is_short ? short_texts : long_texts;
        cs[i].n = is_short ? n_short : n_long;
        snprintf(cs[i].path, sizeof cs[i].path, "%s", is_short ? short_path : long_path);
        size_t total = 0;
        for (int k = 0; k < cs[i].n; k++) {
            int32_t *ids = NULL;
            size_t n_ids = 0;
            slm_tokenize(tok, cs[i].texts[k], strlen(cs[i].texts[k]), SLM_TOKENIZE_ADD_SPECIAL, &ids,
                         &n_ids);
            total += n_ids;
            slm_free(ids);
        }
        cs[i].mean_tokens = (double)total / cs[i].n;
    }
    float *out = malloc(32 * (size_t)slm_embedder_dim(e) * sizeof *out);
    for (int i = 0; i < 4; i++) run_slm(e, &cs[i], runs, out);
    if (peer_model) run_peer(src, peer_model, threads, layers, runs, cs, 4);

    if (json) printf("{\"model\":\"%s\",\"threads\":%d,\"runs\":%d,\"results\":[", model, threads, runs);
    else
        printf("slm %s vs sentence-transformers %s%s, %d threads, best of %d runs (sentences/s)\n"
               "%-6s %5s %6s | %9s %9s %7s | %9s %9s %7s | %7s %7s\n",
               model, peer_model ? peer_model : "(not run)", layers ? " (truncated)" : "", threads,
               runs, "input", "batch", "tokens", "slm best", "median", "spread", "st best",
               "median", "spread", "x best", "x med");
    for (int i = 0; i < 4; i++) {
        struct config *c = &cs[i];
        double me_spread = (c->me.best - c->me.worst) / c->me.best;
        double pe_spread = c->peer.ok ? (c->peer.best - c->peer.worst) / c->peer.best : 0;
        if (json) {
            printf("%s{\"input\":\"%s\",\"batch\":%d,\"mean_tokens\":%.1f,\"slm_best\":%.2f,"
                   "\"slm_median\":%.2f,\"slm_worst\":%.2f", i ? "," : "", c->name, c->batch,
                   c->mean_tokens, c->me.best, c->me.median, c->me.worst);
            if (c->peer.ok)
                printf(",\"peer_best\":%.2f,\"peer_median\":%.2f,\"peer_worst\":%.2f", c->peer.best,
                       c->peer.median, c->peer.worst);
            printf("}");
        } else if (c->peer.ok) {
            printf("%-6s %5d %6.1f | %9.1f %9.1f %6.0f%% | %9.1f %9.1f %6.0f%% | %6.2fx %6.2fx\n",
                   c->name, c->batch, c->mean_tokens, c->me.best, c->me.median, 100 * me_spread,
                   c->peer.best, c->peer.median, 100 * pe_spread, c->me.best / c->peer.best,
                   c->me.median / c->peer.median);
        } else {
            printf("%-6s %5d %6.1f | %9.1f %9.1f %6.0f%% | %9s\n", c->name, c->batch,
                   c->mean_tokens, c->me.best, c->me.median, 100 * me_spread, "-");
        }
    }
    if (json) printf("]}\n");
    for (int i = 0; i < n_short; i++) free(short_texts[i]);
    for (int i = 0; i < n_long; i++) free(long_texts[i]);
    free(short_texts);
    free(long_texts);
    free(out);
    unlink(short_path);
    unlink(long_path);
    rmdir(dir);
    slm_embedder_free(e);
    slm_tokenizer_free(tok);
    slm_model_free(m);
    return 0;
}
