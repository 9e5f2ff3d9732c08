/* The JSON model spec: parsing with strict validation, --set overrides,
 * defaults, and the fully resolved spec written back as JSON.
 *
 * ae_config is a plain value (no pointers): copy it freely.  Every key is
 * documented in docs/config.md. */
#ifndef AE_CONFIG_H
#define AE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ae/data.h"
#include "ae/layer.h"
#include "ae/backend.h"
#include "ae/likelihood.h"
#include "ae/noise.h"
#include "ae/optim.h"
#include "ae/status.h"

#define AE_MAX_WIDTH 65536   /* largest layer width or latent size */
#define AE_PATH_LEN 4096

/* The model families; each is one file of src/model/ and one entry of its
 * table (src/model/families.c), which also holds the names. */
typedef enum {
    AE_MODEL_AE,
    AE_MODEL_VAE,
    AE_MODEL_CVAE,
    AE_MODEL_HVAE,
    AE_MODEL_IWAE,
    AE_MODEL_CLASSIFIER,
    AE_MODEL_COUNT
} ae_model_type;
typedef enum { AE_SPARSE_NONE, AE_SPARSE_L1, AE_SPARSE_KL, AE_SPARSE_TOPK } ae_sparsity;
/* Weight initialisation (biases start at zero unless said otherwise):
 *   auto     He-uniform, bound sqrt(6/fan_in), for layers followed by relu,
 *            leaky_relu or elu; Glorot-uniform, bound sqrt(6/(fan_in+fan_out)),
 *            for every other layer (the code/head and output layers included)
 *   he       He-uniform for every layer
 *   glorot   Glorot-uniform for every layer
 *   pytorch  PyTorch's nn.Linear default: weights and biases uniform in
 *            +-1/sqrt(fan_in) */
typedef enum { AE_INIT_AUTO, AE_INIT_HE, AE_INIT_GLOROT, AE_INIT_PYTORCH } ae_init;
typedef enum { AE_SCALE_UNIT, AE_SCALE_STANDARDIZE, AE_SCALE_NONE } ae_scale;
typedef enum { AE_BIN_NONE, AE_BIN_FIXED, AE_BIN_DYNAMIC } ae_binarize;

#define AE_MAX_MISSING_TOKENS 16 /* data.csv.missing: at most this many tokens */
#define AE_MISSING_TOKEN_LEN 32  /* each shorter than this */
#define AE_CLASS_NAMES_BYTES 16384 /* data.class_names: all names with a NUL after each */

/* train.lr_schedule.type (src/train/schedule.c) */
typedef enum {
    AE_LR_NONE,    /* train.lr throughout */
    AE_LR_STEP,    /* lr * gamma^floor((epoch - 1) / step_epochs) */
    AE_LR_COSINE,  /* linear warm-up, then half a cosine down to min_lr */
    AE_LR_PLATEAU, /* lr * factor after `patience` epochs without a better validation loss */
    AE_LR_BURDA,   /* Burda et al. 2016: lr * 10^(-i/7) for 3^i epochs, i = 0..7 */
    AE_LR_COUNT
} ae_lr_schedule;

