/* aeeval: how good a trained model is on a dataset (ELBO, IWAE, active
 * units, reconstruction error, linear probe, k-means, PCA baseline), and
 * which of its examples are anomalous (ae/anomaly.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/anomaly.h"
#include "ae/batch.h"
#include "ae/checkpoint.h"
#include "ae/data.h"
#include "ae/eval.h"
#include "ae/fileio.h"
#include "ae/model.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aeeval --model MODEL.safetensors --data FILE [options]\n"
            "\n"
            "Evaluates a model written by aetrain on FILE (IDX, raw or .gz, or CSV, scaled as\n"
            "the model was trained) and prints a table, or one JSON object with --json.\n"
            "Figures are per example: negative ELBO (z sampled and z = mu) with its\n"
            "reconstruction and KL terms, the IWAE bound on -log p(x), KL per latent\n"
            "dimension and active units, squared error (and binary cross-entropy for a\n"
            "Bernoulli model) of the decoded mean, and a PCA baseline with as many components\n"
            "as the latent size.  With labels: a linear probe's accuracy on the codes and\n"
            "k-means purity and NMI.  See docs/eval.md for every formula.\n"
            "\n"
            "options:\n"
            "  --model FILE         a model or checkpoint written by aetrain\n"
            "  --data FILE          the examples to evaluate\n"
            "  --labels FILE        their labels (IDX or one-column CSV); a CSV with the\n"
            "                       model's data.csv.label_column has its own\n"
            "  --iw K               importance samples of the IWAE bound (default 100; 0 skips\n"
            "                       it); costs K decoder passes per example\n"
            "  --json               print one JSON object instead of the table\n"
            "  --scores FILE.csv    write anomaly scores, one row per example (see below)\n"
            "  --probe-train FILE   train the linear probe on FILE and test it on all of\n"
            "                       --data (default: the first 80%% of --data train it, the\n"
            "                       last 20%% test it)\n"
            "  --probe-labels FILE  labels of --probe-train\n"
            "  --pca-train FILE     fit the PCA baseline on FILE (default: on --data)\n"
            "  --limit N            evaluate only the first N examples of --data\n"
            "  --no-pca             skip the PCA baseline\n"
            "  --seed N             seed for sampled z, IWAE samples and k-means++ (default 1)\n"
            "  --batch N            examples per batch (default 1000)\n"
            "  --corrupt SPEC       corrupt the inputs the encoder and PCA see (gaussian:STD,\n"
            "                       masking:P or salt_pepper:P, as aerecon; seed --seed) and\n"
            "                       measure every reconstruction against the clean input;\n"
            "                       the IWAE bound is then not computed\n"
            "  --threads N          BLAS threads (0 = all cores, the default)\n"
            "  --precision P        fp32, bf16, or model (the model's train.precision, the\n"
            "                       default): the GEMMs' inputs (bf16 needs oneDNN, AVX-512)\n"
            "  --help, --version\n"
            "\n"
            "anomaly detection (docs/anomaly.md), on with any of these or --scores:\n"
            "  --score NAME         the score that decides: recon, elbo, iwae, elbo-ic,\n"
            "                       iwae-ic, maha or zerr (default %s); higher = more\n"
            "                       anomalous\n"
            "  --contamination F    flag the fraction F in (0, 0.5] with the highest scores:\n"
            "                       the threshold is the (1 - F) quantile of the scores of\n"
            "                       --data, or of --fit-threshold's file (default %g)\n"
            "  --threshold T        flag the examples whose score is above T\n"
            "  --fit-threshold FILE the normal data (the training set): the threshold is\n"
            "                       the (1 - F) quantile of its scores, and maha and zerr\n"
            "                       measure against it (without it: against --data)\n"
            "  --per-feature FILE.csv  each example's squared error per feature:\n"
            "                       index,[label,]x0..x{D-1}; a row sums to recon_error\n"
            "  The scores file: index,[label,]recon_error[,neg_elbo][,iwae_nll]\n"
            "  [,neg_elbo_ic][,iwae_nll_ic],maha,zerr,complexity,score,is_anomaly\n"
            "\n"
            "exit codes: 0 ok, 1 runtime failure, 2 bad usage or input\n",
            ae_score_name(AE_SCORE_DEFAULT), AE_CONTAMINATION_DEFAULT);
}

typedef struct {
    const char *model, *data, *labels, *scores, *probe_train, *probe_labels, *pca_train;
    const char *fit_threshold, *per_feature;
    ae_score_kind score;
    double contamination, threshold;
    bool has_contamination, has_threshold, score_given;
    long iw, batch, threads, limit;
    int precision; /* an ae_precision, or -1: the model's */
    ae_noise_spec corrupt;
    const char *corrupt_text;
    uint64_t seed;
    bool json, no_pca;
} args_t;

