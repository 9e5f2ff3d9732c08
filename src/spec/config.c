/* The JSON model spec: parse, apply --set overrides to the JSON tree, validate
 * every key strictly (unknown keys, types, ranges), fill defaults, and write
 * the resolved spec back.  This is the only file that includes cJSON.
 *
 * Overrides are applied to the parsed tree before validation so that a typo in
 * --set is caught by the same checks as a typo in the file.  Each override
 * remembers the topmost node it placed in the tree, so an error found inside
 * that subtree is reported against the --set argument instead of the file. */
#define _POSIX_C_SOURCE 200809L
#include "ae/config.h"

#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/fileio.h"
#include "ae/model.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* 2^53: every integer up to here is exact in a double (JSON numbers are read
 * as doubles), so seeds and example counts are accepted up to this value. */
#define MAX_EXACT_INT 9007199254740992.0
/* A spec is a few hundred bytes; refuse to slurp something absurd. */
#define MAX_SPEC_BYTES ((size_t)16 << 20)

/* Names in enum order: the index is the enum value. */
/* model.type's names, from the table of model families */
static const char *const *model_type_names(void)
{
    static const char *names[AE_MODEL_COUNT];
    for (int k = 0; k < AE_MODEL_COUNT; k++)
        names[k] = ae_family_get((ae_model_type)k)->name;
    return names;
}
static const char *const NOISES[] = {"none", "gaussian", "masking", "salt_pepper"};
static const char *const SPARSITIES[] = {"none", "l1", "kl", "topk"};
static const char *const ACTIVATIONS[] = {"relu", "leaky_relu", "elu", "tanh", "sigmoid", "linear"};
/* model.likelihood's names, from the likelihood table */
static const char *const *likelihood_names(void)
{
    static const char *names[AE_LIK_COUNT];
    for (int k = 0; k < AE_LIK_COUNT; k++)
        names[k] = ae_likelihood_get((ae_likelihood)k)->name;
    return names;
}
static const char *const INITS[] = {"auto", "he", "glorot", "pytorch"};
static const char *const SCALES[] = {"unit", "standardize", "none"};
static const char *const BINARIZE[] = {"none", "fixed", "dynamic"};
static const char *const OPTIMIZERS[] = {"adam", "sgd"};
static const char *const BACKENDS[] = {"auto", "onednn", "openblas"};
static const char *const PRECISIONS[] = {"fp32", "bf16"};

static const char *const TOP_KEYS[] = {"model", "data", "train", "output"};
static const char *const MODEL_KEYS[] = {"type",       "encoder",    "decoder", "latent",
                                         "activation", "likelihood", "beta",       "init",
                                         "hidden2",    "classes",    "code_activation", "tied",
                                         "missing_indicators",
                                         "noise",      "sparsity",   "contractive",
                                         "contractive_samples", "gaussian_std", "iw_samples",
                                         "init_from"};
static const char *const NOISE_KEYS[] = {"type", "std", "p"};
static const char *const SPARSITY_KEYS[] = {"type", "weight", "rho", "k"};
static const char *const PRETRAIN_KEYS[] = {"epochs"};
static const char *const DATA_KEYS[] = {"train",    "train_labels", "test",       "test_labels",
                                        "csv",      "scale",        "binarize",   "validation",
                                        "train_limit", "test_limit", "missing", "labeled",
                                        "class_names"};
static const char *const CSV_KEYS[] = {"label_column", "header", "missing"};
static const char *const MISSING[] = {"error", "allow"};
static const char *const DEFAULT_MISSING[] = {"", "NA", "NaN", "nan", "?"};
static const char *const TRAIN_KEYS[] = {"epochs",       "batch_size",   "optimizer", "lr",
                                         "momentum",     "adam_beta1",   "adam_beta2", "adam_eps",
                                         "weight_decay", "seed",         "threads",   "kl_warmup_epochs",
                                         "kl_capacity",  "kl_capacity_epochs", "pretrain", "backend",
                                         "precision", "lr_schedule", "early_stopping",
                                         "clip_grad_norm", "freeze_encoder_epochs"};
static const char *const OUTPUT_KEYS[] = {"dir", "checkpoint_every", "images", "keep_best"};
static const char *const SCHEDULES[] = {"none", "step", "cosine", "plateau", "burda"};
_Static_assert(sizeof SCHEDULES / sizeof SCHEDULES[0] == AE_LR_COUNT, "a name per schedule");
/* train.lr_schedule's parameters, and the schedules that take each */
static const char *const SCHEDULE_KEYS[] = {"type",   "step_epochs", "gamma",   "warmup_epochs",
                                            "min_lr", "factor",      "patience"};
#define SCHED_BIT(t) (1u << (t))
static const unsigned SCHEDULE_KEY_USERS[] = {
    0, SCHED_BIT(AE_LR_STEP), SCHED_BIT(AE_LR_STEP), SCHED_BIT(AE_LR_COSINE),
    SCHED_BIT(AE_LR_COSINE) | SCHED_BIT(AE_LR_PLATEAU), SCHED_BIT(AE_LR_PLATEAU),
    SCHED_BIT(AE_LR_PLATEAU)};
static const char *const EARLY_STOP_KEYS[] = {"patience", "min_delta"};

/* Keys that hold file paths: an override value that parses as a JSON number or
 * boolean is taken as written, so --set output.dir=2024 means the folder 2024. */
static const char *const PATH_KEYS[] = {"data.train", "data.train_labels", "data.test",
                                        "data.test_labels", "output.dir", "model.init_from"};

const char *ae_activation_name(ae_activation a)
{
    return (unsigned)a < COUNT(ACTIVATIONS) ? ACTIVATIONS[a] : "unknown";
}

const char *ae_scale_name(ae_scale s)
{
    return (unsigned)s < COUNT(SCALES) ? SCALES[s] : "unknown";
}

const char *ae_model_type_name(ae_model_type t)
{
    return (unsigned)t < AE_MODEL_COUNT ? ae_family_get(t)->name : "unknown";
}

ae_optim_settings ae_config_optim(const ae_config *c)
{
    return (ae_optim_settings){c->train.optimizer,  c->train.lr,       c->train.momentum,
                               c->train.adam_beta1, c->train.adam_beta2, c->train.adam_eps,
                               c->train.weight_decay};
}

void ae_config_defaults(ae_config *c)
{
    memset(c, 0, sizeof *c);
    c->model.type = AE_MODEL_VAE;
    c->model.n_encoder = 1;
    c->model.encoder[0] = 400;
    c->model.n_decoder = 1;
    c->model.decoder[0] = 400;
    c->model.latent = 20;
    c->model.activation = AE_ACT_RELU;
    c->model.likelihood = AE_LIK_BERNOULLI;
    c->model.gaussian_std = 1.0;
    c->model.beta = 1.0;
    c->model.iw_samples = 5;
    c->model.n_hidden2 = 1;
    c->model.hidden2[0] = 256;
    c->model.code_activation = AE_ACT_LINEAR;
    c->model.contractive_samples = 1;

    c->data.csv_header = -1;
    for (size_t k = 0; k < COUNT(DEFAULT_MISSING); k++)
        snprintf(c->data.csv_missing[k], sizeof c->data.csv_missing[k], "%s", DEFAULT_MISSING[k]);
    c->data.n_csv_missing = (int)COUNT(DEFAULT_MISSING);
    c->data.scale = AE_SCALE_UNIT;
    c->data.binarize = AE_BIN_NONE;

    c->train.epochs = 10;
    c->train.batch_size = 128;
    c->train.optimizer = AE_OPT_ADAM;
    c->train.lr = 1e-3;
    c->train.momentum = 0.9;
    c->train.adam_beta1 = 0.9;
    c->train.adam_beta2 = 0.999;
    c->train.adam_eps = 1e-8;
    c->train.lr_schedule.step_epochs = 10;
    c->train.lr_schedule.gamma = 0.1;
    c->train.lr_schedule.factor = 0.1;
    c->train.lr_schedule.patience = 10;
    c->train.weight_decay = 0.0;
    c->train.seed = 1;
    c->train.threads = 0;
    c->train.kl_warmup_epochs = 0.0;

    snprintf(c->output.dir, sizeof c->output.dir, "runs/default");
    c->output.checkpoint_every = 1;
    c->output.images = true;
}

/* ---------------------------------------------------------------- numbers */

/* Shortest of %.15g/%.16g/%.17g that reads back as exactly d.  (cJSON's own
 * printer accepts a 15-digit form within one epsilon, which is not exact.)
 * JSON wants '.', whatever the locale's decimal point. */
static void format_double(char *buf, size_t n, double d)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    for (char *p = buf; *p; p++)
        if (*p == ',')
            *p = '.';
}

/* ------------------------------------------------------------ descriptions */

/* The value found, for "expected X, got Y": numbers as written, strings
 * quoted, arrays and objects as compact JSON, cut to a readable length. */
static void describe(const cJSON *it, char *buf, size_t n)
{
    if (!it) {
        snprintf(buf, n, "nothing");
    } else if (cJSON_IsNumber(it)) {
        if (isfinite(it->valuedouble))
            format_double(buf, n, it->valuedouble);
        else
            snprintf(buf, n, "a number too large to represent");
    } else if (cJSON_IsTrue(it)) {
        snprintf(buf, n, "true");
    } else if (cJSON_IsFalse(it)) {
        snprintf(buf, n, "false");
    } else if (cJSON_IsNull(it)) {
        snprintf(buf, n, "null");
    } else {
        char *s = cJSON_PrintUnformatted(it);
        if (!s) {
            snprintf(buf, n, "%s", cJSON_IsString(it) ? "a string" : cJSON_IsArray(it) ? "an array"
                                                                                       : "an object");
            return;
        }
        size_t len = strlen(s), max = n > 64 ? 60 : n - 4;
        if (len > max) {
            /* Cut on a UTF-8 character boundary. */
            while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
                max--;
            snprintf(buf, n, "%.*s...", (int)max, s);
        } else {
            snprintf(buf, n, "%s", s);
        }
        free(s);
    }
}

