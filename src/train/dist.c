/* Data-parallel training across MPI ranks (ae/dist.h).  Without AE_MPI the
 * build has one rank and these are no-ops. */
#include "ae/dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef AE_MPI
#include <mpi.h>

static int g_started_here; /* we called MPI_Init, so we finalize */
static int g_local = 1;

void ae_dist_init(int *argc, char ***argv)
{
    int up = 0;
    MPI_Initialized(&up);
    if (!up) {
        MPI_Init(argc, argv);
        g_started_here = 1;
    }
    /* the ranks sharing this machine's cores (for the thread count) */
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &g_local);
        MPI_Comm_free(&node);
    }
}

void ae_dist_finalize(void)
{
    int down = 0;
    MPI_Finalized(&down);
    if (g_started_here && !down)
        MPI_Finalize();
}

int ae_dist_available(void)
{
    return 1;
}

static int running(void)
{
    int up = 0, down = 0;
    MPI_Initialized(&up);
    MPI_Finalized(&down);
    return up && !down;
}

int ae_dist_rank(void)
{
    int r = 0;
    if (running())
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int ae_dist_size(void)
{
    int s = 1;
    if (running())
        MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
}

int ae_dist_local_size(void)
{
    return running() ? g_local : 1;
}

/* MPI counts are ints: large buffers go in pieces. */
static void allreduce(void *buf, size_t n, size_t esize, MPI_Datatype type, MPI_Op op)
{
    if (ae_dist_size() == 1)
        return;
    char *p = buf;
    while (n > 0) {
        int k = n > (size_t)INT_MAX ? INT_MAX : (int)n;
        MPI_Allreduce(MPI_IN_PLACE, p, k, type, op, MPI_COMM_WORLD);
        p += (size_t)k * esize;
        n -= (size_t)k;
    }
}

void ae_dist_sum_floats(float *buf, size_t n)
{
    allreduce(buf, n, sizeof(float), MPI_FLOAT, MPI_SUM);
}

void ae_dist_sum_doubles(double *buf, size_t n)
{
    allreduce(buf, n, sizeof(double), MPI_DOUBLE, MPI_SUM);
}

void ae_dist_min_doubles(double *buf, size_t n)
{
    allreduce(buf, n, sizeof(double), MPI_DOUBLE, MPI_MIN);
}

void ae_dist_max_doubles(double *buf, size_t n)
{
    allreduce(buf, n, sizeof(double), MPI_DOUBLE, MPI_MAX);
}

void ae_dist_broadcast(void *buf, size_t bytes, int root)
{
    if (ae_dist_size() == 1)
        return;
    char *p = buf;
    while (bytes > 0) {
        int k = bytes > (size_t)INT_MAX ? INT_MAX : (int)bytes;
        MPI_Bcast(p, k, MPI_BYTE, root, MPI_COMM_WORLD);
        p += k;
        bytes -= (size_t)k;
    }
}

ae_status ae_dist_agree(ae_status st, ae_error *err)
{
    int size = ae_dist_size();
    if (size == 1)
        return st;
    int mine = st != AE_OK ? ae_dist_rank() : size, first = size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == size)
        return AE_OK;
    int code = (int)st;
    MPI_Bcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD);
    ae_error tmp;
    ae_error *e = err ? err : &tmp;
    if (!err)
        memset(&tmp, 0, sizeof tmp);
    MPI_Bcast(e->msg, (int)sizeof e->msg, MPI_CHAR, first, MPI_COMM_WORLD);
    return (ae_status)code;
}

void ae_dist_abort(int code)
{
    if (running() && ae_dist_size() > 1)
        MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

#else /* one rank */

void ae_dist_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
}

void ae_dist_finalize(void) {}

int ae_dist_available(void)
{
    return 0;
}

int ae_dist_rank(void)
{
    return 0;
}

int ae_dist_size(void)
{
    return 1;
}

int ae_dist_local_size(void)
{
    return 1;
}

void ae_dist_sum_floats(float *buf, size_t n)
{
    (void)buf;
    (void)n;
}

void ae_dist_sum_doubles(double *buf, size_t n)
{
    (void)buf;
    (void)n;
}

void ae_dist_min_doubles(double *buf, size_t n)
{
    (void)buf;
    (void)n;
}

void ae_dist_max_doubles(double *buf, size_t n)
{
    (void)buf;
    (void)n;
}

void ae_dist_broadcast(void *buf, size_t bytes, int root)
{
    (void)buf;
    (void)bytes;
    (void)root;
}

ae_status ae_dist_agree(ae_status st, ae_error *err)
{
    (void)err;
    return st;
}

void ae_dist_abort(int code)
{
    exit(code);
}

#endif

void ae_dist_slice(size_t total, size_t *first, size_t *rows)
{
    size_t size = (size_t)ae_dist_size(), rank = (size_t)ae_dist_rank();
    size_t base = total / size, extra = total % size;
    *rows = base + (rank < extra ? 1 : 0);
    *first = rank * base + (rank < extra ? rank : extra);
}
