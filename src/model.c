#include "ae/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "layers.h"

int ae_threads_set(int n)
{
    return ae_blas_set_threads(n);
}

static ae_dense as_dense(const ae_layer *l)
{
    ae_dense d = {l->in, l->out, l->w_off, l->b_off, l->act};
    return d;
}

static void add_layer(ae_layer *l, size_t in, size_t out, ae_activation act, size_t *n_params)
{
    l->in = in;
    l->out = out;
    l->act = act;
    l->w_off = *n_params;
    *n_params += in * out;
    l->b_off = *n_params;
    *n_params += out;
}

static size_t head_width(const ae_model *m)
{
    return m->type == AE_MODEL_VAE ? 2 * m->latent : m->latent;
}

ae_status ae_model_init(ae_model *m, const ae_config *cfg, size_t input_dim, size_t max_batch,
                        ae_error *err)
{
    ae_model t;
    memset(&t, 0, sizeof t);
    if (input_dim == 0 || input_dim > ((size_t)1 << 24) || max_batch == 0) {
        ae_error_set(err, "model: impossible sizes (input %zu, batch %zu)", input_dim, max_batch);
        return AE_ERR_USAGE;
    }
    t.type = cfg->model.type;
    t.likelihood = cfg->model.likelihood;
    t.init = cfg->model.init;
    t.input_dim = input_dim;
    t.latent = (size_t)cfg->model.latent;
    t.max_batch = max_batch;

    size_t n = 0, in = input_dim, widest = input_dim;
    for (int i = 0; i < cfg->model.n_encoder; i++) {
        add_layer(&t.enc[t.n_enc++], in, (size_t)cfg->model.encoder[i], cfg->model.activation, &n);
        in = (size_t)cfg->model.encoder[i];
    }
    add_layer(&t.enc[t.n_enc++], in, head_width(&t), AE_ACT_LINEAR, &n);
    in = t.latent;
    for (int i = 0; i < cfg->model.n_decoder; i++) {
        add_layer(&t.dec[t.n_dec++], in, (size_t)cfg->model.decoder[i], cfg->model.activation, &n);
        in = (size_t)cfg->model.decoder[i];
    }
    add_layer(&t.dec[t.n_dec++], in, input_dim, AE_ACT_LINEAR, &n);
    t.n_params = n;
    for (int i = 0; i < t.n_enc; i++)
        widest = t.enc[i].out > widest ? t.enc[i].out : widest;
    for (int i = 0; i < t.n_dec; i++)
        widest = t.dec[i].out > widest ? t.dec[i].out : widest;

    /* Widths are capped by the config (<= 65536, <= 17 layers), so these
     * products fit easily in size_t; the batch is capped by the config too. */
    t.params = calloc(n, sizeof(float));
    t.grads = calloc(n, sizeof(float));
    t.scale = malloc(input_dim * sizeof(float));
    t.shift = calloc(input_dim, sizeof(float));
    int ok = t.params && t.grads && t.scale && t.shift;
    for (int i = 0; ok && i < t.n_enc; i++)
        ok = (t.enc_out[i] = malloc(max_batch * t.enc[i].out * sizeof(float))) != NULL;
    for (int i = 0; ok && i < t.n_dec; i++)
        ok = (t.dec_out[i] = malloc(max_batch * t.dec[i].out * sizeof(float))) != NULL;
    if (ok) {
        t.eps = calloc(max_batch * t.latent, sizeof(float));
        t.z = malloc(max_batch * t.latent * sizeof(float));
        t.scratch[0] = malloc(max_batch * widest * sizeof(float));
        t.scratch[1] = malloc(max_batch * widest * sizeof(float));
        t.ex_recon = calloc(max_batch, sizeof(double));
        t.ex_kl = calloc(max_batch, sizeof(double));
        ok = t.eps && t.z && t.scratch[0] && t.scratch[1] && t.ex_recon && t.ex_kl;
    }
    if (!ok) {
        ae_model_free(&t);
        ae_error_set(err, "model: out of memory for %zu parameters and batch %zu", n, max_batch);
        return AE_ERR_NOMEM;
    }
    for (size_t j = 0; j < input_dim; j++)
        t.scale[j] = 1.0f;
    *m = t;
    return AE_OK;
}

void ae_model_free(ae_model *m)
{
    if (!m)
        return;
    free(m->params);
    free(m->grads);
    free(m->scale);
    free(m->shift);
    for (int i = 0; i < AE_MAX_LAYERS + 1; i++) {
        free(m->enc_out[i]);
        free(m->dec_out[i]);
    }
    free(m->eps);
    free(m->z);
    free(m->scratch[0]);
    free(m->scratch[1]);
    free(m->ex_recon);
    free(m->ex_kl);
    memset(m, 0, sizeof *m);
}