/* Joins names with ", " for "known keys: ..." and "expected one of ...". */
static void join_names(char *buf, size_t n, const char *const *names, size_t count)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && k < n; i++) {
        int w = snprintf(buf + k, n - k, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        k += (size_t)w;
    }
}

/* Levenshtein distance, capped inputs, for "did you mean". */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return SIZE_MAX;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* -------------------------------------------------------------- overrides */

typedef struct {
    const char *text;  /* as given, "model.latent=2" */
    char key[256];     /* canonical key path, "model.encoder[1]" */
    const cJSON *node; /* topmost node it placed in the tree; NULL once replaced */
} override_rec;

typedef struct {
    const char *name; /* object member, or NULL for an array index */
    int index;
} path_comp;

static bool subtree_has(const cJSON *root, const cJSON *node)
{
    if (root == node)
        return true;
    for (const cJSON *ch = root->child; ch; ch = ch->next)
        if (subtree_has(ch, node))
            return true;
    return false;
}

/* A subtree about to be freed must not be blamed on an earlier override. */
static void forget_subtree(override_rec *recs, size_t n, const cJSON *old)
{
    for (size_t i = 0; i < n; i++)
        if (recs[i].node && subtree_has(old, recs[i].node))
            recs[i].node = NULL;
}

/* Splits "a.b[1].c" (modified in place) into components.  Returns the number
 * of components, or 0 with a reason when the key is malformed. */
static size_t split_key(char *key, path_comp *comps, const char **why)
{
    size_t n = 0;
    char *p = key;
    for (;;) {
        char *start = p;
        while (*p && *p != '.' && *p != '[' && *p != ']')
            p++;
        if (p == start) {
            *why = *p == '[' ? "an index must follow a key name" : "empty key name";
            return 0;
        }
        if (*p == ']') {
            *why = "unmatched ']'";
            return 0;
        }
        char delim = *p;
        *p = '\0';
        comps[n].name = start;
        comps[n++].index = 0;
        while (delim == '[') {
            p++;
            long v = 0;
            int digits = 0;
            while (*p >= '0' && *p <= '9') {
                if (++digits > 9) {
                    *why = "index too large";
                    return 0;
                }
                v = v * 10 + (*p++ - '0');
            }
            if (digits == 0 || *p != ']') {
                *why = "an index must be digits in brackets, like encoder[1]";
                return 0;
            }
            comps[n].name = NULL;
            comps[n++].index = (int)v;
            delim = *++p;
        }
        if (delim == '\0')
            return n;
        if (delim != '.') {
            *why = "expected '.' or '[' after ']'";
            return 0;
        }
        p++;
    }
}

static void append_comp(char *buf, size_t n, const path_comp *c)
{
    size_t k = strlen(buf);
    if (k >= n - 1)
        return;
    if (c->name)
        snprintf(buf + k, n - k, "%s%s", k ? "." : "", c->name);
    else
        snprintf(buf + k, n - k, "[%d]", c->index);
}

/* Applies one "key=value" to the tree and records it in recs[k]. */
static ae_status apply_override(cJSON *root, override_rec *recs, size_t k, const char *text,
                                ae_error *err)
{
    if (!text) {
        ae_error_set(err, "--set: missing argument (expected key=value)");
        return AE_ERR_USAGE;
    }
    const char *eq = strchr(text, '=');
    if (!eq) {
        ae_error_set(err, "--set %.300s: expected key=value, e.g. model.latent=2", text);
        return AE_ERR_USAGE;
    }
    if (eq == text) {
        ae_error_set(err, "--set %.300s: empty key before '='", text);
        return AE_ERR_USAGE;
    }
    size_t klen = (size_t)(eq - text);
    char *key = malloc(klen + 1);
    path_comp *comps = malloc((klen + 1) * sizeof *comps);
    cJSON *val = NULL;
    ae_status st = AE_OK;
    if (!key || !comps) {
        ae_error_set(err, "--set %.300s: out of memory", text);
        st = AE_ERR_NOMEM;
        goto done;
    }
    memcpy(key, text, klen);
    key[klen] = '\0';
    const char *why = "";
    size_t nc = split_key(key, comps, &why);
    if (nc == 0) {
        ae_error_set(err, "--set %.300s: malformed key (%s)", text, why);
        st = AE_ERR_USAGE;
        goto done;
    }
    override_rec *rec = &recs[k];
    rec->text = text;
    rec->key[0] = '\0';
    for (size_t i = 0; i < nc; i++)
        append_comp(rec->key, sizeof rec->key, &comps[i]);
    rec->node = NULL;

    /* The value is JSON when it parses as JSON, else the text itself. */
    const char *vtext = eq + 1;
    val = cJSON_ParseWithOpts(vtext, NULL, 1);
    bool is_path = false;
    for (size_t i = 0; i < COUNT(PATH_KEYS); i++)
        is_path |= strcmp(rec->key, PATH_KEYS[i]) == 0;
    if (val && is_path && (cJSON_IsNumber(val) || cJSON_IsBool(val))) {
        cJSON_Delete(val);
        val = NULL;
    }
    if (!val)
        val = cJSON_CreateString(vtext);
    if (!val) {
        ae_error_set(err, "--set %.300s: out of memory", text);
        st = AE_ERR_NOMEM;
        goto done;
    }

    /* Walk to the parent of the last component, creating objects as needed. */
    char where[256] = "";
    char got[96];
    cJSON *cur = root;
    cJSON *placed = NULL;
    for (size_t i = 0; i + 1 < nc; i++) {
        cJSON *next;
        append_comp(where, sizeof where, &comps[i]);
        if (comps[i].name) {
            next = cJSON_GetObjectItemCaseSensitive(cur, comps[i].name);
            if (!next && !comps[i + 1].name) {
                ae_error_set(err,
                             "--set %.300s: %s is not in the spec (the default applies), so it has "
                             "no element to replace; set the whole array, e.g. %s=[...]",
                             text, where, where);
                st = AE_ERR_CONFIG;
                goto done;
            }
            if (!next) {
                next = cJSON_CreateObject();
                if (!next || !cJSON_AddItemToObject(cur, comps[i].name, next)) {
                    cJSON_Delete(next);
                    ae_error_set(err, "--set %.300s: out of memory", text);
                    st = AE_ERR_NOMEM;
                    goto done;
                }
                if (!placed)
                    placed = next;
            }
        } else {
            next = cJSON_GetArrayItem(cur, comps[i].index);
            if (!next) {
                ae_error_set(err, "--set %.300s: index %d is out of range (the array has %d elements)",
                             text, comps[i].index, cJSON_GetArraySize(cur));
                st = AE_ERR_CONFIG;
                goto done;
            }
        }
        if (comps[i + 1].name ? !cJSON_IsObject(next) : !cJSON_IsArray(next)) {
            describe(next, got, sizeof got);
            ae_error_set(err, "--set %.300s: %s is not %s (it is %s)", text, where,
                         comps[i + 1].name ? "an object" : "an array", got);
            st = AE_ERR_CONFIG;
            goto done;
        }
        cur = next;
    }
    const path_comp *last = &comps[nc - 1];
    if (last->name) {
        cJSON *old = cJSON_GetObjectItemCaseSensitive(cur, last->name);
        if (old)
            forget_subtree(recs, k, old);
        bool ok = old ? cJSON_ReplaceItemInObjectCaseSensitive(cur, last->name, val)
                      : cJSON_AddItemToObject(cur, last->name, val);
        if (!ok) {
            ae_error_set(err, "--set %.300s: out of memory", text);
            st = AE_ERR_NOMEM;
            goto done;
        }
    } else {
        cJSON *old = cJSON_GetArrayItem(cur, last->index);
        if (!old) {
            ae_error_set(err, "--set %.300s: index %d is out of range (%s has %d elements)", text,
                         last->index, where, cJSON_GetArraySize(cur));
            st = AE_ERR_CONFIG;
            goto done;
        }
        forget_subtree(recs, k, old);
        if (!cJSON_ReplaceItemInArray(cur, last->index, val)) {
            ae_error_set(err, "--set %.300s: out of memory", text);
            st = AE_ERR_NOMEM;
            goto done;
        }
    }
    rec->node = placed ? placed : val;
    val = NULL; /* now owned by the tree */
done:
    cJSON_Delete(val);
    free(comps);
    free(key);
    return st;
}

/* ------------------------------------------------------------- validation */

typedef struct {
    ae_error *err;
    const char *source;        /* file name for messages, or NULL */
    const override_rec *recs;  /* overrides applied, in order */
    size_t n_recs;
    const cJSON *chain[4];     /* enclosing nodes of the value being checked */
    int depth;
} vctx;

/* The override that placed item or one of its enclosing nodes (innermost
 * first; among overrides of the same node, the last one). */
static const override_rec *origin_of(const vctx *v, const cJSON *item)
{
    const cJSON *nodes[5];
    int n = 0;
    if (item)
        nodes[n++] = item;
    for (int d = v->depth - 1; d >= 0; d--)
        nodes[n++] = v->chain[d];
    for (int j = 0; j < n; j++)
        for (size_t r = nodes[j] ? v->n_recs : 0; r-- > 0;)
            if (v->recs[r].node == nodes[j])
                return &v->recs[r];
    return NULL;
}