/* Any finite number (strtod's syntax); prints the error otherwise. */
static bool parse_number(const char *name, const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v)) {
        cli_error("%s: expected a number, got '%s'", name, s);
        return false;
    }
    *out = v;
    return true;
}

/* The options parse_args reads through a call (out: the args_t). */
static bool parse_score(const char *name, const char *v, void *out)
{
    args_t *a = out;
    (void)name;
    a->score_given = true;
    if (!ae_score_parse(v, &a->score)) {
        cli_error("--score: expected recon, elbo, iwae, elbo-ic, iwae-ic, maha or zerr, not '%s'",
                  v);
        return false;
    }
    return true;
}

static bool parse_contamination(const char *name, const char *v, void *out)
{
    args_t *a = out;
    if (!parse_number(name, v, &a->contamination))
        return false;
    if (!(a->contamination > 0 && a->contamination <= 0.5)) {
        cli_error("--contamination: expected a fraction in (0, 0.5], got '%s'", v);
        return false;
    }
    a->has_contamination = true;
    return true;
}

static bool parse_threshold(const char *name, const char *v, void *out)
{
    args_t *a = out;
    if (!parse_number(name, v, &a->threshold))
        return false;
    a->has_threshold = true;
    return true;
}

static bool parse_corrupt(const char *name, const char *v, void *out)
{
    args_t *a = out;
    (void)name;
    if (!cli_parse_corrupt(v, &a->corrupt))
        return false;
    a->corrupt_text = v;
    return true;
}

static bool anomaly_on(const args_t *a)
{
    return a->scores || a->per_feature || a->fit_threshold || a->has_threshold ||
           a->has_contamination || a->score_given;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, args_t *a)
{
    const cli_option opts[] = {
        CLI_OPT_STR("--model", &a->model),
        CLI_OPT_STR("--data", &a->data),
        CLI_OPT_STR("--labels", &a->labels),
        CLI_OPT_STR("--scores", &a->scores),
        CLI_OPT_STR("--probe-train", &a->probe_train),
        CLI_OPT_STR("--probe-labels", &a->probe_labels),
        CLI_OPT_STR("--pca-train", &a->pca_train),
        CLI_OPT_STR("--fit-threshold", &a->fit_threshold),
        CLI_OPT_STR("--per-feature", &a->per_feature),
        CLI_OPT_FLAG("--json", &a->json),
        CLI_OPT_FLAG("--no-pca", &a->no_pca),
        CLI_OPT_CALL("--score", parse_score, a),
        CLI_OPT_CALL("--contamination", parse_contamination, a),
        CLI_OPT_CALL("--threshold", parse_threshold, a),
        CLI_OPT_LONG("--iw", &a->iw, 0, 1000000),
        CLI_OPT_LONG("--limit", &a->limit, 1, LONG_MAX),
        CLI_OPT_LONG("--batch", &a->batch, 1, 100000),
        CLI_OPT_U64("--seed", &a->seed),
        CLI_OPT_LONG("--threads", &a->threads, 0, 1024),
        CLI_OPT_PRECISION("--precision", &a->precision),
        CLI_OPT_CALL("--corrupt", parse_corrupt, a),
    };
    int r = cli_parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], usage, NULL);
    if (r >= 0)
        return r;
    if (!a->model || !a->data) {
        cli_error("--model and --data are required (see --help)");
        return 2;
    }
    if (a->probe_labels && !a->probe_train) {
        cli_error("--probe-labels needs --probe-train");
        return 2;
    }
    if (a->has_threshold && (a->has_contamination || a->fit_threshold)) {
        cli_error("--threshold T is the threshold: it does not go with %s",
                  a->fit_threshold ? "--fit-threshold" : "--contamination");
        return 2;
    }
    if (a->corrupt_text && anomaly_on(a)) {
        cli_error("--corrupt measures denoising; anomaly scores (--scores, --score, "
                  "--contamination, --threshold, --fit-threshold, --per-feature) are of the "
                  "inputs as given");
        return 2;
    }
    return -1;
}

