/* Scratch files and the harness bodies: see harness.h. */
#define _GNU_SOURCE /* mkstemps */
#include "harness.h"

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ae/checkpoint.h"
#include "ae/config.h"
#include "ae/data.h"
#include "ae/model.h"
#include "ae/table.h"

#define N_SCRATCH 4

static struct {
    char suffix[16];
    char path[256];
    int fd;
} g_scratch[N_SCRATCH];
static int g_n_scratch;

static void scratch_remove(void)
{
    for (int i = 0; i < g_n_scratch; i++) {
        close(g_scratch[i].fd);
        unlink(g_scratch[i].path);
    }
    g_n_scratch = 0;
}

/* Sizes in a fuzzed header may ask for gigabytes; a small cap turns those
 * into AE_ERR_NOMEM instead of tripping the fuzzer's memory limit. */
static void setup_once(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    setenv("AE_MAX_ALLOC", "268435456", 0);
    atexit(scratch_remove);
}

const char *ae_fuzz_file(const char *suffix, const uint8_t *data, size_t size)
{
    setup_once();
    int i = 0;
    while (i < g_n_scratch && strcmp(g_scratch[i].suffix, suffix) != 0)
        i++;
    if (i == g_n_scratch) {
        if (i == N_SCRATCH || strlen(suffix) >= sizeof g_scratch[i].suffix)
            return NULL;
        /* tmpfs when there is one: a disk file rewritten thousands of times
         * a second spends its time in the file system (ext4 flushes a file
         * truncated to zero when it is closed). */
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp)
            tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(g_scratch[i].path, sizeof g_scratch[i].path, "%s/ae-fuzz-XXXXXX%s", tmp,
                 suffix);
        int fd = mkstemps(g_scratch[i].path, (int)strlen(suffix));
        if (fd < 0)
            return NULL;
        g_scratch[i].fd = fd;
        strcpy(g_scratch[i].suffix, suffix);
        g_n_scratch++;
    }
    int fd = g_scratch[i].fd;
    size_t done = 0;
    while (done < size) {
        ssize_t k = pwrite(fd, data + done, size - done, (off_t)done);
        if (k <= 0)
            return NULL;
        done += (size_t)k;
    }
    if (ftruncate(fd, (off_t)size) != 0)
        return NULL;
    return g_scratch[i].path;
}

/* A loaded dataset must be what the header promised. */
static void check_dataset(const ae_dataset *ds)
{
    if (ds->n > 0 && ds->dim > 0 && !ds->x)
        abort();
    if (ds->img_h && ds->img_w && ds->img_h * ds->img_w != ds->dim)
        abort();
}

int ae_fuzz_idx(const uint8_t *data, size_t size)
{
    /* The name says IDX; gzip is detected by its magic bytes, so inputs
     * starting 1f 8b exercise the .idx.gz path. */
    const char *path = ae_fuzz_file(".idx", data, size);
    if (!path)
        abort();
    ae_dataset ds = {0};
    ae_error err;
    if (ae_dataset_load(&ds, path, NULL, &err) == AE_OK) {
        check_dataset(&ds);
        ae_dataset_free(&ds);
    }
    return 0;
}