static ae_status fail(const vctx *v, const cJSON *item, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Reports "source: path: message", or "--set k=v: message" when the value came
 * from an override (the path is repeated only when it differs from the key). */
static ae_status fail(const vctx *v, const cJSON *item, const char *path, const char *fmt, ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const override_rec *o = origin_of(v, item);
    if (o && strcmp(o->key, path) == 0)
        ae_error_set(v->err, "--set %.300s: %s", o->text, msg);
    else if (o)
        ae_error_set(v->err, "--set %.300s: %s: %s", o->text, path, msg);
    else if (v->source)
        ae_error_set(v->err, "%s: %s: %s", v->source, path, msg);
    else
        ae_error_set(v->err, "%s: %s", path, msg);
    return AE_ERR_CONFIG;
}

static ae_status fail_expected(const vctx *v, const cJSON *item, const char *path,
                               const char *expected)
{
    char got[96];
    describe(item, got, sizeof got);
    return fail(v, item, path, "expected %s, got %s", expected, got);
}

static void key_path(char *buf, size_t n, const char *parent, const char *key)
{
    snprintf(buf, n, "%s%s%s", parent, parent[0] ? "." : "", key);
}

/* Rejects unknown and repeated keys in obj (path "" for the top level). */
static ae_status check_keys(const vctx *v, const cJSON *obj, const char *path,
                            const char *const *known, size_t n_known)
{
    char cpath[320];
    for (const cJSON *ch = obj->child; ch; ch = ch->next) {
        const char *name = ch->string ? ch->string : "";
        key_path(cpath, sizeof cpath, path, name);
        size_t best = SIZE_MAX, best_i = 0;
        bool found = false;
        for (size_t i = 0; i < n_known && !found; i++) {
            found = strcmp(name, known[i]) == 0;
            size_t d = edit_distance(name, known[i]);
            if (d < best) {
                best = d;
                best_i = i;
            }
        }
        if (!found) {
            char list[256], hint[96] = "";
            join_names(list, sizeof list, known, n_known);
            if (best <= 2 && best < strlen(name))
                snprintf(hint, sizeof hint, "; did you mean %s?", known[best_i]);
            return fail(v, ch, cpath, "unknown key (known keys: %s)%s", list, hint);
        }
        for (const cJSON *e = obj->child; e != ch; e = e->next)
            if (e->string && strcmp(e->string, name) == 0)
                return fail(v, ch, cpath, "key given twice");
    }
    return AE_OK;
}

/* Looks up a member that must be an object; *out is NULL when absent. */
static ae_status get_object(const vctx *v, const cJSON *parent, const char *ppath,
                            const char *name, const cJSON **out)
{
    char path[64];
    key_path(path, sizeof path, ppath, name);
    const cJSON *o = parent ? cJSON_GetObjectItemCaseSensitive(parent, name) : NULL;
    *out = o;
    if (o && !cJSON_IsObject(o))
        return fail_expected(v, o, path, "an object");
    return AE_OK;
}

/* Integer in [lo, hi]; hi >= INT_MAX means "no bound beyond the type" in the
 * wording of type errors. */
static ae_status int_value(const vctx *v, const cJSON *it, const char *path, double lo, double hi,
                           double *out)
{
    char phrase[96];
    if (hi >= (double)INT_MAX && lo == 1)
        snprintf(phrase, sizeof phrase, "a positive integer");
    else if (hi >= (double)INT_MAX && lo == 0)
        snprintf(phrase, sizeof phrase, "a non-negative integer");
    else
        snprintf(phrase, sizeof phrase, "an integer in [%.0f, %.0f]", lo, hi);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return fail_expected(v, it, path, phrase);
    double d = it->valuedouble;
    if (d != floor(d))
        return fail_expected(v, it, path, "an integer");
    if (d < lo) {
        if (lo == 1)
            snprintf(phrase, sizeof phrase, "a positive integer");
        else if (lo == 0)
            snprintf(phrase, sizeof phrase, "a non-negative integer");
        else
            snprintf(phrase, sizeof phrase, "an integer >= %.0f", lo);
        return fail_expected(v, it, path, phrase);
    }
    if (d > hi) {
        snprintf(phrase, sizeof phrase, "an integer <= %.0f", hi);
        return fail_expected(v, it, path, phrase);
    }
    *out = d;
    return AE_OK;
}

static ae_status rd_int(const vctx *v, const cJSON *obj, const char *sec, const char *key, double lo,
                        double hi, double *out)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!it)
        return AE_OK;
    char path[64];
    key_path(path, sizeof path, sec, key);
    return int_value(v, it, path, lo, hi, out);
}

static ae_status rd_int_field(const vctx *v, const cJSON *obj, const char *sec, const char *key,
                              int lo, int hi, int *out)
{
    double d = *out;
    ae_status st = rd_int(v, obj, sec, key, lo, hi, &d);
    *out = (int)d;
    return st;
}

typedef enum { NUM_GE0, NUM_GT0, NUM_UNIT } num_range;

static ae_status rd_num(const vctx *v, const cJSON *obj, const char *sec, const char *key,
                        num_range r, double *out)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!it)
        return AE_OK;
    char path[64];
    key_path(path, sizeof path, sec, key);
    static const char *const phrase[] = {"a number >= 0", "a number > 0", "a number in [0, 1)"};
    bool ok = cJSON_IsNumber(it) && isfinite(it->valuedouble);
    double d = ok ? it->valuedouble : 0;
    if (ok)
        ok = r == NUM_GE0 ? d >= 0 : r == NUM_GT0 ? d > 0 : (d >= 0 && d < 1);
    if (!ok)
        return fail_expected(v, it, path, phrase[r]);
    *out = d;
    return AE_OK;
}

static ae_status rd_enum(const vctx *v, const cJSON *obj, const char *sec, const char *key,
                         const char *const *names, size_t n, int *out)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!it)
        return AE_OK;
    if (cJSON_IsString(it))
        for (size_t i = 0; i < n; i++)
            if (strcmp(it->valuestring, names[i]) == 0) {
                *out = (int)i;
                return AE_OK;
            }
    char path[64], expected[200] = "one of ";
    key_path(path, sizeof path, sec, key);
    join_names(expected + 7, sizeof expected - 7, names, n);
    return fail_expected(v, it, path, expected);
}

static ae_status rd_string(const vctx *v, const cJSON *obj, const char *sec, const char *key,
                           bool nonempty, char *out, size_t size)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!it)
        return AE_OK;
    char path[64];
    key_path(path, sizeof path, sec, key);
    if (!cJSON_IsString(it))
        return fail_expected(v, it, path, nonempty ? "a non-empty string" : "a string");
    size_t len = strlen(it->valuestring);
    if (nonempty && len == 0)
        return fail_expected(v, it, path, "a non-empty string");
    if (len >= size)
        return fail(v, it, path, "expected a string shorter than %zu bytes, got %zu bytes", size, len);
    memcpy(out, it->valuestring, len + 1);
    return AE_OK;
}

static ae_status rd_bool(const vctx *v, const cJSON *obj, const char *sec, const char *key, bool *out)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!it)
        return AE_OK;
    char path[64];
    key_path(path, sizeof path, sec, key);
    if (!cJSON_IsBool(it))
        return fail_expected(v, it, path, "true or false");
    *out = cJSON_IsTrue(it);
    return AE_OK;
}

/* A list of layer widths; *given tells whether the key was present. */
static ae_status rd_widths(vctx *v, const cJSON *obj, const char *key, int *widths, int *n,
                           bool *given)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    *given = it != NULL;
    if (!it)
        return AE_OK;
    char path[64];
    key_path(path, sizeof path, "model", key);
    if (!cJSON_IsArray(it))
        return fail_expected(v, it, path, "an array of positive integers");
    int size = cJSON_GetArraySize(it);
    if (size > AE_MAX_LAYERS)
        return fail(v, it, path, "expected at most %d layer widths, got %d", AE_MAX_LAYERS, size);
    v->chain[v->depth++] = it;
    int i = 0;
    ae_status st = AE_OK;
    for (const cJSON *e = it->child; e && st == AE_OK; e = e->next, i++) {
        char epath[80];
        double d = 0;
        snprintf(epath, sizeof epath, "%s[%d]", path, i);
        st = int_value(v, e, epath, 1, AE_MAX_WIDTH, &d);
        widths[i] = (int)d;
    }
    v->depth--;
    if (st == AE_OK)
        *n = size;
    return st;
}

/* model.noise: {"type": ..., "std" (gaussian) | "p" (masking, salt_pepper)}. */
static ae_status parse_noise(vctx *v, const cJSON *model, ae_config *c)
{
    const cJSON *s;
    ae_status st = get_object(v, model, "model", "noise", &s);
    if (st != AE_OK || !s)
        return st;
    v->chain[v->depth++] = s;
    if ((st = check_keys(v, s, "model.noise", NOISE_KEYS, COUNT(NOISE_KEYS))) != AE_OK)
        return st;
    int e = (int)AE_NOISE_NONE;
    if ((st = rd_enum(v, s, "model.noise", "type", NOISES, COUNT(NOISES), &e)))
        return st;
    c->model.noise.type = (ae_noise)e;
    const cJSON *std = cJSON_GetObjectItemCaseSensitive(s, "std");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(s, "p");
    if (c->model.noise.type == AE_NOISE_GAUSSIAN) {
        if (p)
            return fail(v, p, "model.noise.p", "not used by noise type gaussian (give std)");
        if (!std)
            return fail(v, NULL, "model.noise.std", "required for noise type gaussian");
        if ((st = rd_num(v, s, "model.noise", "std", NUM_GT0, &c->model.noise.std)))
            return st;
    } else if (c->model.noise.type != AE_NOISE_NONE) {
        if (std)
            return fail(v, std, "model.noise.std", "not used by noise type %s (give p)",
                        NOISES[c->model.noise.type]);
        if (!p)
            return fail(v, NULL, "model.noise.p", "required for noise type %s",
                        NOISES[c->model.noise.type]);
        if ((st = rd_num(v, s, "model.noise", "p", NUM_UNIT, &c->model.noise.p)))
            return st;
        if (c->model.noise.p <= 0)
            return fail_expected(v, p, "model.noise.p", "a number in (0, 1)");
    } else if (std || p) {
        return fail(v, std ? std : p, std ? "model.noise.std" : "model.noise.p",
                    "not used by noise type none");
    }
    v->depth--;
    return AE_OK;
}

