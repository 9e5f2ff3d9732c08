#define _POSIX_C_SOURCE 200809L
#include "ae/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ae/batch.h"
#include "ae/checkpoint.h"
#include "ae/dist.h"
#include "ae/fileio.h"
#include "ae/noise.h"
#include "ae/optim.h"
#include "ae/pause.h"
#include "ae/pictures.h"
#include "ae/plot.h"
#include "ae/report.h"
#include "ae/run.h"
#include "base/fpenv.h"
#include "train/init_from.h"
#include "train/pretrain.h"
#include "train/schedule.h"

#define METRICS_HEADER AE_RUN_METRICS_COLUMNS "\n"
#define METRICS_HEADER_CLASSIFIER AE_RUN_METRICS_COLUMNS "," AE_RUN_METRICS_ACCURACY "\n"

/* A batch loss this many times the run's first is taken as divergence. */
#define DIVERGE_FACTOR 1e4

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The labels of rows idx[0..b) (or first..first+b) into ybuf; NULL when
 * the model takes none. */
static const int32_t *batch_labels(const ae_model *m, const ae_dataset *ds, const size_t *idx,
                                   size_t first, size_t b, int32_t *ybuf)
{
    if (!ae_model_takes_labels(m))
        return NULL;
    for (size_t r = 0; r < b; r++)
        ybuf[r] = ds->labels[idx ? idx[r] : first + r];
    return ybuf;
}

/* Mean loss terms over examples idx[0..n) of ds (rows 0..n-1 when idx NULL),
 * in batches of the model's size, with z sampled from eps_rng (or z = mu when
 * NULL) and the given binarisation (dynamic draws from bin_rng).  A cvae
 * takes its labels from ds.  xbuf: [max_batch x D]; ybuf: [max_batch]. */
static void evaluate(ae_model *m, const ae_dataset *ds, const size_t *idx, size_t n,
                 ae_binarize bin, ae_rng *bin_rng, ae_rng *eps_rng, float beta, float *xbuf,
                 int32_t *ybuf, ae_loss *out)
{
    double recon = 0.0, kl = 0.0, kl2 = 0.0, reg = 0.0, iw = 0.0, acc = 0.0;
    for (size_t i = 0; i < n; i += m->max_batch) {
        size_t b = n - i < m->max_batch ? n - i : m->max_batch;
        ae_batch_gather(ds, idx ? idx + i : NULL, i, b, m->scale, m->shift, bin, bin_rng, xbuf);
        const int32_t *y = batch_labels(m, ds, idx ? idx + i : NULL, i, b, ybuf);
        ae_loss l;
        ae_model_forward(m, b, xbuf, xbuf, y, eps_rng, beta, &l);
        recon += l.recon * (double)b;
        kl += l.kl * (double)b;
        kl2 += l.kl2 * (double)b;
        reg += l.reg * (double)b;
        iw += l.iw * (double)b;
        acc += l.accuracy * (double)b;
    }
    double inv = n ? 1.0 / (double)n : 0.0;
    out->recon = recon * inv;
    out->kl = kl * inv;
    out->kl2 = kl2 * inv;
    out->reg = reg * inv;
    out->iw = iw * inv;
    out->accuracy = acc * inv;
    out->loss = out->recon + (double)beta * out->kl + out->reg + out->iw;
}

/* Appends one formatted row to the metrics table (a growing string). */
static ae_status metrics_append(char **csv, const ae_epoch_metrics *e, ae_error *err)
{
    char row[640], val[96] = ",,", test[128] = ",,,", treg[32] = "", tkl2[32] = "";
    if (e->has_val)
        snprintf(val, sizeof val, "%.6f,%.6f,%.6f", e->val_loss, e->val_recon, e->val_kl);
    if (e->has_test) {
        snprintf(test, sizeof test, "%.6f,%.6f,%.6f,%.6f", e->test_loss, e->test_recon,
                 e->test_kl, e->test_loss_mu);
        snprintf(treg, sizeof treg, "%.6f", e->test_reg);
        snprintf(tkl2, sizeof tkl2, "%.6f", e->test_kl2);
    }
    char acc[64] = "", tacc[32] = "";
    if (e->has_accuracy) { /* a classifier's columns */
        if (e->has_test)
            snprintf(tacc, sizeof tacc, "%.6f", e->test_accuracy);
        snprintf(acc, sizeof acc, ",%.6f,%s", e->train_accuracy, tacc);
    }
    snprintf(row, sizeof row, "%d,%.6f,%.6f,%.6f,%s,%s,%.6f,%s,%.6f,%s,%.6g,%.3f,%.1f,%.6g%s\n",
             e->epoch, e->train_loss, e->train_recon, e->train_kl, val, test, e->train_reg, treg,
             e->train_kl2, tkl2, e->beta, e->seconds, e->examples_per_sec, e->lr, acc);
    size_t old = *csv ? strlen(*csv) : 0;
    const char *head = old ? "" : e->has_accuracy ? METRICS_HEADER_CLASSIFIER : METRICS_HEADER;
    char *grown = realloc(*csv, old + strlen(head) + strlen(row) + 1);
    if (!grown) {
        ae_error_set(err, "metrics: out of memory");
        return AE_ERR_NOMEM;
    }
    strcpy(grown + old, head);
    strcat(grown + old, row);
    *csv = grown;
    return AE_OK;
}

/* Keeps the header and the rows of epochs <= last (a resumed run drops rows
 * that a longer, interrupted run may have written after its checkpoint). */
static void metrics_truncate(char *csv, int last)
{
    if (!csv)
        return;
    char *line = strchr(csv, '\n');
    while (line && line[1]) {
        if (atoi(line + 1) > last) {
            line[1] = '\0';
            return;
        }
        line = strchr(line + 1, '\n');
    }
}

