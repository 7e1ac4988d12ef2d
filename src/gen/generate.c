/* The generation loop: prompt evaluation, then sample -> stream -> evaluate per token, with
 * end-of-generation tokens, stop strings, length and context limits, and timing. */
#include "core/internal.h"
#include "slm/gen.h"

#include <string.h>
#include <time.h>

static const char *const stop_names[] = {
    [SLM_STOP_EOG] = "eos", [SLM_STOP_STRING] = "stop", [SLM_STOP_LENGTH] = "length",
    [SLM_STOP_CONTEXT] = "context", [SLM_STOP_CALLBACK] = "cancelled",
};

const char *slm_stop_reason_name(slm_stop_reason r) {
    return (unsigned)r < SLM_ARRAY_LEN(stop_names) ? stop_names[r] : "?";
}

struct slm_generate_params slm_generate_default_params(void) {
    return (struct slm_generate_params){.max_tokens = 128, .ignore_eos = false, .stops = NULL,
                                        .n_stops = 0, .sampling = slm_sampler_default_params()};
}

/* Control tokens that end a turn in the chat formats we know, besides the vocabulary's EOS. */
static const char *const eog_texts[] = {"<|im_end|>", "<|eot_id|>", "<|endoftext|>", "<|end|>",
                                        "<|end_of_text|>", "<end_of_turn>", "</s>"};

static bool is_eog(const slm_tokenizer *t, int32_t id) {
    if (id == slm_tokenizer_token_id(t, SLM_TOKEN_EOS)) return true;
    if (!slm_tokenizer_is_control(t, id)) return false;
    size_t len;
    const char *text = slm_tokenizer_token_text(t, id, &len);
    for (size_t i = 0; i < SLM_ARRAY_LEN(eog_texts); i++)
        if (strlen(eog_texts[i]) == len && !memcmp(text, eog_texts[i], len)) return true;
    return false;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Appends to a growing heap buffer; false when out of memory. */
static bool append(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    if (*len + n + 1 > *cap) {
        size_t c = (*len + n + 1) * 2;
        char *q = slm__realloc(*buf, c);
        if (!q) return false;
        *buf = q, *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

void slm_generate_result_clear(struct slm_generate_result *r) {
    slm__free(r->ids);
    slm__free(r->text);
    memset(r, 0, sizeof *r);
}

slm_status slm_generate(slm_session *s, const slm_tokenizer *t, const int32_t *prompt,
                        size_t n_prompt, const struct slm_generate_params *params,
                        slm_token_fn on_token, void *user, struct slm_generate_result *out) {
    memset(out, 0, sizeof *out);
    struct slm_generate_params p = params ? *params : slm_generate_default_params();
    int32_t n_vocab = slm_tokenizer_n_vocab(t);
    slm_sampler *sampler = NULL;
    slm_stop_matcher *stops = NULL;
    slm_detok_stream *detok = NULL;
    const float *logits = NULL;
    size_t cap_ids = 0, cap_text = 0;
    slm_status st = slm_sampler_create(&p.sampling, n_vocab, &sampler);
    if (st == SLM_OK) st = slm_stop_matcher_create(p.stops, p.n_stops, &stops);
    if (st == SLM_OK) st = slm_detok_stream_create(t, 0, &detok);
    if (st != SLM_OK) goto done;
    if (n_prompt == 0) {
        st = slm__error(SLM_E_INVALID_INPUT, "empty prompt");
        goto done;
    }
    for (size_t i = 0; i < n_prompt && st == SLM_OK; i++) st = slm_sampler_accept(sampler, prompt[i]);
    if (st != SLM_OK) goto done;
    uint64_t t0 = now_ns();
    st = slm_session_eval(s, prompt, n_prompt, &logits);
    out->prompt_ns = now_ns() - t0;
    if (st != SLM_OK) goto done;
    t0 = now_ns();
    if (!append(&out->text, &out->text_len, &cap_text, "", 0)) goto oom;
    for (;;) {
        if (p.max_tokens >= 0 && out->n_ids >= (size_t)p.max_tokens) {
            out->stop = SLM_STOP_LENGTH;
            break;
        }
        int32_t tok;
        if ((st = slm_sampler_sample(sampler, logits, &tok)) != SLM_OK) goto done;
        if (!p.ignore_eos && is_eog(t, tok)) {
            out->stop = SLM_STOP_EOG;
            break;
        }
        if (out->n_ids == cap_ids) {
            cap_ids = cap_ids ? cap_ids * 2 : 64;
            int32_t *ids = slm__realloc(out->ids, cap_ids * sizeof *ids);
            if (!ids) goto oom;
            out->ids = ids;
        }
        out->ids[out->n_ids++] = tok;
        slm_sampler_accept(sampler, tok);
        const char *piece, *emit;
        size_t piece_len, emit_len;
        bool stopped;
        if ((st = slm_detok_stream_push(detok, tok, &piece, &piece_len)) != SLM_OK ||
            (st = slm_stop_matcher_feed(stops, piece, piece_len, &emit, &emit_len, &stopped)) != SLM_OK)
            goto done;
        if (!append(&out->text, &out->text_len, &cap_text, emit, emit_len)) goto oom;
        bool go_on = on_token ? on_token(user, tok, emit, emit_len) : true;
        if (stopped) {
            out->stop = SLM_STOP_STRING;
            break;
        }
        if (!go_on) {
            out->stop = SLM_STOP_CALLBACK;
            break;
        }
        if (slm_session_n_past(s) >= slm_session_n_ctx(s)) {
            out->stop = SLM_STOP_CONTEXT;
            break;
        }
        if ((st = slm_session_eval(s, &tok, 1, &logits)) != SLM_OK) goto done;
    }
    /* Text held back (a pending UTF-8 sequence or a stop-string prefix) is shown at the end. */
    if (out->stop != SLM_STOP_STRING) {
        const char *rest, *emit;
        size_t rest_len, emit_len;
        bool stopped;
        if ((st = slm_detok_stream_flush(detok, &rest, &rest_len)) != SLM_OK ||
            (st = slm_stop_matcher_feed(stops, rest, rest_len, &emit, &emit_len, &stopped)) != SLM_OK)
            goto done;
        if (!append(&out->text, &out->text_len, &cap_text, emit, emit_len)) goto oom;
        if (on_token && emit_len) on_token(user, -1, emit, emit_len);
        if (stopped) {
            out->stop = SLM_STOP_STRING;
        } else {
            if ((st = slm_stop_matcher_flush(stops, &emit, &emit_len)) != SLM_OK) goto done;
            if (!append(&out->text, &out->text_len, &cap_text, emit, emit_len)) goto oom;
            if (on_token && emit_len) on_token(user, -1, emit, emit_len);
        }
    }
    out->gen_ns = now_ns() - t0;
    goto done;
oom:
    st = slm__error(SLM_E_NOMEM, "generation output");
done:
    if (st != SLM_OK) slm_generate_result_clear(out);
    slm_sampler_free(sampler);
    slm_stop_matcher_free(stops);
    slm_detok_stream_free(detok);
    return st;
}