/* model.sparsity: {"type": "l1" (weight) | "kl" (rho, weight) | "topk" (k)}. */
static ae_status parse_sparsity(vctx *v, const cJSON *model, ae_config *c)
{
    const cJSON *s;
    ae_status st = get_object(v, model, "model", "sparsity", &s);
    if (st != AE_OK || !s)
        return st;
    v->chain[v->depth++] = s;
    if ((st = check_keys(v, s, "model.sparsity", SPARSITY_KEYS, COUNT(SPARSITY_KEYS))) != AE_OK)
        return st;
    int e = (int)AE_SPARSE_NONE;
    if ((st = rd_enum(v, s, "model.sparsity", "type", SPARSITIES, COUNT(SPARSITIES), &e)))
        return st;
    ae_sparsity t = (ae_sparsity)e;
    c->model.sparsity.type = t;
    /* which parameters each type takes */
    const bool takes[4][3] = {{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {0, 0, 1}};
    static const char *const names[3] = {"weight", "rho", "k"};
    for (int i = 0; i < 3; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(s, names[i]);
        char path[64];
        snprintf(path, sizeof path, "model.sparsity.%s", names[i]);
        if (it && !takes[t][i])
            return fail(v, it, path, "not used by sparsity type %s", SPARSITIES[t]);
        if (!it && takes[t][i])
            return fail(v, NULL, path, "required for sparsity type %s", SPARSITIES[t]);
    }
    if ((st = rd_num(v, s, "model.sparsity", "weight", NUM_GT0, &c->model.sparsity.weight)) ||
        (st = rd_num(v, s, "model.sparsity", "rho", NUM_UNIT, &c->model.sparsity.rho)) ||
        (st = rd_int_field(v, s, "model.sparsity", "k", 1, AE_MAX_WIDTH, &c->model.sparsity.k)))
        return st;
    if (t == AE_SPARSE_KL && !(c->model.sparsity.rho > 0))
        return fail_expected(v, cJSON_GetObjectItemCaseSensitive(s, "rho"), "model.sparsity.rho",
                             "a number in (0, 1)");
    v->depth--;
    return AE_OK;
}

static ae_status parse_model(vctx *v, const cJSON *root, ae_config *c)
{
    const cJSON *s;
    ae_status st = get_object(v, root, "", "model", &s);
    if (st != AE_OK)
        return st;
    v->depth = 1;
    v->chain[0] = s;
    if (s && (st = check_keys(v, s, "model", MODEL_KEYS, COUNT(MODEL_KEYS))) != AE_OK)
        return st;
    int e;
    bool enc_given, dec_given;
    e = (int)c->model.type;
    if ((st = rd_enum(v, s, "model", "type", model_type_names(), AE_MODEL_COUNT, &e)) != AE_OK)
        return st;
    c->model.type = (ae_model_type)e;
    if ((st = rd_widths(v, s, "encoder", c->model.encoder, &c->model.n_encoder, &enc_given)))
        return st;
    if ((st = rd_widths(v, s, "decoder", c->model.decoder, &c->model.n_decoder, &dec_given)))
        return st;
    /* a classifier has a softmax head on the code instead of a decoder */
    static const char *const NO_DECODER[] = {"decoder", "likelihood", "tied"};
    for (size_t k = 0; s && ae_family_get(c->model.type)->classifier && k < COUNT(NO_DECODER);
         k++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(s, NO_DECODER[k]);
        char key[32];
        snprintf(key, sizeof key, "model.%s", NO_DECODER[k]);
        if (it)
            return fail(v, it, key, "not used by model.type classifier (it has no decoder: a "
                                    "softmax over model.classes on the code)");
    }
    if ((st = rd_string(v, s, "model", "init_from", false, c->model.init_from,
                        sizeof c->model.init_from)))
        return st;
    if (!dec_given) {
        /* The default decoder mirrors the encoder. */
        c->model.n_decoder = c->model.n_encoder;
        for (int i = 0; i < c->model.n_encoder; i++)
            c->model.decoder[i] = c->model.encoder[c->model.n_encoder - 1 - i];
    }
    const cJSON *lat = s ? cJSON_GetObjectItemCaseSensitive(s, "latent") : NULL;
    if (cJSON_IsArray(lat)) {
        if (cJSON_GetArraySize(lat) != 2)
            return fail_expected(v, lat, "model.latent", "an integer, or [z1, z2] for hvae");
        double z1 = 0, z2 = 0;
        v->chain[v->depth++] = lat;
        if ((st = int_value(v, lat->child, "model.latent[0]", 1, AE_MAX_WIDTH, &z1)) ||
            (st = int_value(v, lat->child->next, "model.latent[1]", 1, AE_MAX_WIDTH, &z2)))
            return st;
        v->depth--;
        c->model.latent = (int)z1;
        c->model.latent2 = (int)z2;
    } else if ((st = rd_int_field(v, s, "model", "latent", 1, AE_MAX_WIDTH, &c->model.latent))) {
        return st;
    }
    bool h2_given;
    if ((st = rd_widths(v, s, "hidden2", c->model.hidden2, &c->model.n_hidden2, &h2_given)))
        return st;
    if (h2_given && !ae_family_get(c->model.type)->hierarchical)
        return fail(v, cJSON_GetObjectItemCaseSensitive(s, "hidden2"), "model.hidden2",
                    "only used by model.type hvae (this is %s)",
                    ae_model_type_name(c->model.type));
    const cJSON *iws = cJSON_GetObjectItemCaseSensitive(s, "iw_samples");
    if (iws && !ae_family_get(c->model.type)->importance_weighted)
        return fail(v, iws, "model.iw_samples", "only used by model.type iwae (this is %s)",
                    ae_model_type_name(c->model.type));
    if ((st = rd_int_field(v, s, "model", "iw_samples", 1, 4096, &c->model.iw_samples)))
        return st;
    if ((st = rd_int_field(v, s, "model", "classes", 0, AE_MAX_WIDTH, &c->model.classes)))
        return st;
    e = (int)c->model.code_activation;
    if ((st = rd_enum(v, s, "model", "code_activation", ACTIVATIONS, COUNT(ACTIVATIONS), &e)))
        return st;
    c->model.code_activation = (ae_activation)e;
    if ((st = rd_bool(v, s, "model", "tied", &c->model.tied)) ||
        (st = rd_bool(v, s, "model", "missing_indicators", &c->model.missing_indicators)) ||
        (st = rd_num(v, s, "model", "contractive", NUM_GE0, &c->model.contractive)) ||
        (st = rd_int_field(v, s, "model", "contractive_samples", 1, 1024,
                           &c->model.contractive_samples)) ||
        (st = parse_noise(v, s, c)) || (st = parse_sparsity(v, s, c)))
        return st;
    e = (int)c->model.activation;
    if ((st = rd_enum(v, s, "model", "activation", ACTIVATIONS, COUNT(ACTIVATIONS), &e)))
        return st;
    c->model.activation = (ae_activation)e;
    e = (int)c->model.likelihood;
    if ((st = rd_enum(v, s, "model", "likelihood", likelihood_names(), AE_LIK_COUNT, &e)))
        return st;
    c->model.likelihood = (ae_likelihood)e;
    const cJSON *gstd = cJSON_GetObjectItemCaseSensitive(s, "gaussian_std");
    if (gstd && c->model.likelihood != AE_LIK_GAUSSIAN)
        return fail(v, gstd, "model.gaussian_std", "only used by model.likelihood gaussian (this "
                    "is %s)", ae_likelihood_get(c->model.likelihood)->name);
    if ((st = rd_num(v, s, "model", "gaussian_std", NUM_GT0, &c->model.gaussian_std)))
        return st;
    if (!(c->model.gaussian_std >= 1e-6 && c->model.gaussian_std <= 1e6))
        return fail(v, gstd, "model.gaussian_std", "expected a number in [1e-6, 1e6], got %g",
                    c->model.gaussian_std);
    e = (int)c->model.init;
    if ((st = rd_enum(v, s, "model", "init", INITS, COUNT(INITS), &e)))
        return st;
    c->model.init = (ae_init)e;
    return rd_num(v, s, "model", "beta", NUM_GE0, &c->model.beta);
}

static ae_status parse_csv(vctx *v, const cJSON *data, ae_config *c)
{
    const cJSON *s;
    ae_status st = get_object(v, data, "data", "csv", &s);
    if (st != AE_OK || !s)
        return st;
    v->chain[v->depth++] = s;
    if ((st = check_keys(v, s, "data.csv", CSV_KEYS, COUNT(CSV_KEYS))) != AE_OK)
        return st;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(s, "label_column");
    if (cJSON_IsNumber(it)) {
        double d = 0;
        if ((st = int_value(v, it, "data.csv.label_column", 0, INT_MAX, &d)) != AE_OK)
            return st;
        snprintf(c->data.csv_label_column, sizeof c->data.csv_label_column, "%d", (int)d);
    } else if (it && !cJSON_IsString(it)) {
        return fail_expected(v, it, "data.csv.label_column",
                             "a column name or a 0-based column index");
    } else if ((st = rd_string(v, s, "data.csv", "label_column", false, c->data.csv_label_column,
                               sizeof c->data.csv_label_column)) != AE_OK) {
        return st;
    }
    it = cJSON_GetObjectItemCaseSensitive(s, "header");
    if (cJSON_IsString(it) && strcmp(it->valuestring, "auto") == 0)
        c->data.csv_header = -1;
    else if (cJSON_IsBool(it))
        c->data.csv_header = cJSON_IsTrue(it) ? 1 : 0;
    else if (it)
        return fail_expected(v, it, "data.csv.header", "\"auto\", true or false");
    it = cJSON_GetObjectItemCaseSensitive(s, "missing");
    if (it) {
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) > AE_MAX_MISSING_TOKENS)
            return fail_expected(v, it, "data.csv.missing",
                                 "an array of at most 16 strings (the cells that mean missing)");
        int n = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, it)
        {
            if (!cJSON_IsString(t) || strlen(t->valuestring) >= AE_MISSING_TOKEN_LEN ||
                strchr(t->valuestring, ','))
                return fail_expected(v, t, "data.csv.missing",
                                     "strings shorter than 32 characters, without commas");
            snprintf(c->data.csv_missing[n], sizeof c->data.csv_missing[n], "%s", t->valuestring);
            n++;
        }
        c->data.n_csv_missing = n;
    }
    v->depth--;
    return AE_OK;
}

/* Why name is not a valid class name, or NULL when it is. */
static const char *class_name_problem(const char *name)
{
    size_t len = strlen(name);
    if (len == 0)
        return "is empty";
    if (len > AE_MAX_CLASS_NAME_LEN)
        return "is longer than 127 bytes";
    if (strchr(name, ','))
        return "contains a comma (CSV cells cannot)";
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return "contains a control character";
    if (name[0] == ' ' || name[len - 1] == ' ' || name[0] == '\t' || name[len - 1] == '\t')
        return "has spaces around it (CSV cells are trimmed)";
    if (len >= 2 && name[0] == '"' && name[len - 1] == '"')
        return "is in double quotes (CSV cells lose them)";
    return NULL;
}

