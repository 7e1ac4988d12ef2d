/* AVX-512 forms of ops.c's helpers where the wider loads matter (the memory-read probe). */
#include "tensor/internal.h"

#include <immintrin.h>

uint64_t slm__mem_read_avx512(const void *p, size_t bytes) {
    const __m512i *q = p;
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    for (size_t i = 0; i < bytes / 64; i += 4) {
        a = _mm512_add_epi64(a, _mm512_load_si512(q + i));
        b = _mm512_add_epi64(b, _mm512_load_si512(q + i + 1));
        c = _mm512_add_epi64(c, _mm512_load_si512(q + i + 2));
        d = _mm512_add_epi64(d, _mm512_load_si512(q + i + 3));
    }
    return (uint64_t)_mm512_reduce_add_epi64(
        _mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
}
