/* bench/gemm: the GEMM-only floor of a spec.
 *
 * Records the exact GEMM calls (shapes, transposes, beta) of one training
 * step and of one evaluation batch of the model a spec describes, replays
 * each call with the spec's train.backend (OpenBLAS or oneDNN), and reports GFLOP/s per call and the GEMM-only
 * time of one epoch: steps x (one step's GEMMs) + the evaluation's GEMMs
 * (aetrain evaluates the test set twice per epoch: z sampled and z = mu).
 *
 * usage: bench_gemm SPEC.json [--threads N] [--dim D] [--train N] [--test N]
 *                   [--reps R] [--set KEY=VALUE ...]
 * The backend is the spec's train.backend (--set train.backend=openblas). 
 * Defaults: D 784, train 60000, test 10000, reps 30 (median of R timings). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ae/config.h"
#include "ae/model.h"
#include "ae/rng.h"
#include "nn/gemm.h"

#define MAX_CALLS 4096

/* Median seconds of one call over reps runs, on buffers of the right size. */
static double time_call(const ae_gemm_call *c, int reps, float *A, float *B, float *C)
{
    double *t = malloc((size_t)reps * sizeof(double));
    for (int r = -2; r < reps; r++) { /* two warm-up runs */
        double t0 = bench_now();
        ae_gemm(c->trans_a, c->trans_b, c->M, c->N, c->K, 1.0f, A, c->lda, B, c->ldb, c->beta, C,
                c->ldc);
        if (r >= 0)
            t[r] = bench_now() - t0;
    }
    double med = bench_median(t, reps);
    free(t);
    return med;
}

static double replay(const char *what, const ae_gemm_call *calls, size_t n, int reps,
                     float *A, float *B, float *C, int verbose)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const ae_gemm_call *c = &calls[i];
        double s = time_call(c, reps, A, B, C);
        double flops = 2.0 * (double)c->M * (double)c->N * (double)c->K;
        total += s;
        if (verbose)
            printf("  %-5s %c%c M=%-5zu N=%-5zu K=%-5zu beta=%g  %8.1f us  %6.1f GFLOP/s\n", what,
                   c->trans_a ? 'T' : 'N', c->trans_b ? 'T' : 'N', c->M, c->N, c->K,
                   (double)c->beta, s * 1e6, flops / s * 1e-9);
    }
    return total;
}

