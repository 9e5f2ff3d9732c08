#include "nn/layers.h"

#include <math.h>
#include <string.h>

#include "nn/gemm.h"
#include "base/par.h"
#include "base/simd.h"

AE_CLONES void ae_act_forward(ae_activation act, float *restrict y, size_t n)
{
    switch (act) {
    case AE_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] > 0.0f ? y[i] : 0.0f;
        break;
    case AE_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] > 0.0f ? y[i] : 0.01f * y[i];
        break;
    case AE_ACT_ELU:
        for (size_t i = 0; i < n; i++)
            y[i] = y[i] > 0.0f ? y[i] : expm1f(y[i]);
        break;
    case AE_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            y[i] = tanhf(y[i]);
        break;
    case AE_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            y[i] = 1.0f / (1.0f + expf(-y[i]));
        break;
    case AE_ACT_LINEAR:
        break;
    }
}

AE_CLONES void ae_act_backward(ae_activation act, const float *restrict y, float *restrict dy,
                               size_t n)
{
    switch (act) {
    case AE_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case AE_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++)
            dy[i] = y[i] > 0.0f ? dy[i] : 0.01f * dy[i];
        break;
    case AE_ACT_ELU: /* for a <= 0, y = e^a - 1, so dy/da = y + 1 */
        for (size_t i = 0; i < n; i++)
            dy[i] = y[i] > 0.0f ? dy[i] : dy[i] * (y[i] + 1.0f);
        break;
    case AE_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            dy[i] *= 1.0f - y[i] * y[i];
        break;
    case AE_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            dy[i] *= y[i] * (1.0f - y[i]);
        break;
    case AE_ACT_LINEAR:
        break;
    }
}

float ae_act_deriv(ae_activation act, float y)
{
    switch (act) {
    case AE_ACT_RELU: return y > 0.0f ? 1.0f : 0.0f;
    case AE_ACT_LEAKY_RELU: return y > 0.0f ? 1.0f : 0.01f;
    case AE_ACT_ELU: return y > 0.0f ? 1.0f : y + 1.0f;
    case AE_ACT_TANH: return 1.0f - y * y;
    case AE_ACT_SIGMOID: return y * (1.0f - y);
    case AE_ACT_LINEAR: break;
    }
    return 1.0f;
}

float ae_act_deriv2(ae_activation act, float y)
{
    switch (act) {
    case AE_ACT_ELU: return y > 0.0f ? 0.0f : y + 1.0f;
    case AE_ACT_TANH: return -2.0f * y * (1.0f - y * y);
    case AE_ACT_SIGMOID: return y * (1.0f - y) * (1.0f - 2.0f * y);
    default: break; /* piecewise linear: zero almost everywhere */
    }
    return 0.0f;
}

/* y[r] += b for every row. */
AE_CLONES static void add_bias(float *restrict y, const float *restrict b, size_t B, size_t n)
{
    for (size_t r = 0; r < B; r++)
        for (size_t j = 0; j < n; j++)
            y[r * n + j] += b[j];
}

/* y[r] = act(y[r] + b) for rows [lo, hi), in one pass for the piecewise-
 * linear activations (the same operations, in the same order, as add_bias
 * and then ae_act_forward); the others add the bias and apply the
 * activation row by row while the row is in cache. */
AE_CLONES static void bias_act_rows(ae_activation act, float *restrict y, const float *restrict b,
                                    size_t n, size_t lo, size_t hi)
{
    for (size_t r = lo; r < hi; r++) {
        float *restrict row = y + r * n;
        switch (act) {
        case AE_ACT_RELU:
            for (size_t j = 0; j < n; j++) {
                float v = row[j] + b[j];
                row[j] = v > 0.0f ? v : 0.0f;
            }
            break;
        case AE_ACT_LEAKY_RELU:
            for (size_t j = 0; j < n; j++) {
                float v = row[j] + b[j];
                row[j] = v > 0.0f ? v : 0.01f * v;
            }
            break;
        case AE_ACT_LINEAR:
            for (size_t j = 0; j < n; j++)
                row[j] += b[j];
            break;
        default:
            for (size_t j = 0; j < n; j++)
                row[j] += b[j];
            ae_act_forward(act, row, n);
            break;
        }
    }
}

/* db += the column sums of dy [B x n]. */
AE_CLONES static void add_column_sums(float *restrict db, const float *restrict dy, size_t B,
                                      size_t n)
{
    for (size_t r = 0; r < B; r++)
        for (size_t j = 0; j < n; j++)
            db[j] += dy[r * n + j];
}

