#define _XOPEN_SOURCE 700 /* POSIX 2008 and realpath */
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

/* Linux's limit on the links followed in one lookup (MAXSYMLINKS), so a
 * chain we follow by hand fails where the kernel's would. */
#define AE_MAX_LINK_HOPS 40

/* The text of the symbolic link p, malloc'ed; NULL with errno set. */
static char *read_link(const char *p)
{
    /* lstat's st_size is 0 for /proc links, so grow until the text fits. */
    for (size_t size = 256;; size *= 2) {
        char *buf = malloc(size);
        if (!buf)
            return NULL;
        ssize_t n = readlink(p, buf, size);
        if (n < 0) {
            free(buf);
            return NULL;
        }
        if ((size_t)n < size) {
            buf[n] = '\0';
            return buf;
        }
        free(buf);
    }
}

/* The name at the end of path's chain of links when that name does not exist
 * (stat(path) said ENOENT), malloc'ed; NULL with err set.  Relative link text
 * is taken relative to the folder of the link holding it, as the kernel does. */
static char *dangling_target(const char *path, ae_error *err)
{
    char *cur = dup_str(path);
    for (int hops = 0; cur; hops++) {
        struct stat sb;
        if (lstat(cur, &sb) != 0) {
            if (errno == ENOENT)
                return cur;
            ae_error_set(err, "%s: cannot follow the link to %s: %s", path, cur, strerror(errno));
            free(cur);
            return NULL;
        }
        if (!S_ISLNK(sb.st_mode)) {
            /* stat found nothing here a moment ago: guessing its type now
             * could rename over a device, so say so instead */
            ae_error_set(err, "%s: %s appeared while the link was being followed; try again",
                         path, cur);
            free(cur);
            return NULL;
        }
        if (hops == AE_MAX_LINK_HOPS) {
            ae_error_set(err, "%s: cannot follow the link: %s", path, strerror(ELOOP));
            free(cur);
            return NULL;
        }
        char *text = read_link(cur);
        if (!text) {
            ae_error_set(err, "%s: cannot read the link %s: %s", path, cur, strerror(errno));
            free(cur);
            return NULL;
        }
        const char *slash = strrchr(cur, '/');
        size_t keep = text[0] == '/' || !slash ? 0 : (size_t)(slash - cur) + 1;
        char *next = malloc(keep + strlen(text) + 1);
        if (next) {
            memcpy(next, cur, keep);
            strcpy(next + keep, text);
        }
        free(text);
        free(cur);
        cur = next;
    }
    ae_error_set(err, "%s: out of memory", path);
    return NULL;
}

/* Atomic mode: a temporary file beside target, which f owns from here on
 * (NULL when allocating it failed, so the callers need no check of their own). */
static ae_status open_replacing(ae_atomic_file *f, char *target, ae_error *err)
{
    f->target = target;
    size_t n = target ? strlen(target) + 32 : 0;
    f->tmp_path = target ? malloc(n) : NULL;
    if (!f->tmp_path) {
        ae_error_set(err, "%s: out of memory", f->path);
        ae_atomic_abort(f);
        return AE_ERR_NOMEM;
    }
    /* mkstemp gives a unique name, so two writers never share a temp file. */
    snprintf(f->tmp_path, n, "%s.tmp.XXXXXX", target);
    int fd = mkstemp(f->tmp_path);
    if (fd < 0) {
        int e = errno;
        if (strcmp(target, f->path) != 0)
            ae_error_set(err, "%s: cannot create a file beside %s, where the link points: %s",
                         f->path, target, strerror(e));
        else
            ae_error_set(err, "%s: cannot create a file there: %s", f->path, strerror(e));
        free(f->tmp_path); /* not a file: nothing to unlink */
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
        ae_error_set(err, "%s: cannot open for writing: %s", f->path, strerror(errno));
        ae_atomic_abort(f);
        return AE_ERR_IO;
    }
    return AE_OK;
}

/* In-place mode: a device or FIFO (sb is what stat said), opened through
 * f->path itself, since /proc/self/fd/N links read as "pipe:[123]", not as a
 * name.  No O_TRUNC: a device or FIFO has nothing to truncate. */
