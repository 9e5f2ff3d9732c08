/* ONNX export of a trained model's encoder and decoder (opset 13), so the
 * model runs in any ONNX runtime without this library.  The graphs compute
 * what ae_model_encode and ae_model_decode compute, in float32:
 *
 *   encoder  inputs  x [N x D] float, in the data's units (raw IDX pixel
 *                    values 0..255, CSV values as in the file), NaN for a
 *                    missing value; label [N] int64 (conditional families)
 *            graph   x * scale + shift (the model's data scaling), the fixed
 *                    binarisation when data.binarize is "fixed", NaN -> the
 *                    model's fill, the hidden layers, the head (top-k
 *                    selection of an ae's code)
 *            outputs code [N x L] (ae), or mu and logvar [N x L] (variational
 *                    families; logvar clamped to [AE_LOGVAR_MIN,
 *                    AE_LOGVAR_MAX]; an hvae's are those of q(z1|x))
 *   decoder  inputs  z [N x L] float; label [N] int64 (conditional)
 *            outputs mean [N x D]: the likelihood's mean in the model's units
 *                    (sigmoid of the logits for Bernoulli, the mean of a
 *                    continuous Bernoulli or a Gaussian: [0, 1] for pictures),
 *                    and x [N x D], the same in the data's units,
 *                    (mean - shift) / scale
 *
 * The protobuf is built with protobuf-c from onnx.proto; parameters are
 * stored as float_data.  Files are written atomically (ae/fileio.h). */
#ifndef AE_ONNX_H
#define AE_ONNX_H

#include "ae/config.h"
#include "ae/model.h"
#include "ae/status.h"

#define AE_ONNX_OPSET 13
#define AE_ONNX_IR_VERSION 7 /* the IR version of opset 13 */

/* Every family (ae with its code activation and top-k, vae, cvae, hvae,
 * iwae), activation, likelihood, tied decoder and scaling maps onto these
 * operators; there is nothing to refuse.  The numbers are float32 whatever
 * train.precision says (bf16 is a GEMM input format, not the weights'). */

/* Writes m's encoder to path (cfg: the spec the model was loaded with).
 * AE_ERR_INPUT when path cannot be written, AE_ERR_IO on a write failure,
 * AE_ERR_NOMEM. */
ae_status ae_onnx_write_encoder(const ae_model *m, const ae_config *cfg, const char *path,
                                ae_error *err);

/* Writes m's decoder to path; errors as ae_onnx_write_encoder. */
ae_status ae_onnx_write_decoder(const ae_model *m, const ae_config *cfg, const char *path,
                                ae_error *err);

#endif
