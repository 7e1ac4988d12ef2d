/* Changing the type of weight matrices: the type a row length admits, threaded row conversion
 * (shared by `slm convert`, `slm quantize` and load-time quantization), and `slm quantize` itself,
 * which rewrites a GGUF model with its matrices in another type and everything else kept. */
#include "model/internal.h"
#include "slm/convert.h"

#include <stdio.h>
#include <string.h>

static const bool writable[SLM_TYPE_COUNT] = {
    [SLM_TYPE_F32] = true,  [SLM_TYPE_F16] = true,  [SLM_TYPE_BF16] = true, [SLM_TYPE_Q8_0] = true,
    [SLM_TYPE_Q4_0] = true, [SLM_TYPE_Q4_1] = true, [SLM_TYPE_Q5_0] = true, [SLM_TYPE_Q5_1] = true,
    [SLM_TYPE_Q4_K] = true, [SLM_TYPE_Q5_K] = true, [SLM_TYPE_Q6_K] = true,
};

/* llama.cpp's LLAMA_FTYPE numbering; K types map to their "_S" (all tensors one type) variant. */
static const uint32_t file_types[SLM_TYPE_COUNT] = {
    [SLM_TYPE_F32] = 0,   [SLM_TYPE_F16] = 1,   [SLM_TYPE_Q4_0] = 2,  [SLM_TYPE_Q4_1] = 3,
    [SLM_TYPE_Q8_0] = 7,  [SLM_TYPE_Q5_0] = 8,  [SLM_TYPE_Q5_1] = 9,  [SLM_TYPE_Q4_K] = 14,
    [SLM_TYPE_Q5_K] = 16, [SLM_TYPE_Q6_K] = 18, [SLM_TYPE_BF16] = 32,
};

bool slm_quant_type_writable(slm_type type) {
    return (unsigned)type < SLM_TYPE_COUNT && writable[type];
}

uint32_t slm__file_type(slm_type type) {
    SLM_ASSERT(slm_quant_type_writable(type));
    return file_types[type];
}

slm_type slm_quant_type_for_row(slm_type want, int64_t cols) {
    if (!slm_quant_type_writable(want) || cols % slm_type_block_size(want) == 0) return want;
    slm_type next = want == SLM_TYPE_Q4_K   ? SLM_TYPE_Q5_0
                    : want == SLM_TYPE_Q5_K ? SLM_TYPE_Q5_1
                    : want == SLM_TYPE_Q6_K ? SLM_TYPE_Q8_0
                                            : SLM_TYPE_F16;
    return cols % slm_type_block_size(next) == 0 ? next : SLM_TYPE_F16;
}

struct convert_job {
    slm_type dst_type, src_type;
    uint8_t *dst;
    const uint8_t *src;
    int64_t cols;
    size_t dst_row, src_row;
    float *scratch; /* [nth][2 * cols]: a row as floats, then the stored row when misaligned */
    slm_chunker rows;
};

static void convert_worker(void *ctx, int ith, int nth) {
    (void)nth;
    struct convert_job *j = ctx;
    float *row = j->scratch + (size_t)ith * 2 * (size_t)j->cols, *raw = row + j->cols;
    int64_t b, e;
    /* Both calls only fail for unsupported types, which the caller has ruled out. */
    while (slm__chunker_next(&j->rows, &b, &e)) {
        for (int64_t r = b; r < e; r++) {
            const void *src = j->src + (size_t)r * j->src_row;
            if ((uintptr_t)src % sizeof(float)) { /* safetensors data need not be aligned */
                memcpy(raw, src, j->src_row);
                src = raw;
            }
            const float *x = src;
            if (j->src_type != SLM_TYPE_F32) {
                SLM_ASSERT(slm_type_dequantize(j->src_type, src, row, j->cols) == SLM_OK);
                x = row;
            }
            SLM_ASSERT(slm_type_quantize(j->dst_type, x, j->dst + (size_t)r * j->dst_row,
                                         j->cols) == SLM_OK);
        }
    }
}

slm_status slm__convert_rows(slm_pool *pool, slm_type dst_type, void *dst, slm_type src_type,
                             const void *src, int64_t rows, int64_t cols) {
    SLM_ASSERT(slm_quant_type_writable(dst_type) && cols % slm_type_block_size(dst_type) == 0);
    if (!slm_quant_type_writable(src_type) || cols % slm_type_block_size(src_type) != 0)
        return slm__error(SLM_E_UNSUPPORTED, "cannot convert from type %s",
                          slm_type_name(src_type));
    uint64_t dst_row, src_row;
    SLM_ASSERT(slm_type_nbytes(dst_type, (uint64_t)cols, &dst_row) &&
               slm_type_nbytes(src_type, (uint64_t)cols, &src_row));
    if (dst_type == src_type) {
        memcpy(dst, src, (size_t)(dst_row * (uint64_t)rows));
        return SLM_OK;
    }
    int nth = pool ? slm_pool_n_threads(pool) : 1;
    struct convert_job j = {dst_type,        src_type,        dst,  src, cols,
                            (size_t)dst_row, (size_t)src_row, NULL, {0}};
    j.scratch = slm__malloc((size_t)nth * 2 * (size_t)cols * sizeof(float));
    if (!j.scratch) return slm__error(SLM_E_NOMEM, "conversion scratch");
    slm__chunker_init(&j.rows, 0, rows, SLM_MAX(1, 65536 / cols));
    slm_pool_run(pool, convert_worker, &j, nth);
    slm__free(j.scratch);
    return SLM_OK;
}

