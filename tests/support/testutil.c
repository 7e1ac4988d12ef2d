/* Test support: fixture lookup, file/JSON loading, temporary folders, running commands. */
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *tu_shared_path(const char *rel) {
    static char buf[4096];
    const char *dir = getenv("SLM_SHARED_DIR");
    if (!dir || !*dir) dir = SLM_DEFAULT_SHARED_DIR;
    snprintf(buf, sizeof buf, "%s/%s", dir, rel);
    struct stat st;
    return stat(buf, &st) == 0 ? buf : NULL;
}

char *tu_require_shared(const char *rel) {
    const char *p = tu_shared_path(rel);
    if (!p) {
        printf("skipped: fixture %s not found (no ../shared)\n", rel);
        fflush(stdout);
        skip();
    }
    return strdup(p);
}

char *tu_build_path(const char *rel) {
    const char *dir = getenv("SLM_BUILD_DIR");
    if (!dir || !*dir) dir = SLM_DEFAULT_BUILD_DIR;
    char *buf = malloc(strlen(dir) + strlen(rel) + 2);
    sprintf(buf, "%s/%s", dir, rel);
    return buf;
}

char *tu_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = (size_t)n;
    }
    return buf;
}

cJSON *tu_read_json(const char *path) {
    char *text = tu_read_file(path, NULL);
    if (!text) return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

char *tu_mkdtemp(void) {
    const char *tmp = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/slm-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(buf)) return NULL;
    return strdup(buf);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

void tu_rmtree(const char *path) {
    if (path) nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_run(char **out, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    int rc = pclose(p);
    if (out) *out = buf;
    else free(buf);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static uint64_t tu_rng = 0x9e3779b97f4a7c15ull;

void tu_rng_seed(uint64_t seed) { tu_rng = seed ? seed : 1; }

float tu_rnd_uniform(void) {
    tu_rng ^= tu_rng << 13;
    tu_rng ^= tu_rng >> 7;
    tu_rng ^= tu_rng << 17;
    return (float)((tu_rng >> 40) * (1.0 / 16777216.0));
}

float tu_rnd_normal(void) {
    float s = 0;
    for (int i = 0; i < 6; i++) s += tu_rnd_uniform();
    return (s - 3.0f) * 1.41421356f;
}

void tu_save_seed(const char *name, const void *p, size_t n) {
    const char *dir = getenv("SLM_CORPUS_DIR");
    if (!dir || !*dir) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(p, 1, n, f);
        fclose(f);
    }
}