typedef struct {
    struct {
        ae_model_type type;            /* "ae" | "vae" | "cvae" | "hvae" | "iwae" | "classifier";
                                        * default "vae" */
        int n_encoder;                 /* number of hidden encoder layers */
        int encoder[AE_MAX_LAYERS];    /* widths; default [400] */
        int n_decoder;
        int decoder[AE_MAX_LAYERS];    /* widths; default: encoder reversed */
        int latent;                    /* default 20; z1 for hvae */
        int latent2;                   /* hvae: z2 (model.latent [z1, z2]); else 0 */
        int n_hidden2;
        int hidden2[AE_MAX_LAYERS];    /* hvae: widths of q(z2|z1) and p(z1|z2); default [256] */
        int classes;                   /* cvae, classifier: number of label values; else 0 */
        ae_activation code_activation; /* ae, classifier: activation of the code layer;
                                        * default linear */
        /* classifier: a checkpoint of a trained ae/vae/hvae/iwae whose
         * encoder (hidden layers and code layer; a VAE's mu head) and data
         * scaling start the classifier; "" = none (random weights) */
        char init_from[AE_PATH_LEN];
        bool tied;                     /* decoder weights = transposed encoder weights */
        bool missing_indicators;       /* the encoder also sees a 0/1 missing mask per feature */
        ae_noise_spec noise;           /* default none */
        struct {
            ae_sparsity type;          /* default none */
            double weight;             /* l1, kl */
            double rho;                /* kl: target mean activation */
            int k;                     /* topk */
        } sparsity;
        double contractive;            /* lambda of ||J||_F^2; 0 = off */
        int contractive_samples;       /* random projections for deep encoders; default 1 */
        ae_activation activation;      /* hidden layers; default relu */
        ae_likelihood likelihood;      /* default bernoulli */
        double gaussian_std;           /* likelihood gaussian: std of N(f(z), std^2 I); default 1 */
        double beta;                   /* KL weight; default 1 */
        int iw_samples;                /* iwae: K samples per example; default 5 */
        ae_init init;                  /* weight initialisation; default auto */
    } model;
    struct {
        char train[AE_PATH_LEN];        /* required */
        char train_labels[AE_PATH_LEN]; /* "" = none */
        char test[AE_PATH_LEN];         /* "" = none */
        char test_labels[AE_PATH_LEN];
        char csv_label_column[256];     /* data.csv.label_column; "" = none */
        int csv_header;                 /* data.csv.header: -1 "auto", 0 false, 1 true */
        /* data.csv.missing: the cells that mean "missing" (after trimming);
         * default "", "NA", "NaN", "nan", "?" */
        char csv_missing[AE_MAX_MISSING_TOKENS][AE_MISSING_TOKEN_LEN];
        int n_csv_missing;
        bool allow_missing;             /* data.missing: "allow" (else "error", the default) */
        ae_scale scale;                 /* default unit */
        ae_binarize binarize;           /* default none */
        double validation;              /* fraction in [0, 1); default 0 */
        long train_limit;               /* use the first N training examples; 0 = all */
        long test_limit;                /* likewise for the test set */
        long labeled;                   /* classifier: train on a random subset of this many
                                         * training examples (train.seed); 0 = all */
        /* data.class_names: the names of classes 0..n-1 when the labels are
         * words (a CSV label column of names).  aetrain fills it from the
         * training data (the distinct names in byte order) unless the spec
         * gives it; a label that is not one of them is an error naming its
         * row.  Packed: each name followed by a NUL; read it with
         * ae_config_class_names.  n_class_names = 0: integer labels. */
        char class_names[AE_CLASS_NAMES_BYTES];
        int n_class_names;
    } data;
    struct {
        int epochs;                 /* default 10 */
        int batch_size;             /* default 128 */
        ae_optimizer optimizer;     /* default adam */
        double lr;                  /* default 1e-3 */
        double momentum;            /* sgd only; default 0.9 */
        double adam_beta1;          /* default 0.9 */
        double adam_beta2;          /* default 0.999 */
        double adam_eps;            /* default 1e-8 */
        double weight_decay;        /* L2 added to the gradient; default 0 */
        uint64_t seed;              /* default 1 */
        int threads;                /* 0 = all cores; default 0 */
        ae_backend backend;         /* GEMM library: auto | onednn | openblas; default auto */
        ae_precision precision;     /* GEMM inputs: fp32 | bf16 (mixed precision); default fp32 */
        double kl_warmup_epochs;    /* beta ramps linearly from 0; default 0 */
        double kl_capacity;         /* Burgess et al.: beta*|KL - C|, C -> this; 0 = off */
        double kl_capacity_epochs;  /* C grows linearly over this many epochs */
        int pretrain_epochs;        /* train.pretrain.epochs: greedy layer-wise; 0 = off */
        struct {                    /* train.lr_schedule: the learning rate per epoch */
            ae_lr_schedule type;    /* default none */
            int step_epochs;        /* step: lr *= gamma every this many epochs; default 10 */
            double gamma;           /* step: default 0.1 */
            int warmup_epochs;      /* cosine: linear warm-up epochs; default 0 */
            double min_lr;          /* cosine, plateau: the floor; default 0 */
            double factor;          /* plateau: lr *= factor; default 0.1 */
            int patience;           /* plateau: epochs without improvement; default 10 */
        } lr_schedule;
        int early_stop_patience;    /* train.early_stopping.patience: 0 = off */
        double early_stop_min_delta;/* train.early_stopping.min_delta: default 0 */
        double clip_grad_norm;      /* global L2 norm of the gradient; 0 = off */
        int freeze_encoder_epochs;  /* classifier: the first N epochs train the head only */
    } train;
    struct {
        char dir[AE_PATH_LEN];      /* default "runs/<config file stem>" */
        int checkpoint_every;       /* epochs; 0 = only the final model; default 1 */
        bool images;                /* default true */
        bool keep_best;             /* best.safetensors at the lowest validation loss */
    } output;
} ae_config;

