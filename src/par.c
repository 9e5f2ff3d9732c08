#define _POSIX_C_SOURCE 200809L
#include "par.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#if defined(__SSE2__)
#include <xmmintrin.h>
#define GET_CSR() _mm_getcsr()
#define SET_CSR(c) _mm_setcsr(c)
#define PAUSE() _mm_pause()
#else
#define GET_CSR() 0u
#define SET_CSR(c) ((void)(c))
#define PAUSE() ((void)0)
#endif

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned posted;       /* jobs posted (under mu) */
    atomic_uint finished;  /* jobs the helper has finished */
    ae_par_fn fn;
    void *ctx;
    size_t lo, hi;
    unsigned csr;
    bool enabled, started, failed;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *helper(void *arg)
{
    (void)arg;
    unsigned seen = 0;
    for (;;) {
        pthread_mutex_lock(&P.mu);
        while (P.posted == seen)
            pthread_cond_wait(&P.cv, &P.mu);
        seen = P.posted;
        ae_par_fn fn = P.fn;
        void *ctx = P.ctx;
        size_t lo = P.lo, hi = P.hi;
        unsigned csr = P.csr;
        pthread_mutex_unlock(&P.mu);
        if (GET_CSR() != csr)
            SET_CSR(csr);
        fn(ctx, lo, hi);
        atomic_store_explicit(&P.finished, seen, memory_order_release);
    }
    return NULL;
}

/* The child of a fork has no helper thread: start a new one when needed. */
static void after_fork_child(void)
{
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.cv, NULL);
    P.posted = 0;
    atomic_store(&P.finished, 0);
    P.started = false;
}

static bool start(void)
{
    if (P.started)
        return true;
    if (P.failed)
        return false;
    static bool atfork;
    if (!atfork && pthread_atfork(NULL, NULL, after_fork_child) != 0) {
        P.failed = true;
        return false;
    }
    atfork = true;
    /* Signals stay with the program's own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, helper, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        P.failed = true;
        return false;
    }
    P.started = true;
    return true;
}

void ae_par_set_threads(int threads)
{
    P.enabled = threads >= 2;
}

void ae_par_for(ae_par_fn fn, void *ctx, size_t n, size_t align, size_t min_n)
{
    if (align == 0)
        align = 1;
    size_t cut = n / 2 / align * align;
    if (!P.enabled || n < min_n || cut == 0 || !start()) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&P.mu);
    P.fn = fn;
    P.ctx = ctx;
    P.lo = 0;
    P.hi = cut;
    P.csr = GET_CSR();
    unsigned job = ++P.posted;
    pthread_cond_signal(&P.cv);
    pthread_mutex_unlock(&P.mu);
    fn(ctx, cut, n);
    /* The helper's half takes about as long as ours: wait for it briefly,
     * then give the core away in case the helper needs it. */
    for (unsigned i = 0; atomic_load_explicit(&P.finished, memory_order_acquire) != job; i++) {
        if (i < 2000)
            PAUSE();
        else
            sched_yield();
    }
}