/* The class names of the labels (the model's, or those of --data's labels
 * when the model learnt none), for the label column of the output files. */
static cli_classes classes;

/* Loads one data file with the model's CSV settings and checks its width.
 * Label names of a model that learnt no labels are the first labelled
 * file's: cfg takes them, and the next file is read against them. */
static int load(ae_config *cfg, const ae_model *m, const char *opt, const char *path,
                const char *labels, long limit, ae_dataset *ds)
{
    ae_error err = {{0}};
    ae_status st = ae_load_split(cfg, path, labels, limit, ds, &err);
    if (st == AE_OK)
        st = ae_config_take_class_names(cfg, ds, labels ? labels : path, &err);
    if (st != AE_OK)
        return cli_fail(st, &err);
    cli_classes_get(cfg, &classes);
    const char *hint = !strcmp(opt, "--data") ? "--labels FILE, or a CSV with the model's "
                                                "data.csv.label_column"
                       : !strcmp(opt, "--probe-train") ? "--probe-labels FILE, or a CSV with the "
                                                         "model's data.csv.label_column"
                                                       : "a CSV with the model's "
                                                         "data.csv.label_column";
    ae_data_ref ref = {opt, path, labels, hint, NULL, true};
    if ((st = ae_model_check_data(m, ds, &ref, &err)) != AE_OK)
        return cli_fail(st, &err);
    return -1;
}

static void progress(void *ctx, const char *stage, size_t done, size_t total)
{
    (void)ctx;
    if (!strcmp(stage, "evaluate"))
        fprintf(stderr, "\raeeval: evaluating %zu/%zu", done, total);
    else if (!strcmp(stage, "pca") && done == 0)
        fprintf(stderr, "\raeeval: fitting PCA");
    else
        fprintf(stderr, "\raeeval: %s done%20s", stage, "");
    fprintf(stderr, "\033[K");
    fflush(stderr);
}

/* ---------------------------------------------------------------- anomaly */

typedef struct {
    ae_anomaly_data d; /* the scores of --data */
    double threshold, contamination;
    size_t flagged;
} anomaly_t;

/* The scores the chosen one needs, and that it can be computed for m. */
static int check_score(const args_t *a, const ae_model *m)
{
    if ((ae_score_needs_elbo(a->score) || ae_score_needs_iwae(a->score)) &&
        !m->family->variational) {
        cli_error("--score %s: the model is an %s, which has no ELBO (recon, maha and zerr work "
                  "for every model)", ae_score_name(a->score), ae_model_type_name(m->type));
        return 2;
    }
    if (ae_score_needs_iwae(a->score) && a->iw == 0) {
        cli_error("--score %s needs the IWAE bound: --iw K with K > 0", ae_score_name(a->score));
        return 2;
    }
    return 0;
}

/* The first cells of a row of the scores and per-feature files: the header's
 * (row SIZE_MAX) or row i's index and, when the data has labels, label. */
static void row_start(FILE *f, const ae_dataset *ds, size_t i)
{
    if (i == SIZE_MAX)
        fprintf(f, "index%s", ds->labels ? ",label" : "");
    else if (ds->labels) {
        fprintf(f, "%zu,", i);
        cli_put_label(f, &classes, ds->labels[i]);
    }
    else
        fprintf(f, "%zu", i);
}

