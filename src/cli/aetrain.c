/* aetrain: train an autoencoder or VAE from a JSON spec. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ae/checkpoint.h"
#include "ae/config.h"
#include "ae/dist.h"
#include "ae/fileio.h"
#include "ae/pause.h"
#include "ae/train.h"
#include "ae/run.h"
#include "cli.h"
#include "ae/backend.h"

#define MAX_OVERRIDES 256

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aetrain --config SPEC.json [options]\n"
            "       aetrain --resume DIR/checkpoint.safetensors [options]\n"
            "\n"
            "Trains the autoencoder, VAE or classifier (docs/classify.md) the JSON spec\n"
            "describes (docs/config.md) and writes config.json, metrics.csv,\n"
            "checkpoint.safetensors, model.safetensors, pictures, plots (loss.svg,\n"
            "latents.svg) and report.html, a page showing them all, into the output folder\n"
            "(output.dir, default runs/<spec name>; docs/outputs.md).\n"
            "\n"
            "options:\n"
            "  --config FILE      the model spec\n"
            "  --set KEY=VALUE    override a spec key, repeatable: --set model.latent=2\n"
            "                     (VALUE is JSON when it parses as JSON, else a string)\n"
            "  --out DIR          output folder (sets output.dir)\n"
            "  --epochs N         total epochs (sets train.epochs; with --resume, the total\n"
            "                     including the epochs already done)\n"
            "  --seed N           random seed (sets train.seed; default 1)\n"
            "  --threads N        BLAS threads (sets train.threads; 0 = all cores, the default)\n"
            "  --precision P      fp32 or bf16: the GEMMs' inputs (sets train.precision;\n"
            "                     default fp32; bf16 needs oneDNN and AVX-512)\n"
            "  --resume CKPT      continue a run from its checkpoint; the spec is read from\n"
            "                     the checkpoint (use --set, --epochs, --out to change it)\n"
            "  --force            train even when another aetrain holds the output folder's\n"
            "                     lock (DIR/aetrain.lock)\n"
            "  --quiet            print only errors\n"
            "  --help             this text\n"
            "  --version          the version and the default GEMM backend\n"
            "\n"
            "Ctrl-C (SIGINT) or SIGTERM finishes the current batch, writes the checkpoint and\n"
            "says how to resume; a second Ctrl-C stops at once (the last checkpoint stays).\n"
            "\n"
            "exit codes: 0 done, 1 runtime failure (I/O, disk full, divergence), 2 bad usage,\n"
            "spec or input, or the output folder in use; 130 after SIGINT, 143 after SIGTERM\n");
}

typedef struct {
    bool quiet, tty, show_lr;
    int start_epoch, epochs, patience;
    size_t batches;
    double last_print;
    double run_start;
} progress_ctx;

/* The signal that asked the run to stop (0 while none has). */
static volatile sig_atomic_t stop_signal = 0;

/* The first SIGINT/SIGTERM asks the training loop to stop after its batch;
 * a second SIGINT leaves at once.  That is safe: every file is written to a
 * temporary name and renamed, so no half-written file replaces a good one. */
static void on_signal(int sig)
{
    if (stop_signal && sig == SIGINT)
        _exit(130);
    stop_signal = sig;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* Past a file-size limit (ulimit -f) write() must fail with EFBIG and
     * take the error path, rather than the default SIGXFSZ killing us. */
    signal(SIGXFSZ, SIG_IGN);
}

/* Holds DIR/aetrain.lock (an fcntl write lock, released by the kernel when
 * the process ends, however it ends) for the life of the run, so two runs
 * never write one folder.  Returns 0, or the exit code after a message. */
