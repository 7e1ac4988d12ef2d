/* `slm show MODEL [--json]`: what a model file is — architecture, parameters, tensor types,
 * context length, vocabulary size, sizes — read from the GGUF header without loading weights. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

struct show_info {
    char arch[64];
    char name[256];
    uint64_t n_params, tensor_bytes, file_size;
    int64_t n_tensors, n_kv;
    uint32_t version;
    int64_t ctx, vocab, n_layer, n_embd;
    uint64_t type_count[SLM_TYPE_COUNT], type_bytes[SLM_TYPE_COUNT];
    bool runnable;             /* the architecture and tensors are ones slm can run */
    char why_not[512];         /* when not runnable */
    struct slm_footprint fp;   /* at the default serving context, F16 KV cache, one slot */
};

static int64_t arch_int(const slm_gguf *g, const char *arch, const char *suffix) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v = -1;
    if (slm_gguf_get_i64(g, key, &v) != SLM_OK) return -1;
    return v;
}

static void collect(const slm_gguf *g, struct show_info *s) {
    memset(s, 0, sizeof *s);
    if (slm_gguf_get_str_buf(g, "general.architecture", s->arch, sizeof s->arch) != SLM_OK)
        strcpy(s->arch, "unknown");
    if (slm_gguf_get_str_buf(g, "general.name", s->name, sizeof s->name) != SLM_OK)
        s->name[0] = '\0';
    s->version = slm_gguf_version(g);
    s->n_params = slm_gguf_total_elements(g);
    s->tensor_bytes = slm_gguf_total_tensor_bytes(g);
    s->file_size = slm_gguf_file_size(g);
    s->n_tensors = slm_gguf_tensor_count(g);
    s->n_kv = slm_gguf_kv_count(g);
    s->ctx = arch_int(g, s->arch, "context_length");
    s->n_layer = arch_int(g, s->arch, "block_count");
    s->n_embd = arch_int(g, s->arch, "embedding_length");
    struct slm_gguf_array toks;
    if (slm_gguf_get_arr(g, "tokenizer.ggml.tokens", &toks) == SLM_OK) s->vocab = (int64_t)toks.count;
    else s->vocab = arch_int(g, s->arch, "vocab_size");
    for (int64_t i = 0; i < s->n_tensors; i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
        s->type_count[t->type]++;
        s->type_bytes[t->type] += t->n_bytes;
    }
    s->runnable = slm_model_footprint(g, NULL, &s->fp) == SLM_OK;
    if (!s->runnable) snprintf(s->why_not, sizeof s->why_not, "%s", slm_error_detail());
}

static cJSON *to_json(const char *path, const struct show_info *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddStringToObject(o, "architecture", s->arch);
    if (s->name[0]) cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddNumberToObject(o, "gguf_version", s->version);
    cJSON_AddNumberToObject(o, "parameters", (double)s->n_params);
    cJSON_AddNumberToObject(o, "tensor_count", (double)s->n_tensors);
    cJSON_AddNumberToObject(o, "metadata_count", (double)s->n_kv);
    cJSON *types = cJSON_AddObjectToObject(o, "tensor_types");
    for (int t = 0; t < SLM_TYPE_COUNT; t++) {
        if (!s->type_count[t]) continue;
        cJSON *e = cJSON_AddObjectToObject(types, slm_type_name((slm_type)t));
        cJSON_AddNumberToObject(e, "tensors", (double)s->type_count[t]);
        cJSON_AddNumberToObject(e, "bytes", (double)s->type_bytes[t]);
    }
    if (s->ctx >= 0) cJSON_AddNumberToObject(o, "context_length", (double)s->ctx);
    else cJSON_AddNullToObject(o, "context_length");
    if (s->vocab > 0) cJSON_AddNumberToObject(o, "vocab_size", (double)s->vocab);
    else cJSON_AddNullToObject(o, "vocab_size");
    if (s->n_layer >= 0) cJSON_AddNumberToObject(o, "block_count", (double)s->n_layer);
    if (s->n_embd >= 0) cJSON_AddNumberToObject(o, "embedding_length", (double)s->n_embd);
    cJSON_AddNumberToObject(o, "tensor_bytes", (double)s->tensor_bytes);
    cJSON_AddNumberToObject(o, "file_size", (double)s->file_size);
    cJSON_AddBoolToObject(o, "runnable", s->runnable);
    if (s->runnable) {
        cJSON_AddNumberToObject(o, "footprint_estimate", (double)s->fp.total);
        cJSON *fp = cJSON_AddObjectToObject(o, "footprint");
        cJSON_AddNumberToObject(fp, "weights", (double)s->fp.weights);
        cJSON_AddNumberToObject(fp, "kv_cache", (double)s->fp.kv);
        cJSON_AddNumberToObject(fp, "scratch", (double)s->fp.scratch);
        cJSON_AddNumberToObject(fp, "metadata", (double)s->fp.metadata);
        cJSON_AddNumberToObject(fp, "context", (double)s->fp.n_ctx);
    } else {
        cJSON_AddNullToObject(o, "footprint_estimate");
        cJSON_AddStringToObject(o, "not_runnable_because", s->why_not);
    }
    return o;
}

