/* aeexport: write a trained model's encoder and decoder as ONNX graphs. */
#include <stdio.h>
#include <string.h>

#include "ae/checkpoint.h"
#include "ae/model.h"
#include "ae/onnx.h"
#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aeexport --model MODEL.safetensors --encoder ENC.onnx [--decoder DEC.onnx]\n"
            "\n"
            "Writes the model's encoder and/or decoder as ONNX graphs (opset %d), which any\n"
            "ONNX runtime runs without this toolkit (docs/export.md).\n"
            "\n"
            "options:\n"
            "  --model FILE       a model or checkpoint written by aetrain\n"
            "  --encoder FILE     the encoder: input x [N x D] in the data's units (as the\n"
            "                     IDX or CSV file holds them; NaN for a missing value), and\n"
            "                     label [N] (int64) for a conditional VAE; outputs code\n"
            "                     [N x L] (ae), or mu and logvar [N x L] (variational models)\n"
            "  --decoder FILE     the decoder: input z [N x L] (and label); outputs mean\n"
            "                     [N x D], the likelihood's mean (sigmoid of the logits for\n"
            "                     Bernoulli) in the model's units ([0, 1] for pictures), and\n"
            "                     x [N x D], the same in the data's units\n"
            "  --help, --version\n"
            "\n"
            "At least one of --encoder and --decoder. The graphs compute what aeencode and\n"
            "aesample --from-codes compute, in float32.\n"
            "exit codes: 0 ok, 1 runtime failure, 2 bad usage or input\n",
            AE_ONNX_OPSET);
}

int main(int argc, char **argv)
{
    cli_prog = "aeexport";
    const char *model_path = NULL, *enc_path = NULL, *dec_path = NULL;
    const cli_option opts[] = {
        CLI_OPT_STR("--model", &model_path),
        CLI_OPT_STR("--encoder", &enc_path),
        CLI_OPT_STR("--decoder", &dec_path),
    };
    int r = cli_parse_args(argc, argv, opts, sizeof opts / sizeof opts[0], usage, NULL);
    if (r >= 0)
        return r;
    if (!model_path) {
        cli_error("--model is required (see --help)");
        return 2;
    }
    if (!enc_path && !dec_path) {
        cli_error("nothing to write: give --encoder FILE, --decoder FILE or both (see --help)");
        return 2;
    }
    if (enc_path && dec_path && !strcmp(enc_path, dec_path)) {
        cli_error("--encoder and --decoder name the same file '%s'", enc_path);
        return 2;
    }

    ae_error err = {{0}};
    ae_config cfg;
    ae_model m;
    ae_status st = ae_checkpoint_load_model(model_path, 1, &cfg, &m, &err);
    if (st != AE_OK)
        return cli_fail(st, &err);
    int rc = cli_check_classifier(&m, model_path, false);
    if (rc != 0) { /* its head is no decoder: exporting a classifier is not done yet */
        ae_model_free(&m);
        return rc;
    }
    if (enc_path)
        st = ae_onnx_write_encoder(&m, &cfg, enc_path, &err);
    if (st == AE_OK && dec_path)
        st = ae_onnx_write_decoder(&m, &cfg, dec_path, &err);
    ae_model_free(&m);
    return st == AE_OK ? 0 : cli_fail(st, &err);
}