ae_status ae_config_set_class_names(ae_config *c, const char *const *names, size_t n,
                                    ae_error *err)
{
    if (n > AE_MAX_CLASS_NAMES) {
        ae_error_set(err, "data.class_names: %zu names, more than the %d a model can have", n,
                     AE_MAX_CLASS_NAMES);
        return AE_ERR_INPUT;
    }
    char buf[AE_CLASS_NAMES_BYTES];
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        const char *why = class_name_problem(names[i]);
        for (size_t j = 0; !why && j < i; j++)
            if (strcmp(names[j], names[i]) == 0)
                why = "appears twice";
        if (why) {
            ae_error_set(err, "data.class_names[%zu]: '%.40s' %s", i, names[i], why);
            return AE_ERR_INPUT;
        }
        size_t len = strlen(names[i]) + 1;
        if (used + len > sizeof buf) {
            ae_error_set(err, "data.class_names: the %zu names take more than %d bytes", n,
                         AE_CLASS_NAMES_BYTES);
            return AE_ERR_INPUT;
        }
        memcpy(buf + used, names[i], len);
        used += len;
    }
    memset(c->data.class_names, 0, sizeof c->data.class_names);
    memcpy(c->data.class_names, buf, used);
    c->data.n_class_names = (int)n;
    return AE_OK;
}

ae_status ae_config_take_class_names(ae_config *c, const ae_dataset *ds, const char *path,
                                     ae_error *err)
{
    if (c->data.n_class_names || !ds->n_class_names)
        return AE_OK;
    ae_status st = ae_config_set_class_names(c, (const char *const *)ds->class_names,
                                             ds->n_class_names, err);
    if (st != AE_OK)
        ae_error_prefix(err, "%s", path);
    return st;
}

size_t ae_config_class_names(const ae_config *c, const char *names[AE_MAX_CLASS_NAMES])
{
    const char *p = c->data.class_names;
    size_t n = (size_t)c->data.n_class_names;
    for (size_t i = 0; i < n; i++) {
        names[i] = p;
        p += strlen(p) + 1;
    }
    return n;
}

/* data.class_names: an array of distinct names. */
static ae_status parse_class_names(vctx *v, const cJSON *data, ae_config *c)
{
    const cJSON *it = data ? cJSON_GetObjectItemCaseSensitive(data, "class_names") : NULL;
    if (!it)
        return AE_OK;
    if (!cJSON_IsArray(it))
        return fail_expected(v, it, "data.class_names", "an array of class names (strings)");
    const char *names[AE_MAX_CLASS_NAMES];
    size_t n = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, it)
    {
        if (!cJSON_IsString(t))
            return fail_expected(v, t, "data.class_names", "an array of class names (strings)");
        if (n == AE_MAX_CLASS_NAMES)
            return fail(v, it, "data.class_names", "more than %d names", AE_MAX_CLASS_NAMES);
        names[n++] = t->valuestring;
    }
    ae_error e;
    if (ae_config_set_class_names(c, names, n, &e) != AE_OK)
        return fail(v, it, "data.class_names", "%s", strchr(e.msg, ':') ? strchr(e.msg, ':') + 2
                                                                      : e.msg);
    return AE_OK;
}

static ae_status parse_data(vctx *v, const cJSON *root, ae_config *c)
{
    const cJSON *s;
    ae_status st = get_object(v, root, "", "data", &s);
    if (st != AE_OK)
        return st;
    v->depth = 1;
    v->chain[0] = s;
    if (s && (st = check_keys(v, s, "data", DATA_KEYS, COUNT(DATA_KEYS))) != AE_OK)
        return st;
    if ((st = rd_string(v, s, "data", "train", true, c->data.train, sizeof c->data.train)) ||
        (st = rd_string(v, s, "data", "train_labels", false, c->data.train_labels,
                        sizeof c->data.train_labels)) ||
        (st = rd_string(v, s, "data", "test", false, c->data.test, sizeof c->data.test)) ||
        (st = rd_string(v, s, "data", "test_labels", false, c->data.test_labels,
                        sizeof c->data.test_labels)) ||
        (st = parse_csv(v, s, c)) || (st = parse_class_names(v, s, c)))
        return st;
    if (c->data.train[0] == '\0')
        return fail(v, NULL, "data.train", "required (the training data file)");
    int e = (int)c->data.scale;
    if ((st = rd_enum(v, s, "data", "scale", SCALES, COUNT(SCALES), &e)))
        return st;
    c->data.scale = (ae_scale)e;
    e = (int)c->data.binarize;
    if ((st = rd_enum(v, s, "data", "binarize", BINARIZE, COUNT(BINARIZE), &e)))
        return st;
    c->data.binarize = (ae_binarize)e;
    e = c->data.allow_missing ? 1 : 0;
    if ((st = rd_enum(v, s, "data", "missing", MISSING, COUNT(MISSING), &e)))
        return st;
    c->data.allow_missing = e == 1;
    if ((st = rd_num(v, s, "data", "validation", NUM_UNIT, &c->data.validation)))
        return st;
    double hi = (double)LONG_MAX < MAX_EXACT_INT ? (double)LONG_MAX : MAX_EXACT_INT;
    double d = (double)c->data.train_limit;
    if ((st = rd_int(v, s, "data", "train_limit", 0, hi, &d)))
        return st;
    c->data.train_limit = (long)d;
    d = (double)c->data.test_limit;
    if ((st = rd_int(v, s, "data", "test_limit", 0, hi, &d)))
        return st;
    c->data.test_limit = (long)d;
    d = (double)c->data.labeled;
    if ((st = rd_int(v, s, "data", "labeled", 0, hi, &d)))
        return st;
    c->data.labeled = (long)d;
    return AE_OK;
}

/* train.lr_schedule: {"type": ..., and the parameters that type takes}. */
static ae_status parse_schedule(vctx *v, const cJSON *train, ae_config *c)
{
    const cJSON *s;
    ae_status st = get_object(v, train, "train", "lr_schedule", &s);
    if (st != AE_OK || !s)
        return st;
    v->chain[v->depth++] = s;
    if ((st = check_keys(v, s, "train.lr_schedule", SCHEDULE_KEYS, COUNT(SCHEDULE_KEYS))))
        return st;
    int e = (int)c->train.lr_schedule.type;
    if ((st = rd_enum(v, s, "train.lr_schedule", "type", SCHEDULES, COUNT(SCHEDULES), &e)))
        return st;
    c->train.lr_schedule.type = (ae_lr_schedule)e;
    for (size_t k = 1; k < COUNT(SCHEDULE_KEYS); k++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(s, SCHEDULE_KEYS[k]);
        if (it && !(SCHEDULE_KEY_USERS[k] & SCHED_BIT(e))) {
            char path[64];
            snprintf(path, sizeof path, "train.lr_schedule.%s", SCHEDULE_KEYS[k]);
            return fail(v, it, path, "not used by schedule type %s", SCHEDULES[e]);
        }
    }
    const char *sec = "train.lr_schedule";
    if ((st = rd_int_field(v, s, sec, "step_epochs", 1, INT_MAX,
                           &c->train.lr_schedule.step_epochs)) ||
        (st = rd_num(v, s, sec, "gamma", NUM_GT0, &c->train.lr_schedule.gamma)) ||
        (st = rd_int_field(v, s, sec, "warmup_epochs", 0, INT_MAX,
                           &c->train.lr_schedule.warmup_epochs)) ||
        (st = rd_num(v, s, sec, "min_lr", NUM_GE0, &c->train.lr_schedule.min_lr)) ||
        (st = rd_num(v, s, sec, "factor", NUM_UNIT, &c->train.lr_schedule.factor)) ||
        (st = rd_int_field(v, s, sec, "patience", 0, INT_MAX, &c->train.lr_schedule.patience)))
        return st;
    if (c->train.lr_schedule.gamma > 1)
        return fail_expected(v, cJSON_GetObjectItemCaseSensitive(s, "gamma"),
                             "train.lr_schedule.gamma", "a number in (0, 1]");
    if (c->train.lr_schedule.factor <= 0)
        return fail_expected(v, cJSON_GetObjectItemCaseSensitive(s, "factor"),
                             "train.lr_schedule.factor", "a number in (0, 1)");
    v->depth--;
    return AE_OK;
}

