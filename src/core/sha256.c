/* sha256 of buffers and files through OpenSSL's libcrypto (EVP interface). */
#include "core/internal.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

static void to_hex(const unsigned char *md, char hex[SLM_SHA256_HEX_LEN + 1]) {
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[SLM_SHA256_HEX_LEN] = '\0';
}

slm_status slm_sha256_buffer(const void *data, size_t len, char hex[SLM_SHA256_HEX_LEN + 1]) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
        return slm__error(SLM_E_INTERNAL, "sha256 failed");
    to_hex(md, hex);
    return SLM_OK;
}

slm_status slm_sha256_file(const char *path, char hex[SLM_SHA256_HEX_LEN + 1]) {
    FILE *f = fopen(path, "rb");
    if (!f) return slm__error(SLM_E_IO, "%s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    slm_status st = SLM_OK;
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        st = slm__error(SLM_E_INTERNAL, "sha256 init failed");
        goto out;
    }
    static _Thread_local unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) EVP_DigestUpdate(ctx, buf, n);
    if (ferror(f)) {
        st = slm__error(SLM_E_IO, "%s: read error", path);
        goto out;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    to_hex(md, hex);
out:
    EVP_MD_CTX_free(ctx);
    fclose(f);
    return st;
}
