/* Read-only file mappings (model files are mmapped, never read into the heap) and UTF-8 checks. */
#include "core/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

slm_status slm__map_file(const char *path, slm_mapping *out) {
    *out = (slm_mapping){.data = NULL, .size = 0, .fd = -1};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return slm__error(errno == ENOENT ? SLM_E_NOT_FOUND : SLM_E_IO, "%s: %s", path,
                          strerror(errno));
    struct stat stt;
    if (fstat(fd, &stt) != 0) {
        int e = errno;
        close(fd);
        return slm__error(SLM_E_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(stt.st_mode)) {
        close(fd);
        return slm__error(SLM_E_IO, "%s: not a regular file", path);
    }
    out->fd = fd;
    out->size = (uint64_t)stt.st_size;
    if (out->size == 0) return SLM_OK;
    void *p = mmap(NULL, (size_t)out->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(fd);
        *out = (slm_mapping){.data = NULL, .size = 0, .fd = -1};
        return slm__error(SLM_E_IO, "%s: mmap: %s", path, strerror(e));
    }
    out->data = p;
    return SLM_OK;
}

void slm__unmap(slm_mapping *m) {
    if (m->data) munmap((void *)m->data, (size_t)m->size);
    if (m->fd >= 0) close(m->fd);
    *m = (slm_mapping){.data = NULL, .size = 0, .fd = -1};
}

int slm__utf8_seq_len(const char *str, size_t avail) {
    const unsigned char *s = (const unsigned char *)str;
    if (avail == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int n;
    unsigned min;
    if ((c & 0xE0) == 0xC0) n = 2, min = 0x80, c &= 0x1F;
    else if ((c & 0xF0) == 0xE0) n = 3, min = 0x800, c &= 0x0F;
    else if ((c & 0xF8) == 0xF0) n = 4, min = 0x10000, c &= 0x07;
    else return 0;
    if ((size_t)n > avail) return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return n;
}

bool slm__utf8_valid(const char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        int n = slm__utf8_seq_len(s + i, len - i);
        if (n == 0) return false;
        i += (size_t)n;
    }
    return true;
}
