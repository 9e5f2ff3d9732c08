/* The oneDNN backend of ae_gemm: one matmul primitive per GEMM shape
 * (transposes, sizes, row strides, beta), created on the shape's first call
 * and cached with its memory objects and a scratchpad of its own, so a
 * training step after the first allocates nothing.  beta = 1 is the
 * primitive's sum post-op.  Only this file includes dnnl.h; built when CMake
 * finds oneDNN (AE_ONEDNN). */
#include "nn/gemm_onednn.h"

#ifdef AE_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SIZE 128 /* shapes; a model uses a dozen or two */

typedef struct {
    bool used, trans_a, trans_b, accumulate;
    size_t M, N, K, lda, ldb, ldc;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c, scratch;
    void *scratch_buf;
} entry_t;

static struct {
    bool tried, ok;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    entry_t cache[CACHE_SIZE];
    size_t n;
    char impl[128]; /* the implementation of the last primitive created */
} g;

static bool init(void)
{
    if (g.tried)
        return g.ok;
    g.tried = true;
    g.ok = dnnl_engine_create(&g.engine, dnnl_cpu, 0) == dnnl_success &&
           dnnl_stream_create(&g.stream, g.engine, dnnl_stream_default_flags) == dnnl_success;
    return g.ok;
}

bool ae_onednn_available(void)
{
    return init();
}

/* A plain row-major matrix [rows x cols] with row stride ld, or its
 * transpose stored [cols x rows] (strides 1, ld). */
static void matrix_md(dnnl_memory_desc_t *md, size_t rows, size_t cols, size_t ld, bool trans)
{
    dnnl_dims_t dims = {(dnnl_dim_t)rows, (dnnl_dim_t)cols};
    dnnl_dims_t strides = {trans ? 1 : (dnnl_dim_t)ld, trans ? (dnnl_dim_t)ld : 1};
    dnnl_memory_desc_init_by_strides(md, 2, dims, dnnl_f32, strides);
}

static entry_t *create(bool ta, bool tb, size_t M, size_t N, size_t K, size_t lda, size_t ldb,
                       size_t ldc, bool accumulate)
{
    if (g.n == CACHE_SIZE)
        return NULL;
    entry_t e = {true, ta, tb, accumulate, M, N, K, lda, ldb, ldc, NULL, NULL, NULL, NULL, NULL,
                 NULL};
    dnnl_memory_desc_t amd, bmd, cmd;
    matrix_md(&amd, M, K, lda, ta);
    matrix_md(&bmd, K, N, ldb, tb);
    matrix_md(&cmd, M, N, ldc, false);
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    bool ok = dnnl_matmul_desc_init(&desc, &amd, &bmd, NULL, &cmd) == dnnl_success &&
              dnnl_primitive_attr_create(&attr) == dnnl_success &&
              dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) ==
                  dnnl_success;
    if (ok && accumulate)
        ok = dnnl_post_ops_create(&po) == dnnl_success &&
             dnnl_post_ops_append_sum(po, 1.0f) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    ok = ok && dnnl_primitive_desc_create(&pd, &desc, attr, g.engine, NULL) == dnnl_success;
    if (ok) {
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
            impl)
            snprintf(g.impl, sizeof g.impl, "%s", impl);
        const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        size_t ssize = smd ? dnnl_memory_desc_get_size(smd) : 0;
        e.scratch_buf = ssize ? aligned_alloc(64, (ssize + 63) / 64 * 64) : NULL;
        ok = (!ssize || e.scratch_buf) && dnnl_primitive_create(&e.prim, pd) == dnnl_success &&
             dnnl_memory_create(&e.a, &amd, g.engine, DNNL_MEMORY_NONE) == dnnl_success &&
             dnnl_memory_create(&e.b, &bmd, g.engine, DNNL_MEMORY_NONE) == dnnl_success &&
             dnnl_memory_create(&e.c, &cmd, g.engine, DNNL_MEMORY_NONE) == dnnl_success &&
             (!ssize ||
              dnnl_memory_create(&e.scratch, smd, g.engine, e.scratch_buf) == dnnl_success);
    }
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (!ok) {
        if (e.prim)
            dnnl_primitive_destroy(e.prim);
        dnnl_memory_destroy(e.a);
        dnnl_memory_destroy(e.b);
        dnnl_memory_destroy(e.c);
        dnnl_memory_destroy(e.scratch);
        free(e.scratch_buf);
        return NULL;
    }
    g.cache[g.n] = e;
    return &g.cache[g.n++];
}

bool ae_onednn_gemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                    size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    if (alpha != 1.0f || (beta != 0.0f && beta != 1.0f) || !init())
        return false;
    bool acc = beta == 1.0f;
    entry_t *e = NULL;
    for (size_t i = 0; i < g.n && !e; i++) {
        entry_t *c = &g.cache[i];
        if (c->trans_a == ta && c->trans_b == tb && c->M == M && c->N == N && c->K == K &&
            c->lda == lda && c->ldb == ldb && c->ldc == ldc && c->accumulate == acc)
            e = c;
    }
    if (!e && !(e = create(ta, tb, M, N, K, lda, ldb, ldc, acc)))
        return false;
    dnnl_memory_set_data_handle(e->a, (void *)A);
    dnnl_memory_set_data_handle(e->b, (void *)B);
    dnnl_memory_set_data_handle(e->c, C);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, e->a},
                               {DNNL_ARG_WEIGHTS, e->b},
                               {DNNL_ARG_DST, e->c},
                               {DNNL_ARG_SCRATCHPAD, e->scratch}};
    if (dnnl_primitive_execute(e->prim, g.stream, e->scratch ? 4 : 3, args) != dnnl_success)
        return false;
    dnnl_stream_wait(g.stream);
    return true;
}

void ae_onednn_set_threads(int n)
{
    if (n > 0)
        omp_set_num_threads(n);
}

const char *ae_onednn_isa(void)
{
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "unknown";
    }
}

const char *ae_onednn_version(void)
{
    static char v[32];
    const dnnl_version_t *ver = dnnl_version();
    snprintf(v, sizeof v, "%d.%d.%d", ver->major, ver->minor, ver->patch);
    return v;
}

const char *ae_onednn_last_impl(void)
{
    return g.impl;
}

#else /* built without oneDNN */

bool ae_onednn_available(void) { return false; }
bool ae_onednn_gemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                    size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B;
    (void)ldb, (void)beta, (void)C, (void)ldc;
    return false;
}
void ae_onednn_set_threads(int n) { (void)n; }
const char *ae_onednn_isa(void) { return "none"; }
const char *ae_onednn_version(void) { return "none"; }
const char *ae_onednn_last_impl(void) { return ""; }

#endif
