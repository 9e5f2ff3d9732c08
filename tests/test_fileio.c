/* The output writer by file type: a regular file is replaced atomically, a
 * device or FIFO written in place, a symbolic link followed (its target
 * replaced or created, the link kept), a folder or socket refused. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "ae/fileio.h"
#include "testutil.h"

static char tmpdir[256];

static void setup(void)
{
    tu_make_tmpdir(tmpdir, sizeof tmpdir, "/tmp/ae_fileio_XXXXXX");
}

static void teardown(void)
{
    tu_remove_tree(tmpdir);
}

/* tmpdir/name in a static buffer (one at a time is enough here). */
static const char *in_tmp(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

/* No NAME.tmp.XXXXXX left anywhere in folder dir. */
static void assert_no_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        ck_assert_msg(strstr(de->d_name, ".tmp.") == NULL, "left over: %s/%s", dir, de->d_name);
    closedir(d);
}

static void spit(const char *p, const char *text)
{
    FILE *fp = fopen(p, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fputs(text, fp) >= 0, 1);
    ck_assert_int_eq(fclose(fp), 0);
}

static void assert_content(const char *p, const char *text)
{
    size_t n;
    unsigned char *b = tu_slurp(p, &n);
    ck_assert_uint_eq(n, strlen(text));
    ck_assert_str_eq((char *)b, text);
    free(b);
}

/* Root can make device nodes; anyone else cannot run these cases, and the
 * failure says so rather than passing without checking anything. */
static void make_char_device(const char *p, unsigned major_, unsigned minor_)
{
    int rc = mknod(p, S_IFCHR | 0666, makedev(major_, minor_));
    ck_assert_msg(rc == 0, "mknod %s c %u %u: %s (these tests need root)", p, major_, minor_,
                  strerror(errno));
}

START_TEST(test_regular_file_replaced)
{
    const char *p = in_tmp("out.txt");
    ae_error err = {{0}};
    ck_assert_int_eq(ae_write_file_atomic(p, "first\n", 6, &err), AE_OK);
    assert_content(p, "first\n");
    ck_assert_int_eq(ae_write_file_atomic(p, "second\n", 7, &err), AE_OK);
    assert_content(p, "second\n");
    assert_no_tmp(tmpdir);

    /* an abort leaves the previous file and no temporary file */
    ae_atomic_file f;
    ck_assert_int_eq(ae_atomic_open(&f, p, &err), AE_OK);
    ck_assert(!f.in_place);
    fputs("never", f.fp);
    ae_atomic_abort(&f);
    assert_content(p, "second\n");
    assert_no_tmp(tmpdir);
}
END_TEST

START_TEST(test_fifo_written_in_place)
{
    const char *p = in_tmp("fifo");
    ck_assert_int_eq(mkfifo(p, 0666), 0);
    /* The reader opens first (non-blocking, so no second process is needed);
     * the writer's open then finds it.  The text fits in the pipe buffer. */
    int rfd = open(p, O_RDONLY | O_NONBLOCK);
    ck_assert_int_ge(rfd, 0);
    ae_error err = {{0}};
    ae_atomic_file f;
    ck_assert_int_eq(ae_atomic_open(&f, p, &err), AE_OK);
    ck_assert(f.in_place);
    ck_assert_ptr_null(f.tmp_path);
    assert_no_tmp(tmpdir); /* nothing beside the FIFO, even while open */
    fputs("through the fifo\n", f.fp);
    ck_assert_msg(ae_atomic_commit(&f, &err) == AE_OK, "%s", err.msg);
    char got[64] = "";
    ssize_t n = read(rfd, got, sizeof got - 1);
    ck_assert_int_eq(n, 17);
    got[n] = '\0';
    ck_assert_str_eq(got, "through the fifo\n");
    ck_assert_int_eq(read(rfd, got, sizeof got), 0); /* the writer closed: EOF */
    close(rfd);
    struct stat sb;
    ck_assert_int_eq(lstat(p, &sb), 0);
    ck_assert(S_ISFIFO(sb.st_mode));
    assert_no_tmp(tmpdir);
}
END_TEST

