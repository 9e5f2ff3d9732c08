#include "ae/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ae_status ae_optim_init(ae_optim *o, const ae_config *cfg, size_t n, ae_error *err)
{
    ae_optim t;
    memset(&t, 0, sizeof t);
    t.kind = cfg->train.optimizer;
    t.lr = (float)cfg->train.lr;
    t.beta1 = (float)cfg->train.adam_beta1;
    t.beta2 = (float)cfg->train.adam_beta2;
    t.eps = (float)cfg->train.adam_eps;
    t.momentum = (float)cfg->train.momentum;
    t.weight_decay = (float)cfg->train.weight_decay;
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

void ae_optim_step(ae_optim *o, float *restrict params, const float *restrict grads)
{
    o->t++;
    float *restrict m = o->m;
    float wd = o->weight_decay;
    if (o->kind == AE_OPT_ADAM) {
        float *restrict v = o->v;
        float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
        double bc1 = 1.0 - pow((double)b1, (double)o->t);
        double bc2 = 1.0 - pow((double)b2, (double)o->t);
        float step = (float)((double)o->lr / bc1);
        float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
        for (size_t i = 0; i < o->n; i++) {
            float g = grads[i] + wd * params[i];
            m[i] = b1 * m[i] + (1.0f - b1) * g;
            v[i] = b2 * v[i] + (1.0f - b2) * g * g;
            params[i] -= step * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + eps);
        }
    } else {
        float mu = o->momentum, lr = o->lr;
        for (size_t i = 0; i < o->n; i++) {
            float g = grads[i] + wd * params[i];
            m[i] = mu * m[i] + g;
            params[i] -= lr * m[i];
        }
    }
}

void ae_optim_free(ae_optim *o)
{
    if (!o)
        return;
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}
