#include "ae/optim.h"

#include "base/par.h"
#include "base/simd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ae_status ae_optim_init(ae_optim *o, ae_optim_settings s, size_t n, ae_error *err)
{
    ae_optim t;
    memset(&t, 0, sizeof t);
    t.kind = s.kind;
    t.lr = (float)s.lr;
    t.beta1 = (float)s.beta1;
    t.beta2 = (float)s.beta2;
    t.eps = (float)s.eps;
    t.momentum = (float)s.momentum;
    t.weight_decay = (float)s.weight_decay;
    t.n = n;
    t.m = calloc(n ? n : 1, sizeof(float));
    if (t.kind == AE_OPT_ADAM)
        t.v = calloc(n ? n : 1, sizeof(float));
    if (!t.m || (t.kind == AE_OPT_ADAM && !t.v)) {
        ae_optim_free(&t);
        ae_error_set(err, "optimizer: out of memory for %zu parameters", n);
        return AE_ERR_NOMEM;
    }
    *o = t;
    return AE_OK;
}

AE_CLONES AE_ONE_PASS static void adam(size_t n, float *restrict p, float *restrict g, float *restrict m,
                           float *restrict v, float b1, float b2, float eps, float wd, float step,
                           float inv_sqrt_bc2)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        g[i] = 0.0f;
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        p[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
    }
}

AE_CLONES AE_ONE_PASS static void sgd(size_t n, float *restrict p, float *restrict g, float *restrict m,
                          float mu, float lr, float wd)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + wd * p[i];
        g[i] = 0.0f;
        m[i] = mu * m[i] + gi;
        p[i] -= lr * m[i];
    }
}

void ae_optim_begin(ae_optim *o)
{
    o->t++;
    if (o->kind == AE_OPT_ADAM) {
        double bc1 = 1.0 - pow((double)o->beta1, (double)o->t);
        double bc2 = 1.0 - pow((double)o->beta2, (double)o->t);
        o->step = (float)((double)o->lr / bc1);
        o->inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    }
}

typedef struct {
    const ae_optim *o;
    float *p, *g, *m, *v;
} update_job;

static void update_range(void *ctx, size_t lo, size_t hi)
{
    const update_job *j = ctx;
    const ae_optim *o = j->o;
    if (o->kind == AE_OPT_ADAM)
        adam(hi - lo, j->p + lo, j->g + lo, j->m + lo, j->v + lo, o->beta1, o->beta2, o->eps,
             o->weight_decay, o->step, o->inv_sqrt_bc2);
    else
        sgd(hi - lo, j->p + lo, j->g + lo, j->m + lo, o->momentum, o->lr, o->weight_decay);
}

/* Updates of at least this many parameters are shared with the helper
 * thread (when there is one); each element's update is the same either way. */
#define PAR_MIN_PARAMS 32768

void ae_optim_update(ae_optim *o, float *params, float *grads, size_t off, size_t n)
{
    update_job j = {o, params + off, grads + off, o->m + off,
                    o->kind == AE_OPT_ADAM ? o->v + off : NULL};
    ae_par_for(update_range, &j, n, 16, PAR_MIN_PARAMS);
}

void ae_optim_step(ae_optim *o, float *params, float *grads)
{
    ae_optim_begin(o);
    ae_optim_update(o, params, grads, 0, o->n);
}

void ae_optim_free(ae_optim *o)
{
    if (!o)
        return;
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

double ae_clip_grad_norm(float *g, size_t n, double max_norm)
{
    double ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (double)g[i] * g[i];
    double norm = sqrt(ss);
    if (norm > max_norm) {
        float f = (float)(max_norm / (norm + 1e-6));
        for (size_t i = 0; i < n; i++)
            g[i] *= f;
    }
    return norm;
}
