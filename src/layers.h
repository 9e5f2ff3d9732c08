/* Building blocks of the models, over flat row-major buffers: dense layers,
 * elementwise activations, likelihoods and the Gaussian KL.  Each has an
 * explicit forward and backward; backward accumulates into gradient buffers
 * that the caller zeroed.  None allocates. */
#ifndef AE_LAYERS_H
#define AE_LAYERS_H

#include <stddef.h>

#include "ae/config.h"

/* A dense layer is a view into the parameter block: W [out x in] at w_off,
 * b [out] at b_off, followed by an activation. */
typedef struct {
    size_t in, out;
    size_t w_off, b_off;
    ae_activation act;
} ae_dense;

/* y [B x out] = act(x [B x in] * W^T + b). */
void ae_dense_forward(const ae_dense *l, const float *params, size_t B, const float *x, float *y);

/* dy [B x out] holds dL/dy on entry and is overwritten with dL/d(pre-activation).
 * Accumulates dW and db into grads; writes dx [B x in] = dL/dx unless dx is NULL. */
void ae_dense_backward(const ae_dense *l, const float *params, float *grads, size_t B,
                       const float *x, const float *y, float *dy, float *dx);

/* y = act(y) in place, n elements. */
void ae_act_forward(ae_activation act, float *y, size_t n);

/* dy *= act'(pre-activation), written in terms of the output y (every
 * activation we offer has a derivative that is a function of its output). */
void ae_act_backward(ae_activation act, const float *y, float *dy, size_t n);

/* Bernoulli negative log-likelihood from logits, per example summed over D:
 * softplus(l) - x*l, computed stably.  Returns the batch sum; per_example
 * [B] (optional) receives each row's value; dlogits [B x D] (optional)
 * receives scale * (sigmoid(l) - x). */
double ae_bernoulli_nll(size_t B, size_t D, const float *logits, const float *x,
                        float scale, float *dlogits, double *per_example);

/* Unit-variance Gaussian negative log-likelihood: 0.5*||x - y||^2 +
 * 0.5*D*log(2*pi) per example; dy (optional) = scale * (y - x). */
double ae_gaussian_nll(size_t B, size_t D, const float *y, const float *x, float scale,
                       float *dy, double *per_example);

/* KL(N(mu, exp(logvar)) || N(0, I)) = -0.5 * sum(1 + lv - mu^2 - exp(lv)) per
 * example.  Returns the batch sum; per_example optional.  mu and logvar are
 * columns of rows of length `stride`. */
double ae_kl_normal(size_t B, size_t L, const float *mu, const float *logvar, size_t stride,
                    double *per_example);

/* Gradient of scale * KL: dmu += scale * mu, dlogvar += scale * 0.5*(exp(lv) - 1). */
void ae_kl_normal_backward(size_t B, size_t L, const float *mu, const float *logvar,
                           size_t stride, float scale, float *dmu, float *dlogvar,
                           size_t dstride);

#endif