/* For columns [lo, hi) of dy [B x n]: dy *= act'(y), then db += the column
 * sums; each column's sum runs over the rows in order, as in
 * add_column_sums, so splitting by columns does not change any bit. */
AE_CLONES static void act_colsum_cols(ae_activation act, const float *restrict y,
                                      float *restrict dy, float *restrict db, size_t B, size_t n,
                                      size_t lo, size_t hi)
{
    size_t w = hi - lo;
    for (size_t r = 0; r < B; r++) {
        const float *restrict yr = y + r * n + lo;
        float *restrict d = dy + r * n + lo;
        float *restrict s = db + lo;
        switch (act) {
        case AE_ACT_RELU:
            for (size_t j = 0; j < w; j++) {
                d[j] = yr[j] > 0.0f ? d[j] : 0.0f;
                s[j] += d[j];
            }
            break;
        case AE_ACT_LINEAR:
            for (size_t j = 0; j < w; j++)
                s[j] += d[j];
            break;
        default:
            ae_act_backward(act, yr, d, w);
            for (size_t j = 0; j < w; j++)
                s[j] += d[j];
            break;
        }
    }
}

typedef struct {
    ae_activation act;
    float *y, *dy, *db;
    const float *b;
    size_t B, n;
} elem_job;

static void bias_act_job(void *ctx, size_t lo, size_t hi)
{
    const elem_job *j = ctx;
    bias_act_rows(j->act, j->y, j->b, j->n, lo, hi);
}

static void act_colsum_job(void *ctx, size_t lo, size_t hi)
{
    const elem_job *j = ctx;
    act_colsum_cols(j->act, j->y, j->dy, j->db, j->B, j->n, lo, hi);
}

/* Elementwise passes over at least this many values go half to the helper.
 * High enough that batch 128 x 784 stays on one thread: a pass of ~20 us
 * saves less than a helper round trip costs on a busy machine (1-4 us when
 * quiet, 16 us mean with another process on the second core). */
#define ELEM_PAR_MIN ((size_t)1 << 17)

void ae_dense_forward(const ae_layer *l, const float *params, size_t B, const float *x,
                      const int32_t *labels, float *y)
{
    const float *W = params + l->w_off;
    const float *b = params + l->b_off; /* [out] */
    size_t din = l->in - l->classes;    /* data inputs; the one-hot ones follow */
    if (!l->classes && (l->transposed ? ae_gemm_bias_act(false, B, l->out, l->in, x, l->in, W,
                                                         l->out, b, l->act, y, l->out)
                                      : ae_gemm_bias_act(true, B, l->out, din, x, din, W, l->in,
                                                         b, l->act, y, l->out)))
        return; /* oneDNN: bias and activation in the GEMM's epilogue */
    if (l->transposed) /* W stored [in x out] */
        ae_gemm(false, false, B, l->out, l->in, 1.0f, x, l->in, W, l->out, 0.0f, y, l->out);
    else /* W [out x in]: only its first din columns meet x */
        ae_gemm(false, true, B, l->out, din, 1.0f, x, din, W, l->in, 0.0f, y, l->out);
    if (!l->classes) {
        elem_job j = {l->act, y, NULL, NULL, b, B, l->out};
        ae_par_for(bias_act_job, &j, B, 1, B * l->out >= ELEM_PAR_MIN ? 0 : B + 1);
        return;
    }
    add_bias(y, b, B, l->out);
    /* onehot(label) * W^T picks column din + label */
    for (size_t r = 0; r < B; r++)
        for (size_t j = 0; j < l->out; j++)
            y[r * l->out + j] += W[j * l->in + din + (size_t)labels[r]];
    ae_act_forward(l->act, y, B * l->out);
}