int main(int argc, char **argv)
{
    const char *spec = NULL;
    long threads = 1, dim = 784, ntrain = 60000, ntest = 10000, reps = 30;
    const char *sets[64] = {"data.train=\"unused\""};
    size_t n_sets = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc && n_sets < 64) {
            sets[n_sets++] = argv[++i];
            continue;
        }
        long *target = !strcmp(argv[i], "--threads") ? &threads
                       : !strcmp(argv[i], "--dim")   ? &dim
                       : !strcmp(argv[i], "--train") ? &ntrain
                       : !strcmp(argv[i], "--test")  ? &ntest
                       : !strcmp(argv[i], "--reps")  ? &reps
                                                     : NULL;
        if (target && i + 1 < argc)
            *target = atol(argv[++i]);
        else if (argv[i][0] != '-' && !spec)
            spec = argv[i];
        else {
            fprintf(stderr, "usage: bench_gemm SPEC.json [--threads N] [--dim D] [--train N] "
                            "[--test N] [--reps R] [--set KEY=VALUE ...]\n");
            return 2;
        }
    }
    if (!spec || dim <= 0 || reps <= 0 || ntrain <= 0 || ntest < 0) {
        fprintf(stderr, "bench_gemm: a spec and positive sizes are needed\n");
        return 2;
    }
    ae_config cfg;
    ae_error err = {{0}};
    if (ae_config_load(&cfg, spec, sets, n_sets, &err) != AE_OK) {
        fprintf(stderr, "bench_gemm: %s\n", err.msg);
        return 2;
    }
    if (ae_backend_select(cfg.train.backend, &err) != AE_OK ||
        ae_precision_select(cfg.train.precision, "train.precision", &err) != AE_OK) {
        fprintf(stderr, "bench_gemm: %s\n", err.msg);
        return 2;
    }
    int used = ae_threads_set((int)threads);
    size_t B = (size_t)cfg.train.batch_size;
    ae_model m;
    if (ae_model_init(&m, &cfg, (size_t)dim, B, &err) != AE_OK) {
        fprintf(stderr, "bench_gemm: %s\n", err.msg);
        return 1;
    }
    ae_rng rng;
    ae_rng_seed(&rng, 1);
    ae_model_init_weights(&m, &rng);
    float *x = malloc(B * (size_t)dim * sizeof(float));
    int32_t *labels = calloc(B, sizeof(int32_t));
    for (size_t i = 0; i < B * (size_t)dim; i++)
        x[i] = ae_rng_uniform(&rng);

    /* record one training step and one evaluation batch */
    static ae_gemm_call step[MAX_CALLS], eval[MAX_CALLS];
    size_t n_step = 0, n_eval = 0;
    ae_gemm_record(step, MAX_CALLS, &n_step);
    ae_model_forward(&m, B, x, x, m.classes ? labels : NULL, &rng, 1.0f, NULL);
    ae_model_backward(&m, 1.0f);
    ae_gemm_record(eval, MAX_CALLS, &n_eval);
    ae_model_forward(&m, B, x, x, m.classes ? labels : NULL, &rng, 1.0f, NULL);
    ae_gemm_record(NULL, 0, NULL);

    /* buffers big enough for any recorded operand */
    size_t big = 0;
    for (size_t i = 0; i < n_step; i++) {
        const ae_gemm_call *c = &step[i];
        size_t a = (c->trans_a ? c->K : c->M) * c->lda, b = (c->trans_b ? c->N : c->K) * c->ldb,
               cc = c->M * c->ldc;
        big = a > big ? a : big;
        big = b > big ? b : big;
        big = cc > big ? cc : big;
    }
    float *A = malloc(big * sizeof(float)), *Bm = malloc(big * sizeof(float)),
          *C = calloc(big, sizeof(float));
    for (size_t i = 0; i < big; i++) {
        A[i] = ae_rng_uniform(&rng) - 0.5f;
        Bm[i] = ae_rng_uniform(&rng) - 0.5f;
    }
    printf("spec %s, batch %zu, input %ld, %zu parameters, %s, %s, %d thread%s\n", spec, B, dim,
           m.n_params, ae_backend_describe(), ae_precision_describe(), used, used == 1 ? "" : "s");
    printf("one training step: %zu GEMM calls\n", n_step);
    double t_step = replay("train", step, n_step, (int)reps, A, Bm, C, 1);
    printf("one evaluation batch: %zu GEMM calls\n", n_eval);
    double t_eval = replay("eval", eval, n_eval, (int)reps, A, Bm, C, 0);
    double flops = 0;
    for (size_t i = 0; i < n_step; i++)
        flops += 2.0 * (double)step[i].M * (double)step[i].N * (double)step[i].K;
    /* full batches at the measured time, the partial last batch in proportion */
    double steps = (double)ntrain / (double)B, evals = 2.0 * (double)ntest / (double)B;
    double epoch = steps * t_step + evals * t_eval;
    printf("GEMM time per training step  %.3f ms (%.1f GFLOP/s)\n", t_step * 1e3,
           flops / t_step * 1e-9);
    printf("GEMM time per eval batch     %.3f ms\n", t_eval * 1e3);
    printf("GEMM-bound epoch: %.3f s (%.0f steps %.3f s + %.0f eval batches %.3f s)\n", epoch,
           steps, steps * t_step, evals, evals * t_eval);
    free(x);
    free(labels);
    free(A);
    free(Bm);
    free(C);
    ae_model_free(&m);
    return 0;
}
