/* Dense layers and stacks of them, as the building blocks (src/nn/) see
 * them: a layer is a view into a flat parameter block.  This header is the
 * nn level: it includes nothing of the spec or the models built from it. */
#ifndef AE_LAYER_H
#define AE_LAYER_H

#include <stdbool.h>
#include <stddef.h>

#define AE_MAX_LAYERS 16     /* hidden layers per encoder or decoder */

typedef enum {
    AE_ACT_RELU,
    AE_ACT_LEAKY_RELU,  /* slope 0.01 for negative inputs */
    AE_ACT_ELU,         /* alpha 1 */
    AE_ACT_TANH,
    AE_ACT_SIGMOID,
    AE_ACT_LINEAR
} ae_activation;

/* A dense layer: y = act(x W^T + b), a view into the parameter block.
 * W is [out x in] at w_off, unless `transposed`: then the layer reuses a
 * weight stored [in x out] (a tied decoder layer and its encoder twin).
 * With classes > 0, the last `classes` of the `in` inputs are a one-hot
 * label: callers pass the label index instead of materialising it. */
typedef struct {
    size_t in, out;
    size_t w_off, b_off;
    ae_activation act;
    size_t classes;
    bool transposed;
} ae_layer;

/* A stack of layers and their outputs. */
typedef struct {
    int n;
    ae_layer layer[AE_MAX_LAYERS + 1];
    float *out[AE_MAX_LAYERS + 1];   /* [B x layer[i].out] */
} ae_mlp;

#endif
