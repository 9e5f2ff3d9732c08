/* The run report: one self-contained HTML page built from a run folder (the
 * spec, the final metrics, the loss curves, the pictures and the latent
 * scatter), with every image embedded, so it opens anywhere without a
 * network or the files beside it.  Also the loss chart and the base64
 * encoder the page needs.  Files are written atomically. */
#ifndef AE_REPORT_H
#define AE_REPORT_H

#include <stddef.h>

#include "ae/config.h"
#include "ae/status.h"

/* Standard base64 (RFC 4648 section 4, with '=' padding) of n bytes as a
 * malloc'ed NUL-terminated string, or NULL when out of memory. */
char *ae_base64_encode(const void *data, size_t n);

/* Draws the loss curves of a metrics table (the text of metrics.csv) as an
 * SVG: a panel of the train, validation and test loss per epoch, and beside
 * it a panel of the KL term (VAEs) or of the penalty (autoencoders with a
 * sparsity or contractive penalty) when the run has one.  Columns missing
 * from the table or empty are left out.  AE_ERR_INPUT when the table has no
 * epoch column or no rows. */
ae_status ae_report_loss_chart(const char *metrics_csv, const char *path, ae_error *err);

/* Writes dir/report.html for the run of cfg from what the folder holds:
 * metrics.csv (required), and when present loss.svg and latents.svg
 * (inlined), recon.png, samples.png and manifold.png (embedded as data:
 * URIs).  The spec shown is cfg, resolved. */
ae_status ae_report_write(const ae_config *cfg, const char *dir, ae_error *err);

#endif
