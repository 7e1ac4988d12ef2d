/* `slm convert` (a Hugging Face folder to GGUF) and `slm quantize` (a GGUF model's matrices to
 * another type): thin wrappers over slm_convert_hf / slm_quantize_gguf with the script contract
 * (one JSON object on stdout with --json, errors on stderr, exit codes by status). */
#include "cli/cli.h"
#include "slm/convert.h"

#include <stdio.h>

static bool parse_type(const char *name, bool json, slm_type *out) {
    if (slm_type_from_name(name, out) != SLM_OK || !slm_quant_type_writable(*out)) {
        cli_fail(json, SLM_E_INVALID_ARG,
                 "unknown type '%s' (f32, f16, bf16, q8_0, q4_0, q4_1, "
                 "q5_0, q5_1, q4_k, q5_k, q6_k)",
                 name);
        return false;
    }
    return true;
}

int cmd_convert(int argc, char **argv) {
    struct cli_opt opts[] = {{"--json", false, false, NULL},
                             {"--type", true, false, NULL},
                             {"--fallback", false, false, NULL},
                             {"--threads", true, false, NULL}};
    const char *pos[2];
    int n_pos;
    int rc = cli_parse(argc, argv, opts, 4, pos, 2, &n_pos);
    bool json = opts[0].set;
    if (rc) return rc;
    if (n_pos != 2) {
        fprintf(stderr, "usage: slm convert HF_DIR OUT.gguf [--type TYPE] [--fallback] "
                        "[--threads N] [--json]\n");
        return CLI_EXIT_USAGE;
    }
    struct slm_convert_params p = slm_convert_default_params();
    long threads = 0;
    if (opts[1].set && !parse_type(opts[1].value, json, &p.type)) return CLI_EXIT_USAGE;
    if (!cli_opt_long(&opts[3], 1, 1024, &threads)) return CLI_EXIT_USAGE;
    p.fallback = opts[2].set;
    p.n_threads = (int)threads;
    struct slm_convert_report rep;
    slm_status st = slm_convert_hf(pos[0], pos[1], &p, &rep);
    if (st != SLM_OK) return cli_fail(json, st, "%s", slm_error_detail());
    static const char *const tok_models[] = {"llama", "gpt2", "bert"};
    if (json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "output", pos[1]);
        cJSON_AddStringToObject(doc, "architecture", slm_arch_name(rep.arch));
        cJSON_AddStringToObject(doc, "type", slm_type_name(p.type));
        cJSON_AddNumberToObject(doc, "tensors", (double)rep.n_tensors);
        cJSON_AddNumberToObject(doc, "parameters", (double)rep.n_params);
        cJSON_AddNumberToObject(doc, "tensor_bytes", (double)rep.tensor_bytes);
        cJSON_AddNumberToObject(doc, "vocab_size", rep.n_vocab);
        cJSON_AddStringToObject(doc, "tokenizer", tok_models[rep.tokenizer]);
        cli_print_json(doc);
    } else {
        printf("%s: %s, %llu tensors, %llu parameters, %s, %.1f MiB, tokenizer %s (%d tokens)\n",
               pos[1], slm_arch_name(rep.arch), (unsigned long long)rep.n_tensors,
               (unsigned long long)rep.n_params, slm_type_name(p.type),
               (double)rep.tensor_bytes / (1 << 20), tok_models[rep.tokenizer], rep.n_vocab);
    }
    return CLI_EXIT_OK;
}

int cmd_quantize(int argc, char **argv) {
    struct cli_opt opts[] = {{"--json", false, false, NULL},
                             {"--fallback", false, false, NULL},
                             {"--threads", true, false, NULL}};
    const char *pos[3];
    int n_pos;
    int rc = cli_parse(argc, argv, opts, 3, pos, 3, &n_pos);
    bool json = opts[0].set;
    if (rc) return rc;
    if (n_pos != 3) {
        fprintf(stderr, "usage: slm quantize IN.gguf OUT.gguf TYPE [--fallback] [--threads N] "
                        "[--json]\n");
        return CLI_EXIT_USAGE;
    }
    struct slm_quantize_params p = slm_quantize_default_params();
    long threads = 0;
    if (!parse_type(pos[2], json, &p.type)) return CLI_EXIT_USAGE;
    if (!cli_opt_long(&opts[2], 1, 1024, &threads)) return CLI_EXIT_USAGE;
    p.fallback = opts[1].set;
    p.n_threads = (int)threads;
    struct slm_quantize_report rep;
    slm_status st = slm_quantize_gguf(pos[0], pos[1], &p, &rep);
    if (st != SLM_OK) return cli_fail(json, st, "%s", slm_error_detail());
    if (json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "output", pos[1]);
        cJSON_AddStringToObject(doc, "type", slm_type_name(p.type));
        cJSON_AddNumberToObject(doc, "tensors", (double)rep.n_tensors);
        cJSON_AddNumberToObject(doc, "quantized", (double)rep.n_quantized);
        cJSON_AddNumberToObject(doc, "fallback", (double)rep.n_fallback);
        cJSON_AddNumberToObject(doc, "bytes_in", (double)rep.bytes_in);
        cJSON_AddNumberToObject(doc, "bytes_out", (double)rep.bytes_out);
        cli_print_json(doc);
    } else {
        printf("%s: %llu of %llu tensors to %s (%llu with a fallback type), %.1f MiB -> %.1f MiB\n",
               pos[1], (unsigned long long)rep.n_quantized, (unsigned long long)rep.n_tensors,
               slm_type_name(p.type), (unsigned long long)rep.n_fallback,
               (double)rep.bytes_in / (1 << 20), (double)rep.bytes_out / (1 << 20));
    }
    return CLI_EXIT_OK;
}
