#ifndef TERN_CRC32C_H
#define TERN_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/// 1 when this CPU has the SSE4.2 CRC32 instruction (x86-64), else 0.
int tern_crc32c_hardware_available(void);

/// Continues a CRC-32C (reflected, already inverted state in and out) with the CRC32
/// instruction. Call only when tern_crc32c_hardware_available() returned 1.
uint32_t tern_crc32c_hardware_update(uint32_t state, const uint8_t *data, size_t length);
#endif
