/* The sampling chain: penalties, top-k, top-p, min-p, temperature, seeded draw (order and
 * semantics in slm/gen.h). Scratch for n_vocab candidates is allocated once at creation. */
#include "core/internal.h"
#include "slm/gen.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cand {
    int32_t id;
    float logit;
    float p;
};

struct slm_sampler {
    struct slm_sampler_params p;
    int32_t n_vocab;
    struct cand *cands;
    int32_t *counts;  /* occurrences of each token in the window */
    int32_t *window;  /* ring of the last win_cap accepted tokens */
    int32_t win_cap, win_len, win_head;
    uint64_t rng[4];
};

struct slm_sampler_params slm_sampler_default_params(void) {
    return (struct slm_sampler_params){
        .temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .repeat_penalty = 1.0f,
        .frequency_penalty = 0.0f, .presence_penalty = 0.0f, .penalty_last_n = 64, .seed = 0};
}

/* xoshiro256** seeded through splitmix64: fast, and the same stream on every platform. */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t next_u64(uint64_t s[4]) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
    return r;
}
static double next_unit(uint64_t s[4]) { return (double)(next_u64(s) >> 11) * 0x1.0p-53; }

void slm_sampler_reset(slm_sampler *s) {
    uint64_t x = s->p.seed;
    for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
    if (s->counts) memset(s->counts, 0, (size_t)s->n_vocab * sizeof *s->counts);
    s->win_len = s->win_head = 0;
}

slm_status slm_sampler_create(const struct slm_sampler_params *params, int32_t n_vocab,
                              slm_sampler **out) {
    *out = NULL;
    struct slm_sampler_params p = params ? *params : slm_sampler_default_params();
    if (n_vocab < 1) return slm__error(SLM_E_INVALID_ARG, "vocabulary size %d", n_vocab);
    if (!(p.temperature >= 0 && p.temperature <= 100) || p.top_k < 0 || !(p.top_p > 0 && p.top_p <= 1) ||
        !(p.min_p >= 0 && p.min_p <= 1) || !(p.repeat_penalty > 0 && p.repeat_penalty <= 100) ||
        !(fabsf(p.frequency_penalty) <= 100) || !(fabsf(p.presence_penalty) <= 100) ||
        p.penalty_last_n < 0 || p.penalty_last_n > (1 << 20))
        return slm__error(SLM_E_INVALID_INPUT, "sampling parameters out of range (temperature "
                          "0..100, top_k >= 0, top_p in (0,1], min_p in [0,1], repeat_penalty "
                          "in (0,100], penalty_last_n 0..%d)", 1 << 20);
    slm_sampler *s = slm__calloc(1, sizeof *s);
    if (!s) return slm__error(SLM_E_NOMEM, "sampler");
    s->p = p;
    s->n_vocab = n_vocab;
    s->win_cap = p.penalty_last_n;
    s->cands = slm__malloc((size_t)n_vocab * sizeof *s->cands);
    s->counts = slm__calloc((size_t)n_vocab, sizeof *s->counts);
    s->window = slm__malloc((size_t)SLM_MAX(s->win_cap, 1) * sizeof *s->window);
    if (!s->cands || !s->counts || !s->window) {
        slm_sampler_free(s);
        return slm__error(SLM_E_NOMEM, "sampler scratch for %d tokens", n_vocab);
    }
    slm_sampler_reset(s);
    *out = s;
    return SLM_OK;
}

void slm_sampler_free(slm_sampler *s) {
    if (!s) return;
    slm__free(s->cands);
    slm__free(s->counts);
    slm__free(s->window);
    slm__free(s);
}

slm_status slm_sampler_accept(slm_sampler *s, int32_t token) {
    if (token < 0 || token >= s->n_vocab)
        return slm__error(SLM_E_INVALID_ARG, "token %d outside vocabulary of %d", token, s->n_vocab);
    if (s->win_cap == 0) return SLM_OK;
    if (s->win_len == s->win_cap) {
        int32_t old = s->window[s->win_head];
        SLM_ASSERT(s->counts[old] > 0);
        s->counts[old]--;
    } else {
        s->win_len++;
    }
    s->window[s->win_head] = token;
    s->win_head = (s->win_head + 1) % s->win_cap;
    s->counts[token]++;
    return SLM_OK;
}

static void apply_penalties(slm_sampler *s) {
    const struct slm_sampler_params *p = &s->p;
    if (p->repeat_penalty == 1.0f && p->frequency_penalty == 0.0f && p->presence_penalty == 0.0f)
        return;
    /* Each distinct token once: its count is negated while visited, restored afterwards. */
    for (int32_t i = 0; i < s->win_len; i++) {
        int32_t t = s->window[i];
        int32_t c = s->counts[t];
        if (c <= 0) continue;
        float *l = &s->cands[t].logit;
        *l = *l > 0 ? *l / p->repeat_penalty : *l * p->repeat_penalty;
        *l -= (float)c * p->frequency_penalty + p->presence_penalty;
        s->counts[t] = -c;
    }
    for (int32_t i = 0; i < s->win_len; i++) {
        int32_t t = s->window[i];
        if (s->counts[t] < 0) s->counts[t] = -s->counts[t];
    }
}

/* Descending logit, ascending id on ties: a total order, so the kept set and its order never
 * depend on where candidates sit in memory. */
