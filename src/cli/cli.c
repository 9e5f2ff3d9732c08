#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include "ae/backend.h"
#include "ae/model.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cli_prog = "ae";
bool cli_silent = false;

void cli_error(const char *fmt, ...)
{
    if (cli_silent)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: error: ", cli_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_fail(ae_status st, const ae_error *err)
{
    cli_error("%s", err->msg[0] ? err->msg : ae_status_name(st));
    return ae_status_exit_code(st);
}

void cli_put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

bool cli_parse_precision(const char *s, int *out)
{
    for (int p = 0; p < AE_PRECISION_COUNT; p++)
        if (!strcmp(s, ae_precision_name((ae_precision)p))) {
            *out = p;
            return true;
        }
    if (!strcmp(s, "model")) {
        *out = -1;
        return true;
    }
    cli_error("--precision: expected fp32, bf16 or model, not '%s'", s);
    return false;
}

int cli_select_precision(int p, const ae_config *cfg)
{
    ae_error err = {{0}};
    ae_status st = p < 0 ? ae_precision_select(cfg->train.precision,
                                               "the model's train.precision (--precision fp32 "
                                               "overrides it)",
                                               &err)
                         : ae_precision_select((ae_precision)p, "--precision", &err);
    return st == AE_OK ? 0 : cli_fail(st, &err);
}

bool cli_parse_corrupt(const char *s, ae_noise_spec *n)
{
    static const struct {
        const char *name;
        ae_noise type;
    } kinds[] = {{"gaussian", AE_NOISE_GAUSSIAN},
                 {"masking", AE_NOISE_MASKING},
                 {"salt_pepper", AE_NOISE_SALT_PEPPER}};
    const char *colon = strchr(s, ':');
    for (size_t k = 0; colon && k < sizeof kinds / sizeof kinds[0]; k++) {
        if (strlen(kinds[k].name) != (size_t)(colon - s) ||
            strncmp(s, kinds[k].name, (size_t)(colon - s)))
            continue;
        double v;
        bool std = kinds[k].type == AE_NOISE_GAUSSIAN;
        if (!cli_parse_double("--corrupt", colon + 1, 0.0, std ? 1e6 : 1.0, &v))
            return false;
        if (v <= 0.0) {
            cli_error("--corrupt %s: the %s must be above 0", s, std ? "deviation" : "probability");
            return false;
        }
        *n = (ae_noise_spec){kinds[k].type, std ? v : 0.0, std ? 0.0 : v, false};
        return true;
    }
    cli_error("--corrupt: expected gaussian:STD, masking:P or salt_pepper:P, not '%s'", s);
    return false;
}

bool cli_parse_long(const char *name, const char *s, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max) {
        cli_error("%s: expected an integer from %ld to %ld, got '%s'", name, min, max, s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_u64(const char *name, const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0' || s[0] == '-') {
        cli_error("%s: expected a non-negative integer, got '%s'", name, s);
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

bool cli_parse_double(const char *name, const char *s, double min, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v) || v < min || v > max) {
        cli_error("%s: expected a number from %g to %g, got '%s'", name, min, max, s);
        return false;
    }
    *out = v;
    return true;
}

/* Option matching: accepts "--name VALUE" and "--name=VALUE".  On a match
 * sets *value and advances *i past what it consumed; a missing value is a
 * usage error reported here (returns -1). Returns 1 on match, 0 otherwise. */
static int cli_opt(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        cli_error("%s needs a value (see --help)", name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

/* A long bound held in a double: every bound the programs use is exact in a
 * double but LONG_MAX, which rounds up to 2^63 and is clamped back here. */
static long long_bound(double v)
{
    return v >= (double)LONG_MAX ? LONG_MAX : (long)v;
}

/* Stores v as o's kind says; prints the error and returns false when v does
 * not parse. */
static bool cli_store(const cli_option *o, const char *v)
{
    switch (o->kind) {
    case CLI_STR:
    case CLI_ARG:
        *(const char **)o->out = v;
        return true;
    case CLI_FLAG:
        *(bool *)o->out = true;
        return true;
    case CLI_LONG:
        return cli_parse_long(o->name, v, long_bound(o->min), long_bound(o->max), o->out);
    case CLI_U64:
        return cli_parse_u64(o->name, v, o->out);
    case CLI_DOUBLE:
        return cli_parse_double(o->name, v, o->min, o->max, o->out);
    case CLI_PRECISION:
        return cli_parse_precision(v, o->out);
    case CLI_CORRUPT:
        return cli_parse_corrupt(v, o->out);
    case CLI_CALL:
        return o->call(o->name, v, o->out);
    }
    return false;
}

int cli_parse_args(int argc, char **argv, const cli_option *opts, size_t n,
                   void (*usage)(FILE *f), void (*version)(FILE *f))
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (!cli_silent)
                usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--version")) {
            if (cli_silent)
                return 0;
            if (version)
                version(stdout);
            else
                printf("%s %s\n", cli_prog, ae_version());
            return 0;
        }
        const cli_option *o = NULL;
        for (size_t k = 0; k < n && !o; k++) {
            int r = opts[k].kind == CLI_ARG    ? 0
                    : opts[k].kind == CLI_FLAG ? !strcmp(a, opts[k].name)
                                               : cli_opt(argc, argv, &i, opts[k].name, &v);
            if (r < 0)
                return 2;
            if (r)
                o = &opts[k];
        }
        /* A word that is no option: the positional argument, if the program has one. */
        for (size_t k = 0; k < n && !o && (a[0] != '-' || !a[1]); k++) {
            if (opts[k].kind != CLI_ARG)
                continue;
            if (*(const char **)opts[k].out) {
                cli_error("one %s only; '%s' is a second (see --help)", opts[k].name, a);
                return 2;
            }
            o = &opts[k];
            v = a;
        }
        if (!o) {
            cli_error("unknown option '%s' (see --help)", a);
            return 2;
        }
        if (!cli_store(o, v))
            return 2;
        if (o->given)
            *o->given = true;
    }
    return -1;
}

char *cli_string_override(const char *key, const char *value)
{
    size_t n = strlen(key) + 2 * strlen(value) + 8;
    char *o = malloc(n);
    if (!o)
        return NULL;
    size_t k = (size_t)snprintf(o, n, "%s=\"", key);
    for (const char *p = value; *p; p++) {
        if (*p == '"' || *p == '\\')
            o[k++] = '\\';
        o[k++] = *p;
    }
    o[k++] = '"';
    o[k] = '\0';
    return o;
}

int cli_check_classifier(const ae_model *m, const char *path, bool need)
{
    const ae_family *f = ae_model_family(m);
    if (need && !f->classifier) {
        cli_error("%s: the model has model.type %s (%s), not classifier; %s needs a model "
                  "trained with model.type classifier (docs/classify.md)", path, f->name,
                  f->title, cli_prog);
        return 2;
    }
    if (!need && f->classifier) {
        cli_error("%s: the model is a classifier (model.type classifier), which has no decoder "
                  "for %s to use; aepredict gives its predictions, aeencode its codes", path,
                  cli_prog);
        return 2;
    }
    return 0;
}

bool cli_stderr_is_tty(void)
{
    return isatty(STDERR_FILENO) == 1;
}

void cli_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(f, "\\u%04x", *c);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}

void cli_classes_get(const ae_config *cfg, cli_classes *c)
{
    c->n = ae_config_class_names(cfg, c->names);
}

void cli_put_label(FILE *f, const cli_classes *c, int32_t y)
{
    if (y >= 0 && (size_t)y < c->n)
        fputs(c->names[y], f);
    else
        fprintf(f, "%d", (int)y);
}

void cli_json_label(FILE *f, const cli_classes *c, int32_t y)
{
    if (y >= 0 && (size_t)y < c->n)
        cli_json_str(f, c->names[y]);
    else
        fprintf(f, "%d", (int)y);
}