typedef struct {
    ae_dataset train, test;
    size_t *base;         /* [n_train_used] training rows in canonical order */
    size_t *order;        /* [n_train_used] this epoch's order */
    size_t *val_idx;      /* [n_val] */
    size_t n_fit, n_val;
    ae_model model;
    ae_optim optim;
    ae_train_state state;
    float *xbuf;          /* [B x D] the current batch (the clean target) */
    float *xin;           /* [B x D] its corrupted copy (denoising), else NULL */
    int32_t *ybuf;        /* [B] its labels (cvae) */
    float *lo, *hi;       /* [D] each feature's scaled range (salt-and-pepper noise) */
    char *dir_config, *dir_metrics, *dir_ckpt, *dir_model, *dir_loss, *dir_best;
} run_t;

static void run_free(run_t *r)
{
    ae_dataset_free(&r->train);
    ae_dataset_free(&r->test);
    free(r->base);
    free(r->order);
    free(r->val_idx);
    ae_model_free(&r->model);
    ae_optim_free(&r->optim);
    ae_train_state_free(&r->state);
    free(r->xbuf);
    free(r->xin);
    free(r->ybuf);
    free(r->lo);
    free(r->hi);
    free(r->dir_config);
    free(r->dir_metrics);
    free(r->dir_ckpt);
    free(r->dir_model);
    free(r->dir_loss);
    free(r->dir_best);
}

/* Some likelihoods, and binarisation, are only defined for values in [0,1]. */
static ae_status check_range(const ae_config *cfg, const ae_model *m, const ae_dataset *ds,
                             const char *key, const char *path, ae_error *err)
{
    const ae_likelihood_ops *lik = ae_likelihood_get(cfg->model.likelihood);
    /* (a classifier has no likelihood of its inputs) */
    int need01 = (lik->unit_range && !m->family->classifier) || cfg->data.binarize != AE_BIN_NONE;
    if (!need01)
        return AE_OK;
    /* each rank reads its share of the rows; the extremes are combined */
    size_t first, rows;
    ae_dist_slice(ds->n, &first, &rows);
    float lo, hi;
    ae_scaled_range_rows(ds, first, rows, m->scale, m->shift, &lo, &hi);
    double ext[2] = {lo, -(double)hi};
    ae_dist_min_doubles(ext, 2);
    lo = (float)ext[0];
    hi = (float)-ext[1];
    if (lo < 0.0f || hi > 1.0f) {
        char need[64] = "data.binarize";
        if (lik->unit_range)
            snprintf(need, sizeof need, "model.likelihood=%s", lik->name);
        ae_error_set(err, "%s (%s): values span [%g, %g] after data.scale=%s, but %s needs "
                          "values in [0, 1]; use model.likelihood=gaussian or a scaling that "
                          "maps the data into [0, 1]", key, path, lo, hi,
                     ae_scale_name(cfg->data.scale),
                     need);
        return AE_ERR_INPUT;
    }
    return AE_OK;
}

/* data.scale's fit on the training rows (not the validation ones); with
 * several ranks each reads its share of the rows and the moments are summed. */
static ae_status fit_scaling(run_t *r, const ae_config *cfg, ae_error *err)
{
    const size_t *idx = r->n_val ? r->base : NULL;
    if (ae_dist_size() == 1 || cfg->data.scale != AE_SCALE_STANDARDIZE) {
        ae_scaling_fit(&r->train, idx, r->n_fit, cfg->data.scale, r->model.scale,
                       r->model.shift);
        return AE_OK;
    }
    size_t D = r->train.dim, first, rows;
    ae_dist_slice(r->n_fit, &first, &rows);
    const size_t *mine = r->base + first; /* base is the identity without a split */
    double *mean = calloc(D, sizeof(double)), *m2 = calloc(D, sizeof(double)),
           *count = calloc(D, sizeof(double));
    if (!mean || !m2 || !count) {
        free(mean);
        free(m2);
        free(count);
        ae_error_set(err, "out of memory");
        return AE_ERR_NOMEM;
    }
    ae_feature_sums(&r->train, mine, rows, mean, count);
    ae_dist_sum_doubles(mean, D);
    ae_dist_sum_doubles(count, D);
    for (size_t j = 0; j < D; j++)
        mean[j] = count[j] > 0 ? mean[j] / count[j] : 0.0;
    ae_feature_sq_devs(&r->train, mine, rows, mean, m2);
    ae_dist_sum_doubles(m2, D);
    ae_scaling_from_moments(D, mean, m2, count, r->model.scale, r->model.shift);
    free(mean);
    free(m2);
    free(count);
    return AE_OK;
}

/* The model's fill for missing inputs (ae_model.fill): when the training
 * rows have missing values, each feature's mean over the values present,
 * scaled; the sums are taken over every rank's rows. */
static ae_status fit_fill(run_t *r, ae_error *err)
{
    size_t D = r->train.dim, first = 0, rows = r->n_fit;
    if (ae_dist_size() > 1)
        ae_dist_slice(r->n_fit, &first, &rows);
    const size_t *mine = r->n_val ? r->base + first : NULL;
    double *sum = calloc(D, sizeof(double)), *count = calloc(D, sizeof(double));
    float *fill = malloc(D * sizeof(float));
    if (!sum || !count || !fill) {
        free(sum), free(count), free(fill);
        ae_error_set(err, "out of memory");
        return AE_ERR_NOMEM;
    }
    if (!mine && ae_dist_size() > 1)
        mine = r->base + first; /* base is the identity without a split */
    ae_feature_sums(&r->train, mine, rows, sum, count);
    ae_dist_sum_doubles(sum, D);
    ae_dist_sum_doubles(count, D);
    double present = 0;
    for (size_t j = 0; j < D; j++)
        present += count[j];
    if (present < (double)r->n_fit * (double)D) {
        for (size_t j = 0; j < D; j++)
            fill[j] = count[j] > 0 ? (float)(sum[j] / count[j]) * r->model.scale[j] +
                                         r->model.shift[j]
                                   : 0.0f;
        free(r->model.fill);
        r->model.fill = fill;
        fill = NULL;
    }
    free(sum), free(count), free(fill);
    return AE_OK;
}

/* data.labeled: a random subset of that many training rows (a stream of
 * train.seed's own, so a seed sweep varies the subset too), kept in file
 * order. */
