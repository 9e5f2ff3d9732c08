/* bench/step: where a training step's time goes, phase by phase.
 *
 * Runs S training steps of the model a spec describes on random inputs in
 * [0, 1] and reports the median time of the forward pass (with the loss),
 * the backward pass and the optimizer step; bench_gemm gives the GEMM part
 * of the first two.
 *
 * usage: bench_step SPEC.json [--threads N] [--dim D] [--steps S] [--set KEY=VALUE ...]
 * The backend and precision are the spec's (--set train.backend=openblas,
 * --set train.precision=bf16). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "ae/backend.h"
#include "ae/config.h"
#include "ae/model.h"
#include "ae/optim.h"
#include "ae/rng.h"
#include "base/fpenv.h"
#include "nn/gemm.h"

int main(int argc, char **argv)
{
    const char *spec = NULL;
    long threads = 1, dim = 784, steps = 300;
    const char *sets[64] = {"data.train=\"unused\""};
    size_t n_sets = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc && n_sets < 64) {
            sets[n_sets++] = argv[++i];
            continue;
        }
        long *t = !strcmp(argv[i], "--threads") ? &threads
                  : !strcmp(argv[i], "--dim")   ? &dim
                  : !strcmp(argv[i], "--steps") ? &steps
                                                : NULL;
        if (t && i + 1 < argc)
            *t = atol(argv[++i]);
        else if (argv[i][0] != '-' && !spec)
            spec = argv[i];
        else {
            fprintf(stderr, "usage: bench_step SPEC.json [--threads N] [--dim D] [--steps S] "
                            "[--set KEY=VALUE ...]\n");
            return 2;
        }
    }
    ae_config cfg;
    ae_error err = {{0}};
    if (!spec || steps < 10 || ae_config_load(&cfg, spec, sets, n_sets, &err) != AE_OK ||
        ae_backend_select(cfg.train.backend, &err) != AE_OK ||
        ae_precision_select(cfg.train.precision, "train.precision", &err) != AE_OK) {
        fprintf(stderr, "bench_step: %s\n", err.msg[0] ? err.msg : "a spec and --steps >= 10");
        return 2;
    }
    int used = ae_threads_set((int)threads);
    size_t B = (size_t)cfg.train.batch_size;
    ae_model m;
    ae_optim o;
    if (ae_model_init(&m, &cfg, (size_t)dim, B, &err) != AE_OK ||
        ae_optim_init(&o, ae_config_optim(&cfg), m.n_params, &err) != AE_OK) {
        fprintf(stderr, "bench_step: %s\n", err.msg);
        return 1;
    }
    ae_fpenv saved = ae_fpenv_flush_denormals();
    ae_rng rng;
    ae_rng_seed(&rng, 1);
    ae_model_init_weights(&m, &rng);
    float *x = malloc(B * (size_t)dim * sizeof(float));
    int32_t *labels = calloc(B, sizeof(int32_t));
    for (size_t i = 0; i < B * (size_t)dim; i++)
        x[i] = ae_rng_uniform(&rng);
    double *tf = malloc((size_t)steps * sizeof(double)), *tb = malloc((size_t)steps * sizeof(double)),
           *to = malloc((size_t)steps * sizeof(double)), *tg = malloc((size_t)steps * sizeof(double));
    for (long s = 0; s < steps; s++) {
        double gemm = 0;
        ae_gemm_time(&gemm);
        double t0 = bench_now();
        ae_model_forward(&m, B, x, x, m.classes ? labels : NULL, &rng, 1.0f, NULL);
        double t1 = bench_now();
        ae_model_backward(&m, 1.0f);
        double t2 = bench_now();
        ae_optim_step(&o, m.params, m.grads);
        double t3 = bench_now();
        ae_gemm_time(NULL);
        tg[s] = gemm;
        tf[s] = t1 - t0;
        tb[s] = t2 - t1;
        to[s] = t3 - t2;
    }
    double f = bench_median(tf, (int)steps), b = bench_median(tb, (int)steps),
           op = bench_median(to, (int)steps), gm = bench_median(tg, (int)steps);
    printf("spec %s, batch %zu, %zu parameters, %s, %s, %d thread%s, median of %ld steps\n", spec,
           B, m.n_params, ae_backend_describe(), ae_precision_describe(), used,
           used == 1 ? "" : "s", steps);
    printf("forward+loss %.3f ms, backward %.3f ms, optimizer %.3f ms, step %.3f ms; "
           "GEMMs within the step %.3f ms, the rest %.3f ms\n",
           f * 1e3, b * 1e3, op * 1e3, (f + b + op) * 1e3, gm * 1e3, (f + b + op - gm) * 1e3);
    ae_fpenv_restore(saved);
    free(tf);
    free(tb);
    free(to);
    free(tg);
    free(x);
    free(labels);
    ae_optim_free(&o);
    ae_model_free(&m);
    return 0;
}
