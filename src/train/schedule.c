/* Learning-rate schedules, early stopping and the best model (schedule.h). */
#include "train/schedule.h"

#include <math.h>

void ae_schedule_start(const ae_config *cfg, ae_schedule_state *s)
{
    *s = (ae_schedule_state){.lr = cfg->train.lr, .plateau_best = INFINITY,
                             .stop_best = INFINITY, .best_val = INFINITY};
}

/* Burda et al. (2016), section 5: "lr 0.001 * 10^(-i/7) for 3^i epochs, i = 0..7",
 * 3280 epochs in all; later epochs keep the last rate. */
static double burda_factor(int epoch)
{
    int i = 0;
    long end = 1, len = 1; /* phase i covers epochs (end - 3^i, end] */
    while (i < 7 && epoch > end) {
        i++;
        len *= 3;
        end += len;
    }
    return pow(10.0, -(double)i / 7.0);
}

double ae_schedule_lr(const ae_config *cfg, const ae_schedule_state *s, int epoch)
{
    const double lr = cfg->train.lr;
    const int E = cfg->train.epochs;
    switch (cfg->train.lr_schedule.type) {
    case AE_LR_STEP:
        return lr * pow(cfg->train.lr_schedule.gamma,
                        (double)((epoch - 1) / cfg->train.lr_schedule.step_epochs));
    case AE_LR_COSINE: {
        const int W = cfg->train.lr_schedule.warmup_epochs;
        const double lo = cfg->train.lr_schedule.min_lr;
        if (epoch <= W)
            return lr * (double)epoch / (double)W;
        /* t = 0 at the first epoch after the warm-up, T the epochs after it */
        double t = (double)(epoch - W - 1), T = (double)(E - W > 0 ? E - W : 1);
        return lo + (lr - lo) * 0.5 * (1.0 + cos(3.14159265358979323846 * fmin(t, T) / T));
    }
    case AE_LR_PLATEAU:
        return s->lr;
    case AE_LR_BURDA:
        return lr * burda_factor(epoch);
    case AE_LR_NONE:
    case AE_LR_COUNT:
        break;
    }
    return lr;
}

bool ae_schedule_end_epoch(const ae_config *cfg, ae_schedule_state *s, int epoch, double val,
                           bool *best)
{
    *best = false;
    if (isnan(val))
        return false;
    /* PyTorch's ReduceLROnPlateau (mode min, no threshold or cool-down):
     * the rate drops once more than `patience` epochs have not improved */
    if (cfg->train.lr_schedule.type == AE_LR_PLATEAU) {
        if (val < s->plateau_best) {
            s->plateau_best = val;
            s->plateau_bad = 0;
        } else if (++s->plateau_bad > cfg->train.lr_schedule.patience) {
            s->lr = fmax(s->lr * cfg->train.lr_schedule.factor, cfg->train.lr_schedule.min_lr);
            s->plateau_bad = 0;
        }
    }
    if (val < s->best_val) {
        s->best_val = val;
        s->best_epoch = epoch;
        *best = true;
    }
    /* Keras's EarlyStopping: an improvement is a drop by more than min_delta */
    if (cfg->train.early_stop_patience > 0) {
        if (val < s->stop_best - cfg->train.early_stop_min_delta) {
            s->stop_best = val;
            s->stop_bad = 0;
        } else if (++s->stop_bad >= cfg->train.early_stop_patience) {
            s->stopped = true;
        }
    }
    return s->stopped;
}