START_TEST(test_char_device_written_in_place)
{
    const char *null = in_tmp("null"), *full = in_tmp("full");
    make_char_device(null, 1, 3);
    make_char_device(full, 1, 7);
    ae_error err = {{0}};
    ck_assert_msg(ae_write_file_atomic(null, "gone\n", 5, &err) == AE_OK, "%s", err.msg);
    struct stat sb;
    ck_assert_int_eq(lstat(null, &sb), 0);
    ck_assert(S_ISCHR(sb.st_mode) && major(sb.st_rdev) == 1 && minor(sb.st_rdev) == 3);

    /* /dev/full: every write is ENOSPC; buffered, it surfaces at commit */
    ae_atomic_file f;
    ck_assert_int_eq(ae_atomic_open(&f, full, &err), AE_OK);
    ck_assert(f.in_place);
    fputs("no room\n", f.fp);
    ck_assert_int_eq(ae_atomic_commit(&f, &err), AE_ERR_IO);
    ck_assert_msg(strstr(err.msg, full) == err.msg, "message lacks the path: %s", err.msg);
    ck_assert_msg(strstr(err.msg, "write failed (No space left on device)") != NULL, "%s",
                  err.msg);
    /* in place there is no previous file to speak of */
    ck_assert_msg(strstr(err.msg, "unchanged") == NULL, "%s", err.msg);
    ck_assert_ptr_null(f.fp);
    ck_assert_ptr_null(f.path);

    /* a write too big for the stream's buffer fails at fwrite */
    static char big[1 << 16];
    ck_assert_int_eq(ae_write_file_atomic(full, big, sizeof big, &err), AE_ERR_IO);
    ck_assert_msg(strstr(err.msg, "write failed") != NULL, "%s", err.msg);
    ck_assert_int_eq(lstat(full, &sb), 0);
    ck_assert(S_ISCHR(sb.st_mode) && major(sb.st_rdev) == 1 && minor(sb.st_rdev) == 7);
    assert_no_tmp(tmpdir);
}
END_TEST