static int lock_output(const char *dir)
{
    ae_error err = {{0}};
    ae_status st = ae_mkdir_p(dir, &err);
    if (st != AE_OK)
        return cli_fail(st, &err);
    char *path = ae_path_join(dir, "aetrain.lock");
    int fd = path ? open(path, O_RDWR | O_CREAT, 0666) : -1;
    if (fd < 0) {
        cli_error("%s: cannot create the lock file: %s", path ? path : dir, strerror(errno));
        free(path);
        return 2;
    }
    free(path);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int e = errno;
        if (e == EACCES || e == EAGAIN) {
            char pid[32] = "";
            ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
            pid[n > 0 ? n : 0] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
            cli_error("%s is in use by another aetrain (pid %s); use --force to train anyway",
                      dir, pid[0] ? pid : "unknown");
        } else {
            cli_error("%s/aetrain.lock: cannot lock: %s", dir, strerror(e));
        }
        close(fd);
        return 2;
    }
    /* Holding the lock, we know no other aetrain is writing here: the
     * temporary files (NAME.tmp.XXXXXX) in the folder were left by a run that
     * was killed mid-write; the files they were to replace are intact. */
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        const char *t = strstr(de->d_name, ".tmp.");
        if (t && t != de->d_name && strlen(t) == 11) {
            char *stale = ae_path_join(dir, de->d_name);
            if (stale)
                unlink(stale);
            free(stale);
        }
    }
    if (d)
        closedir(d);
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
        /* the pid only improves the message of a second run */
    }
    return 0; /* fd stays open: the lock lives as long as the process */
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_start(void *vctx, const ae_run_info *info)
{
    progress_ctx *c = vctx;
    c->start_epoch = info->start_epoch;
    c->batches = info->batches_per_epoch;
    c->run_start = now();
    if (c->quiet)
        return;
    fprintf(stderr, "aetrain: %zu training", info->n_train);
    if (info->n_val)
        fprintf(stderr, ", %zu validation", info->n_val);
    if (info->n_test)
        fprintf(stderr, ", %zu test", info->n_test);
    fprintf(stderr, " examples of %zu features; %zu parameters; %s, %s, %d thread%s",
            info->dim, info->n_params, ae_backend_describe(), ae_precision_describe(), info->threads,
            info->threads == 1 ? "" : "s");
    if (info->ranks > 1)
        fprintf(stderr, " in each of %d MPI ranks", info->ranks);
    fprintf(stderr, "; output in %s\n", info->out_dir);
    if (info->start_epoch > 1)
        fprintf(stderr, "aetrain: resuming after epoch %d\n", info->start_epoch - 1);
}

static void on_pretrain(void *vctx, const ae_pretrain_progress *p)
{
    progress_ctx *c = vctx;
    if (!c->quiet)
        fprintf(stderr, "pretrain stage %d/%d (%zu -> %zu)  epoch %d/%d  loss %.4f\n", p->stage,
                p->stages, p->in, p->out, p->epoch, p->epochs, p->loss);
}

static void on_batch(void *vctx, const ae_progress *p)
{
    progress_ctx *c = vctx;
    if (c->quiet || !c->tty)
        return;
    double t = now();
    if (t - c->last_print < 0.1 && p->batch != p->n_batches)
        return;
    c->last_print = t;
    double per_batch = p->elapsed / (double)p->batch;
    double eta = per_batch * (double)(p->n_batches - p->batch) +
                 per_batch * (double)p->n_batches * (double)(p->epochs - p->epoch);
    fprintf(stderr, "\r\033[Kepoch %d/%d  batch %zu/%zu  loss %.3f  %.0f ex/s  ETA %d:%02d",
            p->epoch, p->epochs, p->batch, p->n_batches, p->running_loss, p->examples_per_sec,
            (int)(eta / 60), (int)fmod(eta, 60));
    fflush(stderr);
}

