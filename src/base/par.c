#if defined(__linux__)
#define _GNU_SOURCE /* sched_getcpu, pthread_attr_setaffinity_np */
#else
#define _POSIX_C_SOURCE 200809L
#endif
#include "base/par.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#if defined(AE_HAVE_ONEDNN) && defined(_OPENMP)
#include <omp.h>
#define HAVE_OMP 1
#endif

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

/* A job is cut into CHUNKS pieces that the caller and the helper claim in
 * turn, so a helper that wakes late (another process holding the second
 * core) costs at most the piece it is working on.  The claim counter holds
 * the job number in its high half and the next piece in its low half: a
 * helper that wakes after its job has ended cannot claim a piece of the
 * next one by mistake, and once it has claimed a piece the job's fields
 * stay valid until it reports the piece done. */
#define CHUNKS 8

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned posted;          /* jobs posted (under mu) */
    _Atomic uint64_t claim;   /* job << 32 | next piece */
    atomic_uint done;         /* pieces finished in the current job */
    ae_par_fn fn;
    void *ctx;
    size_t n, piece;          /* piece k is [k * piece, min(n, (k + 1) * piece)) */
    unsigned csr;
    bool enabled, started, failed, omp;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Claims and runs pieces of job `job` until none is left. */
static void work(uint32_t job)
{
    uint64_t v = atomic_load_explicit(&P.claim, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(v >> 32) != job || (uint32_t)v >= CHUNKS)
            return;
        if (!atomic_compare_exchange_weak_explicit(&P.claim, &v, v + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        size_t lo = (size_t)(uint32_t)v * P.piece;
        size_t hi = lo + P.piece < P.n ? lo + P.piece : P.n;
        if (lo < hi)
            P.fn(P.ctx, lo, hi);
        atomic_fetch_add_explicit(&P.done, 1, memory_order_release);
        v = atomic_load_explicit(&P.claim, memory_order_acquire);
    }
}

static void *helper(void *arg)
{
    (void)arg;
    unsigned seen = 0;
    for (;;) {
        pthread_mutex_lock(&P.mu);
        while (P.posted == seen)
            pthread_cond_wait(&P.cv, &P.mu);
        seen = P.posted;
        unsigned csr = P.csr;
        pthread_mutex_unlock(&P.mu);
        if (GET_CSR() != csr)
            SET_CSR(csr);
        work((uint32_t)seen);
    }
    return NULL;
}

/* The child of a fork has no helper thread: start a new one when needed.
 * Nor can it use the parent's OpenMP pool (libgomp is not fork-safe: a
 * parallel region in the child waits for workers that do not exist), so
 * the child's pieces go to its own helper. */
static void after_fork_child(void)
{
    P.omp = false;
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.cv, NULL);
    P.posted = 0;
    atomic_store(&P.claim, (uint64_t)CHUNKS);
    atomic_store(&P.done, 0);
    P.started = false;
}

/* after_fork_child, registered once. */
static bool watch_forks(void)
{
    static bool atfork;
    if (!atfork && pthread_atfork(NULL, NULL, after_fork_child) != 0)
        return false;
    atfork = true;
    return true;
}

static bool start(void)
{
    if (P.started)
        return true;
    if (P.failed)
        return false;
    if (!watch_forks()) {
        P.failed = true;
        return false;
    }
    /* Signals stay with the program's own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
#if defined(__linux__)
    /* Keep the helper off the caller's core: left to the scheduler it was
     * often woken there (while OpenBLAS's worker spun on the other core) and
     * ran its pieces after the caller's instead of beside them. */
    int cpu = sched_getcpu();
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu >= 0 && sched_getaffinity(0, sizeof set, &set) == 0 && CPU_ISSET(cpu, &set) &&
        CPU_COUNT(&set) > 1) {
        CPU_CLR(cpu, &set);
        pthread_attr_setaffinity_np(&attr, sizeof set, &set);
    }
#endif
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

void ae_par_use_openmp(bool on)
{
#ifdef HAVE_OMP
    /* without the fork handler a child would inherit OpenMP mode and hang */
    P.omp = on && watch_forks();
#else
    (void)on;
#endif
}

#ifdef HAVE_OMP
/* The same CHUNKS pieces on OpenMP's pool, whose worker is still spinning
 * after oneDNN's last GEMM: it takes its pieces at once, where our helper
 * would have to share the second core with it. */
static void omp_for(ae_par_fn fn, void *ctx, size_t n, size_t piece)
{
    unsigned csr = GET_CSR();
#pragma omp parallel num_threads(2)
    {
        if (GET_CSR() != csr)
            SET_CSR(csr);
#pragma omp for schedule(dynamic, 1)
        for (int k = 0; k < CHUNKS; k++) {
            size_t lo = (size_t)k * piece, hi = lo + piece < n ? lo + piece : n;
            if (lo < hi)
                fn(ctx, lo, hi);
        }
    }
}
#endif

void ae_par_for(ae_par_fn fn, void *ctx, size_t n, size_t align, size_t min_n)
{
    if (align == 0)
        align = 1;
    /* pieces of whole `align` units; fewer than CHUNKS when n is small */
    size_t piece = (n + CHUNKS - 1) / CHUNKS;
    piece = (piece + align - 1) / align * align;
    if (!P.enabled || n < min_n || piece >= n) {
        fn(ctx, 0, n);
        return;
    }
#ifdef HAVE_OMP
    if (P.omp) {
        omp_for(fn, ctx, n, piece);
        return;
    }
#endif
    if (!start()) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&P.mu);
    P.fn = fn;
    P.ctx = ctx;
    P.n = n;
    P.piece = piece;
    P.csr = GET_CSR();
    uint32_t job = ++P.posted;
    atomic_store_explicit(&P.done, 0, memory_order_relaxed);
    atomic_store_explicit(&P.claim, (uint64_t)job << 32, memory_order_release);
    pthread_cond_signal(&P.cv);
    pthread_mutex_unlock(&P.mu);
    work(job);
    /* Wait for the helper's last piece: spin briefly, then let it have the
     * core in case it was waiting for one. */
    for (unsigned i = 0; atomic_load_explicit(&P.done, memory_order_acquire) != CHUNKS; i++) {
        if (i < 2000)
            PAUSE();
        else
            sched_yield();
    }
}
