/* `slm bench MODEL`: prompt-processing and generation speed of a model on this machine, the
 * memory read bandwidth measured in the same run, and the fraction of the bandwidth roofline that
 * generation reaches (generation streams every weight once per token). */
#include "cli/cli.h"

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

struct bw_job {
    const uint64_t *buf;
    size_t words;
    uint64_t sums[64];
};

static void bw_read(void *p, int ith, int nth) {
    struct bw_job *j = p;
    size_t per = j->words / (size_t)nth, b = per * (size_t)ith, e = b + per;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = b; i + 4 <= e; i += 4) {
        s0 += j->buf[i], s1 += j->buf[i + 1], s2 += j->buf[i + 2], s3 += j->buf[i + 3];
    }
    j->sums[ith] = s0 + s1 + s2 + s3;
}

/* Best of several passes reading a buffer far larger than the caches with the pool's threads. */
static double measure_bandwidth(slm_pool *pool) {
    const size_t bytes = (size_t)512 << 20;
    struct bw_job j = {.words = bytes / 8};
    uint64_t *buf = malloc(bytes);
    if (!buf) return 0;
    memset(buf, 1, bytes);
    j.buf = buf;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s();
        slm_pool_run(pool, bw_read, &j, slm_pool_n_threads(pool));
        double gbs = (double)bytes / (now_s() - t0) / 1e9;
        best = gbs > best ? gbs : best;
    }
    free(buf);
    return best;
}

static uint64_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &rss) != 2) rss = 0;
        fclose(f);
    }
    return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Weight bytes one generated token reads: every matrix except the token embedding, which is only
 * looked up (unless it doubles as the output projection). */
static uint64_t bytes_per_token(const slm_model *m) {
    const slm_gguf *g = slm_model_get_gguf(m);
    uint64_t total = 0;
    for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
        if (!strcmp(t->name, "token_embd.weight") && !slm_model_get_hparams(m)->tied_output) continue;
        total += t->n_bytes;
    }
    return total;
}

int cmd_bench(int argc, char **argv) {
    struct cli_opt o[] = {{"--json", false, false, NULL}, {"--threads", true, false, NULL},
                          {"--prompt-tokens", true, false, NULL}, {"--gen-tokens", true, false, NULL},
                          {"--reps", true, false, NULL}, {"--kv-f32", false, false, NULL}};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(argc, argv, o, 6, pos, 1, &n_pos);
    if (rc) return rc;
    bool json = o[0].set;
    long threads = slm_cpu_count(), pp = 128, tg = 64, reps = 3;
    if (n_pos != 1 || !cli_opt_long(&o[1], 1, 1024, &threads) || !cli_opt_long(&o[2], 1, 1 << 16, &pp) ||
        !cli_opt_long(&o[3], 1, 1 << 16, &tg) || !cli_opt_long(&o[4], 1, 100, &reps)) {
        fprintf(stderr, "usage: slm bench MODEL [--threads T] [--prompt-tokens 128] [--gen-tokens 64] "
                        "[--reps 3] [--kv-f32] [--json]\n");
        return CLI_EXIT_USAGE;
    }
    slm_model *m = NULL;
    if ((rc = cli_load_model(pos[0], json, NULL, &m, NULL))) return rc;
    const struct slm_model_hparams *h = slm_model_get_hparams(m);
    slm_pool *pool = NULL;
    slm_session *s = NULL;
    struct slm_session_params sp = slm_session_default_params();
    sp.n_ctx = (uint32_t)(pp + tg) < h->n_ctx_train ? (uint32_t)(pp + tg) : h->n_ctx_train;
    sp.n_batch = (uint32_t)pp;
    sp.kv_type = o[5].set ? SLM_KV_F32 : SLM_KV_F16;
    slm_status st = slm_pool_create((int)threads, &pool);
    sp.pool = pool;
    if (st == SLM_OK) st = slm_session_create(m, &sp, &s);
    if (st == SLM_OK && (uint64_t)pp + (uint64_t)tg > slm_session_n_ctx(s))
        st = SLM_E_INVALID_ARG, slm_error_clear();
    if (st != SLM_OK) {
        rc = cli_fail(json, st, "%s", *slm_error_detail() ? slm_error_detail()
                                                           : "prompt + generated tokens exceed the context");
        goto out;
    }
    int32_t *toks = malloc((size_t)(pp + tg) * sizeof *toks);
    uint64_t seed = 12345;
    for (long i = 0; i < pp + tg; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (int32_t)((seed >> 33) % h->n_vocab);
    }
    const float *logits;
    double best_pp = 0, best_tg = 0;
    for (long r = 0; r < reps && st == SLM_OK; r++) {
        slm_session_rewind(s, 0);
        double t0 = now_s();
        st = slm_session_eval(s, toks, (size_t)pp, &logits);
        double t1 = now_s();
        for (long i = 0; i < tg && st == SLM_OK; i++) st = slm_session_eval(s, &toks[pp + i], 1, &logits);
        double t2 = now_s();
        if ((double)pp / (t1 - t0) > best_pp) best_pp = (double)pp / (t1 - t0);
        if ((double)tg / (t2 - t1) > best_tg) best_tg = (double)tg / (t2 - t1);
    }
    free(toks);
    if (st != SLM_OK) {
        rc = cli_fail(json, st, "%s", slm_error_detail());
        goto out;
    }
    uint64_t rss = rss_bytes();
    double bw = measure_bandwidth(pool), bpt = (double)bytes_per_token(m);
    double roof = bw > 0 ? bw * 1e9 / bpt : 0;
    if (json) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "model", pos[0]);
        cJSON_AddNumberToObject(d, "threads", (double)threads);
        cJSON_AddNumberToObject(d, "prompt_tokens", (double)pp);
        cJSON_AddNumberToObject(d, "gen_tokens", (double)tg);
        cJSON_AddNumberToObject(d, "pp_tok_s", best_pp);
        cJSON_AddNumberToObject(d, "tg_tok_s", best_tg);
        cJSON_AddNumberToObject(d, "bandwidth_gb_s", bw);
        cJSON_AddNumberToObject(d, "weight_bytes_per_token", bpt);
        cJSON_AddNumberToObject(d, "roofline_tok_s", roof);
        cJSON_AddNumberToObject(d, "roofline_fraction", roof > 0 ? best_tg / roof : 0);
        cJSON_AddNumberToObject(d, "rss_bytes", (double)rss);
        cJSON_AddNumberToObject(d, "session_bytes", (double)slm_session_bytes(s));
        cJSON_AddStringToObject(d, "kernels", slm_cpu_kernels());
        cli_print_json(d);
    } else {
        printf("%s, %ld threads, kernels %s\n", pos[0], threads, slm_cpu_kernels());
        printf("  prompt %ld tokens   %8.1f tok/s\n", pp, best_pp);
        printf("  generation %ld      %8.1f tok/s  (%.0f%% of the %.1f tok/s roofline: %.1f MB per "
               "token at %.1f GB/s)\n", tg, best_tg, roof > 0 ? 100 * best_tg / roof : 0, roof,
               bpt / 1e6, bw);
        printf("  RSS %.1f MiB\n", (double)rss / (1 << 20));
    }
out:
    slm_session_free(s);
    slm_pool_free(pool);
    slm_model_free(m);
    return rc;
}