static void on_epoch(void *vctx, const ae_epoch_metrics *e)
{
    progress_ctx *c = vctx;
    if (c->quiet)
        return;
    if (c->tty)
        fputs("\r\033[K", stderr);
    if (e->has_accuracy) { /* a classifier: cross-entropy (nats) and accuracy */
        fprintf(stderr, "epoch %d/%d  train xent %.4f, accuracy %.4f", e->epoch, c->epochs,
                e->train_loss, e->train_accuracy);
        if (e->has_val)
            fprintf(stderr, "  val xent %.4f", e->val_loss);
        if (e->has_test)
            fprintf(stderr, "  test xent %.4f, accuracy %.4f", e->test_loss, e->test_accuracy);
    } else {
        fprintf(stderr, "epoch %d/%d  train %.4f (recon %.4f, kl %.4f", e->epoch, c->epochs,
                e->train_loss, e->train_recon, e->train_kl);
        if (e->train_kl2 > 0)
            fprintf(stderr, " of which z2 %.4f", e->train_kl2);
        if (e->train_reg > 0)
            fprintf(stderr, ", penalty %.4f", e->train_reg);
        fputc(')', stderr);
        if (e->has_val)
            fprintf(stderr, "  val %.4f (recon %.4f, kl %.4f)", e->val_loss, e->val_recon, e->val_kl);
        if (e->has_test) {
            fprintf(stderr, "  test %.4f (recon %.4f, kl %.4f", e->test_loss, e->test_recon,
                    e->test_kl);
            if (e->test_kl2 > 0)
                fprintf(stderr, " of which z2 %.4f", e->test_kl2);
            if (e->test_reg > 0)
                fprintf(stderr, ", penalty %.4f", e->test_reg);
            fprintf(stderr, "; z=mu %.4f)", e->test_loss_mu);
        }
    }
    if (c->show_lr)
        fprintf(stderr, "  lr %.3g", e->lr);
    fprintf(stderr, "  %.2fs %.0f ex/s%s\n", e->seconds, e->examples_per_sec,
            e->best ? "  (best so far: " AE_RUN_BEST ")" : "");
    if (e->stopped_early)
        fprintf(stderr, "aetrain: early stopping after epoch %d: the validation loss has not "
                        "improved by train.early_stopping.min_delta for %d epochs (the lowest: "
                        "%.4f at epoch %d)\n",
                e->epoch, c->patience, e->best_val, e->best_epoch);
}

/* The spec keys the command line sets: the --set options in order, then
 * the shorthands' (malloc'ed), so that a shorthand wins over a --set. */
typedef struct {
    const char *set[MAX_OVERRIDES];
    size_t n_set;
    char *owned[8];
    size_t n_owned;
} overrides_t;

static bool add_set(const char *name, const char *v, void *out)
{
    overrides_t *ov = out;
    (void)name;
    if (ov->n_set >= MAX_OVERRIDES - 8) {
        cli_error("too many --set options (at most %d)", MAX_OVERRIDES - 8);
        return false;
    }
    ov->set[ov->n_set++] = v;
    return true;
}

/* Shorthands for common keys: --epochs 5 is a --set train.epochs=5 applied
 * after the --set options. */
static bool add_shorthand(const char *name, const char *v, void *out)
{
    static const struct {
        const char *opt, *key;
        bool string;
    } shorthands[] = {{"--out", "output.dir", true},
                      {"--epochs", "train.epochs", false},
                      {"--seed", "train.seed", false},
                      {"--threads", "train.threads", false},
                      {"--precision", "train.precision", true}};
    overrides_t *ov = out;
    size_t k = 0; /* name's row: main's table gives this call only the names above */
    while (k + 1 < sizeof shorthands / sizeof shorthands[0] && strcmp(shorthands[k].opt, name))
        k++;
    if (!shorthands[k].string) {
        long dummy;
        uint64_t u;
        if (!strcmp(name, "--seed") ? !cli_parse_u64("--seed", v, &u)
                                    : !cli_parse_long(name, v, 0, 100000000, &dummy))
            return false;
    }
    char *o = shorthands[k].string ? cli_string_override(shorthands[k].key, v) : NULL;
    if (!shorthands[k].string) {
        size_t n = strlen(shorthands[k].key) + strlen(v) + 2;
        o = malloc(n);
        if (o)
            snprintf(o, n, "%s=%s", shorthands[k].key, v);
    }
    if (!o || ov->n_owned >= sizeof ov->owned / sizeof ov->owned[0]) {
        free(o);
        cli_error("out of memory or too many options");
        return false;
    }
    ov->owned[ov->n_owned++] = o;
    return true;
}

static void version(FILE *f)
{
    fprintf(f, "aetrain %s, GEMM backend %s, bf16 %s\n", ae_version(), ae_backend_describe(),
            ae_bf16_support());
}