START_TEST(test_link_to_regular_file)
{
    ck_assert_int_eq(mkdir(in_tmp("sub"), 0777), 0);
    const char *target = in_tmp("sub/real.txt"), *link = in_tmp("link");
    spit(target, "old\n");
    ck_assert_int_eq(symlink("sub/real.txt", link), 0); /* relative to the link's folder */
    ae_error err = {{0}};
    ck_assert_msg(ae_write_file_atomic(link, "new\n", 4, &err) == AE_OK, "%s", err.msg);
    assert_content(target, "new\n");
    struct stat sb;
    ck_assert_int_eq(lstat(link, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    char text[64];
    ssize_t n = readlink(link, text, sizeof text - 1);
    ck_assert_int_eq(n, 12);
    text[n] = '\0';
    ck_assert_str_eq(text, "sub/real.txt");
    assert_no_tmp(tmpdir);
    assert_no_tmp(in_tmp("sub"));
}
END_TEST

START_TEST(test_dangling_link_creates_target)
{
    /* a chain: link -> sub/hop (relative to tmpdir), sub/hop -> new.txt
     * (relative to sub, where that link lives), which does not exist */
    ck_assert_int_eq(mkdir(in_tmp("sub"), 0777), 0);
    ck_assert_int_eq(symlink("sub/hop", in_tmp("link")), 0);
    ck_assert_int_eq(symlink("new.txt", in_tmp("sub/hop")), 0);
    ae_error err = {{0}};
    ae_atomic_file f;
    ck_assert_msg(ae_atomic_open(&f, in_tmp("link"), &err) == AE_OK, "%s", err.msg);
    ck_assert(!f.in_place);
    ck_assert_str_eq(f.target, in_tmp("sub/new.txt"));
    fputs("created\n", f.fp);
    ck_assert_msg(ae_atomic_commit(&f, &err) == AE_OK, "%s", err.msg);
    assert_content(in_tmp("sub/new.txt"), "created\n");
    struct stat sb;
    ck_assert_int_eq(lstat(in_tmp("link"), &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    ck_assert_int_eq(lstat(in_tmp("sub/hop"), &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    assert_content(in_tmp("link"), "created\n");
    assert_no_tmp(tmpdir);
    assert_no_tmp(in_tmp("sub"));

    /* an absolute dangling link into a folder that does not exist */
    ck_assert_int_eq(symlink(in_tmp("nowhere/x"), in_tmp("lost")), 0);
    ck_assert_int_eq(ae_write_file_atomic(in_tmp("lost"), "x", 1, &err), AE_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, in_tmp("lost")) == err.msg, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, in_tmp("nowhere/x")) != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_link_to_pipe_written_in_place)
{
    /* /proc/self/fd/N of a pipe reads as "pipe:[123]": it has to be opened
     * through the link, not through its text */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fds[1]);
    const char *link = in_tmp("stdout.link");
    ck_assert_int_eq(symlink(proc, link), 0);
    ae_error err = {{0}};
    ck_assert_msg(ae_write_file_atomic(link, "piped\n", 6, &err) == AE_OK, "%s", err.msg);
    close(fds[1]);
    char got[16] = "";
    ck_assert_int_eq(read(fds[0], got, sizeof got - 1), 6);
    ck_assert_str_eq(got, "piped\n");
    close(fds[0]);
    struct stat sb;
    ck_assert_int_eq(lstat(link, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    assert_no_tmp(tmpdir);
}
END_TEST

START_TEST(test_link_to_char_device)
{
    const char *null = in_tmp("null"), *link = in_tmp("null.link");
    make_char_device(null, 1, 3);
    ck_assert_int_eq(symlink("null", link), 0);
    ae_error err = {{0}};
    ck_assert_msg(ae_write_file_atomic(link, "gone\n", 5, &err) == AE_OK, "%s", err.msg);
    struct stat sb;
    ck_assert_int_eq(lstat(link, &sb), 0);
    ck_assert(S_ISLNK(sb.st_mode));
    ck_assert_int_eq(lstat(null, &sb), 0);
    ck_assert(S_ISCHR(sb.st_mode));
    assert_no_tmp(tmpdir);
}
END_TEST

START_TEST(test_refused)
{
    ae_error err = {{0}};
    /* a folder, directly and through a link */
    ck_assert_int_eq(mkdir(in_tmp("dir"), 0777), 0);
    ck_assert_int_eq(ae_write_file_atomic(in_tmp("dir"), "x", 1, &err), AE_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, in_tmp("dir")) == err.msg, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "is a folder") != NULL, "%s", err.msg);
    ck_assert_int_eq(symlink("dir", in_tmp("dir.link")), 0);
    ck_assert_int_eq(ae_write_file_atomic(in_tmp("dir.link"), "x", 1, &err), AE_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "is a folder") != NULL, "%s", err.msg);

    /* a socket cannot be opened as a file (ENXIO) */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(s, 0);
    struct sockaddr_un addr = {0};
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", in_tmp("sock"));
    ck_assert_int_eq(bind(s, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(ae_write_file_atomic(in_tmp("sock"), "x", 1, &err), AE_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, in_tmp("sock")) == err.msg, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "is a socket") != NULL, "%s", err.msg);
    close(s);

    /* a loop of links, and a dangling chain longer than the kernel follows */
    ck_assert_int_eq(symlink("b", in_tmp("a")), 0);
    ck_assert_int_eq(symlink("a", in_tmp("b")), 0);
    ck_assert_int_eq(ae_write_file_atomic(in_tmp("a"), "x", 1, &err), AE_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "Too many levels of symbolic links") != NULL, "%s", err.msg);
    for (int i = 0; i <= 40; i++) {
        char name[16], next[16];
        snprintf(name, sizeof name, "c%d", i);
        snprintf(next, sizeof next, "c%d", i + 1);
        ck_assert_int_eq(symlink(next, in_tmp(name)), 0);
    }
    ck_assert_int_eq(ae_write_file_atomic(in_tmp("c0"), "x", 1, &err), AE_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "Too many levels of symbolic links") != NULL, "%s", err.msg);
    ck_assert_int_eq(access(in_tmp("c41"), F_OK), -1);
    /* 40 links are followed, as the kernel does */
    ck_assert_int_eq(ae_write_file_atomic(in_tmp("c1"), "x", 1, &err), AE_OK);
    assert_content(in_tmp("c41"), "x");
    assert_no_tmp(tmpdir);
}
END_TEST

static Suite *fileio_suite(void)
{
    Suite *s = suite_create("fileio");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_regular_file_replaced);
    tcase_add_test(tc, test_fifo_written_in_place);
    tcase_add_test(tc, test_char_device_written_in_place);
    tcase_add_test(tc, test_link_to_regular_file);
    tcase_add_test(tc, test_dangling_link_creates_target);
    tcase_add_test(tc, test_link_to_pipe_written_in_place);
    tcase_add_test(tc, test_link_to_char_device);
    tcase_add_test(tc, test_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(fileio_suite());
}