static ae_status parse_train(vctx *v, const cJSON *root, ae_config *c)
{
    const cJSON *s;
    ae_status st = get_object(v, root, "", "train", &s);
    if (st != AE_OK)
        return st;
    v->depth = 1;
    v->chain[0] = s;
    if (s && (st = check_keys(v, s, "train", TRAIN_KEYS, COUNT(TRAIN_KEYS))) != AE_OK)
        return st;
    int e = (int)c->train.optimizer;
    if ((st = rd_int_field(v, s, "train", "epochs", 1, INT_MAX, &c->train.epochs)) ||
        (st = rd_int_field(v, s, "train", "batch_size", 1, 1000000, &c->train.batch_size)) ||
        (st = rd_enum(v, s, "train", "optimizer", OPTIMIZERS, COUNT(OPTIMIZERS), &e)))
        return st;
    c->train.optimizer = (ae_optimizer)e;
    e = (int)c->train.backend;
    if ((st = rd_enum(v, s, "train", "backend", BACKENDS, COUNT(BACKENDS), &e)))
        return st;
    c->train.backend = (ae_backend)e;
    e = (int)c->train.precision;
    if ((st = rd_enum(v, s, "train", "precision", PRECISIONS, COUNT(PRECISIONS), &e)))
        return st;
    c->train.precision = (ae_precision)e;
    double seed = (double)c->train.seed;
    if ((st = rd_num(v, s, "train", "lr", NUM_GT0, &c->train.lr)) ||
        (st = rd_num(v, s, "train", "momentum", NUM_UNIT, &c->train.momentum)) ||
        (st = rd_num(v, s, "train", "adam_beta1", NUM_UNIT, &c->train.adam_beta1)) ||
        (st = rd_num(v, s, "train", "adam_beta2", NUM_UNIT, &c->train.adam_beta2)) ||
        (st = rd_num(v, s, "train", "adam_eps", NUM_GT0, &c->train.adam_eps)) ||
        (st = rd_num(v, s, "train", "weight_decay", NUM_GE0, &c->train.weight_decay)) ||
        (st = rd_int(v, s, "train", "seed", 0, MAX_EXACT_INT, &seed)) ||
        (st = rd_int_field(v, s, "train", "threads", 0, 1024, &c->train.threads)) ||
        (st = rd_num(v, s, "train", "kl_warmup_epochs", NUM_GE0, &c->train.kl_warmup_epochs)) ||
        (st = rd_num(v, s, "train", "kl_capacity", NUM_GE0, &c->train.kl_capacity)) ||
        (st = rd_num(v, s, "train", "kl_capacity_epochs", NUM_GE0, &c->train.kl_capacity_epochs)) ||
        (st = rd_int_field(v, s, "train", "freeze_encoder_epochs", 0, INT_MAX,
                           &c->train.freeze_encoder_epochs)))
        return st;
    c->train.seed = (uint64_t)seed;
    const cJSON *pre;
    if ((st = get_object(v, s, "train", "pretrain", &pre)) != AE_OK)
        return st;
    if (pre) {
        v->chain[v->depth++] = pre;
        if ((st = check_keys(v, pre, "train.pretrain", PRETRAIN_KEYS, COUNT(PRETRAIN_KEYS))) ||
            (st = rd_int_field(v, pre, "train.pretrain", "epochs", 0, INT_MAX,
                               &c->train.pretrain_epochs)))
            return st;
        v->depth--;
    }
    if ((st = rd_num(v, s, "train", "clip_grad_norm", NUM_GE0, &c->train.clip_grad_norm)) ||
        (st = parse_schedule(v, s, c)))
        return st;
    const cJSON *es;
    if ((st = get_object(v, s, "train", "early_stopping", &es)) != AE_OK)
        return st;
    if (es) {
        v->chain[v->depth++] = es;
        if ((st = check_keys(v, es, "train.early_stopping", EARLY_STOP_KEYS,
                             COUNT(EARLY_STOP_KEYS))) ||
            (st = rd_int_field(v, es, "train.early_stopping", "patience", 0, INT_MAX,
                               &c->train.early_stop_patience)) ||
            (st = rd_num(v, es, "train.early_stopping", "min_delta", NUM_GE0,
                         &c->train.early_stop_min_delta)))
            return st;
        v->depth--;
    }
    return AE_OK;
}

static ae_status parse_output(vctx *v, const cJSON *root, ae_config *c)
{
    const cJSON *s;
    ae_status st = get_object(v, root, "", "output", &s);
    if (st != AE_OK)
        return st;
    v->depth = 1;
    v->chain[0] = s;
    if (s && (st = check_keys(v, s, "output", OUTPUT_KEYS, COUNT(OUTPUT_KEYS))) != AE_OK)
        return st;
    if ((st = rd_string(v, s, "output", "dir", true, c->output.dir, sizeof c->output.dir)) ||
        (st = rd_int_field(v, s, "output", "checkpoint_every", 0, INT_MAX,
                           &c->output.checkpoint_every)) ||
        (st = rd_bool(v, s, "output", "keep_best", &c->output.keep_best)))
        return st;
    return rd_bool(v, s, "output", "images", &c->output.images);
}

/* "runs/<base name without .json>", or "runs/default" without a source. */
static ae_status default_dir(ae_config *c, const char *source, ae_error *err)
{
    if (!source)
        return AE_OK;
    const char *base = strrchr(source, '/');
    base = base ? base + 1 : source;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".json") == 0)
        len -= 5;
    if (len == 0)
        return AE_OK;
    int w = snprintf(c->output.dir, sizeof c->output.dir, "runs/%.*s", (int)len, base);
    if (w < 0 || (size_t)w >= sizeof c->output.dir) {
        ae_error_set(err, "%s: output.dir: the default runs/<file name> is too long; set output.dir",
                     source);
        return AE_ERR_CONFIG;
    }
    return AE_OK;
}

