/* A test hook: stop the process at a named point of a run, so a test can
 * send a signal or kill -9 at a moment chosen from the run's progress
 * instead of after a sleep (tests/cli/test_kill.sh, test_signals.sh).
 *
 *   AE_PAUSE_AT="POINT:N[,POINT:N...]"      e.g. AE_PAUSE_AT="batch:40,checkpoint:1"
 *
 * When the process reaches the N-th occurrence of POINT (counted from the
 * start of the process, 1-based, each point counted on its own) it raises
 * SIGSTOP on itself, printing nothing; it goes on from the same place on
 * SIGCONT.  A signal sent while it is stopped stays pending and is handled
 * as soon as it continues, before the run takes another step.  The points:
 *
 *   batch       after a training batch's update (and the on_batch hook),
 *               before the run looks at a stop request again
 *   epoch       after an epoch's row is in metrics.csv (and loss.svg), before
 *               that epoch's checkpoint is written
 *   checkpoint  inside a safetensors write (checkpoint.safetensors, and
 *               model.safetensors at the end), halfway through the tensors:
 *               the temporary file holds the header and part of the data,
 *               flushed, and has not replaced the target yet
 *
 * Only the programs that call ae_pause_init (aetrain) read the variable;
 * unset or empty it costs one branch per point.  Under MPI every rank reads
 * it and stops at its own points (checkpoints are written by rank 0 alone).
 * It is meant for tests, not for users. */
#ifndef AE_PAUSE_H
#define AE_PAUSE_H

#include <stdio.h>

#include "ae/status.h"

typedef enum {
    AE_PAUSE_BATCH,
    AE_PAUSE_EPOCH,
    AE_PAUSE_CHECKPOINT,
    AE_PAUSE_POINTS /* how many there are */
} ae_pause_point;

/* Reads AE_PAUSE_AT once.  AE_ERR_USAGE, with the value and the expected
 * form in the message, when it is malformed (then nothing is armed). */
ae_status ae_pause_init(ae_error *err);

/* One occurrence of point p: when it is one that AE_PAUSE_AT names, flushes
 * the stream `flush` (unless NULL), so what was written is in the file, and
 * stops the process. */
void ae_pause_at(ae_pause_point p, FILE *flush);

#endif