static bool cand_better(const struct cand *x, const struct cand *y) {
    if (x->logit != y->logit) return x->logit > y->logit;
    return x->id < y->id;
}

/* Restores the heap property below j in c[0..n). With best_on_top the root is the best candidate
 * (nucleus extraction), otherwise the worst (keeping the best k). In place: glibc's qsort may
 * allocate, and sampling runs once per token. */
static void sift_down(struct cand *c, int32_t n, int32_t j, bool best_on_top) {
    for (;;) {
        int32_t l = 2 * j + 1, r = l + 1, w = j;
        if (l < n && cand_better(&c[l], &c[w]) == best_on_top) w = l;
        if (r < n && cand_better(&c[r], &c[w]) == best_on_top) w = r;
        if (w == j) return;
        struct cand t = c[j];
        c[j] = c[w], c[w] = t, j = w;
    }
}

/* Moves the k best candidates to the front, best first: a heap of the best k seen (root = the
 * worst of them), then sorted by taking the root to the end one at a time. */
static void select_top_k(struct cand *c, int32_t n, int32_t k) {
    for (int32_t i = k / 2 - 1; i >= 0; i--) sift_down(c, k, i, false);
    for (int32_t i = k; i < n; i++) {
        if (!cand_better(&c[i], &c[0])) continue;
        struct cand t = c[0];
        c[0] = c[i], c[i] = t;
        sift_down(c, k, 0, false);
    }
    for (int32_t end = k - 1; end > 0; end--) {
        struct cand t = c[0];
        c[0] = c[end], c[end] = t;
        sift_down(c, end, 0, false);
    }
}

/* The smallest best-first prefix whose probability reaches top_p, moved to the front; returns its
 * length. Pops a best-on-top heap only as far as the nucleus goes, so a 50k vocabulary costs
 * O(n + kept log n), not a full sort. c[].p must hold the probabilities. */
static int32_t select_nucleus(struct cand *c, int32_t n, float top_p) {
    for (int32_t i = n / 2 - 1; i >= 0; i--) sift_down(c, n, i, true);
    double cum = 0;
    int32_t end = n;
    while (end > 0) {
        cum += c[0].p;
        struct cand t = c[0];
        c[0] = c[end - 1], c[end - 1] = t;
        end--;
        sift_down(c, end, 0, true);
        if (cum >= top_p) break;
    }
    /* the popped candidates sit in c[end..n), best last: reverse them, then move to the front */
    for (int32_t i = end, j = n - 1; i < j; i++, j--) {
        struct cand t = c[i];
        c[i] = c[j], c[j] = t;
    }
    memmove(c, c + end, (size_t)(n - end) * sizeof *c);
    return n - end;
}

/* p = softmax(logit / temp) over c[0..n); at least one logit is finite. */
static void softmax(struct cand *c, int32_t n, float temp) {
    float max = c[0].logit;
    for (int32_t i = 1; i < n; i++) max = c[i].logit > max ? c[i].logit : max;
    double sum = 0;
    for (int32_t i = 0; i < n; i++) {
        c[i].p = expf((c[i].logit - max) / temp);
        sum += c[i].p;
    }
    for (int32_t i = 0; i < n; i++) c[i].p = (float)(c[i].p / sum);
}

slm_status slm_sampler_sample(slm_sampler *s, const float *logits, int32_t *token) {
    struct cand *c = s->cands;
    int32_t n = s->n_vocab;
    for (int32_t i = 0; i < n; i++) {
        float l = logits[i];
        /* NaN never wins; +inf is the largest finite value so softmax stays defined. */
        c[i] = (struct cand){i, isnan(l) ? -INFINITY : l == INFINITY ? FLT_MAX : l, 0.0f};
    }
    apply_penalties(s);
    const struct slm_sampler_params *p = &s->p;
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (c[i].logit > c[best].logit) best = i;
    if (c[best].logit == -INFINITY)
        return slm__error(SLM_E_INVALID_INPUT, "every logit is -inf or NaN");
    if (p->temperature <= 0.0f) {
        *token = best;
        return SLM_OK;
    }
    bool sorted = false;
    if (p->top_k > 0 && p->top_k < n) {
        select_top_k(c, n, p->top_k);
        n = p->top_k;
        sorted = true;
    }
    softmax(c, n, 1.0f);
    if (p->top_p < 1.0f && !sorted) {
        n = select_nucleus(c, n, p->top_p);
    } else if (p->top_p < 1.0f) {
        double cum = 0;
        int32_t keep = n;
        for (int32_t i = 0; i < n; i++) {
            cum += c[i].p;
            if (cum >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (p->min_p > 0.0f) {
        float pmax = 0;
        for (int32_t i = 0; i < n; i++) pmax = c[i].p > pmax ? c[i].p : pmax;
        float thr = pmax * p->min_p;
        int32_t m = 0;
        for (int32_t i = 0; i < n; i++)
            if (c[i].p >= thr) c[m++] = c[i]; /* keeps the order, so sorted stays sorted */
        n = m;
    }
    softmax(c, n, p->temperature);
    double r = next_unit(s->rng), cum = 0;
    for (int32_t i = 0; i < n; i++) {
        cum += c[i].p;
        if (r < cum) {
            *token = c[i].id;
            return SLM_OK;
        }
    }
    *token = c[n - 1].id; /* r landed in the rounding slack at the top */
    return SLM_OK;
}
