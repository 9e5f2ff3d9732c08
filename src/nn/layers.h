/* Building blocks of the models, over flat row-major buffers: dense layers,
 * elementwise activations, likelihoods and the Gaussian KL.  Each has an
 * explicit forward and backward; backward accumulates into gradient buffers
 * that the caller zeroed.  None allocates. */
#ifndef AE_LAYERS_H
#define AE_LAYERS_H

#include <stddef.h>

#include <stdint.h>

#include "ae/layer.h"

/* y [B x out] = act(x [B x (in - classes)], onehot(labels) * W^T + b); labels
 * may be NULL when l->classes == 0. */
void ae_dense_forward(const ae_layer *l, const float *params, size_t B, const float *x,
                      const int32_t *labels, float *y);

/* dy [B x out] holds dL/dy on entry and is overwritten with dL/d(pre-activation)
 * (plus extra_dz [B x out] when not NULL: a gradient that reaches the
 * pre-activation by another path).  Accumulates dW and db into grads; writes
 * dx [B x (in - classes)] = dL/dx unless dx is NULL. */
void ae_dense_backward(const ae_layer *l, const float *params, float *grads, size_t B,
                       const float *x, const int32_t *labels, const float *y, float *dy,
                       const float *extra_dz, float *dx);

/* Runs the stack on x; returns its output m->out[n-1]. */
const float *ae_mlp_forward(ae_mlp *m, const float *params, size_t B, const float *x,
                            const int32_t *labels);

/* Called after a layer's backward pass, when its gradients are complete and
 * its parameters no longer needed by the pass. */
typedef struct {
    void (*fn)(void *ctx, const ae_layer *l);
    void *ctx;
} ae_layer_done;

/* Backpropagates dout [B x out] (overwritten) through the stack; extra_dz
 * (NULL, or one pointer per layer, each NULL or [B x out]) adds gradients at
 * pre-activations; dx [B x in] receives dL/dx unless NULL.  buf is scratch of
 * [B x widest layer]; dout must be that large too.  done (may be NULL) is
 * told about each layer as it finishes. */
void ae_mlp_backward(ae_mlp *m, const float *params, float *grads, size_t B, const float *x,
                     const int32_t *labels, float *dout, float *const *extra_dz, float *dx,
                     float *buf, const ae_layer_done *done);

/* f'(a) and f''(a) of an activation, written in terms of its output y. */
float ae_act_deriv(ae_activation act, float y);
float ae_act_deriv2(ae_activation act, float y);

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

/* Continuous Bernoulli negative log-likelihood from logits (values in [0, 1],
 * not only 0 and 1): the Bernoulli one minus the log of its normaliser,
 * computed stably near logit 0; dlogits as for ae_bernoulli_nll. */
double ae_continuous_bernoulli_nll(size_t B, size_t D, const float *logits, const float *x,
                                   float scale, float *dlogits, double *per_example);

/* Logits -> the continuous Bernoulli's mean, in place (not sigmoid(l)). */
void ae_continuous_bernoulli_mean(float *y, size_t n);

/* Softmax cross-entropy of labels [B] (each in [0, C)) under logits
 * [B x C]: per row log sum_k exp(l_k) - l_y, computed with the row's largest
 * logit subtracted so exp never overflows.  Returns the batch sum;
 * per_example [B] (optional) receives each row's value; dlogits [B x C]
 * (optional) receives scale * (softmax(l) - onehot(y)); p [B x C] (optional)
 * the probabilities; *correct (optional) counts the rows whose largest logit
 * (the first on a tie) is the label's.  labels NULL: the probabilities
 * alone (loss 0). */
double ae_softmax_xent(size_t B, size_t C, const float *logits, const int32_t *labels,
                       float scale, float *dlogits, double *per_example, float *p,
                       size_t *correct);

/* Clamps the log-variance half of B rows [mu | logvar] of width 2L to
 * [lo, hi] in place (the model's AE_LOGVAR_MIN, AE_LOGVAR_MAX). */
void ae_clamp_logvar(float *head, size_t B, size_t L, float lo, float hi);

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
