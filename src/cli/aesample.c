/* aesample: generate examples from a VAE's prior, decode given codes, or draw
 * interpolations, latent traversals and the latent manifold. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/batch.h"
#include "ae/checkpoint.h"
#include "ae/fileio.h"
#include "ae/latent.h"
#include "ae/model.h"
#include "ae/pictures.h"
#include "ae/rng.h"
#include "ae/table.h"
#include "cli.h"

#define SAMPLE_BATCH 256

/* --class C: one of the model's class names (data.class_names), or a class
 * number 0..classes-1.  Prints the error and returns false otherwise. */
static bool parse_class(const char *arg, const ae_config *cfg, const ae_model *m, long *cls)
{
    cli_classes c;
    cli_classes_get(cfg, &c);
    for (size_t k = 0; k < c.n; k++)
        if (strcmp(c.names[k], arg) == 0) {
            *cls = (long)k;
            return true;
        }
    bool digits = *arg != '\0';
    for (const char *p = arg; *p; p++)
        digits = digits && *p >= '0' && *p <= '9';
    if (!c.n || digits)
        return cli_parse_long("--class", arg, 0, (long)m->classes - 1, cls);
    char list[400];
    ae_names_join(c.names, c.n, list, sizeof list);
    cli_error("--class: '%s' is not one of the model's classes (%s), nor a number from 0 to %zu",
              arg, list, m->classes - 1);
    return false;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aesample --model MODEL.safetensors [options]\n"
            "\n"
            "Draws z from the prior N(0, T^2 I) of a VAE (or takes codes from --from-codes,\n"
            "or draws one of the pictures below), decodes them and writes a PNG grid and/or\n"
            "a CSV of the decoded values.\n"
            "\n"
            "options:\n"
            "  --model FILE        a model or checkpoint written by aetrain\n"
            "  --n N               how many samples (default 64)\n"
            "  --seed N            random seed (default 1)\n"
            "  --temperature T     scales the prior's standard deviation (default 1)\n"
            "  --out FILE.png      the picture grid (default samples.png, or interpolation.png,\n"
            "                      traversal.png, manifold.png for those pictures)\n"
            "  --cols N            grid columns (default: a square grid)\n"
            "  --csv FILE          also write the decoded values, one row per picture tile, in\n"
            "                      the units of the training data (x0,...,x{D-1})\n"
            "  --from-codes FILE   decode these codes instead of sampling: a CSV with columns\n"
            "                      z0..z{k-1} (aeencode's output) or exactly k numbers a row;\n"
            "                      works for autoencoders too\n"
            "  --class C|all       conditional VAE: generate class C (a class name of a model\n"
            "                      trained on label names, or a number from 0), or with\n"
            "                      'all' (the default) --n samples of every class, one row\n"
            "                      per class, in class order\n"
            "  --threads N         BLAS threads (0 = all cores, the default)\n"
            "  --precision P       fp32, bf16, or model (the model's train.precision, the\n"
            "                      default): the GEMMs' inputs (bf16 needs oneDNN, AVX-512)\n"
            "  --help, --version\n"
            "\n"
            "pictures of the latent space (codes are the encoder's means z = mu):\n"
            "  --data FILE         examples to encode (IDX or CSV, as for aetrain)\n"
            "  --labels FILE       their labels (a conditional VAE encodes with them)\n"
            "  --interpolate A,B   a strip decoding the straight line from the code of example\n"
            "                      A of --data to that of example B (indices from 0), in\n"
            "                      --steps points, both ends included\n"
            "  --traverse DIM      a grid varying latent dimension DIM (or a list 0,3,5, or\n"
            "                      'all': one row each) across --steps quantiles, the other\n"
            "                      dimensions at the code of example --index of --data; the\n"
            "                      quantiles are the prior's for a VAE and those of the codes of\n"
            "                      --data for an autoencoder\n"
            "  --index I           the example --traverse starts from (default 0)\n"
            "  --steps N           points along the line or the traversal (default 10)\n"
            "  --manifold          the --side x --side grid of decodings over two latent\n"
            "                      dimensions at the normal quantiles from P to 1-P, the\n"
            "                      others 0: dimensions 0 (across) and 1 (up) of a 2-D latent;\n"
            "                      for a larger latent, the two with the highest average KL\n"
            "                      over --data (then needed)\n"
            "  --range P           the quantile range of --manifold and --traverse (default\n"
            "                      0.05: quantiles 0.05 to 0.95)\n"
            "  --side N            --manifold grid size (default 20)\n"
            "  A conditional VAE decodes --interpolate and --traverse with the label of the\n"
            "  example (A, or --index) unless --class C says otherwise; --manifold needs\n"
            "  --class C.\n"
            "\n"
            "exit codes: 0 ok, 1 runtime failure, 2 bad usage or input\n");
}