void ae_dense_backward(const ae_layer *l, const float *params, float *grads, size_t B,
                       const float *x, const int32_t *labels, const float *y, float *dy,
                       const float *extra_dz, float *dx)
{
    const float *W = params + l->w_off;
    float *dW = grads + l->w_off;
    float *restrict db = grads + l->b_off; /* [out] */
    size_t din = l->in - l->classes;
    if (extra_dz) {
        ae_act_backward(l->act, y, dy, B * l->out);
        for (size_t i = 0; i < B * l->out; i++)
            dy[i] += extra_dz[i];
        add_column_sums(db, dy, B, l->out);
    } else { /* one pass: the activation's derivative and the bias gradient */
        elem_job j = {l->act, (float *)y, dy, db, NULL, B, l->out};
        ae_par_for(act_colsum_job, &j, l->out, 16, B * l->out >= ELEM_PAR_MIN ? 0 : l->out + 1);
    }
    if (l->transposed) {
        /* dW^T += x^T dy ; dx = dy W = dy (W^T)^T */
        ae_gemm(true, false, l->in, l->out, B, 1.0f, x, l->in, dy, l->out, 1.0f, dW, l->out);
        if (dx)
            ae_gemm(false, true, B, l->in, l->out, 1.0f, dy, l->out, W, l->out, 0.0f, dx, l->in);
    } else {
        /* dW[:, :din] += dy^T x ; dx = dy W[:, :din] */
        ae_gemm(true, false, l->out, din, B, 1.0f, dy, l->out, x, din, 1.0f, dW, l->in);
        if (dx)
            ae_gemm(false, false, B, din, l->out, 1.0f, dy, l->out, W, l->in, 0.0f, dx, din);
    }
    if (l->classes)
        for (size_t r = 0; r < B; r++)
            for (size_t j = 0; j < l->out; j++)
                dW[j * l->in + din + (size_t)labels[r]] += dy[r * l->out + j];
}

const float *ae_mlp_forward(ae_mlp *m, const float *params, size_t B, const float *x,
                            const int32_t *labels)
{
    const float *h = x;
    for (int i = 0; i < m->n; i++) {
        ae_dense_forward(&m->layer[i], params, B, h, i == 0 ? labels : NULL, m->out[i]);
        h = m->out[i];
    }
    return h;
}

void ae_mlp_backward(ae_mlp *m, const float *params, float *grads, size_t B, const float *x,
                     const int32_t *labels, float *dout, float *const *extra_dz, float *dx,
                     float *buf, const ae_layer_done *done)
{
    float *dy = dout, *next = buf;
    for (int i = m->n - 1; i >= 0; i--) {
        const float *in = i > 0 ? m->out[i - 1] : x;
        float *target = i > 0 ? next : dx; /* the input's gradient only when asked */
        ae_dense_backward(&m->layer[i], params, grads, B, in, i == 0 ? labels : NULL,
                          m->out[i], dy, extra_dz ? extra_dz[i] : NULL, target);
        if (done)
            done->fn(done->ctx, &m->layer[i]);
        float *t = dy;
        dy = next;
        next = t;
    }
}

/* Row sums in double of per-element values computed by a vectorised pass:
 * the values of a chunk go to a stack buffer, then a scalar loop adds them
 * (a double reduction inside the vector loop would not vectorise). */
#define NLL_CHUNK 512

/* The sum of vals[0..n) in double, in 8 interleaved lanes: independent
 * chains of additions that vectorise, in a fixed order (deterministic). */
AE_CLONES static double sum_lanes(const float *restrict vals, size_t n)
{
    double lane[8] = {0};
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (size_t k = 0; k < 8; k++)
            lane[k] += vals[j + k];
    double s = 0;
    for (; j < n; j++)
        s += vals[j];
    for (size_t k = 0; k < 8; k++)
        s += lane[k];
    return s;
}

/* vals[j] = softplus(l) - t*l, and when d: d[j] = scale*(sigmoid(l) - t). */
AE_CLONES static void bernoulli_chunk(size_t n, const float *restrict l, const float *restrict t,
                                      float scale, float *restrict vals, float *restrict d)
{
    /* softplus(l) - t*l = max(l,0) - t*l + log1p(exp(-|l|)); the same
     * e = exp(-|l|) gives sigmoid(l) without another exp. */
    if (d) {
        for (size_t j = 0; j < n; j++) {
            float a = l[j] > 0.0f ? l[j] : -l[j];
            float e = ae_fast_exp_neg(-a);
            vals[j] = (l[j] > 0.0f ? l[j] : 0.0f) - t[j] * l[j] + ae_fast_log1p01(e);
            float inv = 1.0f / (1.0f + e);
            d[j] = scale * ((l[j] >= 0.0f ? inv : e * inv) - t[j]);
        }
    } else {
        for (size_t j = 0; j < n; j++) {
            float a = l[j] > 0.0f ? l[j] : -l[j];
            float e = ae_fast_exp_neg(-a);
            vals[j] = (l[j] > 0.0f ? l[j] : 0.0f) - t[j] * l[j] + ae_fast_log1p01(e);
        }
    }
}

typedef void (*nll_chunk_fn)(size_t n, const float *restrict out, const float *restrict t,
                             float scale, float *restrict vals, float *restrict d);

typedef struct {
    nll_chunk_fn chunk;
    size_t D;
    const float *out, *x;
    float scale;
    float *d;
    double row_const, *rows;
} nll_job;

/* A missing target (NaN) counts for nothing: its value and gradient are
 * set to 0.  Returns how many there were. */
