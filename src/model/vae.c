/* The variational autoencoder (Kingma and Welling 2014), with a KL weight
 * beta (beta-VAE), and its conditional form (cvae: the one-hot label is an
 * input of the encoder and the decoder):
 *   x -> encoder -> [mu | logvar] [B x 2L]; z = mu + exp(logvar/2) * eps
 *   -> decoder; loss = -log p(x|z) + beta * KL(q(z|x) || N(0, I)). */
#include <string.h>

#include "model/family.h"
#include "nn/layers.h"

/* A conditional model takes model.classes label values. */
static void configure(ae_model *t, const ae_config *cfg)
{
    t->classes = t->family->conditional ? (size_t)cfg->model.classes : 0;
}

void ae_vae_add_head(ae_model *t, const ae_config *cfg, size_t in, size_t *n)
{
    (void)cfg;
    ae_stack_add(&t->enc, in, 2 * t->latent, AE_ACT_LINEAR, n);
}

void ae_vae_forward(ae_model *m, size_t B, const float *x, const float *target,
                    const int32_t *labels, ae_rng *rng, float beta, ae_loss *out)
{
    size_t L = m->latent;
    memset(m->ex_reg, 0, B * sizeof(double));
    m->sampled = rng != NULL;
    float *head = (float *)ae_mlp_forward(&m->enc, m->params, B, x, labels);
    ae_clamp_logvar(head, B, L, AE_LOGVAR_MIN, AE_LOGVAR_MAX);
    ae_reparameterise(m, head, B, L, rng, m->eps, m->z);
    double kl = ae_kl_normal(B, L, head, head + L, 2 * L, m->ex_kl);
    memset(m->ex_kl2, 0, B * sizeof(double));
    double recon = ae_model_decode_loss(m, B, m->z, target, labels);
    ae_model_finish_forward(m, B, x, labels, recon, kl, 0.0, 0.0, beta, out);
}

/* Through z = mu + sigma * eps and the KL into the head, then the encoder. */
void ae_vae_backward(ae_model *m, float kl_weight, const ae_layer_done *done)
{
    size_t B = m->last_batch, L = m->latent, N = ae_model_norm_rows(m, B);
    float **S = m->scratch;
    ae_mlp_backward(&m->dec, m->params, m->grads, B, m->z, m->last_labels, S[0], NULL, S[2],
                    S[1], done);
    ae_reparam_backward(m->enc.out[m->enc.n - 1], m->eps, S[2], B, N, L, kl_weight, S[0]);
    ae_mlp_backward(&m->enc, m->params, m->grads, B, m->last_input, m->last_labels, S[0], NULL,
                    NULL, S[1], done);
}

size_t ae_vae_param_views(const ae_model *m, ae_param_view *views, size_t max)
{
    size_t k = ae_stack_views(&m->enc, "encoder", m->latent, views, 0, max);
    return ae_stack_views(&m->dec, "decoder", 0, views, k, max);
}

/* the same passes for both: the label is an input of the stacks */
static const struct ae_family_ops OPS = {
    .configure = configure,
    .add_head = ae_vae_add_head,
    .forward = ae_vae_forward,
    .backward = ae_vae_backward,
    .encode = ae_gaussian_encode,
    .prior_sample = ae_standard_prior_sample,
    .log_prior = ae_standard_log_prior,
    .kl_terms = ae_standard_kl_terms,
    .param_views = ae_vae_param_views,
};

const ae_family ae_family_vae = {
    .name = "vae",
    .title = "variational autoencoder",
    .variational = true,
    .can_tie = true,
    .ops = &OPS,
};

const ae_family ae_family_cvae = {
    .name = "cvae",
    .title = "conditional VAE",
    .variational = true,
    .conditional = true,
    .ops = &OPS,
};