/* Fills every key with its default (data.train empty, output.dir "runs/default"). */
void ae_config_defaults(ae_config *c);

/* Reads a JSON spec file (path may be NULL: defaults only), applies the
 * overrides in order ("model.latent=2", "model.encoder=[512,256]",
 * "data.train=foo.csv": the value is parsed as JSON, and taken as a string
 * when it is not valid JSON), validates, and fills defaults.  When output.dir
 * is not given it becomes "runs/<file name without .json>".  Errors name the
 * file with line and column for malformed JSON, and the key path otherwise:
 * "model.encoder[1]: expected a positive integer, got -3". */
ae_status ae_config_load(ae_config *c, const char *path, const char *const *overrides,
                         size_t n_overrides, ae_error *err);

/* Same, from a JSON text; source names it in messages and, like path above,
 * gives the default output.dir (NULL: "runs/default"). */
ae_status ae_config_parse(ae_config *c, const char *json, const char *source,
                          const char *const *overrides, size_t n_overrides, ae_error *err);

/* The fully resolved spec as pretty-printed JSON (malloc'ed; caller frees).
 * Parsing it back gives an identical ae_config.  NULL when out of memory or
 * when c holds a value no spec can express (an invalid enum, a non-finite number). */
char *ae_config_to_json(const ae_config *c);

/* Writes ae_config_to_json atomically to path. */
ae_status ae_config_save(const ae_config *c, const char *path, ae_error *err);

/* data.class_names as names[0..n) (pointers into c); returns n (0: none). */
size_t ae_config_class_names(const ae_config *c, const char *names[AE_MAX_CLASS_NAMES]);

/* Sets data.class_names to names[0..n) (n = 0 clears them).  AE_ERR_INPUT,
 * naming data.class_names, when one is not a valid name (empty, over
 * AE_MAX_CLASS_NAME_LEN bytes, a comma, a control character, spaces around
 * it, a repeat) or they do not fit. */
ae_status ae_config_set_class_names(ae_config *c, const char *const *names, size_t n,
                                    ae_error *err);

/* When c has no data.class_names and ds's labels were names, makes them c's
 * (so a second file is read against the first one's classes); path names
 * the file in an error. */
ae_status ae_config_take_class_names(ae_config *c, const ae_dataset *ds, const char *path,
                                     ae_error *err);

/* The optimizer settings of c->train. */
ae_optim_settings ae_config_optim(const ae_config *c);

/* Names of enum values as they appear in the JSON ("relu", "bernoulli", ...). */
const char *ae_activation_name(ae_activation a);
const char *ae_model_type_name(ae_model_type t);
const char *ae_scale_name(ae_scale s);

#endif