AE_CLONES static size_t mask_missing(size_t n, const float *restrict t, float *restrict vals,
                                     float *restrict d)
{
    size_t miss = 0;
    for (size_t j = 0; j < n; j++)
        miss += t[j] != t[j];
    if (!miss)
        return 0;
    for (size_t j = 0; j < n; j++)
        if (t[j] != t[j]) {
            vals[j] = 0.0f;
            if (d)
                d[j] = 0.0f;
        }
    return miss;
}

/* Rows [lo, hi) of the job: each row's sum into rows[].  The per-row
 * constant is row_const for a complete row, its share of the observed
 * features for a row with missing targets. */
static void nll_range(void *ctx, size_t lo, size_t hi)
{
    const nll_job *j = ctx;
    float vals[NLL_CHUNK];
    size_t D = j->D;
    for (size_t r = lo; r < hi; r++) {
        double row = j->row_const;
        size_t miss = 0;
        for (size_t j0 = 0; j0 < D; j0 += NLL_CHUNK) {
            size_t n = D - j0 < NLL_CHUNK ? D - j0 : NLL_CHUNK;
            size_t off = r * D + j0;
            float *d = j->d ? j->d + off : NULL;
            j->chunk(n, j->out + off, j->x + off, j->scale, vals, d);
            miss += mask_missing(n, j->x + off, vals, d);
            row += sum_lanes(vals, n);
        }
        if (miss)
            row -= j->row_const * (double)miss / (double)D;
        j->rows[r] = row;
    }
}

/* Rows shared with the helper thread when the batch has this many values. */
#define NLL_PAR_MIN 32768

/* Rows of B x D: per-row sums (plus `row_const`) of the chunk function's
 * per-element values, and its gradients into d when d is not NULL.  Rows
 * are independent, so they may be split between threads; the total adds
 * them in row order whatever the split. */
static double nll_rows(nll_chunk_fn chunk, size_t B, size_t D, const float *out, const float *x,
                       float scale, float *d, double row_const, double *per_example)
{
    double one_row[1];
    double *rows = per_example;
    nll_job j = {chunk, D, out, x, scale, d, row_const, per_example};
    if (!rows) { /* one row at a time through a small buffer */
        double total = 0.0;
        j.rows = one_row;
        for (size_t r = 0; r < B; r++) {
            nll_range(&j, 0, 1);
            total += one_row[0];
            j.out += D;
            j.x += D;
            if (j.d)
                j.d += D;
        }
        return total;
    }
    ae_par_for(nll_range, &j, B, 1, B * D >= NLL_PAR_MIN ? 0 : B + 1);
    double total = 0.0;
    for (size_t r = 0; r < B; r++)
        total += rows[r];
    return total;
}

double ae_bernoulli_nll(size_t B, size_t D, const float *logits, const float *x, float scale,
                        float *dlogits, double *per_example)
{
    return nll_rows(bernoulli_chunk, B, D, logits, x, scale, dlogits, 0.0, per_example);
}

/* vals[j] = (y - t)^2 / 2, and when d: d[j] = scale*(y - t). */
AE_CLONES static void gaussian_chunk(size_t n, const float *restrict y, const float *restrict t,
                                     float scale, float *restrict vals, float *restrict d)
{
    for (size_t j = 0; j < n; j++) {
        float diff = y[j] - t[j];
        vals[j] = 0.5f * diff * diff;
    }
    if (d)
        for (size_t j = 0; j < n; j++)
            d[j] = scale * (y[j] - t[j]);
}

double ae_gaussian_nll(size_t B, size_t D, const float *y, const float *x, float scale, float *dy,
                       double *per_example)
{
    const double half_log_2pi = 0.91893853320467274178;
    return nll_rows(gaussian_chunk, B, D, y, x, scale, dy, (double)D * half_log_2pi, per_example);
}

/* Continuous Bernoulli (Loaiza-Ganem and Cunningham, 2019) from logits l:
 * the Bernoulli term softplus(l) - t*l minus log C, where the normaliser
 * C(lambda) = 2 atanh(1 - 2 lambda) / (1 - 2 lambda), lambda = sigmoid(l),
 * is l / tanh(l/2) in terms of the logit (2 at l = 0).  Near l = 0 that
 * ratio is 0/0 in float, so there its series is used: log C = log 2 +
 * l^2/12 - 7 l^4/1440, and d log C/dl = 1/l - 1/sinh(l) = l/6 - 7 l^3/360
 * (truncation error below 1e-9 for |l| < 0.1). */
