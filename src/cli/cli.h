/* What the programs share: error printing with the program's name, option
 * parsing, number parsing, and JSON quoting for --set overrides. */
#ifndef AE_CLI_H
#define AE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ae/config.h"
#include "ae/noise.h"
#include "ae/status.h"

extern const char *cli_prog; /* set by each program's main */
extern bool cli_silent;      /* cli_error prints nothing (MPI ranks other than 0) */

/* "prog: error: message\n" on stderr. */
void cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Prints err's message and returns the exit code for st. */
int cli_fail(ae_status st, const ae_error *err);

/* A program's options as a table, one row an option, read by
 * cli_parse_args.  What out points to, by kind: */
typedef enum {
    CLI_STR,       /* const char *: the value's text */
    CLI_FLAG,      /* bool: set true; the option takes no value */
    CLI_LONG,      /* long: an integer from min to max */
    CLI_U64,       /* uint64_t: a non-negative integer (seeds) */
    CLI_DOUBLE,    /* double: a number from min to max */
    CLI_PRECISION, /* int: cli_parse_precision's */
    CLI_CORRUPT,   /* ae_noise_spec: cli_parse_corrupt's */
    CLI_CALL,      /* anything: call(name, value, out) parses it */
    CLI_ARG        /* const char *: the positional argument (a word not starting
                    * with '-', or "-"), given once; name is what usage calls it */
} cli_kind;

typedef struct {
    const char *name; /* "--model"; "-q" for a short alias */
    cli_kind kind;
    void *out;
    double min, max; /* CLI_LONG, CLI_DOUBLE: the range, both ends allowed */
    /* CLI_CALL: parses value into out; prints the error and returns false */
    bool (*call)(const char *name, const char *value, void *out);
    bool *given; /* set true when the option is given (NULL: not wanted) */
} cli_option;

/* The rows, one macro a kind; out must point to the type the kind writes
 * (the compiler warns otherwise).  The _GIVEN forms also set *given. */
#define CLI_OUT(type, p) ((void *)(1 ? (p) : (type *)0))
#define CLI_OPT_STR(name, p) {(name), CLI_STR, CLI_OUT(const char *, p), 0, 0, NULL, NULL}
#define CLI_OPT_FLAG(name, p) {(name), CLI_FLAG, CLI_OUT(bool, p), 0, 0, NULL, NULL}
#define CLI_OPT_LONG_GIVEN(name, p, min, max, given)                                           \
    {(name), CLI_LONG, CLI_OUT(long, p), (min), (max), NULL, (given)}
#define CLI_OPT_LONG(name, p, min, max) CLI_OPT_LONG_GIVEN(name, p, min, max, NULL)
#define CLI_OPT_U64(name, p) {(name), CLI_U64, CLI_OUT(uint64_t, p), 0, 0, NULL, NULL}
#define CLI_OPT_DOUBLE_GIVEN(name, p, min, max, given)                                         \
    {(name), CLI_DOUBLE, CLI_OUT(double, p), (min), (max), NULL, (given)}
#define CLI_OPT_DOUBLE(name, p, min, max) CLI_OPT_DOUBLE_GIVEN(name, p, min, max, NULL)
#define CLI_OPT_PRECISION(name, p) {(name), CLI_PRECISION, CLI_OUT(int, p), 0, 0, NULL, NULL}
#define CLI_OPT_CORRUPT(name, p) {(name), CLI_CORRUPT, CLI_OUT(ae_noise_spec, p), 0, 0, NULL, NULL}
#define CLI_OPT_CALL(name, fn, p) {(name), CLI_CALL, (p), 0, 0, (fn), NULL}
#define CLI_OPT_ARG(word, p) {(word), CLI_ARG, CLI_OUT(const char *, p), 0, 0, NULL, NULL}

/* Parses argv[1..argc) in order: --help or -h prints usage(stdout) and
 * --version "<prog> <version>" (or calls version(stdout) when version is not
 * NULL), and both stop the parsing with exit code 0 (a silent rank prints
 * nothing); an option of the table takes its value as "--name VALUE" or
 * "--name=VALUE" (a flag only as "--name"); anything else is an error.  A
 * repeated option's last value wins (a CLI_CALL may keep them all instead).
 * Returns -1 to go on, else the exit code (2 after an error, printed here). */
int cli_parse_args(int argc, char **argv, const cli_option *opts, size_t n,
                   void (*usage)(FILE *f), void (*version)(FILE *f));

/* Strict number parsing; on failure prints "--name: expected ..." and returns false. */
bool cli_parse_long(const char *name, const char *s, long min, long max, long *out);
bool cli_parse_u64(const char *name, const char *s, uint64_t *out);
bool cli_parse_double(const char *name, const char *s, double min, double max, double *out);

/* "key=\"escaped value\"" as a --set override; malloc'ed. */
char *cli_string_override(const char *key, const char *value);

/* v as 4 big-endian bytes at p (IDX headers and float32 elements). */
void cli_put_be32(unsigned char *p, uint32_t v);

/* --precision VALUE of the programs that run a model: fp32, bf16, or model
 * (the model's train.precision, the default); *out = the ae_precision, or
 * -1 for model.  Prints the error and returns false on anything else. */
bool cli_parse_precision(const char *s, int *out);

/* Selects precision p (from cli_parse_precision; -1: cfg's
 * train.precision) for the backend in effect.  Prints the error and
 * returns the exit code when it cannot run here, else 0. */
int cli_select_precision(int p, const ae_config *cfg);

/* --corrupt gaussian:STD | masking:P | salt_pepper:P (aerecon, aeeval):
 * STD > 0, P in (0, 1].  Prints the error and returns false otherwise. */
bool cli_parse_corrupt(const char *s, ae_noise_spec *n);

/* A model's family against what the program does with it: need (aepredict)
 * refuses any model that is not a classifier; !need (the programs that
 * reconstruct, sample, impute or score reconstructions) refuses a
 * classifier, which has no decoder.  Prints the error naming path and
 * returns 2, else 0. */
struct ae_model;
int cli_check_classifier(const struct ae_model *m, const char *path, bool need);

/* stderr is a terminal (progress lines update in place). */
bool cli_stderr_is_tty(void);

/* s as a JSON string, quoted and escaped. */
void cli_json_str(FILE *f, const char *s);

/* The classes' names of a model (its data.class_names; n = 0: integer
 * labels), for writing labels as the user's data had them. */
typedef struct {
    const char *names[AE_MAX_CLASS_NAMES];
    size_t n;
} cli_classes;
void cli_classes_get(const ae_config *cfg, cli_classes *c);

/* Label y: its class name when there are names, else the integer; to f. */
void cli_put_label(FILE *f, const cli_classes *c, int32_t y);

/* Label y as a JSON value: its name as a string, else the integer. */
void cli_json_label(FILE *f, const cli_classes *c, int32_t y);

#endif
