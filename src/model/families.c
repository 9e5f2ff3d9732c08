/* The table of model families: model.type's names and what each means.
 * To add a family: a value in ae_model_type (ae/config.h) before
 * AE_MODEL_COUNT, its file src/model/<name>.c defining an ae_family, its
 * extern line in family.h and its line here; the compiler checks the table
 * has an entry for every value, tests/test_model.c checks every family's
 * gradients by finite differences. */
#include <string.h>

#include "model/family.h"

static const ae_family *const FAMILIES[] = {
    [AE_MODEL_AE] = &ae_family_ae,     /* ae.c */
    [AE_MODEL_VAE] = &ae_family_vae,   /* vae.c */
    [AE_MODEL_CVAE] = &ae_family_cvae, /* vae.c */
    [AE_MODEL_HVAE] = &ae_family_hvae, /* hvae.c */
    [AE_MODEL_IWAE] = &ae_family_iwae, /* iwae.c */
    [AE_MODEL_CLASSIFIER] = &ae_family_classifier, /* classifier.c */
};
_Static_assert(sizeof FAMILIES / sizeof FAMILIES[0] == AE_MODEL_COUNT,
               "every model family needs its entry in FAMILIES");

const ae_family *ae_family_get(ae_model_type t) { return FAMILIES[t]; }

ae_model_type ae_family_find(const char *name)
{
    for (int k = 0; k < AE_MODEL_COUNT; k++)
        if (FAMILIES[k] && !strcmp(FAMILIES[k]->name, name))
            return (ae_model_type)k;
    return AE_MODEL_COUNT;
}