static ae_status write_csv(const char *path, const ae_model *m, const float *y, size_t n,
                           ae_error *err)
{
    ae_atomic_file f;
    ae_status st = ae_atomic_open(&f, path, err);
    if (st != AE_OK)
        return st;
    size_t D = m->input_dim;
    for (size_t j = 0; j < D; j++)
        fprintf(f.fp, "%sx%zu", j ? "," : "", j);
    fputc('\n', f.fp);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < D; j++) /* back to the data's units: raw = (x - shift) / scale */
            fprintf(f.fp, "%s%.6g", j ? "," : "", (y[i * D + j] - m->shift[j]) / m->scale[j]);
        fputc('\n', f.fp);
    }
    return ae_atomic_commit(&f, err);
}

typedef enum { MODE_SAMPLE, MODE_CODES, MODE_INTERPOLATE, MODE_TRAVERSE, MODE_MANIFOLD } picture_mode;

/* An example index of ds from an option's text, or an error message. */
static bool parse_index(const char *opt, const char *s, const ae_dataset *ds, const char *path,
                        size_t *out)
{
    long v;
    if (!cli_parse_long(opt, s, 0, 2147483647L, &v))
        return false;
    if ((size_t)v >= ds->n) {
        cli_error("%s: example %ld is out of range: %s has %zu examples (0..%zu)", opt, v, path,
                  ds->n, ds->n - 1);
        return false;
    }
    *out = (size_t)v;
    return true;
}

/* What the picture's mode works from, and what it fills: the codes z
 * [count x L] to decode, the grid's columns, and the class of a conditional
 * model (-1: one row per class). */
typedef struct {
    ae_model *m;
    const ae_dataset *ds;        /* --data (empty when not given) */
    const char *model_path, *data_path;
    ae_binarize bin;             /* fixed binarisation is part of the model's input */
    long n, steps, side;
    double range;
    float *z;
    size_t count;
    long cols, cls;
} job_t;

/* Returns -1 when the mode filled the job, else the exit code (message given). */
static int fail_st(ae_status st, const ae_error *err) { return cli_fail(st, err); }

static int oom(void)
{
    cli_error("out of memory");
    return 1;
}

static int mode_codes(job_t *j, const char *codes_path)
{
    ae_error err = {{0}};
    ae_status st = ae_codes_load(codes_path, j->m->latent, &j->z, &j->count, &err);
    if (st != AE_OK)
        return fail_st(st, &err);
    if (j->m->classes && j->cls < 0) {
        cli_error("decoding codes with a conditional VAE needs one class: --class C");
        return 2;
    }
    return -1;
}

static int mode_sample(job_t *j, uint64_t seed, double temperature)
{
    ae_model *m = j->m;
    if (!m->family->variational) {
        cli_error("%s is a plain autoencoder (model.type %s): it has no prior to sample "
                  "from; decode chosen codes with --from-codes FILE", j->model_path,
                  m->family->name);
        return 2;
    }
    j->count = (size_t)j->n;
    if (m->classes && j->cls < 0) { /* n per class, one row per class */
        j->cols = j->n;
        j->count = (size_t)j->n * m->classes;
    }
    if (!(j->z = malloc(j->count * m->latent * sizeof(float)))) {
        cli_error("out of memory for %zu samples", j->count);
        return 1;
    }
    ae_rng rng;
    ae_rng_seed(&rng, seed);
    ae_model_prior_sample(m, j->count, &rng, (float)temperature, j->z);
    return -1;
}