static cJSON *tensors_json(const slm_gguf *g) {
    cJSON *arr = cJSON_CreateArray();
    for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", t->name);
        cJSON_AddStringToObject(e, "type", slm_type_name(t->type));
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (uint32_t d = 0; d < t->n_dims; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->ne[d]));
        cJSON_AddNumberToObject(e, "bytes", (double)t->n_bytes);
        cJSON_AddNumberToObject(e, "offset", (double)t->offset);
        cJSON_AddItemToArray(arr, e);
    }
    return arr;
}

static void print_tensors(const slm_gguf *g) {
    for (int64_t i = 0; i < slm_gguf_tensor_count(g); i++) {
        const struct slm_gguf_tensor *t = slm_gguf_tensor(g, i);
        char shape[96] = "";
        size_t n = 0;
        for (uint32_t d = 0; d < t->n_dims && n < sizeof shape; d++)
            n += (size_t)snprintf(shape + n, sizeof shape - n, d ? " x %lld" : "%lld",
                                  (long long)t->ne[d]);
        printf("  %-40s %-6s %-24s %llu bytes\n", t->name, slm_type_name(t->type), shape,
               (unsigned long long)t->n_bytes);
    }
}

static void human_bytes(uint64_t b, char *buf, size_t cap) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, u++;
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void print_human(const char *path, const struct show_info *s) {
    char b1[32], b2[32];
    printf("%s\n", path);
    printf("  architecture     %s\n", s->arch);
    if (s->name[0]) printf("  name             %s\n", s->name);
    printf("  parameters       %llu (%.2fM)\n", (unsigned long long)s->n_params,
           (double)s->n_params / 1e6);
    if (s->ctx >= 0) printf("  context length   %lld\n", (long long)s->ctx);
    if (s->vocab > 0) printf("  vocabulary       %lld\n", (long long)s->vocab);
    if (s->n_layer >= 0) printf("  layers           %lld\n", (long long)s->n_layer);
    if (s->n_embd >= 0) printf("  embedding        %lld\n", (long long)s->n_embd);
    human_bytes(s->tensor_bytes, b1, sizeof b1);
    human_bytes(s->file_size, b2, sizeof b2);
    printf("  tensors          %lld (%s), file %s, GGUF v%u, %lld metadata keys\n",
           (long long)s->n_tensors, b1, b2, s->version, (long long)s->n_kv);
    if (s->runnable) {
        human_bytes(s->fp.total, b1, sizeof b1);
        human_bytes(s->fp.kv, b2, sizeof b2);
        char b3[32];
        human_bytes(s->fp.scratch, b3, sizeof b3);
        printf("  footprint        %s (KV cache %s at context %u, f16; buffers %s", b1, b2,
               s->fp.n_ctx, b3);
        if (s->fp.packed) {
            human_bytes(s->fp.packed, b3, sizeof b3);
            printf("; weights packed for the matrix tiles %s", b3);
        }
        printf(")\n");
    } else {
        printf("  not runnable     %s\n", s->why_not);
    }
    for (int t = 0; t < SLM_TYPE_COUNT; t++) {
        if (!s->type_count[t]) continue;
        human_bytes(s->type_bytes[t], b1, sizeof b1);
        printf("    %-8s %5llu tensors  %s\n", slm_type_name((slm_type)t),
               (unsigned long long)s->type_count[t], b1);
    }
}

int cmd_show(int argc, char **argv) {
    struct cli_opt opts[] = {{"--json", false, false, NULL}, {"--tensors", false, false, NULL}};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(argc, argv, opts, 2, pos, 1, &n_pos);
    bool json = opts[0].set, tensors = opts[1].set;
    if (rc) return rc;
    if (n_pos != 1) {
        fprintf(stderr, "usage: slm show MODEL [--tensors] [--json]\n");
        return CLI_EXIT_USAGE;
    }
    slm_gguf *g = NULL;
    slm_status st = slm_gguf_open(pos[0], NULL, &g);
    if (st != SLM_OK) return cli_fail(json, st, "%s", slm_error_detail());
    struct show_info s;
    collect(g, &s);
    if (json) {
        cJSON *doc = to_json(pos[0], &s);
        if (tensors) cJSON_AddItemToObject(doc, "tensors", tensors_json(g));
        cli_print_json(doc);
    } else {
        print_human(pos[0], &s);
        if (tensors) print_tensors(g);
    }
    slm_gguf_close(g);
    return CLI_EXIT_OK;
}
