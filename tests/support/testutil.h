/* Test support shared by every test program: fixture lookup in ../shared (with a visible
 * "skipped" line when absent), file and JSON loading, temporary directories. */
#ifndef SLM_TESTUTIL_H
#define SLM_TESTUTIL_H

#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "slm/core.h"

/* Path of a fixture below the shared folder (SLM_SHARED_DIR), or NULL if it does not exist.
 * Returned string is static per call site use: copy it if you keep it (max 4 KiB). */
const char *tu_shared_path(const char *rel);
/* Use in a test: skips it (cmocka skip, and a "skipped: ..." line on stdout) if the fixture
 * is missing; otherwise yields its path in a fresh heap string (free with free()). */
char *tu_require_shared(const char *rel);
/* Build directory (SLM_BUILD_DIR) path, e.g. tu_build_path("slm"); heap string. */
char *tu_build_path(const char *rel);
/* Whole file into a heap buffer (+ NUL); NULL on error. */
char *tu_read_file(const char *path, size_t *len);
cJSON *tu_read_json(const char *path);
/* A new empty directory under $TMPDIR; heap string. Removed by tu_rmtree. */
char *tu_mkdtemp(void);
void tu_rmtree(const char *path);
/* Runs a shell command, capturing stdout into a heap string (*out) and returning the exit code.*/
int tu_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* With SLM_CORPUS_DIR set, writes n bytes as the file <name> there: inputs a test builds become
 * seeds for the fuzz targets (scripts/fuzz.sh). Does nothing otherwise. */
void tu_save_seed(const char *name, const void *p, size_t n);

/* Deterministic pseudo-random numbers for generated test data, so failures reproduce: xorshift
 * uniforms in [0, 1) and normal-ish values (a scaled sum of six uniforms). */
void tu_rng_seed(uint64_t seed);
float tu_rnd_uniform(void);
float tu_rnd_normal(void);

#define TU_ASSERT_OK(expr)                                                                         \
    do {                                                                                           \
        slm_status tu_st_ = (expr);                                                                \
        if (tu_st_ != SLM_OK)                                                                      \
            fail_msg("%s -> %s (%s)", #expr, slm_status_name(tu_st_), slm_error_detail());         \
    } while (0)

#endif