int ae_fuzz_csv(const uint8_t *data, size_t size)
{
    /* The first byte picks the options: header auto/no/yes, the label
     * column none / index 0 / index 1 / the name "label", (bit 4)
     * missing cells allowed, with the default tokens of data.csv.missing,
     * and (bit 5) label names looked up among three classes. */
    if (size < 1)
        return 0;
    static const char *const labels[] = {NULL, "0", "1", "label"};
    static const char *const missing[] = {"", "NA", "NaN", "nan", "?"};
    static const char *const classes[] = {"a", "b", "0"}; /* label names looked up */
    ae_csv_options opt = {labels[(data[0] >> 2) & 3], (int)(data[0] & 3) % 3 - 1, missing, 5,
                          (data[0] >> 4) & 1, classes, (data[0] >> 5) & 1 ? 3 : 0};
    const char *path = ae_fuzz_file(".csv", data + 1, size - 1);
    if (!path)
        abort();
    ae_dataset ds = {0};
    ae_error err;
    if (ae_dataset_load(&ds, path, &opt, &err) == AE_OK) {
        check_dataset(&ds);
        if (opt.label_column && ds.n > 0 && !ds.labels)
            abort();
        /* classes: given ones, or names found (sorted, distinct), else integers */
        if (opt.n_classes && ds.n_class_names)
            abort();
        for (size_t i = 0; ds.labels && i < ds.n; i++)
            if (ds.labels[i] < 0 || (opt.n_classes && (size_t)ds.labels[i] >= opt.n_classes) ||
                (ds.n_class_names && (size_t)ds.labels[i] >= ds.n_class_names))
                abort();
        for (size_t k = 1; k < ds.n_class_names; k++)
            if (strcmp(ds.class_names[k - 1], ds.class_names[k]) >= 0)
                abort();
        /* NaN only where missing cells are allowed, never infinity */
        const float *x = ds.x;
        for (size_t i = 0; ds.dtype == AE_DTYPE_F32 && i < ds.n * ds.dim; i++)
            if (isinf(x[i]) || (isnan(x[i]) && !opt.allow_missing))
                abort();
        ae_dataset_free(&ds);
    }
    return 0;
}

int ae_fuzz_spec(const uint8_t *data, size_t size)
{
    /* The JSON text, then optionally a NUL and up to 8 override lines
     * ("model.latent=2"), one per line. */
    char *buf = malloc(size + 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *over[8];
    size_t n_over = 0;
    size_t json_len = strlen(buf);
    if (json_len < size) {
        char *p = buf + json_len + 1;
        while (n_over < 8 && p < buf + size) {
            char *nl = memchr(p, '\n', (size_t)(buf + size - p));
            if (nl)
                *nl = '\0';
            over[n_over++] = p;
            if (!nl)
                break;
            p = nl + 1;
        }
    }
    ae_config c;
    ae_error err;
    if (ae_config_parse(&c, buf, "fuzz.json", over, n_over, &err) == AE_OK) {
        /* The resolved spec must parse back to the same spec. */
        char *j1 = ae_config_to_json(&c);
        if (!j1)
            abort();
        ae_config c2;
        if (ae_config_parse(&c2, j1, "fuzz.json", NULL, 0, &err) != AE_OK) {
            fprintf(stderr, "round trip failed: %s\n%s\n", err.msg, j1);
            abort();
        }
        char *j2 = ae_config_to_json(&c2);
        if (!j2 || strcmp(j1, j2) != 0) {
            fprintf(stderr, "round trip changed the spec:\n%s\n---\n%s\n", j1, j2 ? j2 : "(null)");
            abort();
        }
        free(j2);
        free(j1);
    }
    free(buf);
    return 0;
}

int ae_fuzz_checkpoint(const uint8_t *data, size_t size)
{
    const char *path = ae_fuzz_file(".safetensors", data, size);
    if (!path)
        abort();
    ae_checkpoint ck;
    ae_error err;
    if (ae_checkpoint_read(&ck, path, &err) != AE_OK)
        return 0;
    ae_checkpoint_free(&ck);
    ae_config cfg;
    ae_model m;
    if (ae_checkpoint_load_model(path, 2, &cfg, &m, &err) == AE_OK)
        ae_model_free(&m);
    return 0;
}

int ae_fuzz_codes(const uint8_t *data, size_t size)
{
    /* The first byte gives the code size L in 1..8. */
    if (size < 1)
        return 0;
    size_t L = (size_t)(data[0] & 7) + 1;
    const char *path = ae_fuzz_file(".csv", data + 1, size - 1);
    if (!path)
        abort();
    float *z = NULL;
    size_t n = 0;
    ae_error err;
    if (ae_codes_load(path, L, &z, &n, &err) == AE_OK) {
        if (n > 0 && !z)
            abort();
        free(z);
    }
    return 0;
}
