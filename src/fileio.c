#define _POSIX_C_SOURCE 200809L
#include "ae/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *ae_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a > 0 && dir[a - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

ae_status ae_atomic_open(ae_atomic_file *f, const char *path, ae_error *err)
{
    memset(f, 0, sizeof *f);
    f->path = dup_str(path);
    size_t n = strlen(path) + 32;
    f->tmp_path = malloc(n);
    if (!f->path || !f->tmp_path) {
        free(f->tmp_path); /* not yet a name: nothing to unlink */
        f->tmp_path = NULL;
        ae_atomic_abort(f);
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    /* mkstemp gives a unique name, so two writers never share a temp file. */
    snprintf(f->tmp_path, n, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(f->tmp_path);
    if (fd < 0) {
        ae_error_set(err, "%s: cannot create a file there: %s", path, strerror(errno));
        free(f->tmp_path);
        f->tmp_path = NULL;
        ae_atomic_abort(f);
        return AE_ERR_INPUT;
    }
    /* mkstemp creates 0600; user outputs should follow the umask like fopen. */
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        close(fd);
        ae_error_set(err, "%s: cannot open for writing: %s", path, strerror(errno));
        ae_atomic_abort(f);
        return AE_ERR_IO;
    }
    return AE_OK;
}

static void fsync_parent(const char *path)
{
    char *dir = dup_str(path);
    if (!dir)
        return;
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash) {
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        d = dir;
    }
    int fd = open(d, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

ae_status ae_atomic_commit(ae_atomic_file *f, ae_error *err)
{
    if (!f->fp) {
        ae_error_set(err, "%s: file was not open", f->path ? f->path : "?");
        ae_atomic_abort(f);
        return AE_ERR_IO;
    }
    int bad = ferror(f->fp);
    int saved = errno;
    if (!bad && fflush(f->fp) != 0) {
        bad = 1;
        saved = errno;
    }
    if (!bad && fsync(fileno(f->fp)) != 0) {
        bad = 1;
        saved = errno;
    }
    if (fclose(f->fp) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    f->fp = NULL;
    if (bad) {
        ae_error_set(err, "%s: write failed (%s); the previous file, if any, is unchanged",
                     f->path, saved ? strerror(saved) : "stream error");
        ae_atomic_abort(f);
        return AE_ERR_IO;
    }
    if (rename(f->tmp_path, f->path) != 0) {
        ae_error_set(err, "%s: cannot rename the temporary file into place: %s", f->path,
                     strerror(errno));
        ae_atomic_abort(f);
        return AE_ERR_IO;
    }
    fsync_parent(f->path);
    free(f->tmp_path);
    free(f->path);
    f->tmp_path = f->path = NULL;
    return AE_OK;
}

void ae_atomic_abort(ae_atomic_file *f)
{
    if (!f)
        return;
    if (f->fp)
        fclose(f->fp);
    if (f->tmp_path)
        unlink(f->tmp_path);
    free(f->tmp_path);
    free(f->path);
    f->fp = NULL;
    f->tmp_path = f->path = NULL;
}

ae_status ae_write_file_atomic(const char *path, const void *data, size_t size, ae_error *err)
{
    ae_atomic_file f;
    ae_status st = ae_atomic_open(&f, path, err);
    if (st != AE_OK)
        return st;
    if (size > 0 && fwrite(data, 1, size, f.fp) != size) {
        ae_error_set(err, "%s: write failed (%s); the previous file, if any, is unchanged", path,
                     strerror(errno));
        ae_atomic_abort(&f);
        return AE_ERR_IO;
    }
    return ae_atomic_commit(&f, err);
}

ae_status ae_open_input(const char *path, FILE **fp, unsigned long long *size, ae_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ae_error_set(err, "%s: cannot open: %s", path, strerror(errno));
        return AE_ERR_INPUT;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        ae_error_set(err, "%s: not a regular file", path);
        fclose(f);
        return AE_ERR_INPUT;
    }
    *fp = f;
    *size = (unsigned long long)sb.st_size;
    return AE_OK;
}

ae_status ae_mkdir_p(const char *path, ae_error *err)
{
    char *p = dup_str(path);
    if (!p) {
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];
            p[i] = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                ae_error_set(err, "%s: cannot create folder: %s", p, strerror(errno));
                free(p);
                return AE_ERR_INPUT;
            }
            p[i] = c;
        }
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        ae_error_set(err, "%s: not a folder", path);
        free(p);
        return AE_ERR_INPUT;
    }
    free(p);
    return AE_OK;
}
