/* The AE_PAUSE_AT test hook: what it accepts, and that it stops the process
 * at exactly the occurrences named (watched from a parent with waitpid). */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ae/pause.h"
#include "testutil.h"

static ae_status init_with(const char *value, ae_error *err)
{
    if (value)
        ck_assert_int_eq(setenv("AE_PAUSE_AT", value, 1), 0);
    else
        ck_assert_int_eq(unsetenv("AE_PAUSE_AT"), 0);
    return ae_pause_init(err);
}

START_TEST(accepts_lists)
{
    ae_error err = {{0}};
    ck_assert_int_eq(init_with(NULL, &err), AE_OK);
    ck_assert_int_eq(init_with("", &err), AE_OK);
    ck_assert_int_eq(init_with("batch:57", &err), AE_OK);
    ck_assert_int_eq(init_with("batch:40,checkpoint:1,epoch:3,batch:41", &err), AE_OK);
    ck_assert_int_eq(init_with("checkpoint:999999999999999999", &err), AE_OK);
}
END_TEST

START_TEST(rejects_malformed)
{
    static const char *const bad[] = {
        "batch",   "batch:",  "batch:0", "batch:-1", "batch:+1", "batch:1x", "batch:1,",
        ",batch:1", "batch:1,,epoch:2", "Batch:1", "step:3", ":3", "batch: 1",
        "batch:1 ", "batch:1:2", "batch:1000000000000000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ae_error err = {{0}};
        ck_assert_msg(init_with(bad[i], &err) == AE_ERR_USAGE, "accepted '%s'", bad[i]);
        ck_assert_msg(strstr(err.msg, "AE_PAUSE_AT") && strstr(err.msg, "POINT:N"), "%s",
                      err.msg);
    }
    /* a rejected value arms nothing: reaching the points does not stop us */
    for (int k = 0; k < 3; k++)
        ae_pause_at(AE_PAUSE_BATCH, NULL);
}
END_TEST

/* The child counts batches 1..6 and epochs 1..2 (as "B<n>"/"E<n>" on a
 * pipe, before each point); the parent sees it stop after the occurrences
 * AE_PAUSE_AT names and nowhere else. */
START_TEST(stops_at_the_named_occurrences)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    ck_assert_int_eq(setenv("AE_PAUSE_AT", "batch:2,epoch:1,batch:5", 1), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        if (ae_pause_init(NULL) != AE_OK)
            _exit(3);
        static const char *const steps[] = {"B1", "B2", "B3", "E1", "B4", "B5", "E2", "B6"};
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
            if (write(fds[1], steps[i], 2) != 2)
                _exit(4);
            ae_pause_at(steps[i][0] == 'B' ? AE_PAUSE_BATCH : AE_PAUSE_EPOCH, NULL);
        }
        _exit(0);
    }
    close(fds[1]);
    static const char *const expect_stops[] = {"B1B2", "B3E1", "B4B5"};
    for (int s = 0; s < 3; s++) {
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, WUNTRACED), pid);
        ck_assert_msg(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP, "stop %d: status %#x",
                      s + 1, status);
        /* everything written before this stop */
        char buf[16];
        ssize_t n = read(fds[0], buf, 4);
        ck_assert_int_eq(n, 4);
        buf[4] = '\0';
        ck_assert_str_eq(buf, expect_stops[s]);
        ck_assert_int_eq(kill(pid, SIGCONT), 0);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    char rest[16];
    ck_assert_int_eq(read(fds[0], rest, sizeof rest), 4); /* E2B6, no further stop */
    close(fds[0]);
    unsetenv("AE_PAUSE_AT");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pause");
    TCase *t = tcase_create("core");
    tcase_add_test(t, accepts_lists);
    tcase_add_test(t, rejects_malformed);
    tcase_add_test(t, stops_at_the_named_occurrences);
    suite_add_tcase(s, t);
    return tu_run_suite(s);
}