static void init_layer(float *params, const ae_layer *l, ae_init init, ae_rng *rng)
{
    int relu_like = l->act == AE_ACT_RELU || l->act == AE_ACT_LEAKY_RELU || l->act == AE_ACT_ELU;
    double he = sqrt(6.0 / (double)l->in), glorot = sqrt(6.0 / (double)(l->in + l->out));
    double bound = init == AE_INIT_HE       ? he
                   : init == AE_INIT_GLOROT ? glorot
                   : init == AE_INIT_PYTORCH ? 1.0 / sqrt((double)l->in)
                   : relu_like              ? he
                                            : glorot;
    float *W = params + l->w_off;
    for (size_t i = 0; i < l->in * l->out; i++)
        W[i] = (float)((2.0 * ae_rng_uniform(rng) - 1.0) * bound);
    float *b = params + l->b_off;
    for (size_t i = 0; i < l->out; i++)
        b[i] = init == AE_INIT_PYTORCH ? (float)((2.0 * ae_rng_uniform(rng) - 1.0) * bound) : 0.0f;
}

void ae_model_init_weights(ae_model *m, ae_rng *rng)
{
    for (int i = 0; i < m->n_enc; i++)
        init_layer(m->params, &m->enc[i], m->init, rng);
    for (int i = 0; i < m->n_dec; i++)
        init_layer(m->params, &m->dec[i], m->init, rng);
}

/* Runs the encoder; returns the head output [B x head_width]. */
static float *encoder_forward(ae_model *m, size_t B, const float *x)
{
    const float *h = x;
    for (int i = 0; i < m->n_enc; i++) {
        ae_dense d = as_dense(&m->enc[i]);
        ae_dense_forward(&d, m->params, B, h, m->enc_out[i]);
        h = m->enc_out[i];
    }
    float *head = m->enc_out[m->n_enc - 1];
    if (m->type == AE_MODEL_VAE) {
        size_t L = m->latent;
        for (size_t r = 0; r < B; r++) {
            float *lv = head + r * 2 * L + L;
            for (size_t j = 0; j < L; j++)
                lv[j] = fminf(fmaxf(lv[j], AE_LOGVAR_MIN), AE_LOGVAR_MAX);
        }
    }
    return head;
}

static float *decoder_forward(ae_model *m, size_t B, const float *z)
{
    const float *h = z;
    for (int i = 0; i < m->n_dec; i++) {
        ae_dense d = as_dense(&m->dec[i]);
        ae_dense_forward(&d, m->params, B, h, m->dec_out[i]);
        h = m->dec_out[i];
    }
    return m->dec_out[m->n_dec - 1];
}

/* The code fed to the decoder: z = mu + exp(lv/2)*eps for a VAE (eps kept for
 * backward), the head itself for an AE. */
static const float *latent_code(ae_model *m, size_t B, const float *head, ae_rng *eps_rng)
{
    if (m->type != AE_MODEL_VAE)
        return head;
    size_t L = m->latent;
    if (eps_rng)
        ae_rng_normal_fill(eps_rng, m->eps, B * L);
    else
        memset(m->eps, 0, B * L * sizeof(float));
    for (size_t r = 0; r < B; r++) {
        const float *mu = head + r * 2 * L;
        const float *lv = mu + L;
        const float *e = m->eps + r * L;
        float *z = m->z + r * L;
        for (size_t j = 0; j < L; j++)
            z[j] = mu[j] + expf(0.5f * lv[j]) * e[j];
    }
    return m->z;
}

void ae_model_forward(ae_model *m, size_t B, const float *x, const float *target,
                      ae_rng *eps_rng, float beta, ae_loss *out)
{
    size_t D = m->input_dim, L = m->latent;
    float *head = encoder_forward(m, B, x);
    const float *z = latent_code(m, B, head, eps_rng);
    float *y = decoder_forward(m, B, z);

    /* Loss = mean over the batch, so each example's gradient is scaled by 1/B. */
    float inv_b = 1.0f / (float)B;
    double recon;
    if (m->likelihood == AE_LIK_BERNOULLI)
        recon = ae_bernoulli_nll(B, D, y, target, inv_b, m->scratch[0], m->ex_recon);
    else
        recon = ae_gaussian_nll(B, D, y, target, inv_b, m->scratch[0], m->ex_recon);
    double kl = 0.0;
    if (m->type == AE_MODEL_VAE)
        kl = ae_kl_normal(B, L, head, head + L, 2 * L, m->ex_kl);
    else
        memset(m->ex_kl, 0, B * sizeof(double));

    m->last_batch = B;
    m->last_input = x;
    m->last_beta = beta;
    if (out) {
        out->recon = recon / (double)B;
        out->kl = kl / (double)B;
        out->loss = out->recon + (double)beta * out->kl;
    }
}