static ae_status write_scores(const char *path, const ae_dataset *ds, const args_t *a,
                              const anomaly_t *an, ae_error *err)
{
    static const struct {
        ae_score_kind k;
        const char *column;
    } cols[] = {{AE_SCORE_RECON, "recon_error"}, {AE_SCORE_ELBO, "neg_elbo"},
                {AE_SCORE_IWAE, "iwae_nll"},     {AE_SCORE_ELBO_IC, "neg_elbo_ic"},
                {AE_SCORE_IWAE_IC, "iwae_nll_ic"}, {AE_SCORE_MAHA, "maha"},
                {AE_SCORE_ZERR, "zerr"}};
    const size_t nc = sizeof cols / sizeof cols[0];
    const ae_anomaly_data *d = &an->d;
    ae_atomic_file af = {0};
    ae_status st = ae_atomic_open(&af, path, err);
    if (st != AE_OK)
        return st;
    FILE *f = af.fp;
    row_start(f, ds, SIZE_MAX);
    for (size_t c = 0; c < nc; c++)
        if (d->score[cols[c].k])
            fprintf(f, ",%s", cols[c].column);
    fprintf(f, ",complexity,score,is_anomaly\n");
    const double *score = d->score[a->score];
    for (size_t i = 0; i < d->n; i++) {
        row_start(f, ds, i);
        for (size_t c = 0; c < nc; c++)
            if (d->score[cols[c].k])
                fprintf(f, ",%.9g", d->score[cols[c].k][i]);
        fprintf(f, ",%.9g,%.9g,%d\n", d->complexity[i], score[i], score[i] > an->threshold);
    }
    return ae_atomic_commit(&af, err);
}

static ae_status write_per_feature(const char *path, const ae_dataset *ds,
                                   const ae_anomaly_data *d, ae_error *err)
{
    ae_atomic_file af = {0};
    ae_status st = ae_atomic_open(&af, path, err);
    if (st != AE_OK)
        return st;
    FILE *f = af.fp;
    row_start(f, ds, SIZE_MAX);
    for (size_t j = 0; j < d->D; j++)
        fprintf(f, ",x%zu", j);
    fputc('\n', f);
    for (size_t i = 0; i < d->n; i++) {
        row_start(f, ds, i);
        const float *e = d->features + i * d->D;
        for (size_t j = 0; j < d->D; j++)
            fprintf(f, e[j] == 0.0f ? ",0" : ",%.7g", e[j]);
        fputc('\n', f);
    }
    return ae_atomic_commit(&af, err);
}

/* Scores --data (its bounds taken from res), fits the reference and the
 * threshold, writes --scores and --per-feature.  Returns -1 to go on, else
 * the exit code. */
