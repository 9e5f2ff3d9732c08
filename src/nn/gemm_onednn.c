/* The oneDNN backend of ae_gemm: one matmul primitive per GEMM shape
 * (transposes, sizes, row strides, beta, precision, epilogue), created on
 * the shape's first call and cached with its memory objects and a
 * scratchpad of its own, so a training step after the first allocates
 * nothing of ours (oneDNN's execute still builds its small argument map).
 * beta = 1 is the primitive's sum post-op; a dense layer's bias and
 * activation are its bias argument and an eltwise post-op.  With bf16 the
 * two inputs are rounded into bf16 copies first and the primitive
 * multiplies those, accumulating in f32.  Only this file includes dnnl.h;
 * built when CMake finds oneDNN (AE_ONEDNN). */
#include "nn/gemm_onednn.h"

#ifdef AE_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>

#include "ae/layer.h"
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/par.h"
#include "base/simd.h"

#define CACHE_SIZE 128 /* shapes; a model uses a dozen or two */

/* What a primitive is made for: the GEMM's shape and strides, whether it
 * accumulates (beta = 1), takes bf16 inputs, adds a bias and applies an
 * activation in its epilogue. */
typedef struct {
    bool trans_a, trans_b, accumulate, bf16, bias;
    int act; /* an ae_activation, or -1: none */
    size_t M, N, K, lda, ldb, ldc;
} key_t;

typedef struct {
    key_t k;
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c, bias, scratch;
    void *scratch_buf;
} entry_t;

static struct {
    bool tried, ok;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    entry_t cache[CACHE_SIZE];
    size_t n;
    /* bf16 copies of the current call's two inputs, grown when a primitive
     * is created (never inside a step once every shape has been seen) */
    uint16_t *a16, *b16;
    size_t a16_cap, b16_cap;
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

bool ae_onednn_has_avx512(void)
{
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)dnnl_cpu_isa_avx512_core) == (unsigned)dnnl_cpu_isa_avx512_core;
}

bool ae_onednn_native_bf16(void)
{
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) ==
           (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

/* A row-major matrix [rows x cols] with row stride ld, or its transpose
 * stored [cols x rows] (strides 1, ld). */
static void matrix_md(dnnl_memory_desc_t *md, size_t rows, size_t cols, size_t ld, bool trans,
                      dnnl_data_type_t dt)
{
    dnnl_dims_t dims = {(dnnl_dim_t)rows, (dnnl_dim_t)cols};
    dnnl_dims_t strides = {trans ? 1 : (dnnl_dim_t)ld, trans ? (dnnl_dim_t)ld : 1};
    dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

/* f32 -> bf16, rounded to nearest even (as oneDNN and PyTorch round);
 * NaN stays NaN. */
static inline uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    return (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((u >> 16) | 0x40u) : (uint16_t)r;
}

typedef struct {
    const float *src;
    size_t ld, cols;
    uint16_t *dst;
} cvt_job;

AE_CLONES static void cvt_rows(void *ctx, size_t lo, size_t hi)
{
    const cvt_job *j = ctx;
    for (size_t r = lo; r < hi; r++) {
        const float *restrict s = j->src + r * j->ld;
        uint16_t *restrict d = j->dst + r * j->cols;
        for (size_t c = 0; c < j->cols; c++)
            d[c] = to_bf16(s[c]);
    }
}

/* The stored matrix src [rows x cols], row stride ld, as dense bf16 in dst;
 * large ones on both cores (see base/par.h). */
static void convert(const float *src, size_t rows, size_t cols, size_t ld, uint16_t *dst)
{
    cvt_job j = {src, ld, cols, dst};
    ae_par_for(cvt_rows, &j, rows, 1, rows * cols >= ((size_t)1 << 16) ? 0 : rows + 1);
}

static bool grow16(uint16_t **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return true;
    uint16_t *p = aligned_alloc(64, (n * sizeof *p + 63) / 64 * 64);
    if (!p)
        return false;
    free(*buf);
    *buf = p;
    *cap = n;
    return true;
}

static dnnl_alg_kind_t eltwise_alg(int act, float *alpha)
{
    *alpha = 0.0f;
    switch (act) {
    case AE_ACT_RELU: return dnnl_eltwise_relu;
    case AE_ACT_LEAKY_RELU: *alpha = 0.01f; return dnnl_eltwise_relu;
    case AE_ACT_ELU: *alpha = 1.0f; return dnnl_eltwise_elu;
    case AE_ACT_TANH: return dnnl_eltwise_tanh;
    case AE_ACT_SIGMOID: return dnnl_eltwise_logistic;
    default: return dnnl_alg_kind_undef; /* linear: no post-op */
    }
}

static entry_t *create(const key_t *k)
{
    if (g.n == CACHE_SIZE)
        return NULL;
    entry_t e;
    memset(&e, 0, sizeof e);
    e.k = *k;
    dnnl_data_type_t in = k->bf16 ? dnnl_bf16 : dnnl_f32;
    /* bf16 inputs are dense copies: row stride = the stored row length */
    size_t lda = k->bf16 ? (k->trans_a ? k->M : k->K) : k->lda;
    size_t ldb = k->bf16 ? (k->trans_b ? k->K : k->N) : k->ldb;
    if (k->bf16 && (!grow16(&g.a16, &g.a16_cap, k->M * k->K) ||
                    !grow16(&g.b16, &g.b16_cap, k->K * k->N)))
        return NULL;
    dnnl_memory_desc_t amd, bmd, cmd, biasmd;
    matrix_md(&amd, k->M, k->K, lda, k->trans_a, in);
    matrix_md(&bmd, k->K, k->N, ldb, k->trans_b, in);
    matrix_md(&cmd, k->M, k->N, k->ldc, false, dnnl_f32);
    matrix_md(&biasmd, 1, k->N, k->N, false, dnnl_f32);
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    float alpha;
    dnnl_alg_kind_t alg = eltwise_alg(k->act, &alpha);
    bool ok = dnnl_matmul_desc_init(&desc, &amd, &bmd, k->bias ? &biasmd : NULL, &cmd) ==
                  dnnl_success &&
              dnnl_primitive_attr_create(&attr) == dnnl_success &&
              dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) ==
                  dnnl_success;
    if (ok && (k->accumulate || alg != dnnl_alg_kind_undef)) {
        ok = dnnl_post_ops_create(&po) == dnnl_success;
        if (ok && k->accumulate)
            ok = dnnl_post_ops_append_sum(po, 1.0f) == dnnl_success;
        if (ok && alg != dnnl_alg_kind_undef)
            ok = dnnl_post_ops_append_eltwise(po, 1.0f, alg, alpha, 0.0f) == dnnl_success;
        ok = ok && dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    }
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
             (!k->bias ||
              dnnl_memory_create(&e.bias, &biasmd, g.engine, DNNL_MEMORY_NONE) == dnnl_success) &&
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
        dnnl_memory_destroy(e.bias);
        dnnl_memory_destroy(e.scratch);
        free(e.scratch_buf);
        return NULL;
    }
    g.cache[g.n] = e;
    return &g.cache[g.n++];
}

