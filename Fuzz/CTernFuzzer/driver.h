#ifndef TERN_FUZZER_DRIVER_H
#define TERN_FUZZER_DRIVER_H
#include <stddef.h>
#include <stdint.h>

// libFuzzer's entry point for programs that have their own main (libclang_rt.fuzzer_no_main).
// SwiftPM links an executable's main under its own name, so tern-fuzz cannot use libFuzzer's
// main; it picks a target from its first argument and then hands the rest to this driver.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