static int run_anomaly(const args_t *a, ae_config *cfg, ae_model *m, const ae_dataset *ds,
                       const ae_eval_result *res, anomaly_t *an)
{
    ae_error err = {{0}};
    ae_dataset fit = {0};
    ae_anomaly_ref ref = {0};
    ae_anomaly_data fd = {0};
    ae_status st = AE_OK;
    int rc = -1;
    ae_anomaly_options opt = {0};
    opt.seed = a->seed;
    opt.binarize = cfg->data.binarize;
    an->contamination = a->has_contamination ? a->contamination : AE_CONTAMINATION_DEFAULT;
    if (a->fit_threshold) {
        if ((rc = load(cfg, m, "--fit-threshold", a->fit_threshold, NULL, 0, &fit)) >= 0)
            goto out;
        st = ae_anomaly_fit(m, &fit, &opt, &ref, &err);
        /* the training data's own scores, with the bound the score needs */
        opt.bounds = ae_score_needs_elbo(a->score) || ae_score_needs_iwae(a->score);
        opt.iw_samples = ae_score_needs_iwae(a->score) ? (size_t)a->iw : 0;
        if (st == AE_OK)
            st = ae_anomaly_score(m, &fit, &ref, &opt, &fd, &err);
        if (st == AE_OK)
            an->threshold = ae_quantile(fd.score[a->score], fd.n, 1.0 - an->contamination);
    } else {
        st = ae_anomaly_fit(m, ds, &opt, &ref, &err);
    }
    if (st != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    opt.bounds = true;
    opt.iw_samples = res->has_iwae ? (size_t)a->iw : 0;
    opt.given_elbo = res->ex_neg_elbo;
    opt.given_iwae = res->ex_iwae;
    opt.keep_features = a->per_feature != NULL;
    if ((st = ae_anomaly_score(m, ds, &ref, &opt, &an->d, &err)) != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    const double *score = an->d.score[a->score];
    if (a->has_threshold)
        an->threshold = a->threshold;
    else if (!a->fit_threshold)
        an->threshold = ae_quantile(score, an->d.n, 1.0 - an->contamination);
    for (size_t i = 0; i < an->d.n; i++)
        an->flagged += score[i] > an->threshold;
    if ((a->scores && (st = write_scores(a->scores, ds, a, an, &err)) != AE_OK) ||
        (a->per_feature && (st = write_per_feature(a->per_feature, ds, &an->d, &err)) != AE_OK))
        rc = cli_fail(st, &err);
out:
    ae_anomaly_data_free(&fd);
    ae_anomaly_ref_free(&ref);
    ae_dataset_free(&fit);
    return rc;
}

/* Where the threshold came from, in words. */
static void threshold_source(char *buf, size_t size, const args_t *a, const anomaly_t *an)
{
    if (a->has_threshold)
        snprintf(buf, size, "given (--threshold)");
    else
        snprintf(buf, size, "the %g quantile of the scores of %s", 1.0 - an->contamination,
                 a->fit_threshold ? a->fit_threshold : "--data");
}

/* ------------------------------------------------------------------ JSON */

static void json_num(FILE *f, const char *key, bool have, double v, bool last)
{
    fprintf(f, "  \"%s\": ", key);
    if (have && isfinite(v))
        fprintf(f, "%.10g", v);
    else
        fputs("null", f);
    fputs(last ? "\n" : ",\n", f);
}

static void json_array(FILE *f, const char *key, bool have, const double *v, size_t n)
{
    fprintf(f, "  \"%s\": ", key);
    if (!have) {
        fputs("null,\n", f);
        return;
    }
    fputc('[', f);
    for (size_t j = 0; j < n; j++) {
        if (isfinite(v[j]))
            fprintf(f, "%s%.6g", j ? ", " : "", v[j]);
        else
            fprintf(f, "%snull", j ? ", " : "");
    }
    fputs("],\n", f);
}

static void print_json(FILE *f, const args_t *a, const ae_model *m, const ae_eval_result *r,
                       const anomaly_t *an)
{
    bool hvae = m->family->hierarchical;
    fputs("{\n  \"model\": ", f);
    cli_json_str(f, a->model);
    fputs(",\n  \"model_type\": ", f);
    cli_json_str(f, ae_model_type_name(m->type));
    fprintf(f, ",\n  \"likelihood\": \"%s\",\n", ae_likelihood_get(m->likelihood)->name);
    fprintf(f, "  \"latent\": %zu,\n", m->latent);
    if (hvae)
        fprintf(f, "  \"latent_z2\": %zu,\n", m->latent2);
    fputs("  \"data\": ", f);
    cli_json_str(f, a->data);
    fprintf(f, ",\n  \"examples\": %zu,\n  \"seed\": %llu,\n", r->n, (unsigned long long)a->seed);
    fputs("  \"corrupt\": ", f);
    if (a->corrupt_text)
        cli_json_str(f, a->corrupt_text);
    else
        fputs("null", f);
    fputs(",\n", f);
    json_num(f, "neg_elbo", r->has_elbo, r->neg_elbo, false);
    json_num(f, "neg_elbo_mu", r->has_elbo, r->neg_elbo_mu, false);
    json_num(f, "recon", true, r->recon, false);
    json_num(f, "recon_mu", true, r->recon_mu, false);
    json_num(f, "kl", r->has_elbo, r->kl, false);
    json_num(f, "kl_mu", r->has_elbo, r->kl_mu, false);
    if (hvae)
        json_num(f, "kl_z2", true, r->kl2, false);
    json_num(f, "iwae_nll", r->has_iwae, r->iwae_nll, false);
    json_num(f, "iwae_samples", r->has_iwae, (double)a->iw, false);
    json_num(f, "active_units", r->has_elbo, (double)r->active_units, false);
    json_num(f, "active_threshold", true, AE_ACTIVE_THRESHOLD, false);
    json_array(f, "kl_per_dim", r->has_elbo, r->kl_dim, r->latent);
    json_array(f, "code_variance", true, r->code_var, r->latent);
    if (hvae) {
        json_num(f, "active_units_z2", true, (double)r->active_units2, false);
        json_array(f, "kl_per_dim_z2", true, r->kl_dim2, r->latent2);
        json_array(f, "code_variance_z2", true, r->code_var2, r->latent2);
    }
    json_num(f, "sse", true, r->sse, false);
    json_num(f, "bce", r->has_bce, r->bce, false);
    json_num(f, "pca_recon", r->has_pca, r->pca_sse, false);
    json_num(f, "pca_components", r->has_pca, (double)r->pca_components, false);
    json_num(f, "pca_variance_kept", r->has_pca, r->pca_explained, false);
    fputs("  \"pca_fit\": ", f);
    if (r->has_pca)
        cli_json_str(f, a->pca_train ? a->pca_train : a->data);
    else
        fputs("null", f);
    fputs(",\n", f);
    json_num(f, "classes", r->has_labels, (double)r->classes, false);
    json_num(f, "probe_accuracy", r->has_probe, r->probe_accuracy, false);
    json_num(f, "probe_train", r->has_probe, (double)r->probe_train_n, false);
    json_num(f, "probe_test", r->has_probe, (double)r->probe_test_n, false);
    json_num(f, "kmeans_k", r->has_kmeans, (double)r->classes, false);
    json_num(f, "kmeans_purity", r->has_kmeans, r->kmeans_purity, false);
    json_num(f, "kmeans_nmi", r->has_kmeans, r->kmeans_nmi, false);
    fputs("  \"anomaly\": ", f);
    if (an) {
        fputs("{\"score\": ", f);
        cli_json_str(f, ae_score_name(a->score));
        fputs(", \"threshold\": ", f);
        if (isfinite(an->threshold))
            fprintf(f, "%.10g", an->threshold);
        else
            fputs("null", f);
        fputs(", \"contamination\": ", f);
        if (a->has_threshold)
            fputs("null", f);
        else
            fprintf(f, "%g", an->contamination);
        fputs(", \"threshold_data\": ", f);
        if (a->has_threshold)
            fputs("null", f);
        else
            cli_json_str(f, a->fit_threshold ? a->fit_threshold : a->data);
        fputs(", \"reference\": ", f);
        cli_json_str(f, a->fit_threshold ? a->fit_threshold : a->data);
        fprintf(f, ", \"flagged\": %zu},\n", an->flagged);
    } else {
        fputs("null,\n", f);
    }
    fprintf(f, "  \"seconds\": {\"elbo\": %.3f, \"iwae\": %.3f, \"pca\": %.3f, \"probe\": %.3f, "
               "\"kmeans\": %.3f}\n}\n",
            r->sec_elbo, r->sec_iwae, r->sec_pca, r->sec_probe, r->sec_kmeans);
}

/* ----------------------------------------------------------------- table */

#define LABEL_W 46

static void row(FILE *f, const char *label, bool have, double v, const char *note)
{
    if (have && isfinite(v))
        fprintf(f, "%-*s %12.4f", LABEL_W, label, v);
    else
        fprintf(f, "%-*s %12s", LABEL_W, label, have ? "nan" : "n/a");
    fprintf(f, "%s%s\n", note[0] ? "  " : "", note);
}

static void print_table(FILE *f, const args_t *a, const ae_model *m, const ae_eval_result *r,
                        const anomaly_t *an)
{
    bool hvae = m->family->hierarchical;
    char label[128], note[160];
    fprintf(f, "model  %s (%s, %s, latent %zu", a->model, ae_model_type_name(m->type),
            ae_likelihood_get(m->likelihood)->name, m->latent);
    if (hvae)
        fprintf(f, " + %zu", m->latent2);
    fprintf(f, ")\ndata   %s (%zu examples", a->data, r->n);
    if (r->has_labels)
        fprintf(f, ", %zu classes", r->classes);
    fprintf(f, ")\n");
    if (a->corrupt_text)
        fprintf(f, "input  corrupted %s (seed %llu); every reconstruction is measured against "
                   "the clean input\n",
                a->corrupt_text, (unsigned long long)a->seed);
    fprintf(f, "\n%-*s %12s\n", LABEL_W, "per example, in nats", "");
    row(f, "negative ELBO, z ~ q(z|x)", r->has_elbo, r->neg_elbo, "");
    row(f, "negative ELBO, z = mu", r->has_elbo, r->neg_elbo_mu, "");
    row(f, "  reconstruction -log p(x|z), z ~ q(z|x)", r->has_elbo, r->recon, "");
    row(f, "  reconstruction -log p(x|z), z = mu", true, r->recon_mu, "");
    row(f, hvae ? "  KL terms (z1 against p(z1|z2), and z2)" : "  KL(q(z|x) || p(z))",
        r->has_elbo, r->kl, "");
    if (hvae)
        row(f, "    of which KL(q(z2|z1) || N(0, I))", true, r->kl2, "");
    snprintf(label, sizeof label, "IWAE bound on -log p(x), K = %ld", a->iw);
    row(f, label, r->has_iwae, r->iwae_nll,
        r->has_elbo && !r->has_iwae ? (r->corrupted ? "(not with --corrupt)" : "(--iw 0)") : "");

    fprintf(f, "\nlatent code\n");
    snprintf(note, sizeof note, "of %zu (Var over the data of E[z|x] > %g)", r->latent,
             AE_ACTIVE_THRESHOLD);
    if (r->has_elbo)
        fprintf(f, "%-*s %12zu  %s\n", LABEL_W, "active units", r->active_units, note);
    else
        row(f, "active units", false, 0, "");
    if (hvae) {
        snprintf(note, sizeof note, "of %zu", r->latent2);
        fprintf(f, "%-*s %12zu  %s\n", LABEL_W, "active units of z2", r->active_units2, note);
    }
    if (r->has_elbo) {
        fprintf(f, "KL per dimension%s:", hvae ? " (z1)" : "");
        for (size_t j = 0; j < r->latent; j++)
            fprintf(f, "%s%.3f", j % 10 == 0 ? "\n   " : " ", r->kl_dim[j]);
        fputc('\n', f);
        if (hvae) {
            fprintf(f, "KL per dimension (z2):");
            for (size_t j = 0; j < r->latent2; j++)
                fprintf(f, "%s%.3f", j % 10 == 0 ? "\n   " : " ", r->kl_dim2[j]);
            fputc('\n', f);
        }
    } else {
        row(f, "KL per dimension", false, 0, "");
    }

    fprintf(f, "\nreconstruction error per example, decoded mean at z = mu\n");
    row(f, "  model: squared error", true, r->sse, "");
    row(f, "  model: binary cross-entropy", r->has_bce, r->bce, "");
    snprintf(label, sizeof label, "  PCA, %zu components: squared error", r->pca_components);
    snprintf(note, sizeof note, "(keeps %.1f%% of the variance; fitted on %s)",
             100.0 * r->pca_explained, a->pca_train ? a->pca_train : "--data");
    row(f, r->has_pca ? label : "  PCA: squared error", r->has_pca, r->pca_sse,
        r->has_pca ? note : "");

    fprintf(f, "\nwith labels\n");
    if (r->has_probe && a->probe_train)
        snprintf(note, sizeof note, "(trained on %zu of %s, tested on all %zu)", r->probe_train_n,
                 a->probe_train, r->probe_test_n);
    else if (r->has_probe)
        snprintf(note, sizeof note, "(trained on the first %zu, tested on the last %zu)",
                 r->probe_train_n, r->probe_test_n);
    else
        snprintf(note, sizeof note, "%s", r->has_labels ? "(needs 2 classes)" : "(no --labels)");
    row(f, "linear probe accuracy", r->has_probe, r->probe_accuracy, note);
    snprintf(label, sizeof label, "k-means purity, k = %zu", r->classes);
    row(f, r->has_kmeans ? label : "k-means purity", r->has_kmeans, r->kmeans_purity, "");
    row(f, "k-means NMI (arithmetic normalisation)", r->has_kmeans, r->kmeans_nmi, "");
    if (!an)
        return;
    const double *score = an->d.score[a->score];
    double mean = 0.0;
    for (size_t i = 0; i < an->d.n; i++)
        mean += score[i];
    fprintf(f, "\nanomaly score %s (reference: %s)\n", ae_score_name(a->score),
            a->fit_threshold ? a->fit_threshold : "--data");
    row(f, "mean score", true, mean / (double)an->d.n, "");
    threshold_source(note, sizeof note, a, an);
    row(f, "threshold", true, an->threshold, note);
    snprintf(note, sizeof note, "of %zu (score above the threshold)", an->d.n);
    fprintf(f, "%-*s %12zu  %s\n", LABEL_W, "flagged as anomalous", an->flagged, note);
}

int main(int argc, char **argv)
{
    cli_prog = "aeeval";
    args_t a = {0};
    a.iw = 100;
    a.precision = -1;
    a.batch = 1000;
    a.seed = 1;
    a.score = AE_SCORE_DEFAULT;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;

    ae_error err = {{0}};
    ae_config cfg;
    ae_model m;
    ae_dataset ds = {0}, probe = {0}, pca = {0};
    ae_eval_result res = {0};
    anomaly_t an = {0};
    ae_status st = ae_checkpoint_load_model(a.model, (size_t)a.batch, &cfg, &m, &err);
    if (st != AE_OK)
        return cli_fail(st, &err);
    ae_threads_set((int)a.threads);
    if ((rc = cli_check_classifier(&m, a.model, false)) != 0 ||
        (rc = cli_select_precision(a.precision, &cfg)) != 0 || (rc = check_score(&a, &m)) != 0)
        goto out;
    rc = -1;
    if ((rc = load(&cfg, &m, "--data", a.data, a.labels, a.limit, &ds)) >= 0)
        goto out;
    if (a.probe_train) {
        if (!ds.labels) {
            cli_error("--probe-train: the probe is tested on --data, which has no labels "
                      "(--labels FILE)");
            rc = 2;
            goto out;
        }
        if ((rc = load(&cfg, &m, "--probe-train", a.probe_train, a.probe_labels, 0, &probe)) >= 0)
            goto out;
        if (!probe.labels) {
            cli_error("--probe-train %s has no labels (--probe-labels FILE)", a.probe_train);
            rc = 2;
            goto out;
        }
    }
    if (a.pca_train && !a.no_pca &&
        (rc = load(&cfg, &m, "--pca-train", a.pca_train, NULL, 0, &pca)) >= 0)
        goto out;
    if (!m.family->variational && a.iw > 0)
        a.iw = 0; /* no prior, no bound: reported as n/a */

    ae_eval_options opt = {0};
    opt.iw_samples = (size_t)a.iw;
    opt.seed = a.seed;
    /* Fixed binarisation is part of the model's input; a model trained on
     * dynamic draws is evaluated on one draw of the data (docs/eval.md). */
    opt.binarize = cfg.data.binarize;
    opt.probe_train = a.probe_train ? &probe : NULL;
    opt.pca_train = a.pca_train ? &pca : NULL;
    opt.skip_pca = a.no_pca;
    opt.corrupt = a.corrupt;
    bool tty = cli_stderr_is_tty();
    opt.progress = tty ? progress : NULL;
    st = ae_eval_run(&m, &ds, &opt, &res, &err);
    if (tty)
        fputs("\r\033[K", stderr);
    if (st != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    bool anomaly = anomaly_on(&a);
    if (anomaly && (rc = run_anomaly(&a, &cfg, &m, &ds, &res, &an)) >= 0)
        goto out;
    if (a.json)
        print_json(stdout, &a, &m, &res, anomaly ? &an : NULL);
    else
        print_table(stdout, &a, &m, &res, anomaly ? &an : NULL);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("standard output: write failed");
        rc = 1;
        goto out;
    }
    rc = 0;
out:
    ae_anomaly_data_free(&an.d);
    ae_eval_result_free(&res);
    ae_dataset_free(&ds);
    ae_dataset_free(&probe);
    ae_dataset_free(&pca);
    ae_model_free(&m);
    return rc;
}