/* 1-based line and column (in characters) of pos within text. */
static void line_col(const char *text, const char *pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < pos && *p; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

/* cJSON's error offset is approximate (often one past the offending
 * character), so the snippet shows a little of the line on both sides. */
static void report_malformed(const char *json, const char *pos, const char *source, ae_error *err)
{
    int line, col;
    if (!pos)
        pos = json;
    line_col(json, pos, &line, &col);
    const char *a = pos, *b = pos;
    for (int i = 0; i < 12 && a > json && a[-1] != '\n' && a[-1] != '\r'; i++)
        a--;
    if (a > json && a[-1] != '\n' && a[-1] != '\r') {
        /* Cut mid-line: start after a space, so the snippet begins on a token. */
        const char *sp = a;
        while (sp < pos && *sp != ' ' && *sp != '\t')
            sp++;
        a = sp < pos ? sp : a;
    }
    while (((unsigned char)*a & 0xC0) == 0x80 && a < pos)
        a++;
    while (a < pos && (*a == ' ' || *a == '\t'))
        a++;
    for (int i = 0; i < 12 && *b && *b != '\n' && *b != '\r'; i++)
        b++;
    while (b > pos && ((unsigned char)*b & 0xC0) == 0x80)
        b--;
    char near[32];
    size_t k = 0;
    for (const char *p = a; p < b; p++)
        near[k++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? '?' : *p;
    near[k] = '\0';
    char where[96];
    if (*pos == '\0' && k == 0)
        snprintf(where, sizeof where, "at the end of the input");
    else if (*pos == '\0')
        snprintf(where, sizeof where, "at the end of the input, after '%s'", near);
    else
        snprintf(where, sizeof where, "near '%s'", near);
    if (source)
        ae_error_set(err, "%s:%d:%d: malformed JSON %s", source, line, col, where);
    else
        ae_error_set(err, "line %d, column %d: malformed JSON %s", line, col, where);
}

static bool mirrored(const ae_config *c)
{
    if (c->model.n_decoder != c->model.n_encoder)
        return false;
    for (int i = 0; i < c->model.n_encoder; i++)
        if (c->model.decoder[i] != c->model.encoder[c->model.n_encoder - 1 - i])
            return false;
    return true;
}

/* Rules that tie keys together: which variants combine and which do not. */
static ae_status check_combinations(vctx *v, const ae_config *c)
{
    const ae_family *f = ae_family_get(c->model.type);
    const char *tn = f->name;
    v->depth = 0;
    bool labelled = f->conditional || f->classifier;
    if (labelled && c->model.classes < 2)
        return fail(v, NULL, "model.classes", "required for model.type %s: the number of label "
                                              "values (at least 2)", tn);
    if (!labelled && c->model.classes != 0)
        return fail(v, NULL, "model.classes", "only used by model.type cvae and classifier (this "
                                              "is %s)", tn);
    if (labelled && c->data.n_class_names && c->model.classes != c->data.n_class_names)
        return fail(v, NULL, "model.classes", "is %d, but data.class_names names %d classes",
                    c->model.classes, c->data.n_class_names);
    if (!f->classifier && c->model.init_from[0])
        return fail(v, NULL, "model.init_from", "only used by model.type classifier (this is %s)",
                    tn);
    if (!f->classifier && c->data.labeled != 0)
        return fail(v, NULL, "data.labeled", "only used by model.type classifier (this is %s)",
                    tn);
    if (!f->classifier && c->train.freeze_encoder_epochs != 0)
        return fail(v, NULL, "train.freeze_encoder_epochs", "only used by model.type classifier "
                                                            "(this is %s)", tn);
    if (f->hierarchical && c->model.latent2 == 0)
        return fail(v, NULL, "model.latent", "model.type %s needs two sizes, [z1, z2]", tn);
    if (!f->hierarchical && c->model.latent2 != 0)
        return fail(v, NULL, "model.latent", "[z1, z2] is for model.type hvae (this is %s)", tn);
    if (!f->code_regularisers && !f->classifier && c->model.code_activation != AE_ACT_LINEAR)
        return fail(v, NULL, "model.code_activation", "only for model.type ae and classifier: a "
                                                      "%s's code is a Gaussian sample", tn);
    if (c->model.sparsity.type != AE_SPARSE_NONE && !f->code_regularisers)
        return fail(v, NULL, "model.sparsity", "only for model.type ae (this is %s)", tn);
    if (c->model.sparsity.type == AE_SPARSE_KL && c->model.code_activation != AE_ACT_SIGMOID)
        return fail(v, NULL, "model.sparsity", "type kl needs code activations in (0, 1): set "
                                               "model.code_activation to sigmoid");
    if (c->model.sparsity.type == AE_SPARSE_TOPK && c->model.sparsity.k > c->model.latent)
        return fail(v, NULL, "model.sparsity.k", "k = %d is larger than model.latent = %d",
                    c->model.sparsity.k, c->model.latent);
    if (c->model.contractive > 0 && !f->code_regularisers)
        return fail(v, NULL, "model.contractive", "only for model.type ae (this is %s)", tn);
    if (c->model.contractive > 0 && c->model.sparsity.type == AE_SPARSE_TOPK)
        return fail(v, NULL, "model.contractive", "does not combine with topk sparsity (the "
                                                  "top-k selection has no useful Jacobian)");
    if (c->model.tied && !mirrored(c))
        return fail(v, NULL, "model.tied", "needs a mirrored architecture: model.decoder must "
                                           "be model.encoder reversed");
    if (c->model.tied && ae_likelihood_get(c->model.likelihood)->outputs != 1)
        return fail(v, NULL, "model.tied", "does not combine with model.likelihood %s (its "
                    "decoder has %zu outputs per feature; a tied decoder has one)",
                    ae_likelihood_get(c->model.likelihood)->name,
                    ae_likelihood_get(c->model.likelihood)->outputs);
    if (c->model.tied && !f->can_tie)
        return fail(v, NULL, "model.tied", "is for model.type ae, vae or iwae (this is %s)", tn);
    if (c->model.missing_indicators) {
        /* the encoder's input is [x | mask], 2D wide: a tied decoder would
         * mirror it, the contractive penalty and the greedy stages take
         * D inputs */
        const char *no = c->model.tied                ? "model.tied"
                         : c->model.contractive > 0   ? "model.contractive"
                         : c->train.pretrain_epochs > 0 ? "train.pretrain"
                                                        : NULL;
        if (no)
            return fail(v, NULL, "model.missing_indicators", "does not combine with %s (the "
                        "encoder's input is the data and its mask, twice as wide)", no);
    }
    if (c->train.pretrain_epochs > 0) {
        if (!f->code_regularisers)
            return fail(v, NULL, "train.pretrain", "greedy layer-wise pretraining is for "
                                                   "model.type ae (this is %s)", tn);
        if (c->model.n_encoder == 0 || !mirrored(c))
            return fail(v, NULL, "train.pretrain", "needs hidden layers and a mirrored "
                                                   "architecture (model.decoder = model.encoder "
                                                   "reversed)");
        if (c->model.tied)
            return fail(v, NULL, "train.pretrain", "does not combine with model.tied");
        if (c->model.sparsity.type != AE_SPARSE_NONE || c->model.contractive > 0)
            return fail(v, NULL, "train.pretrain", "does not combine with sparsity or "
                                                   "contractive penalties");
    }
    /* what watches the validation loss needs one: never the test set */
    const char *watcher = c->train.lr_schedule.type == AE_LR_PLATEAU ? "train.lr_schedule"
                          : c->train.early_stop_patience > 0          ? "train.early_stopping"
                          : c->output.keep_best                       ? "output.keep_best"
                                                                      : NULL;
    if (watcher && c->data.validation <= 0)
        return fail(v, NULL, watcher, "needs a validation loss to watch: set data.validation "
                    "to the fraction of the training data to hold out (the test set never "
                    "steers training)");
    if (c->train.lr_schedule.type == AE_LR_COSINE &&
        c->train.lr_schedule.min_lr > c->train.lr)
        return fail(v, NULL, "train.lr_schedule.min_lr", "%g is above train.lr = %g",
                    c->train.lr_schedule.min_lr, c->train.lr);
    if (c->train.kl_capacity > 0 && !f->variational)
        return fail(v, NULL, "train.kl_capacity", "needs a model with a KL term (vae, cvae, "
                                                  "hvae, iwae)");
    if (f->importance_weighted &&
        (double)c->model.iw_samples * c->train.batch_size > AE_MAX_DECODER_ROWS)
        return fail(v, NULL, "model.iw_samples", "%d samples for each of train.batch_size = %d "
                    "examples are more than %d decoder rows", c->model.iw_samples,
                    c->train.batch_size, AE_MAX_DECODER_ROWS);
    if (c->train.kl_capacity > 0 && f->importance_weighted)
        return fail(v, NULL, "train.kl_capacity", "does not combine with model.type %s (the "
                    "importance-weighted bound has no separate KL term to hold at C)", tn);
    return AE_OK;
}

ae_status ae_config_parse(ae_config *c, const char *json, const char *source,
                          const char *const *overrides, size_t n_overrides, ae_error *err)
{
    if (!c || !json || (n_overrides > 0 && !overrides)) {
        ae_error_set(err, "ae_config_parse: missing argument");
        return AE_ERR_USAGE;
    }
    /* return_parse_end, unlike cJSON_GetErrorPtr, is not global state. */
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root) {
        report_malformed(json, end, source, err);
        return AE_ERR_CONFIG;
    }
    ae_status st = AE_OK;
    override_rec *recs = NULL;
    ae_config *tmp = malloc(sizeof *tmp);
    if (n_overrides > 0 && n_overrides <= SIZE_MAX / sizeof *recs)
        recs = calloc(n_overrides, sizeof *recs);
    if (!tmp || (n_overrides > 0 && !recs)) {
        ae_error_set(err, "%s: out of memory", source ? source : "config");
        st = AE_ERR_NOMEM;
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        char got[96];
        describe(root, got, sizeof got);
        if (source)
            ae_error_set(err, "%s: expected a JSON object at the top level, got %s", source, got);
        else
            ae_error_set(err, "expected a JSON object at the top level, got %s", got);
        st = AE_ERR_CONFIG;
        goto done;
    }
    for (size_t i = 0; i < n_overrides && st == AE_OK; i++)
        st = apply_override(root, recs, i, overrides[i], err);
    if (st != AE_OK)
        goto done;

    ae_config_defaults(tmp);
    if ((st = default_dir(tmp, source, err)) != AE_OK)
        goto done;
    vctx v = {.err = err, .source = source, .recs = recs, .n_recs = n_overrides};
    if ((st = check_keys(&v, root, "", TOP_KEYS, COUNT(TOP_KEYS))) ||
        (st = parse_model(&v, root, tmp)) || (st = parse_data(&v, root, tmp)) ||
        (st = parse_train(&v, root, tmp)) || (st = parse_output(&v, root, tmp)) ||
        (st = check_combinations(&v, tmp)))
        goto done;
    *c = *tmp;
done:
    free(tmp);
    free(recs);
    cJSON_Delete(root);
    return st;
}

/* Reads a whole file into a NUL-terminated buffer. */
static ae_status read_text(const char *path, char **out, size_t *len, ae_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        ae_error_set(err, "%s: cannot open the spec: %s", path, strerror(errno));
        return AE_ERR_INPUT;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ae_status st = AE_OK;
    for (;;) {
        if (!buf) {
            ae_error_set(err, "%s: out of memory", path);
            st = AE_ERR_NOMEM;
            break;
        }
        if (n + 1 == cap) {
            if (cap >= MAX_SPEC_BYTES) {
                ae_error_set(err, "%s: larger than %zu bytes; is this a model spec?", path,
                             MAX_SPEC_BYTES);
                st = AE_ERR_INPUT;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                continue;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, fp);
        n += got;
        if (got == 0) {
            if (ferror(fp)) {
                ae_error_set(err, "%s: cannot read the spec: %s", path, strerror(errno));
                st = AE_ERR_INPUT;
            }
            break;
        }
    }
    fclose(fp);
    if (st != AE_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return AE_OK;
}

ae_status ae_config_load(ae_config *c, const char *path, const char *const *overrides,
                         size_t n_overrides, ae_error *err)
{
    if (!path)
        return ae_config_parse(c, "{}", NULL, overrides, n_overrides, err);
    char *text;
    size_t len;
    ae_status st = read_text(path, &text, &len, err);
    if (st != AE_OK)
        return st;
    /* cJSON stops at a NUL byte; a spec must not have one. */
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line, col;
        line_col(text, nul, &line, &col);
        ae_error_set(err, "%s:%d:%d: malformed JSON: a NUL byte (is this a text file?)", path, line,
                     col);
        st = AE_ERR_CONFIG;
    } else {
        st = ae_config_parse(c, text, path, overrides, n_overrides, err);
    }
    free(text);
    return st;
}

/* -------------------------------------------------------------- writing */

/* Why c cannot be written as a spec that parses back, or NULL when it can. */
static const char *unserializable(const ae_config *c)
{
    if ((unsigned)c->model.type >= AE_MODEL_COUNT ||
        (unsigned)c->model.activation >= COUNT(ACTIVATIONS) ||
        (unsigned)c->model.likelihood >= AE_LIK_COUNT ||
        (unsigned)c->model.init >= COUNT(INITS) ||
        (unsigned)c->model.code_activation >= COUNT(ACTIVATIONS) ||
        (unsigned)c->model.noise.type >= COUNT(NOISES) ||
        (unsigned)c->model.sparsity.type >= COUNT(SPARSITIES) ||
        (unsigned)c->data.scale >= COUNT(SCALES) || (unsigned)c->data.binarize >= COUNT(BINARIZE) ||
        (unsigned)c->train.optimizer >= COUNT(OPTIMIZERS) ||
        (unsigned)c->train.backend >= COUNT(BACKENDS) ||
        (unsigned)c->train.precision >= COUNT(PRECISIONS))
        return "an enum field holds an invalid value";
    if (c->model.n_encoder < 0 || c->model.n_encoder > AE_MAX_LAYERS || c->model.n_decoder < 0 ||
        c->model.n_decoder > AE_MAX_LAYERS)
        return "a layer count is outside [0, AE_MAX_LAYERS]";
    const double nums[] = {c->model.beta,        c->data.validation, c->train.lr,
                           c->train.momentum,    c->train.adam_beta1, c->train.adam_beta2,
                           c->train.adam_eps,    c->train.weight_decay, c->train.kl_warmup_epochs,
                           c->model.noise.std,   c->model.noise.p,    c->model.sparsity.weight,
                           c->model.sparsity.rho, c->model.contractive, c->train.kl_capacity,
                           c->model.gaussian_std,
                           c->train.kl_capacity_epochs};
    for (size_t i = 0; i < COUNT(nums); i++)
        if (!isfinite(nums[i]))
            return "a number is not finite";
    if (strnlen(c->data.train, AE_PATH_LEN) == AE_PATH_LEN ||
        strnlen(c->data.train_labels, AE_PATH_LEN) == AE_PATH_LEN ||
        strnlen(c->data.test, AE_PATH_LEN) == AE_PATH_LEN ||
        strnlen(c->data.test_labels, AE_PATH_LEN) == AE_PATH_LEN ||
        strnlen(c->output.dir, AE_PATH_LEN) == AE_PATH_LEN ||
        strnlen(c->data.csv_label_column, sizeof c->data.csv_label_column) ==
            sizeof c->data.csv_label_column)
        return "a string field is not NUL-terminated";
    return NULL;
}

/* Numbers go in as raw text so that they print exactly (see format_double). */
static void put_raw(cJSON *o, const char *k, const char *text, bool *ok)
{
    if (!cJSON_AddRawToObject(o, k, text))
        *ok = false;
}

static void put_num(cJSON *o, const char *k, double d, bool *ok)
{
    char buf[40];
    format_double(buf, sizeof buf, d);
    put_raw(o, k, buf, ok);
}

static void put_int(cJSON *o, const char *k, long long x, bool *ok)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", x);
    put_raw(o, k, buf, ok);
}

static void put_str(cJSON *o, const char *k, const char *s, bool *ok)
{
    if (!cJSON_AddStringToObject(o, k, s))
        *ok = false;
}

static void put_widths(cJSON *o, const char *k, const int *w, int n, bool *ok)
{
    cJSON *a = cJSON_AddArrayToObject(o, k);
    if (!a) {
        *ok = false;
        return;
    }
    for (int i = 0; i < n; i++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", w[i]);
        cJSON *x = cJSON_CreateRaw(buf);
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            *ok = false;
            return;
        }
    }
}

