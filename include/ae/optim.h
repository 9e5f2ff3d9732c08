/* Optimizers over the flat parameter block.
 *
 * Adam (Kingma & Ba, bias-corrected, PyTorch's formulation):
 *   g += wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
 *   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * SGD with momentum (PyTorch's formulation, no dampening):
 *   g += wd*p;  m = mu*m + g;  p -= lr*m   (plain SGD when mu = 0)
 *
 * ae_optim owns its moment buffers (m, and v for Adam), each [n] in the
 * parameter layout; ae_optim_free releases them. */
#ifndef AE_OPTIM_H
#define AE_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "ae/status.h"

typedef enum { AE_OPT_ADAM, AE_OPT_SGD } ae_optimizer;

/* The optimizer's settings (the spec's train.* keys, ae_config_optim). */
typedef struct {
    ae_optimizer kind;
    double lr, momentum, beta1, beta2, eps, weight_decay;
} ae_optim_settings;

typedef struct {
    ae_optimizer kind;
    float lr, beta1, beta2, eps, momentum, weight_decay;
    size_t n;
    float *m;      /* [n] first moment (Adam) or momentum buffer (SGD) */
    float *v;      /* [n] second moment (Adam only; NULL for SGD) */
    uint64_t t;    /* steps taken */
    float step, inv_sqrt_bc2; /* Adam's bias corrections for the current step */
} ae_optim;

ae_status ae_optim_init(ae_optim *o, ae_optim_settings s, size_t n, ae_error *err);
/* One step; the gradients are read and then zeroed in the same pass, so
 * the next backward accumulates into a clean block without a separate
 * memset over all parameters. */
void ae_optim_step(ae_optim *o, float *params, float *grads);

/* The same step in pieces, so each layer can be updated right after its
 * gradient is complete, while it is still in cache: ae_optim_begin once,
 * then ae_optim_update over ranges [off, off+n) that together cover every
 * parameter once.  The result is the same bits as ae_optim_step. */
void ae_optim_begin(ae_optim *o);
void ae_optim_update(ae_optim *o, float *params, float *grads, size_t off, size_t n);
void ae_optim_free(ae_optim *o);

/* PyTorch's clip_grad_norm_: when the L2 norm of g [n] (summed in double)
 * is above max_norm, g is scaled by max_norm / (norm + 1e-6).  Returns the
 * norm before clipping. */
double ae_clip_grad_norm(float *g, size_t n, double max_norm);

#endif