static bool same(const key_t *a, const key_t *b)
{
    return a->trans_a == b->trans_a && a->trans_b == b->trans_b && a->M == b->M &&
           a->N == b->N && a->K == b->K && a->lda == b->lda && a->ldb == b->ldb &&
           a->ldc == b->ldc && a->accumulate == b->accumulate && a->bf16 == b->bf16 &&
           a->bias == b->bias && a->act == b->act;
}

static bool run(const key_t *k, const float *A, const float *B, const float *bias, float *C)
{
    if (!init())
        return false;
    entry_t *e = NULL;
    for (size_t i = 0; i < g.n && !e; i++)
        if (same(&g.cache[i].k, k))
            e = &g.cache[i];
    if (!e && !(e = create(k)))
        return false;
    const void *a = A, *b = B;
    if (k->bf16) {
        convert(A, k->trans_a ? k->K : k->M, k->trans_a ? k->M : k->K, k->lda, g.a16);
        convert(B, k->trans_b ? k->N : k->K, k->trans_b ? k->K : k->N, k->ldb, g.b16);
        a = g.a16;
        b = g.b16;
    }
    dnnl_memory_set_data_handle(e->a, (void *)a);
    dnnl_memory_set_data_handle(e->b, (void *)b);
    dnnl_memory_set_data_handle(e->c, C);
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b}, {DNNL_ARG_DST, e->c}};
    int n = 3;
    if (e->bias) {
        dnnl_memory_set_data_handle(e->bias, (void *)bias);
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, e->bias};
    }
    if (e->scratch)
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->scratch};
    if (dnnl_primitive_execute(e->prim, g.stream, n, args) != dnnl_success)
        return false;
    dnnl_stream_wait(g.stream);
    return true;
}

bool ae_onednn_gemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                    size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc,
                    bool bf16)
{
    if (alpha != 1.0f || (beta != 0.0f && beta != 1.0f))
        return false;
    key_t k = {ta, tb, beta == 1.0f, bf16, false, -1, M, N, K, lda, ldb, ldc};
    return run(&k, A, B, NULL, C);
}

bool ae_onednn_gemm_bias_act(bool tb, size_t M, size_t N, size_t K, const float *A, size_t lda,
                             const float *B, size_t ldb, const float *bias, int act, float *C,
                             size_t ldc, bool bf16)
{
    key_t k = {false, tb, false, bf16, true, act, M, N, K, lda, ldb, ldc};
    return run(&k, A, B, bias, C);
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
bool ae_onednn_has_avx512(void) { return false; }
bool ae_onednn_native_bf16(void) { return false; }
bool ae_onednn_gemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                    size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc,
                    bool bf16)
{
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B;
    (void)ldb, (void)beta, (void)C, (void)ldc, (void)bf16;
    return false;
}
bool ae_onednn_gemm_bias_act(bool tb, size_t M, size_t N, size_t K, const float *A, size_t lda,
                             const float *B, size_t ldb, const float *bias, int act, float *C,
                             size_t ldc, bool bf16)
{
    (void)tb, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)bias;
    (void)act, (void)C, (void)ldc, (void)bf16;
    return false;
}
void ae_onednn_set_threads(int n) { (void)n; }
const char *ae_onednn_isa(void) { return "none"; }
const char *ae_onednn_version(void) { return "none"; }
const char *ae_onednn_last_impl(void) { return ""; }

#endif