int main(int argc, char **argv)
{
    cli_prog = "aetrain";
    const char *config_path = NULL, *resume = NULL;
    overrides_t ov = {.n_set = 0};
    progress_ctx ctx = {0};
    int rc = 2;
    bool force = false;

    /* Under mpirun every rank runs this program; rank 0 alone prints. */
    ae_dist_init(&argc, &argv);
    const int rank = ae_dist_rank();
    if (rank != 0) {
        cli_silent = true;
        ctx.quiet = true;
    }
    const cli_option opts[] = {
        CLI_OPT_FLAG("--quiet", &ctx.quiet),
        CLI_OPT_FLAG("-q", &ctx.quiet),
        CLI_OPT_FLAG("--force", &force),
        CLI_OPT_STR("--config", &config_path),
        CLI_OPT_STR("--resume", &resume),
        CLI_OPT_CALL("--set", add_set, &ov),
        CLI_OPT_CALL("--out", add_shorthand, &ov),
        CLI_OPT_CALL("--epochs", add_shorthand, &ov),
        CLI_OPT_CALL("--seed", add_shorthand, &ov),
        CLI_OPT_CALL("--threads", add_shorthand, &ov),
        CLI_OPT_CALL("--precision", add_shorthand, &ov),
    };
    int r = cli_parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], usage, version);
    if (r >= 0) {
        rc = r;
        goto out;
    }
    for (size_t k = 0; k < ov.n_owned; k++)
        ov.set[ov.n_set++] = ov.owned[k];
    if (!config_path && !resume) {
        cli_error("--config SPEC.json is required (see --help)");
        goto out;
    }
    if (config_path && resume) {
        cli_error("--resume reads the spec from the checkpoint; drop --config (change keys "
                  "with --set, --epochs, --out)");
        goto out;
    }

    ae_error err = {{0}};
    ae_config cfg;
    ae_status st = ae_pause_init(&err); /* the tests' hook (ae/pause.h) */
    if (st != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    if (resume) {
        ae_checkpoint ck;
        st = ae_checkpoint_read(&ck, resume, &err);
        if (st == AE_OK) {
            st = ae_config_parse(&cfg, ck.config_json, resume, ov.set, ov.n_set, &err);
            ae_checkpoint_free(&ck);
        }
    } else {
        st = ae_config_load(&cfg, config_path, ov.set, ov.n_set, &err);
    }
    /* a backend or precision this machine cannot run is refused before the
     * output folder is made */
    if (st == AE_OK)
        st = ae_backend_select(cfg.train.backend, &err);
    if (st == AE_OK)
        st = ae_precision_select(cfg.train.precision, "train.precision", &err);
    /* a spec one rank cannot read stops them all */
    st = ae_dist_agree(st, &err);
    if (st != AE_OK) {
        rc = cli_fail(st, &err);
        goto out;
    }
    if (ae_dist_size() > 1) {
        /* rank 0 holds the lock for them all */
        double lock_rc = rank == 0 && !force ? lock_output(cfg.output.dir) : 0;
        ae_dist_sum_doubles(&lock_rc, 1);
        if ((rc = (int)lock_rc) != 0)
            goto out;
    } else if (!force && (rc = lock_output(cfg.output.dir)) != 0) {
        goto out;
    }
    install_signals();
    ctx.tty = cli_stderr_is_tty();
    ctx.epochs = cfg.train.epochs;
    ctx.show_lr = cfg.train.lr_schedule.type != AE_LR_NONE;
    ctx.patience = cfg.train.early_stop_patience;
    ae_train_hooks hooks = {on_start, on_pretrain, on_batch, on_epoch, &ctx, &stop_signal};
    st = ae_train(&cfg, resume, &hooks, &err);
    if (st != AE_OK) {
        if (ctx.tty && !ctx.quiet)
            fputs("\r\033[K", stderr);
        if (st == AE_INTERRUPTED) {
            /* reported even with --quiet: the user needs to know how to go on */
            if (rank == 0)
                fprintf(stderr, "aetrain: %s; resume with: aetrain --resume %s/checkpoint.safetensors\n",
                    err.msg, cfg.output.dir);
            rc = stop_signal == SIGTERM ? 143 : 130;
        } else {
            rc = cli_fail(st, &err);
        }
        goto out;
    }
    if (!ctx.quiet) {
        fprintf(stderr, "aetrain: done in %.1fs; model in %s/model.safetensors\n",
                now() - ctx.run_start, cfg.output.dir);
        if (cfg.output.images)
            fprintf(stderr, "aetrain: report in %s/report.html\n", cfg.output.dir);
    }
    rc = 0;
out:
    for (size_t k = 0; k < ov.n_owned; k++)
        free(ov.owned[k]);
    ae_dist_finalize();
    return rc;
}
