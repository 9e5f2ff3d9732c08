/* Uses the installed libae as a library: loads a model, encodes example I
 * of a data file (scaled as in training) and prints its code, one line of
 * comma-separated numbers as aeencode writes them (tests/cli/test_install.sh
 * builds it with pkg-config and with find_package(ae)).
 *   usage: encode_one MODEL.safetensors DATA I */
#include <stdio.h>
#include <stdlib.h>

#include <ae/batch.h>
#include <ae/checkpoint.h>
#include <ae/model.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: encode_one MODEL.safetensors DATA I\n");
        return 2;
    }
    ae_error err = {{0}};
    ae_config cfg;
    ae_model m;
    ae_dataset ds = {0};
    size_t i = strtoul(argv[3], NULL, 10);
    if (ae_checkpoint_load_model(argv[1], 1, &cfg, &m, &err) != AE_OK) {
        fprintf(stderr, "encode_one: %s\n", err.msg);
        return 1;
    }
    float *mu = malloc(m.latent * sizeof *mu); /* [1 x L] */
    int rc = 1;
    if (mu && ae_load_split(&cfg, argv[2], NULL, 0, &ds, &err) == AE_OK && i < ds.n &&
        ae_model_encode_rows(&m, &ds, &i, 1, AE_BIN_NONE, NULL, mu, NULL, &err) == AE_OK) {
        for (size_t j = 0; j < m.latent; j++)
            printf("%s%.7g", j ? "," : "", mu[j]);
        printf("\n");
        rc = 0;
    } else {
        fprintf(stderr, "encode_one: %s\n", err.msg[0] ? err.msg : "example out of range");
    }
    free(mu);
    ae_dataset_free(&ds);
    ae_model_free(&m);
    return rc;
}