static ae_status keep_labeled(ae_dataset *ds, const ae_config *cfg, ae_error *err)
{
    size_t n = ds->n, k = (size_t)cfg->data.labeled;
    size_t *idx = malloc(n * sizeof(size_t));
    unsigned char *pick = calloc(n, 1);
    if (!idx || !pick) {
        free(idx);
        free(pick);
        ae_error_set(err, "out of memory for %zu example indices", n);
        return AE_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    ae_rng rng;
    ae_rng_seed_stream(&rng, cfg->train.seed, 2);
    ae_rng_shuffle(&rng, idx, n);
    for (size_t i = 0; i < k; i++)
        pick[idx[i]] = 1;
    for (size_t i = 0, j = 0; i < n; i++)
        if (pick[i])
            idx[j++] = i;
    ae_status st = ae_dataset_subset(ds, idx, k, err);
    free(idx);
    free(pick);
    return st;
}

/* Label names found in the training data become the run's data.class_names
 * (written to config.json and every checkpoint); the test data is then read
 * against them.  A labelled family needs one class per name. */
static ae_status take_class_names(run_t *r, ae_config *cfg, ae_error *err)
{
    if (!r->train.n_class_names)
        return AE_OK;
    ae_status st = ae_config_take_class_names(cfg, &r->train, cfg->data.train, err);
    if (st != AE_OK)
        return st;
    const ae_family *f = ae_family_get(cfg->model.type);
    if ((f->conditional || f->classifier) && (size_t)cfg->model.classes != r->train.n_class_names) {
        char list[200];
        ae_names_join((const char *const *)r->train.class_names, r->train.n_class_names, list,
                      sizeof list);
        ae_error_set(err, "model.classes is %d, but the labels of data.train %s are %zu names "
                          "(%s): set model.classes to %zu", cfg->model.classes, cfg->data.train,
                     r->train.n_class_names, list, r->train.n_class_names);
        return AE_ERR_CONFIG;
    }
    return AE_OK;
}

static ae_status setup(run_t *r, ae_config *cfg, const char *resume_path, ae_error *err)
{
    if (ae_dist_size() > 1 && cfg->model.sparsity.type == AE_SPARSE_KL) {
        ae_error_set(err, "model.sparsity.type=kl penalises the mean activation of a whole batch, "
                          "which cannot be split across %d ranks; train it with one process, or "
                          "use l1 or topk sparsity", ae_dist_size());
        return AE_ERR_CONFIG;
    }
    ae_status st = ae_load_training_split(cfg, cfg->data.train, cfg->data.train_labels,
                                          cfg->data.train_limit, &r->train, err);
    if (st != AE_OK || (st = take_class_names(r, cfg, err)) != AE_OK)
        return st;
    if (cfg->data.test[0]) {
        st = ae_load_split(cfg, cfg->data.test, cfg->data.test_labels, cfg->data.test_limit,
                           &r->test, err);
        /* names of a test set whose training data has no labels */
        if (st != AE_OK || (st = ae_config_take_class_names(cfg, &r->test, cfg->data.test,
                                                             err)) != AE_OK)
            return st;
        if (r->test.dim != r->train.dim) {
            ae_error_set(err, "%s: test examples have %zu features but the training data "
                              "(%s) has %zu", cfg->data.test, r->test.dim, cfg->data.train,
                         r->train.dim);
            return AE_ERR_INPUT;
        }
    }
    size_t B = (size_t)cfg->train.batch_size;
    st = ae_model_init(&r->model, cfg, r->train.dim, B, err);
    if (st != AE_OK)
        return st;
    r->model.img_h = r->train.img_h;
    r->model.img_w = r->train.img_w;
    st = ae_optim_init(&r->optim, ae_config_optim(cfg), r->model.n_params, err);
    if (st != AE_OK)
        return st;
    size_t D = r->train.dim;
    r->xbuf = malloc(B * D * sizeof(float));
    r->ybuf = malloc(B * sizeof(int32_t));
    bool noisy = cfg->model.noise.type != AE_NOISE_NONE;
    if (noisy) {
        r->xin = malloc(B * D * sizeof(float));
        r->lo = malloc(D * sizeof(float));
        r->hi = malloc(D * sizeof(float));
    }
    if (!r->xbuf || !r->ybuf || (noisy && (!r->xin || !r->lo || !r->hi))) {
        ae_error_set(err, "out of memory for a batch of %zu x %zu", B, D);
        return AE_ERR_NOMEM;
    }
    ae_data_ref train_ref = {"data.train", cfg->data.train, cfg->data.train_labels,
                             "set data.train_labels or data.csv.label_column", NULL, false};
    ae_data_ref test_ref = {"data.test", cfg->data.test, cfg->data.test_labels,
                            "set data.test_labels or data.csv.label_column", NULL, false};
    /* a classifier learns from the labels and is tested on them */
    const ae_dataset *unlabelled = !r->model.family->classifier ? NULL
                                   : !r->train.labels         ? &r->train
                                   : r->test.n && !r->test.labels ? &r->test
                                                               : NULL;
    if (unlabelled) {
        bool tr = unlabelled == &r->train;
        ae_error_set(err, "%s %s: a classifier (model.type classifier) needs a label for every "
                          "example: set %s or data.csv.label_column", tr ? "data.train" : "data.test",
                     tr ? cfg->data.train : cfg->data.test,
                     tr ? "data.train_labels" : "data.test_labels");
        return AE_ERR_INPUT;
    }
    if ((st = ae_model_check_data(&r->model, &r->train, &train_ref, err)) ||
        (r->test.n && (st = ae_model_check_data(&r->model, &r->test, &test_ref, err))))
        return st;

    /* data.labeled after the checks, so their messages count the file's rows */
    if (cfg->data.labeled > 0 && (size_t)cfg->data.labeled < r->train.n &&
        (st = keep_labeled(&r->train, cfg, err)) != AE_OK)
        return st;
    size_t n = r->train.n;
    r->n_val = (size_t)floor(cfg->data.validation * (double)n);
    r->n_fit = n - r->n_val;
    if (r->n_fit == 0) {
        ae_error_set(err, "data.validation=%g leaves no training examples out of %zu",
                     cfg->data.validation, n);
        return AE_ERR_CONFIG;
    }
    r->base = malloc(n * sizeof(size_t));
    r->order = malloc(n * sizeof(size_t));
    r->val_idx = malloc((r->n_val ? r->n_val : 1) * sizeof(size_t));
    if (!r->base || !r->order || !r->val_idx) {
        ae_error_set(err, "out of memory for %zu example indices", n);
        return AE_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        r->base[i] = i;
    if (r->n_val) {
        /* A split of its own stream: fixed by the seed, whatever else runs. */
        ae_rng split;
        ae_rng_seed_stream(&split, cfg->train.seed, 1);
        ae_rng_shuffle(&split, r->base, n);
        memcpy(r->val_idx, r->base + r->n_fit, r->n_val * sizeof(size_t));
        /* Training rows back in file order, so an epoch's order depends only
         * on the training generator. */
        unsigned char *held = calloc(n, 1);
        if (!held) {
            ae_error_set(err, "out of memory for %zu example indices", n);
            return AE_ERR_NOMEM;
        }
        for (size_t i = 0; i < r->n_val; i++)
            held[r->val_idx[i]] = 1;
        for (size_t i = 0, k = 0; i < n; i++)
            if (!held[i])
                r->base[k++] = i;
        free(held);
    }

    if (resume_path) {
        ae_checkpoint ck;
        st = ae_checkpoint_read(&ck, resume_path, err);
        if (st != AE_OK)
            return st;
        st = ae_checkpoint_restore(&ck, &r->model, &r->optim, &r->state, err);
        ae_checkpoint_free(&ck);
        if (st != AE_OK)
            return st;
        metrics_truncate(r->state.metrics_csv, r->state.epoch);
        if (!(r->state.sched.lr > 0)) { /* a checkpoint from before the schedules */
            ae_schedule_start(cfg, &r->state.sched);
            r->state.sched.stopped = false;
        }
    } else {
        ae_schedule_start(cfg, &r->state.sched);
        ae_rng_seed(&r->state.rng, cfg->train.seed);
        ae_model_init_weights(&r->model, &r->state.rng);
        st = fit_scaling(r, cfg, err);
        /* a pretrained encoder brings its scaling (and fill) along */
        if (st == AE_OK && cfg->model.init_from[0])
            st = ae_init_from(&r->model, cfg, err);
        if (st == AE_OK && cfg->data.allow_missing && !r->model.fill)
            st = fit_fill(r, err);
        if (st != AE_OK)
            return st;
    }
    st = check_range(cfg, &r->model, &r->train, "data.train", cfg->data.train, err);
    if (st == AE_OK && r->test.n)
        st = check_range(cfg, &r->model, &r->test, "data.test", cfg->data.test, err);
    if (st != AE_OK)
        return st;
    if (noisy) {
        size_t first, rows, D2 = 2 * D;
        ae_dist_slice(r->train.n, &first, &rows);
        ae_scaled_feature_range_rows(&r->train, first, rows, r->model.scale, r->model.shift,
                                     r->lo, r->hi);
        if (ae_dist_size() > 1) {
            double *ext = malloc(D2 * sizeof(double));
            if (!ext) {
                ae_error_set(err, "out of memory");
                return AE_ERR_NOMEM;
            }
            for (size_t j = 0; j < D; j++) {
                ext[j] = r->lo[j];
                ext[D + j] = -(double)r->hi[j];
            }
            ae_dist_min_doubles(ext, D2);
            for (size_t j = 0; j < D; j++) {
                r->lo[j] = (float)ext[j];
                r->hi[j] = (float)-ext[D + j];
            }
            free(ext);
        }
    }

    r->dir_config = ae_path_join(cfg->output.dir, AE_RUN_CONFIG);
    r->dir_metrics = ae_path_join(cfg->output.dir, AE_RUN_METRICS);
    r->dir_ckpt = ae_path_join(cfg->output.dir, AE_RUN_CHECKPOINT);
    r->dir_model = ae_path_join(cfg->output.dir, AE_RUN_MODEL);
    r->dir_loss = ae_path_join(cfg->output.dir, AE_RUN_LOSS_CHART);
    r->dir_best = ae_path_join(cfg->output.dir, AE_RUN_BEST);
    if (!r->dir_config || !r->dir_metrics || !r->dir_ckpt || !r->dir_model || !r->dir_loss ||
        !r->dir_best) {
        ae_error_set(err, "out of memory");
        return AE_ERR_NOMEM;
    }
    if (ae_dist_rank() != 0)
        return AE_OK; /* rank 0 alone writes */
    st = ae_mkdir_p(cfg->output.dir, err);
    if (st != AE_OK)
        return st;
    /* Writing the spec first also proves the folder is writable (exit 2). */
    return ae_config_save(cfg, r->dir_config, err);
}

/* latents.svg: the codes (z = mu) of the first LATENT_PLOT_MAX examples of
 * src, coloured by label when src has labels. */
#define LATENT_PLOT_MAX 5000
static ae_status write_latents(run_t *r, const ae_config *cfg, const ae_dataset *src,
                               const char *what, ae_error *err)
{
    ae_model *m = &r->model;
    size_t n = src->n < LATENT_PLOT_MAX ? src->n : LATENT_PLOT_MAX, L = m->latent;
    if (n == 0)
        return AE_OK;
    char *path = ae_path_join(cfg->output.dir, AE_RUN_LATENTS);
    float *codes = malloc(n * L * sizeof(float)); /* [n x L] */
    ae_status st = AE_OK;
    if (!path || !codes) {
        ae_error_set(err, "latent plot: out of memory");
        st = AE_ERR_NOMEM;
    }
    ae_binarize bin = cfg->data.binarize == AE_BIN_FIXED ? AE_BIN_FIXED : AE_BIN_NONE;
    for (size_t i = 0; st == AE_OK && i < n; i += m->max_batch) {
        size_t b = n - i < m->max_batch ? n - i : m->max_batch;
        ae_batch_gather(src, NULL, i, b, m->scale, m->shift, bin, NULL, r->xbuf);
        ae_model_encode(m, b, r->xbuf, batch_labels(m, src, NULL, i, b, r->ybuf), codes + i * L,
                        NULL);
    }
    const char *names[AE_MAX_CLASS_NAMES];
    size_t n_names = ae_config_class_names(cfg, names);
    if (st == AE_OK)
        st = ae_plot_codes(path, codes, n, L, src->labels, names, n_names, what, err);
    free(path);
    free(codes);
    return st;
}

static ae_status write_pictures(run_t *r, const ae_config *cfg, ae_error *err)
{
    ae_model *m = &r->model;
    const ae_dataset *src = r->test.n ? &r->test : &r->train;
    size_t n = src->n < 32 ? src->n : 32, cols = n < 8 ? n : 8;
    /* a cvae's samples: one column per class (up to 16 classes), 8 rows */
    size_t scols = m->classes ? (m->classes < 16 ? m->classes : 16) : 8, ns = 8 * scols;
    char *path = ae_path_join(cfg->output.dir, AE_RUN_RECON);
    float *x = malloc(n * m->input_dim * sizeof(float));
    float *z = malloc(ns * m->latent * sizeof(float));
    int32_t *y = malloc((ns > n ? ns : n) * sizeof(int32_t));
    ae_status st = AE_OK;
    if (!path || !x || !z || !y) {
        st = AE_ERR_NOMEM;
        ae_error_set(err, "pictures: out of memory");
    }
    if (st == AE_OK && n > 0 && !m->family->classifier) { /* nothing to reconstruct */
        ae_batch_gather(src, NULL, 0, n, m->scale, m->shift,
                        cfg->data.binarize == AE_BIN_FIXED ? AE_BIN_FIXED : AE_BIN_NONE, NULL, x);
        st = ae_picture_recon(path, m, x, batch_labels(m, src, NULL, 0, n, y), n, cols, err);
    }
    free(path);
    path = NULL;
    if (st == AE_OK && m->family->variational) {
        /* prior samples from a stream of their own, so they do not depend
         * on how the training generator was used */
        ae_rng rng;
        ae_rng_seed_stream(&rng, cfg->train.seed, 3);
        for (size_t i = 0; i < ns; i++)
            y[i] = m->classes ? (int32_t)(i % scols) : 0;
        ae_model_prior_sample(m, ns, &rng, 1.0f, z);
        path = ae_path_join(cfg->output.dir, AE_RUN_SAMPLES);
        st = path ? ae_picture_decode(path, m, z, m->classes ? y : NULL, ns, scols, err)
                  : AE_ERR_NOMEM;
        free(path);
    }
    if (st == AE_OK && m->latent == 2 && !m->family->conditional && !m->family->classifier) {
        path = ae_path_join(cfg->output.dir, AE_RUN_MANIFOLD);
        st = path ? ae_picture_manifold(path, m, 20, 0, 1, 0.05, 0, err) : AE_ERR_NOMEM;
        free(path);
    }
    free(x);
    free(z);
    free(y);
    if (st == AE_OK)
        st = write_latents(r, cfg, src, src == &r->test ? "the test set" : "the training set", err);
    return st;
}

static ae_status train(ae_config *cfg, const char *resume_path, const ae_train_hooks *hooks,
                       ae_error *err);

ae_status ae_train(const ae_config *cfg, const char *resume_path, const ae_train_hooks *hooks,
                   ae_error *err)
{
    /* the run's own spec: it gains the class names the training data has */
    ae_config *run_cfg = malloc(sizeof *run_cfg);
    if (!run_cfg) {
        ae_error_set(err, "out of memory for the spec");
        return AE_ERR_NOMEM;
    }
    *run_cfg = *cfg;
    ae_fpenv saved = ae_fpenv_flush_denormals();
    ae_status st = train(run_cfg, resume_path, hooks, err);
    ae_fpenv_restore(saved);
    free(run_cfg);
    return st;
}

/* What the loop over epochs and batches shares. */
typedef struct {
    const ae_config *cfg;
    const ae_train_hooks *hooks;
    int ranks, rank;
    size_t B, D, nb;          /* batch size, input width, batches per epoch */
    double warm_steps, cap_steps;
    float beta;
    bool resumed;
    double first_loss;        /* of this run's first batch: the divergence yardstick */
    /* the current epoch: running sums over its rows (loss, recon, kl, kl2,
     * reg, iw: the order of ae_train_state.sums) and the KL weight in effect */
    int epoch;
    double sums[6], beta_now;
} loop_t;

/* The global batch's loss terms: this rank's slice [f, f + k) of its rows
 * forward, the terms summed over the ranks (each rank's are already divided
 * by the global row count), and *stop_now raised when any rank was asked to
 * stop, so every rank takes the same decisions.  One rank: the batch. */
static void forward_global(ae_model *m, const loop_t *c, size_t f, size_t k, size_t rows,
                           const float *input, const float *target, const int32_t *y,
                           ae_rng *rng, ae_loss *l, int *stop_now)
{
    if (c->ranks > 1)
        ae_model_set_part(m, f, rows);
    ae_model_forward(m, k, input, target, y, rng, (float)c->beta_now, l);
    if (c->ranks == 1)
        return;
    double t[7] = {l->recon, l->kl, l->kl2, l->reg, l->iw, (double)*stop_now, l->accuracy};
    ae_dist_sum_doubles(t, 7);
    l->recon = t[0];
    l->kl = t[1];
    l->kl2 = t[2];
    l->reg = t[3];
    l->iw = t[4];
    l->accuracy = t[6];
    l->loss = l->recon + c->beta_now * l->kl + l->reg + l->iw;
    *stop_now = t[5] > 0;
}

/* Diverged: a loss that is not finite, or (a learning rate far too high
 * often keeps it finite) one that has grown to DIVERGE_FACTOR times the
 * first batch's loss of this run, which no healthy training does. */
static ae_status check_divergence(loop_t *c, double loss, size_t b, ae_error *err)
{
    if (!isfinite(c->first_loss))
        c->first_loss = loss;
    int exploded = isfinite(loss) && loss > DIVERGE_FACTOR * fmax(fabs(c->first_loss), 1.0);
    if (isfinite(loss) && !exploded)
        return AE_OK;
    char what[96];
    if (exploded)
        snprintf(what, sizeof what, "%.3g, over %g times the first batch's %.4g", loss,
                 DIVERGE_FACTOR, c->first_loss);
    else
        snprintf(what, sizeof what, "%s", isnan(loss) ? "NaN" : "infinite");
    ae_error_set(err, "training diverged: the loss became %s at epoch %d, batch %zu of %zu "
                      "(train.lr=%g); %s", what, c->epoch, b + 1, c->nb, c->cfg->train.lr,
                 c->epoch > 1 || c->resumed ? "the last checkpoint is intact"
                                            : "no checkpoint was written");
    return AE_ERR_NUMERIC;
}

/* One training step, batch b of the epoch (rows r->order[first..]): its
 * inputs (binarised, corrupted for a denoising model), the forward pass over
 * every rank's slice, the divergence guard, the gradient and the update;
 * adds its terms to c->sums.  *stop_now: a stop was requested. */
static ae_status train_step(run_t *r, loop_t *c, size_t b, int *stop_now, ae_error *err)
{
    const ae_config *cfg = c->cfg;
    ae_model *m = &r->model;
    const size_t B = c->B, D = c->D;
    size_t first = b * B, rows = r->n_fit - first < B ? r->n_fit - first : B;
    double step = (double)r->state.step;
    c->beta_now = c->warm_steps > 0 ? c->beta * fmin(1.0, step / c->warm_steps) : c->beta;
    /* This rank's slice [f, f + k) of the global batch (all of it with one
     * rank); the generator makes the whole batch's draws on every rank, so
     * all ranks keep the same generator state. */
    size_t f = 0, k = rows;
    if (c->ranks > 1) {
        ae_dist_slice(rows, &f, &k);
        ae_batch_skip_draws(f, D, cfg->data.binarize, &r->state.rng);
    }
    const size_t *rows_idx = r->order + first + f;
    ae_batch_gather(&r->train, rows_idx, 0, k, m->scale, m->shift, cfg->data.binarize,
                    &r->state.rng, r->xbuf);
    if (c->ranks > 1)
        ae_batch_skip_draws(rows - f - k, D, cfg->data.binarize, &r->state.rng);
    const int32_t *y = batch_labels(m, &r->train, rows_idx, 0, k, r->ybuf);
    const float *input = r->xbuf;
    if (r->xin) { /* denoising: the encoder sees a corrupted copy */
        ae_noise_spec noise = cfg->model.noise;
        noise.as_missing = cfg->data.allow_missing;
        ae_noise_apply_slice(&noise, r->lo, r->hi, &r->state.rng, r->xbuf, r->xin, k, D, f, rows);
        input = r->xin;
    }
    ae_loss l; /* the gradients are zero: the optimizer cleared them */
    *stop_now = c->hooks && c->hooks->stop && *c->hooks->stop;
    forward_global(m, c, f, k, rows, input, r->xbuf, y, &r->state.rng, &l, stop_now);
    ae_status st = check_divergence(c, l.loss, b, err);
    if (st != AE_OK)
        return st;
    /* KL weight: beta (ramped by the warm-up), or with a capacity C
     * (Burgess et al. 2018) the gradient of beta*|KL - C|. */
    float kl_weight = (float)c->beta_now;
    if (cfg->train.kl_capacity > 0) {
        double cap = cfg->train.kl_capacity *
                     (c->cap_steps > 0 ? fmin(1.0, step / c->cap_steps) : 1.0);
        kl_weight = l.kl > cap ? (float)c->beta_now : l.kl < cap ? -(float)c->beta_now : 0.0f;
    }
    const double clip = cfg->train.clip_grad_norm;
    if (c->ranks == 1 && clip == 0) {
        ae_model_backward_update(m, kl_weight, &r->optim);
    } else {
        /* each rank's gradient is its rows' share of the batch mean: summed
         * over the ranks it is the whole batch's */
        ae_model_backward(m, kl_weight);
        ae_model_set_part(m, 0, 0);
        if (c->ranks > 1)
            ae_dist_sum_floats(m->grads, m->n_params);
        if (clip > 0)
            ae_clip_grad_norm(m->grads, m->n_params, clip);
        ae_model_step(m, &r->optim);
    }
    r->state.step++;
    const double terms[6] = {l.loss, l.recon, l.kl, l.kl2, l.reg, l.iw};
    for (int t = 0; t < 6; t++)
        c->sums[t] += terms[t] * (double)rows;
    return AE_OK;
}

/* The end of an epoch: its metrics row (with the validation and test
 * evaluations), metrics.csv and the loss chart, the checkpoint when due, the
 * on_epoch hook; AE_INTERRUPTED after the checkpoint when a stop was asked. */
static ae_status end_epoch(run_t *r, loop_t *c, double seconds, ae_error *err)
{
    const ae_config *cfg = c->cfg;
    ae_model *m = &r->model;
    const int epoch = c->epoch, rank = c->rank;
    const double n = (double)r->n_fit, beta = c->beta;
    if (c->ranks > 1) {
        /* Every rank took the same steps from the same sums, so the states
         * agree; MPI does not promise that an allreduce gives every rank the
         * same bits, though, so rank 0's state is made everyone's once an
         * epoch (9 MB for the reference model). */
        ae_dist_broadcast(m->params, m->n_params * sizeof(float), 0);
        ae_dist_broadcast(r->optim.m, m->n_params * sizeof(float), 0);
        if (r->optim.v)
            ae_dist_broadcast(r->optim.v, m->n_params * sizeof(float), 0);
    }
    ae_epoch_metrics e;
    memset(&e, 0, sizeof e);
    e.epoch = epoch;
    e.beta = c->beta_now;
    e.train_recon = c->sums[1] / n;
    e.train_kl = c->sums[2] / n;
    e.train_kl2 = c->sums[3] / n;
    e.train_reg = c->sums[4] / n;
    e.train_loss = e.train_recon + beta * e.train_kl + e.train_reg + c->sums[5] / n;
    e.seconds = seconds;
    e.examples_per_sec = seconds > 0 ? n / seconds : 0.0;
    /* Evaluation noise comes from a stream per epoch, so evaluating (or not)
     * never changes the training trajectory. */
    ae_rng eval_rng;
    ae_rng_seed_stream(&eval_rng, cfg->train.seed, 1000 + (uint64_t)epoch);
    ae_loss l;
    /* rank 0 alone evaluates and writes; the others wait for its outcome */
    if (rank == 0 && r->n_val) {
        evaluate(m, &r->train, r->val_idx, r->n_val, cfg->data.binarize, &eval_rng, &eval_rng,
                 (float)beta, r->xbuf, r->ybuf, &l);
        e.has_val = 1;
        e.val_loss = l.loss;
        e.val_recon = l.recon;
        e.val_kl = l.kl;
    }
    if (rank == 0 && r->test.n) {
        evaluate(m, &r->test, NULL, r->test.n, cfg->data.binarize, &eval_rng, &eval_rng,
                 (float)beta, r->xbuf, r->ybuf, &l);
        e.has_test = 1;
        e.test_loss = l.loss;
        e.test_recon = l.recon;
        e.test_kl = l.kl;
        e.test_kl2 = l.kl2;
        e.test_reg = l.reg;
        evaluate(m, &r->test, NULL, r->test.n, cfg->data.binarize, &eval_rng, NULL, (float)beta,
                 r->xbuf, r->ybuf, &l);
        e.test_loss_mu = l.loss;
        e.test_accuracy = l.accuracy;
    }
    if (rank == 0 && m->family->classifier) {
        /* the training rows' accuracy at the epoch's end (the running
         * accuracy of a changing model would mix epochs' worth of weights) */
        evaluate(m, &r->train, r->n_val ? r->base : NULL, r->n_fit, cfg->data.binarize,
                 &eval_rng, NULL, (float)beta, r->xbuf, r->ybuf, &l);
        e.has_accuracy = 1;
        e.train_accuracy = l.accuracy;
    }
    e.lr = r->optim.lr;
    /* the schedule, early stopping and the best model see the validation
     * loss (rank 0's, which every rank is given) */
    double val = e.has_val ? e.val_loss : NAN;
    if (c->ranks > 1) {
        double vv[2] = {rank == 0 ? val : 0.0, 0.0};
        if (rank == 0 && isnan(val))
            vv[1] = 1.0;
        ae_dist_sum_doubles(vv, 2);
        val = vv[1] > 0 ? NAN : vv[0];
    }
    bool best = false;
    e.stopped_early = ae_schedule_end_epoch(cfg, &r->state.sched, epoch, val, &best);
    e.best_epoch = r->state.sched.best_epoch;
    e.best_val = r->state.sched.best_val;
    r->state.epoch = epoch;
    /* every rank keeps the metrics table: a checkpoint holds it */
    ae_status st = metrics_append(&r->state.metrics_csv, &e, err);
    if (st == AE_OK && rank == 0)
        st = ae_write_file_atomic(r->dir_metrics, r->state.metrics_csv,
                                  strlen(r->state.metrics_csv), err);
    /* redrawn every epoch, so the curves can be watched during a long run */
    if (st == AE_OK && rank == 0 && cfg->output.images)
        st = ae_report_loss_chart(r->state.metrics_csv, r->dir_loss, err);
    ae_pause_at(AE_PAUSE_EPOCH, NULL);
    int every = cfg->output.checkpoint_every;
    double stop_any = c->hooks && c->hooks->stop && *c->hooks->stop;
    ae_dist_sum_doubles(&stop_any, 1);
    int stop = stop_any > 0;
    if (st == AE_OK && best && cfg->output.keep_best) {
        /* the model alone, like model.safetensors */
        ae_train_state bs = {.epoch = epoch, .step = r->state.step, .rng = r->state.rng};
        if (rank == 0)
            st = ae_checkpoint_save(r->dir_best, cfg, m, NULL, &bs, err);
        e.best = r->dir_best;
    }
    if (st == AE_OK && ((every > 0 && epoch % every == 0) || epoch == cfg->train.epochs || stop ||
                        e.stopped_early)) {
        if (rank == 0)
            st = ae_checkpoint_save(r->dir_ckpt, cfg, m, &r->optim, &r->state, err);
        e.checkpoint = r->dir_ckpt;
    }
    st = ae_dist_agree(st, err);
    if (st == AE_OK && c->hooks && c->hooks->on_epoch)
        c->hooks->on_epoch(c->hooks->ctx, &e);
    if (st == AE_OK && stop) {
        ae_error_set(err, "interrupted at epoch %d, batch %zu of %zu; checkpoint written to %s",
                     epoch, c->nb, c->nb, r->dir_ckpt);
        st = AE_INTERRUPTED;
    }
    return st;
}

/* Stopped mid-epoch after batch b: the checkpoint holds the position and the
 * running sums; no metrics row for a partial epoch. */
static ae_status stop_mid_epoch(run_t *r, loop_t *c, size_t b, ae_error *err)
{
    r->state.batch = b + 1;
    memcpy(r->state.sums, c->sums, sizeof c->sums);
    ae_status st = AE_OK;
    if (c->rank == 0)
        st = ae_checkpoint_save(r->dir_ckpt, c->cfg, &r->model, &r->optim, &r->state, err);
    st = ae_dist_agree(st, err);
    if (st == AE_OK) {
        ae_error_set(err, "interrupted at epoch %d, batch %zu of %zu; checkpoint written to %s",
                     c->epoch, b + 1, c->nb, r->dir_ckpt);
        st = AE_INTERRUPTED;
    }
    return st;
}

/* One epoch: the order, then its batches from where a resumed run left off. */
static ae_status run_epoch(run_t *r, loop_t *c, ae_error *err)
{
    /* The epoch's order comes from the generator at its start; a run resumed
     * mid-epoch re-creates it from the saved start state, then continues
     * with the generator as it was after the last batch. */
    size_t b0 = r->state.batch;
    ae_rng start = b0 ? r->state.epoch_rng : r->state.rng;
    r->state.epoch_rng = start;
    memcpy(r->order, r->base, r->n_fit * sizeof(size_t));
    ae_rng_shuffle(b0 ? &start : &r->state.rng, r->order, r->n_fit);
    r->optim.lr = (float)ae_schedule_lr(c->cfg, &r->state.sched, c->epoch);
    double t0 = now_seconds();
    /* train.freeze_encoder_epochs: the head alone learns at first */
    r->model.frozen_encoder = c->epoch <= c->cfg->train.freeze_encoder_epochs;
    c->beta_now = c->beta;
    memset(c->sums, 0, sizeof c->sums);
    if (b0) {
        memcpy(c->sums, r->state.sums, sizeof c->sums);
        r->state.batch = 0;
    }
    for (size_t b = b0; b < c->nb; b++) {
        int stop_now;
        ae_status st = train_step(r, c, b, &stop_now, err);
        if (st != AE_OK)
            return st;
        if (c->hooks && c->hooks->on_batch) {
            double el = now_seconds() - t0;
            size_t done = b * c->B + (r->n_fit - b * c->B < c->B ? r->n_fit - b * c->B : c->B);
            ae_progress p = {c->epoch, c->cfg->train.epochs, b + 1, c->nb,
                             c->sums[0] / (double)done, el > 0 ? (double)done / el : 0.0, el};
            c->hooks->on_batch(c->hooks->ctx, &p);
        }
        ae_pause_at(AE_PAUSE_BATCH, NULL);
        if (b + 1 < c->nb && stop_now)
            return stop_mid_epoch(r, c, b, err);
    }
    return end_epoch(r, c, now_seconds() - t0, err);
}

static ae_status train(ae_config *cfg, const char *resume_path, const ae_train_hooks *hooks,
                       ae_error *err)
{
    run_t r;
    memset(&r, 0, sizeof r);
    const int ranks = ae_dist_size(), rank = ae_dist_rank();
    int threads = cfg->train.threads;
    if (threads == 0 && ae_dist_local_size() > 1 && !getenv("OPENBLAS_NUM_THREADS")) {
        /* ranks sharing a machine share its cores */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > ae_dist_local_size() ? (int)(cores / ae_dist_local_size()) : 1;
    }
    threads = ae_threads_set(threads);
    ae_status st = ae_backend_select(cfg->train.backend, err);
    if (st == AE_OK)
        st = ae_precision_select(cfg->train.precision, "train.precision", err);
    if (st == AE_OK)
        st = setup(&r, cfg, resume_path, err);
    st = ae_dist_agree(st, err);
    if (st != AE_OK) {
        run_free(&r);
        return st;
    }
    /* Only rank 0 reports; every rank reads the stop request. */
    ae_train_hooks quiet = {0};
    if (hooks && rank != 0) {
        quiet.stop = hooks->stop;
        hooks = &quiet;
    }
    ae_model *m = &r.model;
    const size_t B = (size_t)cfg->train.batch_size, D = m->input_dim;
    size_t nb = (r.n_fit + B - 1) / B;
    ae_run_info info = {r.n_fit, r.n_val, r.test.n, D, m->n_params, nb, threads, ranks,
                        r.state.epoch + 1, cfg->output.dir};
    if (hooks && hooks->on_start)
        hooks->on_start(hooks->ctx, &info);

    if (!resume_path && cfg->train.pretrain_epochs > 0) {
        st = ae_pretrain(cfg, &r.train, r.base, r.n_fit, m, &r.state.rng, hooks, err);
        if (st != AE_OK) {
            run_free(&r);
            return st;
        }
    }

    loop_t c = {.cfg = cfg, .hooks = hooks, .ranks = ranks, .rank = rank, .B = B, .D = D,
                .nb = nb, .warm_steps = cfg->train.kl_warmup_epochs * (double)nb,
                .cap_steps = cfg->train.kl_capacity_epochs * (double)nb,
                .beta = (float)cfg->model.beta, .resumed = resume_path != NULL,
                .first_loss = NAN};
    for (c.epoch = r.state.epoch + 1; c.epoch <= cfg->train.epochs && !r.state.sched.stopped;
         c.epoch++) {
        st = run_epoch(&r, &c, err);
        if (st != AE_OK) {
            run_free(&r);
            /* a file that could not be written is a runtime failure here */
            return st == AE_ERR_INPUT ? AE_ERR_IO : st;
        }
    }

    /* The final model: parameters, scaling, spec, epoch and step; no
     * optimizer moments, generator or timings, so it is small and the same
     * bits for the same training. */
    ae_train_state final_state = {.epoch = r.state.epoch, .step = r.state.step,
                                  .rng = r.state.rng};
    if (rank != 0) {
        st = ae_dist_agree(AE_OK, err); /* rank 0's outcome */
        run_free(&r);
        return st;
    }
    st = ae_checkpoint_save(r.dir_model, cfg, m, NULL, &final_state, err);
    /* A resumed run with no epoch left to train (perhaps into a new --out)
     * still leaves its metrics and curves beside the model, for the report;
     * they come from the checkpoint's history. */
    if (st == AE_OK && info.start_epoch > cfg->train.epochs && r.state.metrics_csv) {
        st = ae_write_file_atomic(r.dir_metrics, r.state.metrics_csv,
                                  strlen(r.state.metrics_csv), err);
        if (st == AE_OK && cfg->output.images)
            st = ae_report_loss_chart(r.state.metrics_csv, r.dir_loss, err);
    }
    if (st == AE_OK && cfg->output.images) {
        st = write_pictures(&r, cfg, err);
        if (st == AE_OK && r.state.metrics_csv)
            st = ae_report_write(cfg, cfg->output.dir, err);
    }
    run_free(&r);
    if (st == AE_ERR_INPUT)
        st = AE_ERR_IO; /* the folder was writable at the start: this is a runtime failure */
    return ae_dist_agree(st, err);
}