static cJSON *put_obj(cJSON *o, const char *k, bool *ok)
{
    cJSON *s = cJSON_AddObjectToObject(o, k);
    if (!s)
        *ok = false;
    return s;
}

char *ae_config_to_json(const ae_config *c)
{
    if (!c || unserializable(c))
        return NULL;
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;

    cJSON *m = put_obj(root, "model", &ok);
    const ae_family *fam = ae_family_get(c->model.type);
    put_str(m, "type", fam->name, &ok);
    put_widths(m, "encoder", c->model.encoder, c->model.n_encoder, &ok);
    if (!fam->classifier)
        put_widths(m, "decoder", c->model.decoder, c->model.n_decoder, &ok);
    if (fam->hierarchical) {
        int both[2] = {c->model.latent, c->model.latent2};
        put_widths(m, "latent", both, 2, &ok);
        put_widths(m, "hidden2", c->model.hidden2, c->model.n_hidden2, &ok);
    } else {
        put_int(m, "latent", c->model.latent, &ok);
    }
    if (fam->conditional || fam->classifier)
        put_int(m, "classes", c->model.classes, &ok);
    if (fam->classifier)
        put_str(m, "init_from", c->model.init_from, &ok);
    if (fam->importance_weighted)
        put_int(m, "iw_samples", c->model.iw_samples, &ok);
    put_str(m, "activation", ACTIVATIONS[c->model.activation], &ok);
    if (!fam->classifier)
        put_str(m, "likelihood", ae_likelihood_get(c->model.likelihood)->name, &ok);
    if (c->model.likelihood == AE_LIK_GAUSSIAN)
        put_num(m, "gaussian_std", c->model.gaussian_std, &ok);
    put_num(m, "beta", c->model.beta, &ok);
    put_str(m, "init", INITS[c->model.init], &ok);
    put_str(m, "code_activation", ACTIVATIONS[c->model.code_activation], &ok);
    if (!fam->classifier && !cJSON_AddBoolToObject(m, "tied", c->model.tied))
        ok = false;
    if (!cJSON_AddBoolToObject(m, "missing_indicators", c->model.missing_indicators))
        ok = false;
    cJSON *noise = put_obj(m, "noise", &ok);
    put_str(noise, "type", NOISES[c->model.noise.type], &ok);
    if (c->model.noise.type == AE_NOISE_GAUSSIAN)
        put_num(noise, "std", c->model.noise.std, &ok);
    else if (c->model.noise.type != AE_NOISE_NONE)
        put_num(noise, "p", c->model.noise.p, &ok);
    cJSON *sp = put_obj(m, "sparsity", &ok);
    put_str(sp, "type", SPARSITIES[c->model.sparsity.type], &ok);
    if (c->model.sparsity.type == AE_SPARSE_L1 || c->model.sparsity.type == AE_SPARSE_KL)
        put_num(sp, "weight", c->model.sparsity.weight, &ok);
    if (c->model.sparsity.type == AE_SPARSE_KL)
        put_num(sp, "rho", c->model.sparsity.rho, &ok);
    if (c->model.sparsity.type == AE_SPARSE_TOPK)
        put_int(sp, "k", c->model.sparsity.k, &ok);
    put_num(m, "contractive", c->model.contractive, &ok);
    put_int(m, "contractive_samples", c->model.contractive_samples, &ok);

    cJSON *d = put_obj(root, "data", &ok);
    put_str(d, "train", c->data.train, &ok);
    put_str(d, "train_labels", c->data.train_labels, &ok);
    put_str(d, "test", c->data.test, &ok);
    put_str(d, "test_labels", c->data.test_labels, &ok);
    cJSON *csv = put_obj(d, "csv", &ok);
    put_str(csv, "label_column", c->data.csv_label_column, &ok);
    if (c->data.csv_header < 0)
        put_str(csv, "header", "auto", &ok);
    else if (!cJSON_AddBoolToObject(csv, "header", c->data.csv_header != 0))
        ok = false;
    cJSON *miss = cJSON_AddArrayToObject(csv, "missing");
    for (int k = 0; miss && k < c->data.n_csv_missing; k++) {
        cJSON *t = cJSON_CreateString(c->data.csv_missing[k]);
        if (!t || !cJSON_AddItemToArray(miss, t))
            ok = false;
    }
    if (!miss)
        ok = false;
    put_str(d, "missing", MISSING[c->data.allow_missing ? 1 : 0], &ok);
    put_str(d, "scale", SCALES[c->data.scale], &ok);
    put_str(d, "binarize", BINARIZE[c->data.binarize], &ok);
    put_num(d, "validation", c->data.validation, &ok);
    put_int(d, "train_limit", c->data.train_limit, &ok);
    put_int(d, "test_limit", c->data.test_limit, &ok);
    if (fam->classifier)
        put_int(d, "labeled", c->data.labeled, &ok);
    if (c->data.n_class_names) {
        const char *names[AE_MAX_CLASS_NAMES];
        size_t n = ae_config_class_names(c, names);
        cJSON *arr = cJSON_AddArrayToObject(d, "class_names");
        for (size_t k = 0; arr && k < n; k++) {
            cJSON *t = cJSON_CreateString(names[k]);
            if (!t || !cJSON_AddItemToArray(arr, t))
                ok = false;
        }
        if (!arr)
            ok = false;
    }

    cJSON *t = put_obj(root, "train", &ok);
    put_int(t, "epochs", c->train.epochs, &ok);
    put_int(t, "batch_size", c->train.batch_size, &ok);
    put_str(t, "optimizer", OPTIMIZERS[c->train.optimizer], &ok);
    put_str(t, "backend", BACKENDS[c->train.backend], &ok);
    put_str(t, "precision", PRECISIONS[c->train.precision], &ok);
    put_num(t, "lr", c->train.lr, &ok);
    put_num(t, "momentum", c->train.momentum, &ok);
    put_num(t, "adam_beta1", c->train.adam_beta1, &ok);
    put_num(t, "adam_beta2", c->train.adam_beta2, &ok);
    put_num(t, "adam_eps", c->train.adam_eps, &ok);
    put_num(t, "weight_decay", c->train.weight_decay, &ok);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->train.seed);
    put_raw(t, "seed", seed, &ok);
    put_int(t, "threads", c->train.threads, &ok);
    put_num(t, "kl_warmup_epochs", c->train.kl_warmup_epochs, &ok);
    put_num(t, "kl_capacity", c->train.kl_capacity, &ok);
    put_num(t, "kl_capacity_epochs", c->train.kl_capacity_epochs, &ok);
    cJSON *pre = put_obj(t, "pretrain", &ok);
    put_int(pre, "epochs", c->train.pretrain_epochs, &ok);
    cJSON *ls = put_obj(t, "lr_schedule", &ok);
    ae_lr_schedule lt = c->train.lr_schedule.type;
    put_str(ls, "type", SCHEDULES[lt], &ok);
    if (lt == AE_LR_STEP) {
        put_int(ls, "step_epochs", c->train.lr_schedule.step_epochs, &ok);
        put_num(ls, "gamma", c->train.lr_schedule.gamma, &ok);
    } else if (lt == AE_LR_COSINE) {
        put_int(ls, "warmup_epochs", c->train.lr_schedule.warmup_epochs, &ok);
        put_num(ls, "min_lr", c->train.lr_schedule.min_lr, &ok);
    } else if (lt == AE_LR_PLATEAU) {
        put_num(ls, "factor", c->train.lr_schedule.factor, &ok);
        put_int(ls, "patience", c->train.lr_schedule.patience, &ok);
        put_num(ls, "min_lr", c->train.lr_schedule.min_lr, &ok);
    }
    cJSON *es = put_obj(t, "early_stopping", &ok);
    put_int(es, "patience", c->train.early_stop_patience, &ok);
    put_num(es, "min_delta", c->train.early_stop_min_delta, &ok);
    put_num(t, "clip_grad_norm", c->train.clip_grad_norm, &ok);
    if (fam->classifier)
        put_int(t, "freeze_encoder_epochs", c->train.freeze_encoder_epochs, &ok);

    cJSON *o = put_obj(root, "output", &ok);
    put_str(o, "dir", c->output.dir, &ok);
    put_int(o, "checkpoint_every", c->output.checkpoint_every, &ok);
    if (!cJSON_AddBoolToObject(o, "images", c->output.images) ||
        !cJSON_AddBoolToObject(o, "keep_best", c->output.keep_best))
        ok = false;

    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}

ae_status ae_config_save(const ae_config *c, const char *path, ae_error *err)
{
    if (!c || !path) {
        ae_error_set(err, "ae_config_save: missing argument");
        return AE_ERR_USAGE;
    }
    const char *why = unserializable(c);
    if (why) {
        ae_error_set(err, "%s: cannot write the spec: %s", path, why);
        return AE_ERR_USAGE;
    }
    char *text = ae_config_to_json(c);
    if (!text) {
        ae_error_set(err, "%s: out of memory while writing the spec", path);
        return AE_ERR_NOMEM;
    }
    size_t n = strlen(text);
    char *buf = realloc(text, n + 2);
    if (!buf) {
        free(text);
        ae_error_set(err, "%s: out of memory while writing the spec", path);
        return AE_ERR_NOMEM;
    }
    buf[n] = '\n';
    buf[n + 1] = '\0';
    ae_status st = ae_write_file_atomic(path, buf, n + 1, err);
    free(buf);
    return st;
}