static int mode_interpolate(job_t *j, const char *arg)
{
    size_t ab[2];
    const char *comma = strchr(arg, ',');
    char first[32];
    if (!comma || comma - arg >= (long)sizeof first) {
        cli_error("--interpolate: expected two example indices A,B, got '%s'", arg);
        return 2;
    }
    snprintf(first, sizeof first, "%.*s", (int)(comma - arg), arg);
    if (!parse_index("--interpolate", first, j->ds, j->data_path, &ab[0]) ||
        !parse_index("--interpolate", comma + 1, j->ds, j->data_path, &ab[1]))
        return 2;
    j->count = (size_t)j->steps;
    if (!(j->z = malloc(j->count * j->m->latent * sizeof(float))))
        return oom();
    ae_error err = {{0}};
    ae_status st = ae_latent_interpolate(j->m, j->ds, j->bin, ab[0], ab[1], j->count, j->z, &err);
    if (st != AE_OK)
        return fail_st(st, &err);
    if (j->m->classes && j->cls < 0)
        j->cls = j->ds->labels[ab[0]];
    if (!j->cols)
        j->cols = (long)j->count;
    return -1;
}

/* --traverse's dimensions: "all", or a list of indices below L, into dims. */
static int parse_dims(const char *arg, const char *model_path, size_t L, size_t *dims,
                      size_t *n_dims)
{
    *n_dims = 0;
    if (!strcmp(arg, "all")) {
        for (size_t d = 0; d < L; d++)
            dims[(*n_dims)++] = d;
        return -1;
    }
    for (const char *p = arg; *p;) {
        char item[32];
        size_t len = strcspn(p, ",");
        snprintf(item, sizeof item, "%.*s", (int)(len < 31 ? len : 31), p);
        char *stop;
        long d = strtol(item, &stop, 10);
        if (!len || *stop || item[0] == '-' || item[0] == '+' || item[0] == ' ') {
            cli_error("--traverse: expected a latent dimension (0..%zu), a list like 0,3,5, "
                      "or all, got '%s'", L - 1, arg);
            return 2;
        }
        if ((size_t)d >= L) {
            cli_error("--traverse: dimension %ld is out of range: the latent of %s has %zu "
                      "dimensions (0..%zu)", d, model_path, L, L - 1);
            return 2;
        }
        if (*n_dims >= L) {
            cli_error("--traverse: at most %zu dimensions", L);
            return 2;
        }
        dims[(*n_dims)++] = (size_t)d;
        p += len + (p[len] == ',');
    }
    if (*n_dims == 0) {
        cli_error("--traverse: expected a latent dimension (0..%zu), a list like 0,3,5, or "
                  "all, got '%s'", L - 1, arg);
        return 2;
    }
    return -1;
}

static int mode_traverse(job_t *j, const char *arg, const char *index_arg)
{
    const size_t L = j->m->latent;
    size_t start = 0, n_dims = 0;
    if (index_arg && !parse_index("--index", index_arg, j->ds, j->data_path, &start))
        return 2;
    size_t *dims = malloc(L * sizeof(size_t));
    if (!dims)
        return oom();
    int rc = parse_dims(arg, j->model_path, L, dims, &n_dims);
    if (rc < 0) {
        j->count = n_dims * (size_t)j->steps;
        if (!(j->z = malloc(j->count * L * sizeof(float)))) {
            free(dims);
            return oom();
        }
        ae_error err = {{0}};
        ae_status st = ae_latent_traverse(j->m, j->ds, j->bin, start, dims, n_dims,
                                          (size_t)j->steps, j->range, j->z, &err);
        if (st != AE_OK)
            rc = fail_st(st, &err);
    }
    free(dims);
    if (rc >= 0)
        return rc;
    if (j->m->classes && j->cls < 0)
        j->cls = j->ds->labels[start];
    if (!j->cols)
        j->cols = j->steps;
    return -1;
}

static int mode_manifold(job_t *j)
{
    const size_t L = j->m->latent;
    size_t da = 0, db = 1;
    if (L > 2) {
        /* the two dimensions the encoder uses most */
        double kl[2];
        ae_error err = {{0}};
        ae_status st = ae_latent_top_kl(j->m, j->ds, j->bin, &da, &db, kl, &err);
        if (st != AE_OK)
            return fail_st(st, &err);
        fprintf(stderr, "aesample: manifold over z%zu (across, KL %.3f) and z%zu (up, KL %.3f), "
                        "the dimensions with the highest KL over %s; the other %zu at 0\n",
                da, kl[0], db, kl[1], j->data_path, L - 2);
    }
    j->count = (size_t)j->side * (size_t)j->side;
    if (!(j->z = malloc(j->count * L * sizeof(float))))
        return oom();
    ae_manifold_codes(j->z, L, (size_t)j->side, da, db, j->range);
    j->cols = j->side;
    return -1;
}