/* ---- which tensors change type: quantize and load-time quantization ---- */

/* Learned position and token-type tables are looked up, not multiplied: llama.cpp keeps them. */
static bool is_matrix(const struct slm_gguf_tensor *t) {
    return t->n_dims == 2 && strcmp(t->name, "position_embd.weight") &&
           strcmp(t->name, "token_types.weight");
}

slm_type slm__loaded_type(const struct slm_gguf_tensor *t, int load_type) {
    bool plain = t->type == SLM_TYPE_F32 || t->type == SLM_TYPE_F16 || t->type == SLM_TYPE_BF16;
    if (load_type == SLM_LOAD_TYPE_KEEP || !plain || !is_matrix(t)) return t->type;
    return slm_quant_type_for_row((slm_type)load_type, t->ne[0]);
}

/* ---- slm quantize ---- */

struct slm_quantize_params slm_quantize_default_params(void) {
    return (struct slm_quantize_params){.type = SLM_TYPE_Q8_0, .fallback = false, .n_threads = 0};
}

/* One matrix converted while the file is written. */
struct pending {
    slm_pool *pool;
    const struct slm_gguf_tensor *t;
    slm_type type;
};

static slm_status fill_tensor(void *ctx, void *dst, uint64_t n_bytes) {
    (void)n_bytes;
    const struct pending *p = ctx;
    slm_status st =
        slm__convert_rows(p->pool, p->type, dst, p->t->type, p->t->data, p->t->ne[1], p->t->ne[0]);
    if (st != SLM_OK) slm__error_prefix("tensor '%s'", p->t->name);
    return st;
}

struct quantize_state {
    slm_gguf *in;
    slm_gguf_writer *w;
    slm_pool *pool;
    struct pending *pend;
};

static slm_status quantize_run(struct quantize_state *s, const struct slm_quantize_params *p,
                               const char *out_path, struct slm_quantize_report *rep) {
    slm_status st;
    for (int64_t i = 0; i < slm_gguf_kv_count(s->in); i++)
        if ((st = slm_gguf_writer_copy_kv(s->w, s->in, i)) != SLM_OK) return st;
    if ((st = slm_gguf_writer_set_u32(s->w, "general.file_type", slm__file_type(p->type))) ||
        (st = slm_gguf_writer_set_alignment(s->w, (uint32_t)slm_gguf_alignment(s->in))))
        return st;
    for (int64_t i = 0; i < slm_gguf_tensor_count(s->in); i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(s->in, i);
        slm_type type = t->type;
        uint64_t n_bytes = t->n_bytes;
        if (is_matrix(t) && t->type != p->type) {
            type = slm_quant_type_for_row(p->type, t->ne[0]);
            if (type != p->type && !p->fallback)
                return slm__error(SLM_E_INVALID_ARG,
                                  "tensor '%s' has rows of %lld elements, "
                                  "not a multiple of the %s block (%lld); allow a fallback type "
                                  "(%s) to quantize it",
                                  t->name, (long long)t->ne[0], slm_type_name(p->type),
                                  (long long)slm_type_block_size(p->type), slm_type_name(type));
            if (type != t->type) {
                SLM_ASSERT(slm_type_nbytes(type, t->n_elements, &n_bytes));
                rep->n_quantized++;
                rep->n_fallback += type != p->type;
            }
        }
        s->pend[i] = (struct pending){s->pool, t, type};
        st = type == t->type ? slm_gguf_writer_add_tensor(s->w, t->name, type, t->n_dims, t->ne,
                                                          t->data, n_bytes)
                             : slm_gguf_writer_add_tensor_fn(s->w, t->name, type, t->n_dims, t->ne,
                                                             n_bytes, fill_tensor, &s->pend[i]);
        if (st != SLM_OK) return st;
        rep->n_tensors++;
        rep->bytes_in += t->n_bytes;
        rep->bytes_out += n_bytes;
    }
    return slm_gguf_writer_write_file(s->w, out_path);
}

slm_status slm_quantize_gguf(const char *in_path, const char *out_path,
                             const struct slm_quantize_params *params,
                             struct slm_quantize_report *report) {
    struct slm_quantize_report local;
    struct slm_quantize_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    struct slm_quantize_params p = params ? *params : slm_quantize_default_params();
    if (!slm_quant_type_writable(p.type))
        return slm__error(SLM_E_INVALID_ARG,
                          "cannot quantize to %s (supported: f32, f16, bf16, "
                          "q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k)",
                          slm_type_name(p.type));
    struct quantize_state s = {0};
    struct slm_model_hparams h;
    slm_status st = slm_gguf_open(in_path, NULL, &s.in);
    if (st == SLM_OK && (st = slm_model_hparams_read(s.in, &h)) != SLM_OK)
        slm__error_prefix("%s", in_path);
    if (st == SLM_OK) st = slm_gguf_writer_create(&s.w);
    if (st == SLM_OK)
        st = slm_pool_create(p.n_threads > 0 ? p.n_threads : slm_cpu_count(), &s.pool);
    if (st == SLM_OK) {
        s.pend = slm__calloc((size_t)slm_gguf_tensor_count(s.in) + 1, sizeof *s.pend);
        if (!s.pend) st = slm__error(SLM_E_NOMEM, "quantize");
    }
    if (st == SLM_OK) st = quantize_run(&s, &p, out_path, rep);
    slm__free(s.pend);
    slm_pool_free(s.pool);
    slm_gguf_writer_free(s.w);
    slm_gguf_close(s.in);
    return st;
}
