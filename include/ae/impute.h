/* Missing values filled by a trained model: iterated reconstruction, its
 * number of rounds checked on observed values hidden for the purpose.  The
 * caller owns every buffer. */
#ifndef AE_IMPUTE_H
#define AE_IMPUTE_H

#include <stddef.h>
#include <stdint.h>

#include "ae/model.h"
#include "ae/status.h"

typedef struct {
    long rounds;           /* at most this many rounds of reconstruction */
    double check_fraction; /* observed cells hidden to choose the rounds; 0 = run `rounds` */
    uint64_t seed;         /* which cells are hidden */
} ae_impute_settings;

typedef struct {
    long rounds;           /* the rounds made */
    size_t checked;        /* observed cells hidden for the check (0: no check) */
    /* the check's RMSE (scaled units) on the hidden cells after each round
     * 0..settings.rounds, or NULL; caller-owned, rounds + 1 entries */
    double *check_rmse;
} ae_impute_report;

/* Fills the cells of x [n x D] (scaled as the model's inputs) that miss
 * [n x D] marks; their values in x are the start (the training means, say).
 * labels [n] for a conditional family, else NULL.
 *
 * A round encodes every row at z = mu from its current completion (and,
 * with model.missing_indicators, its mask), decodes it to the decoder's
 * mean and gives the marked cells that mean.  Round after round the
 * completion usually improves (the model pulls it towards what the
 * observed values imply); on some models it runs away instead (seen on a
 * small tabular set, where a model with a gain above 1 on the missing
 * cells drove them past any value in the data).  So, with check_fraction
 * > 0, that fraction of the observed cells (of rows that keep at least one
 * observed) is first hidden and imputed with the others, starting at the
 * same values, for up to `rounds` rounds; the round count whose
 * reconstruction of the hidden cells is closest (the first of equals) is
 * then run on the marked cells alone, the hidden cells keeping their
 * values.  A row whose every cell is marked stays at its start. */
ae_status ae_model_impute(ae_model *m, size_t n, float *x, const unsigned char *miss,
                          const int32_t *labels, const float *start,
                          const ae_impute_settings *settings, ae_impute_report *report,
                          ae_error *err);

#endif