int main(int argc, char **argv)
{
    cli_prog = "aesample";
    const char *model_path = NULL, *out_path = NULL, *csv_path = NULL;
    const char *codes_path = NULL, *class_arg = NULL, *data_path = NULL, *labels_path = NULL;
    const char *interp_arg = NULL, *traverse_arg = NULL, *index_arg = NULL;
    long n = 64, cols = 0, threads = 0, steps = 10, side = 20;
    double temperature = 1.0, range = 0.05;
    bool manifold = false, have_steps = false, have_range = false, have_side = false;
    uint64_t seed = 1;
    int precision = -1;
    const cli_option opts[] = {
        CLI_OPT_STR("--model", &model_path),
        CLI_OPT_STR("--out", &out_path),
        CLI_OPT_STR("--csv", &csv_path),
        CLI_OPT_STR("--from-codes", &codes_path),
        CLI_OPT_STR("--class", &class_arg),
        CLI_OPT_STR("--data", &data_path),
        CLI_OPT_STR("--labels", &labels_path),
        CLI_OPT_STR("--interpolate", &interp_arg),
        CLI_OPT_STR("--traverse", &traverse_arg),
        CLI_OPT_STR("--index", &index_arg),
        CLI_OPT_FLAG("--manifold", &manifold),
        CLI_OPT_LONG("--n", &n, 1, 1000000),
        CLI_OPT_LONG("--cols", &cols, 1, 10000),
        CLI_OPT_LONG("--threads", &threads, 0, 1024),
        CLI_OPT_PRECISION("--precision", &precision),
        CLI_OPT_U64("--seed", &seed),
        CLI_OPT_DOUBLE("--temperature", &temperature, 0.0, 1e6),
        CLI_OPT_LONG_GIVEN("--steps", &steps, 2, 1000, &have_steps),
        CLI_OPT_LONG_GIVEN("--side", &side, 2, 200, &have_side),
        CLI_OPT_DOUBLE_GIVEN("--range", &range, 1e-6, 0.499, &have_range),
    };
    int r = cli_parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], usage, NULL);
    if (r >= 0)
        return r;
    if (!model_path) {
        cli_error("--model is required (see --help)");
        return 2;
    }
    int modes = !!codes_path + !!interp_arg + !!traverse_arg + manifold;
    if (modes > 1) {
        cli_error("--from-codes, --interpolate, --traverse and --manifold each draw their own "
                  "picture: give one of them");
        return 2;
    }
    picture_mode mode = codes_path ? MODE_CODES : interp_arg ? MODE_INTERPOLATE
                 : traverse_arg ? MODE_TRAVERSE : manifold ? MODE_MANIFOLD : MODE_SAMPLE;
    if (have_steps && mode != MODE_INTERPOLATE && mode != MODE_TRAVERSE) {
        cli_error("--steps is for --interpolate and --traverse");
        return 2;
    }
    if (index_arg && mode != MODE_TRAVERSE) {
        cli_error("--index is for --traverse (--interpolate takes its examples as A,B)");
        return 2;
    }
    if (have_range && mode != MODE_MANIFOLD && mode != MODE_TRAVERSE) {
        cli_error("--range is for --manifold and --traverse");
        return 2;
    }
    if (have_side && mode != MODE_MANIFOLD) {
        cli_error("--side is for --manifold");
        return 2;
    }
    if ((data_path || labels_path) && (mode == MODE_SAMPLE || mode == MODE_CODES)) {
        cli_error("--data and --labels are for --interpolate, --traverse and --manifold");
        return 2;
    }
    if (labels_path && !data_path) {
        cli_error("--labels needs --data (the examples they label)");
        return 2;
    }
    if ((mode == MODE_INTERPOLATE || mode == MODE_TRAVERSE) && !data_path) {
        cli_error("%s needs --data FILE: its examples give the codes to start from",
                  mode == MODE_INTERPOLATE ? "--interpolate" : "--traverse");
        return 2;
    }
    if (!out_path)
        out_path = mode == MODE_INTERPOLATE ? "interpolation.png"
                 : mode == MODE_TRAVERSE    ? "traversal.png"
                 : mode == MODE_MANIFOLD    ? "manifold.png"
                                            : "samples.png";

    ae_threads_set((int)threads);
    ae_error err = {{0}};
    ae_config cfg;
    ae_model m;
    ae_status st = ae_checkpoint_load_model(model_path, SAMPLE_BATCH, &cfg, &m, &err);
    if (st != AE_OK)
        return cli_fail(st, &err);
    int rc = 0;
    float *z = NULL, *y = NULL;
    int32_t *labels = NULL;
    ae_dataset ds = {0};
    size_t count = (size_t)n, L = m.latent;
    long cls = -1; /* -1: every class (sampling), or the examples' own (interpolate, traverse) */
    if ((rc = cli_check_classifier(&m, model_path, false)) != 0 ||
        (rc = cli_select_precision(precision, &cfg)) != 0)
        goto out;
    if (class_arg && !m.classes) {
        cli_error("--class is for conditional VAEs (model.type cvae); %s has model.type %s",
                  model_path, ae_model_type_name(m.type));
        rc = 2;
        goto out;
    }
    if (class_arg && strcmp(class_arg, "all") != 0 && !parse_class(class_arg, &cfg, &m, &cls)) {
        rc = 2;
        goto out;
    }
    if (class_arg && cls < 0 && mode != MODE_SAMPLE) {
        cli_error("--class all is for sampling; these pictures decode with one class: --class C");
        rc = 2;
        goto out;
    }
    if (mode == MODE_MANIFOLD) {
        if (!m.family->variational) {
            cli_error("%s is a plain autoencoder: it has no prior, so the manifold over its "
                      "quantiles is not defined; use --traverse with --data", model_path);
            rc = 2;
            goto out;
        }
        if (L < 2) {
            cli_error("--manifold needs at least 2 latent dimensions; %s has 1", model_path);
            rc = 2;
            goto out;
        }
        if (L > 2 && !data_path) {
            cli_error("--manifold: the latent of %s has %zu dimensions; the grid is drawn over "
                      "the two with the highest KL over the examples of --data FILE, which is "
                      "needed", model_path, L);
            rc = 2;
            goto out;
        }
        if (m.classes && cls < 0) {
            cli_error("--manifold of a conditional VAE decodes every tile as one class: --class C");
            rc = 2;
            goto out;
        }
    }
    if (data_path) {
        st = ae_load_split(&cfg, data_path, labels_path, 0, &ds, &err);
        if (st != AE_OK) {
            rc = cli_fail(st, &err);
            goto out;
        }
        ae_data_ref ref = {"--data", data_path, labels_path, NULL, model_path, false};
        if ((st = ae_model_check_data(&m, &ds, &ref, &err)) != AE_OK) {
            rc = cli_fail(st, &err);
            goto out;
        }
        if (ds.n == 0) {
            cli_error("%s has no examples", data_path);
            rc = 2;
            goto out;
        }
    }

    job_t job = {&m, &ds, model_path, data_path,
                 cfg.data.binarize == AE_BIN_FIXED ? AE_BIN_FIXED : AE_BIN_NONE,
                 n, steps, side, range, NULL, 0, cols, cls};
    int mrc = mode == MODE_CODES         ? mode_codes(&job, codes_path)
              : mode == MODE_SAMPLE      ? mode_sample(&job, seed, temperature)
              : mode == MODE_INTERPOLATE ? mode_interpolate(&job, interp_arg)
              : mode == MODE_TRAVERSE    ? mode_traverse(&job, traverse_arg, index_arg)
                                         : mode_manifold(&job);
    z = job.z;
    count = job.count;
    cols = job.cols;
    cls = job.cls;
    if (mrc >= 0) {
        rc = mrc;
        goto out;
    }
    if (m.classes) {
        labels = malloc(count * sizeof(int32_t));
        if (!labels) {
            cli_error("out of memory");
            rc = 1;
            goto out;
        }
        for (size_t i = 0; i < count; i++)
            labels[i] = cls >= 0 ? (int32_t)cls : (int32_t)(i / (size_t)n);
    }
    if (!cols)
        cols = (long)ceil(sqrt((double)count));
    st = ae_picture_decode(out_path, &m, z, labels, count, (size_t)cols, &err);
    if (st == AE_OK && csv_path) {
        y = malloc(count * m.input_dim * sizeof(float));
        if (!y) {
            cli_error("out of memory");
            rc = 1;
            goto out;
        }
        ae_decode_all(&m, z, labels, count, y);
        st = write_csv(csv_path, &m, y, count, &err);
    }
    if (st != AE_OK)
        rc = cli_fail(st, &err);
out:
    free(z);
    free(y);
    free(labels);
    ae_dataset_free(&ds);
    ae_model_free(&m);
    return rc;
}
