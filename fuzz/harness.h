/* Fuzz harness bodies, shared by the libFuzzer programs (fuzz/fuzz_<t>.c,
 * built with clang by -DAE_FUZZ=ON) and the regression suite
 * (tests/test_fuzz_regressions.c, the normal build).  Each ae_fuzz_<t> feeds
 * one input to one parser, returns 0, and calls abort() when the library
 * breaks a promise the parser makes (so the fuzzer reports it as a crash). */
#ifndef AE_FUZZ_HARNESS_H
#define AE_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

int ae_fuzz_idx(const uint8_t *data, size_t size);        /* ae_dataset_load, IDX raw or gz */
int ae_fuzz_csv(const uint8_t *data, size_t size);        /* ae_dataset_load, CSV */
int ae_fuzz_spec(const uint8_t *data, size_t size);       /* ae_config_parse + --set */
int ae_fuzz_checkpoint(const uint8_t *data, size_t size); /* ae_checkpoint_read/_load_model */
int ae_fuzz_codes(const uint8_t *data, size_t size);      /* ae_codes_load */

/* The loaders take paths: writes data to this process's scratch file for
 * suffix (created once in $TMPDIR or /tmp, removed at exit, rewritten in place
 * on every call) and returns its path, or NULL when that fails. */
const char *ae_fuzz_file(const char *suffix, const uint8_t *data, size_t size);

#endif