static ae_status open_in_place(ae_atomic_file *f, const struct stat *sb, ae_error *err)
{
    f->in_place = true;
    int fd = open(f->path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        if (S_ISSOCK(sb->st_mode))
            ae_error_set(err, "%s: is a socket, which cannot be opened as a file; give a file, "
                              "device or FIFO", f->path);
        else
            ae_error_set(err, "%s: cannot open for writing: %s", f->path, strerror(errno));
        ae_atomic_abort(f);
        return AE_ERR_INPUT;
    }
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        close(fd);
        ae_error_set(err, "%s: cannot open for writing: %s", f->path, strerror(errno));
        ae_atomic_abort(f);
        return AE_ERR_IO;
    }
    return AE_OK;
}

ae_status ae_atomic_open(ae_atomic_file *f, const char *path, ae_error *err)
{
    memset(f, 0, sizeof *f);
    f->path = dup_str(path);
    if (!f->path) {
        ae_error_set(err, "%s: out of memory", path);
        return AE_ERR_NOMEM;
    }
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        if (errno == ENOENT) /* a new file (mkstemp reports a missing folder) */
            return open_replacing(f, dup_str(path), err);
        ae_error_set(err, "%s: cannot create a file there: %s", path, strerror(errno));
        ae_atomic_abort(f);
        return AE_ERR_INPUT;
    }
    bool link = S_ISLNK(sb.st_mode);
    if (link && stat(path, &sb) != 0) {
        if (errno == ENOENT) {
            char *target = dangling_target(path, err);
            if (!target) {
                ae_atomic_abort(f);
                return AE_ERR_INPUT;
            }
            return open_replacing(f, target, err);
        }
        ae_error_set(err, "%s: cannot follow the link: %s", path, strerror(errno));
        ae_atomic_abort(f);
        return AE_ERR_INPUT;
    }
    if (S_ISDIR(sb.st_mode)) {
        ae_error_set(err, "%s: is a folder; give a file name", path);
        ae_atomic_abort(f);
        return AE_ERR_INPUT;
    }
    if (!S_ISREG(sb.st_mode))
        return open_in_place(f, &sb, err);
    if (!link)
        return open_replacing(f, dup_str(path), err);
    /* the rename must land on the file the link ends at, not on the link */
    char *target = realpath(path, NULL);
    if (!target) {
        ae_error_set(err, "%s: cannot follow the link: %s", path, strerror(errno));
        ae_atomic_abort(f);
        return AE_ERR_INPUT;
    }
    return open_replacing(f, target, err);
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

void ae_atomic_fail(ae_atomic_file *f, int errnum, ae_error *err)
{
    const char *why = errnum ? strerror(errnum) : "stream error";
    if (f->in_place) /* what went out before the error is out */
        ae_error_set(err, "%s: write failed (%s)", f->path, why);
    else
        ae_error_set(err, "%s: write failed (%s); the previous file, if any, is unchanged",
                     f->path, why);
    ae_atomic_abort(f);
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
    /* Pipes, terminals and most character devices cannot be synced; their
     * bytes are delivered once written, so that is no failure. */
    if (!bad && fsync(fileno(f->fp)) != 0 &&
        !(f->in_place && (errno == EINVAL || errno == EROFS || errno == ENOTSUP))) {
        bad = 1;
        saved = errno;
    }
    if (fclose(f->fp) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    f->fp = NULL;
    if (bad) {
        ae_atomic_fail(f, saved, err);
        return AE_ERR_IO;
    }
    if (!f->in_place) {
        if (rename(f->tmp_path, f->target) != 0) {
            ae_error_set(err, "%s: cannot rename the temporary file into place: %s", f->path,
                         strerror(errno));
            ae_atomic_abort(f);
            return AE_ERR_IO;
        }
        fsync_parent(f->target);
        free(f->tmp_path); /* renamed: abort must not unlink it */
        f->tmp_path = NULL;
    }
    ae_atomic_abort(f); /* the stream is closed: this only frees the names */
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
    free(f->target);
    free(f->path);
    memset(f, 0, sizeof *f);
}

ae_status ae_write_file_atomic(const char *path, const void *data, size_t size, ae_error *err)
{
    ae_atomic_file f;
    ae_status st = ae_atomic_open(&f, path, err);
    if (st != AE_OK)
        return st;
    if (size > 0 && fwrite(data, 1, size, f.fp) != size) {
        ae_atomic_fail(&f, errno, err);
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
