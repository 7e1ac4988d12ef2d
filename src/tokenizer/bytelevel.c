/* GPT-2's byte-level alphabet: every byte is written as a printable code point (printable
 * Latin-1 bytes as themselves, the other 68 as U+0100.. in byte order), so a byte-level BPE
 * vocabulary can spell any byte string. */
#include "tokenizer/internal.h"

static bool printable(unsigned b) {
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

/* The non-printable bytes are 0..32, 127..160 and 173: numbered 0..32, 33..66 and 67. */
static uint32_t byte_cp(uint8_t b) {
    if (printable(b)) return b;
    if (b <= 32) return 256 + b;
    if (b <= 160) return 256 + 33 + (b - 127u);
    return 256 + 67;
}

int slm__bytelevel_encode(uint8_t b, char out[2]) {
    uint32_t cp = byte_cp(b);
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

int slm__bytelevel_decode(uint32_t cp) {
    if (cp < 256) return printable(cp) ? (int)cp : -1;
    uint32_t n = cp - 256;
    if (n <= 32) return (int)n;
    if (n <= 66) return (int)(127 + n - 33);
    return n == 67 ? 173 : -1;
}
