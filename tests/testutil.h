/* Helpers shared by the Check suites: the suite runner every main() calls,
 * a scratch folder per test and whole-file reads.  Each suite is its own executable, so this is a header of static
 * inline functions (unused ones cost nothing).  Define _XOPEN_SOURCE 700
 * before any include in a file that uses it (nftw). */
#ifndef AE_TESTUTIL_H
#define AE_TESTUTIL_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

#include "ae/backend.h"
#include "ae/config.h"
#include "ae/rng.h"

/* Runs every test of s and frees the runner: the exit status of a suite's
 * main() (EXIT_FAILURE when any test failed). */
static inline int tu_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY=verbose lists every test */
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Runs the suite make() builds once per GEMM backend of this build
 * (ae/backend.h: OpenBLAS, and oneDNN when built in), so every check, the
 * finite-difference gradients above all, holds on each. */
static inline int tu_run_suite_each_backend(Suite *(*make)(void))
{
    int rc = EXIT_SUCCESS;
    const ae_backend backends[] = {AE_BACKEND_OPENBLAS, AE_BACKEND_ONEDNN};
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        if (ae_backend_select(backends[i], NULL) != AE_OK)
            continue; /* oneDNN not built in */
        printf("backend %s\n", ae_backend_describe());
        fflush(stdout);
        if (tu_run_suite(make()) != EXIT_SUCCESS)
            rc = EXIT_FAILURE;
    }
    return rc;
}

/* mkdtemp from a template such as "/tmp/ae_img_XXXXXX" into dir. */
static inline void tu_make_tmpdir(char *dir, size_t size, const char *template_)
{
    snprintf(dir, size, "%s", template_);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static inline int tu_rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Removes dir and everything in it. */
static inline void tu_remove_tree(const char *dir)
{
    nftw(dir, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The whole file, NUL-terminated (not counted in *size); malloc'ed. */
static inline unsigned char *tu_slurp(const char *p, size_t *size)
{
    FILE *fp = fopen(p, "rb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    ck_assert_int_ge(n, 0);
    rewind(fp);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    b[n] = '\0';
    *size = (size_t)n;
    return b;
}

/* dir/name in one of four rotating buffers (so a call can hold a few). */
static inline const char *tu_path_in(const char *dir, const char *name)
{
    static char buf[4][4200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* A small spec of the given type: 32-unit encoder and decoder, latent 6,
 * lr 1e-2, data.train "train.idx". */
static inline ae_config tu_tiny_config(ae_model_type type)
{
    ae_config c;
    ae_config_defaults(&c);
    c.model.type = type;
    c.model.n_encoder = 1;
    c.model.encoder[0] = 32;
    c.model.n_decoder = 1;
    c.model.decoder[0] = 32;
    c.model.latent = 6;
    c.train.lr = 1e-2;
    snprintf(c.data.train, sizeof c.data.train, "train.idx");
    return c;
}

/* ------------------------------------------- finite-difference checks */

/* Central differences in float need a step large enough to rise above
 * rounding; the tolerance below is loose relative to that step's error
 * (O(h^2)) but tight against any real mistake (wrong sign, factor, index). */
#define FD_H 1e-3f
#define FD_ATOL 2e-3
#define FD_RTOL 2e-2

static inline void tu_check_close(double analytic, double numeric, const char *what, size_t i)
{
    double tol = FD_ATOL + FD_RTOL * fabs(numeric);
    ck_assert_msg(fabs(analytic - numeric) <= tol, "%s[%zu]: analytic %.6g, numeric %.6g", what,
                  i, analytic, numeric);
}

static inline void tu_fill_uniform(ae_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * ae_rng_uniform(r);
}

#endif
