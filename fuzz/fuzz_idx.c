/* libFuzzer entry point for ae_fuzz_idx (fuzz/harness.c). */
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return ae_fuzz_idx(data, size);
}
