/* `slm config`: the effective configuration — every setting with its value and where the value
 * came from (default, file, environment, flag) — so operators can see what a server will use. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

int cmd_config(int argc, char **argv) {
    struct cli_opt o[] = {{"--json", false, false, NULL}, {"--config", true, false, NULL}};
    const char *pos[1];
    int n_pos;
    bool json = false;
    for (int i = 1; i < argc; i++) json |= !strcmp(argv[i], "--json");
    struct slm_config cfg;
    char file[4096];
    int rc = cli_config_load(argc, argv, o, 2, pos, 0, &n_pos, json, &cfg, file, sizeof file);
    if (rc) return rc;
    char value[SLM_CONFIG_STR_MAX + 32];
    if (json) {
        cJSON *doc = cJSON_CreateObject();
        if (file[0]) cJSON_AddStringToObject(doc, "file", file);
        else cJSON_AddNullToObject(doc, "file");
        cJSON *settings = cJSON_AddObjectToObject(doc, "settings");
        for (int i = 0; i < SLM_CONFIG_OPTION_COUNT; i++) {
            slm_config_format(&cfg, (slm_config_option)i, value, sizeof value);
            cJSON *e = cJSON_AddObjectToObject(settings, slm_config_name((slm_config_option)i));
            /* the bearer token is a secret: say whether it is set, never what it is */
            if (i == SLM_CONFIG_api_key && value[0]) snprintf(value, sizeof value, "(set)");
            cJSON_AddStringToObject(e, "value", value);
            cJSON_AddStringToObject(e, "section", slm_config_section((slm_config_option)i));
            cJSON_AddStringToObject(e, "source", slm_config_source_name(cfg.source[i]));
            cJSON_AddStringToObject(e, "origin", cfg.origin[i]);
        }
        cli_print_json(doc);
    } else {
        printf("configuration file: %s\n", file[0] ? file : "(none)");
        const char *section = "";
        for (int i = 0; i < SLM_CONFIG_OPTION_COUNT; i++) {
            slm_config_option op = (slm_config_option)i;
            if (strcmp(section, slm_config_section(op)))
                printf("[%s]\n", section = slm_config_section(op));
            slm_config_format(&cfg, op, value, sizeof value);
            if (i == SLM_CONFIG_api_key && value[0]) snprintf(value, sizeof value, "(set)");
            printf("  %-22s %-24s %-10s %s\n", slm_config_name(op), value[0] ? value : "\"\"",
                   slm_config_source_name(cfg.source[i]), slm_config_help(op));
        }
    }
    slm_config_free(&cfg);
    return 0;
}
