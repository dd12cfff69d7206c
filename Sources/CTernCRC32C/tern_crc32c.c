#include "tern_crc32c.h"

#if defined(__x86_64__)
int tern_crc32c_hardware_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? 1 : 0;
}

__attribute__((target("sse4.2")))
uint32_t tern_crc32c_hardware_update(uint32_t state, const uint8_t *data, size_t length) {
    uint64_t crc = state;
    while (length >= 8) {
        uint64_t word;
        __builtin_memcpy(&word, data, 8);
        crc = __builtin_ia32_crc32di(crc, word);
        data += 8;
        length -= 8;
    }
    uint32_t crc32 = (uint32_t)crc;
    while (length > 0) {
        crc32 = __builtin_ia32_crc32qi(crc32, *data);
        data++;
        length--;
    }
    return crc32;
}
#else
int tern_crc32c_hardware_available(void) { return 0; }

uint32_t tern_crc32c_hardware_update(uint32_t state, const uint8_t *data, size_t length) {
    (void)data;
    (void)length;
    return state;  // never called: hardware_available() is 0
}
#endif