void ae_model_backward(ae_model *m)
{
    size_t B = m->last_batch, L = m->latent;
    float *dy = m->scratch[0]; /* d loss / d decoder output, from forward */
    float *dx = m->scratch[1];
    for (int i = m->n_dec - 1; i >= 0; i--) {
        ae_dense d = as_dense(&m->dec[i]);
        const float *in = i > 0 ? m->dec_out[i - 1]
                                : (m->type == AE_MODEL_VAE ? m->z : m->enc_out[m->n_enc - 1]);
        ae_dense_backward(&d, m->params, m->grads, B, in, m->dec_out[i], dy, dx);
        float *t = dy;
        dy = dx;
        dx = t;
    }
    /* dy now holds d loss / dz [B x L]. */
    float *head = m->enc_out[m->n_enc - 1];
    if (m->type == AE_MODEL_VAE) {
        /* z = mu + exp(lv/2)*eps: dmu = dz, dlv = dz*eps*exp(lv/2)/2, plus the
         * KL gradient; a clamped log-variance passes no gradient. */
        float *dhead = dx; /* [B x 2L] */
        for (size_t r = 0; r < B; r++) {
            const float *dz = dy + r * L;
            const float *lv = head + r * 2 * L + L;
            const float *e = m->eps + r * L;
            float *dmu = dhead + r * 2 * L;
            float *dlv = dmu + L;
            for (size_t j = 0; j < L; j++) {
                dmu[j] = dz[j];
                dlv[j] = dz[j] * e[j] * 0.5f * expf(0.5f * lv[j]);
            }
        }
        ae_kl_normal_backward(B, L, head, head + L, 2 * L, m->last_beta / (float)B, dhead,
                              dhead + L, 2 * L);
        for (size_t r = 0; r < B; r++) {
            const float *lv = head + r * 2 * L + L;
            float *dlv = dhead + r * 2 * L + L;
            for (size_t j = 0; j < L; j++)
                if (lv[j] <= AE_LOGVAR_MIN || lv[j] >= AE_LOGVAR_MAX)
                    dlv[j] = 0.0f;
        }
        float *t = dy;
        dy = dhead;
        dx = t;
    }
    for (int i = m->n_enc - 1; i >= 0; i--) {
        ae_dense d = as_dense(&m->enc[i]);
        const float *in = i > 0 ? m->enc_out[i - 1] : m->last_input;
        /* The input needs no gradient: skip that GEMM for the first layer. */
        ae_dense_backward(&d, m->params, m->grads, B, in, m->enc_out[i], dy, i > 0 ? dx : NULL);
        float *t = dy;
        dy = dx;
        dx = t;
    }
}

void ae_model_encode(ae_model *m, size_t B, const float *x, float *mu, float *logvar)
{
    size_t L = m->latent;
    const float *head = encoder_forward(m, B, x);
    size_t hw = head_width(m);
    for (size_t r = 0; r < B; r++) {
        memcpy(mu + r * L, head + r * hw, L * sizeof(float));
        if (logvar) {
            if (m->type == AE_MODEL_VAE)
                memcpy(logvar + r * L, head + r * hw + L, L * sizeof(float));
            else
                memset(logvar + r * L, 0, L * sizeof(float));
        }
    }
}

void ae_model_decode(ae_model *m, size_t B, const float *z, float *out)
{
    size_t D = m->input_dim;
    const float *y = decoder_forward(m, B, z);
    memcpy(out, y, B * D * sizeof(float));
    if (m->likelihood == AE_LIK_BERNOULLI)
        ae_act_forward(AE_ACT_SIGMOID, out, B * D);
}

static size_t add_view(ae_param_view *v, size_t k, size_t max, const char *name, size_t off,
                       size_t rows, size_t cols)
{
    if (k < max) {
        snprintf(v[k].name, sizeof v[k].name, "%s", name);
        v[k].offset = off;
        v[k].rows = rows;
        v[k].cols = cols;
    }
    return k + 1;
}

size_t ae_model_param_views(const ae_model *m, ae_param_view *views, size_t max)
{
    size_t k = 0;
    char name[64];
    for (int i = 0; i < m->n_enc; i++) {
        const ae_layer *l = &m->enc[i];
        if (i == m->n_enc - 1 && m->type == AE_MODEL_VAE) {
            size_t L = m->latent;
            k = add_view(views, k, max, "encoder.mu.weight", l->w_off, L, l->in);
            k = add_view(views, k, max, "encoder.mu.bias", l->b_off, L, 0);
            k = add_view(views, k, max, "encoder.logvar.weight", l->w_off + L * l->in, L, l->in);
            k = add_view(views, k, max, "encoder.logvar.bias", l->b_off + L, L, 0);
            continue;
        }
        snprintf(name, sizeof name, "encoder.%d.weight", i);
        k = add_view(views, k, max, name, l->w_off, l->out, l->in);
        snprintf(name, sizeof name, "encoder.%d.bias", i);
        k = add_view(views, k, max, name, l->b_off, l->out, 0);
    }
    for (int i = 0; i < m->n_dec; i++) {
        const ae_layer *l = &m->dec[i];
        snprintf(name, sizeof name, "decoder.%d.weight", i);
        k = add_view(views, k, max, name, l->w_off, l->out, l->in);
        snprintf(name, sizeof name, "decoder.%d.bias", i);
        k = add_view(views, k, max, name, l->b_off, l->out, 0);
    }
    return k;
}
