/* Every fuzz seed (fuzz/corpus/<target>/) and every input that once made a
 * harness fail (tests/fuzz-regressions/<target>/) run through the harness
 * bodies of fuzz/harness.c: a crash, a sanitizer report (scripts/test.sh
 * --sanitize) or a broken promise (abort) fails the suite. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "testutil.h"

typedef int (*harness_fn)(const uint8_t *, size_t);

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    unsigned char *b = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            b = realloc(b, cap);
            ck_assert_ptr_nonnull(b);
        }
        size_t k = fread(b + len, 1, cap - len, f);
        len += k;
        if (k == 0)
            break;
    }
    ck_assert_int_eq(ferror(f), 0);
    fclose(f);
    *n = len;
    return b;
}

/* Runs fn on every regular file in dir (a missing folder holds no inputs);
 * returns how many. */
static size_t run_dir(const char *dir, harness_fn fn)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n;
        unsigned char *b = read_all(path, &n);
        fn(b, n);
        free(b);
        count++;
    }
    closedir(d);
    return count;
}

static void run_target(const char *name, harness_fn fn)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", AE_SOURCE_DIR, name);
    size_t seeds = run_dir(dir, fn);
    ck_assert_msg(seeds > 0, "no seeds in %s", dir);
    snprintf(dir, sizeof dir, "%s/tests/fuzz-regressions/%s", AE_SOURCE_DIR, name);
    run_dir(dir, fn);
}

START_TEST(test_idx) { run_target("idx", ae_fuzz_idx); }
END_TEST
START_TEST(test_csv) { run_target("csv", ae_fuzz_csv); }
END_TEST
START_TEST(test_spec) { run_target("spec", ae_fuzz_spec); }
END_TEST
START_TEST(test_checkpoint) { run_target("checkpoint", ae_fuzz_checkpoint); }
END_TEST
START_TEST(test_codes) { run_target("codes", ae_fuzz_codes); }
END_TEST

/* Inputs no seed has: empty and one byte. */
START_TEST(test_tiny_inputs)
{
    static const uint8_t one[1] = {0};
    harness_fn fns[] = {ae_fuzz_idx, ae_fuzz_csv, ae_fuzz_spec, ae_fuzz_checkpoint, ae_fuzz_codes};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        fns[i](one, 0);
        fns[i](one, 1);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fuzz_regressions");
    TCase *tc = tcase_create("inputs");
    tcase_add_test(tc, test_idx);
    tcase_add_test(tc, test_csv);
    tcase_add_test(tc, test_spec);
    tcase_add_test(tc, test_checkpoint);
    tcase_add_test(tc, test_codes);
    tcase_add_test(tc, test_tiny_inputs);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