#define CB_SERIES 0.1f
static void cbernoulli_chunk(size_t n, const float *restrict l, const float *restrict t,
                             float scale, float *restrict vals, float *restrict d)
{
    bernoulli_chunk(n, l, t, scale, vals, d);
    for (size_t j = 0; j < n; j++) {
        float a = fabsf(l[j]);
        float logc, dlogc;
        if (a < CB_SERIES) {
            float a2 = a * a;
            logc = 0.69314718f + a2 * (1.0f / 12.0f - a2 * (7.0f / 1440.0f));
            dlogc = l[j] * (1.0f / 6.0f - a2 * (7.0f / 360.0f));
        } else {
            /* tanh(a/2) > 0.05 here; 1/sinh underflows harmlessly to 0 */
            logc = logf(a) - logf(tanhf(0.5f * a));
            dlogc = 1.0f / l[j] - 1.0f / sinhf(l[j]);
        }
        vals[j] -= logc;
        if (d)
            d[j] -= scale * dlogc;
    }
}

double ae_continuous_bernoulli_nll(size_t B, size_t D, const float *logits, const float *x,
                                   float scale, float *dlogits, double *per_example)
{
    return nll_rows(cbernoulli_chunk, B, D, logits, x, scale, dlogits, 0.0, per_example);
}

void ae_continuous_bernoulli_mean(float *y, size_t n)
{
    /* E[x] = lambda/(2 lambda - 1) + 1/(2 atanh(1 - 2 lambda))
     *      = 1/2 + coth(l/2)/2 - 1/l; near 0: 1/2 + l/12 - l^3/720. */
    for (size_t j = 0; j < n; j++) {
        float l = y[j];
        if (fabsf(l) < CB_SERIES)
            y[j] = 0.5f + l * (1.0f / 12.0f - l * l * (1.0f / 720.0f));
        else
            y[j] = 0.5f + 0.5f / tanhf(0.5f * l) - 1.0f / l;
    }
}

double ae_softmax_xent(size_t B, size_t C, const float *logits, const int32_t *labels,
                       float scale, float *dlogits, double *per_example, float *p,
                       size_t *correct)
{
    double total = 0.0;
    size_t right = 0;
    for (size_t r = 0; r < B; r++) {
        const float *l = logits + r * C;
        size_t best = 0;
        for (size_t k = 1; k < C; k++)
            best = l[k] > l[best] ? k : best;
        /* log sum exp(l - max) + max - l_y */
        double sum = 0.0;
        for (size_t k = 0; k < C; k++)
            sum += exp((double)l[k] - l[best]);
        size_t y = labels ? (size_t)labels[r] : C; /* C: no label, no loss */
        double nll = y < C ? log(sum) + (double)l[best] - (double)l[y] : 0.0;
        total += nll;
        right += best == y;
        if (per_example)
            per_example[r] = nll;
        for (size_t k = 0; k < C; k++) {
            float q = (float)(exp((double)l[k] - l[best]) / sum);
            if (p)
                p[r * C + k] = q;
            if (dlogits)
                dlogits[r * C + k] = scale * (q - (k == y ? 1.0f : 0.0f));
        }
    }
    if (correct)
        *correct = right;
    return total;
}

void ae_clamp_logvar(float *head, size_t B, size_t L, float lo, float hi)
{
    for (size_t r = 0; r < B; r++) {
        float *lv = head + r * 2 * L + L;
        for (size_t j = 0; j < L; j++)
            lv[j] = fminf(fmaxf(lv[j], lo), hi);
    }
}

double ae_kl_normal(size_t B, size_t L, const float *mu, const float *logvar, size_t stride,
                    double *per_example)
{
    double total = 0.0;
    for (size_t r = 0; r < B; r++) {
        const float *m = mu + r * stride;
        const float *lv = logvar + r * stride;
        double row = 0.0;
        for (size_t j = 0; j < L; j++)
            row += (double)(1.0f + lv[j] - m[j] * m[j] - expf(lv[j]));
        row *= -0.5;
        if (per_example)
            per_example[r] = row;
        total += row;
    }
    return total;
}

void ae_kl_normal_backward(size_t B, size_t L, const float *mu, const float *logvar,
                           size_t stride, float scale, float *dmu, float *dlogvar,
                           size_t dstride)
{
    for (size_t r = 0; r < B; r++) {
        const float *m = mu + r * stride;
        const float *lv = logvar + r * stride;
        float *dm = dmu + r * dstride;
        float *dl = dlogvar + r * dstride;
        for (size_t j = 0; j < L; j++) {
            dm[j] += scale * m[j];
            dl[j] += scale * 0.5f * (expf(lv[j]) - 1.0f);
        }
    }
}
