/* The run folder aetrain writes (output.dir), defined once: the file names
 * and the columns of metrics.csv.  The trainer, the report and
 * scripts/summarize.sh (which reads the AE_RUN_* lines of this header) use
 * these; docs/outputs.md and docs/config.md describe each. */
#ifndef AE_RUN_H
#define AE_RUN_H

#define AE_RUN_CONFIG "config.json"                 /* the resolved spec */
#define AE_RUN_METRICS "metrics.csv"                /* one row per epoch */
#define AE_RUN_CHECKPOINT "checkpoint.safetensors"  /* resumable state */
#define AE_RUN_MODEL "model.safetensors"            /* the final model */
#define AE_RUN_BEST "best.safetensors"              /* output.keep_best: lowest validation loss */
#define AE_RUN_LOSS_CHART "loss.svg"
#define AE_RUN_LATENTS "latents.svg"
#define AE_RUN_RECON "recon.png"
#define AE_RUN_SAMPLES "samples.png"
#define AE_RUN_MANIFOLD "manifold.png"
#define AE_RUN_REPORT "report.html"

/* metrics.csv's header, in column order (losses in nats per example) */
#define AE_RUN_METRICS_COLUMNS                                                          \
    "epoch,train_loss,train_recon,train_kl,val_loss,val_recon,val_kl,test_loss,"         \
    "test_recon,test_kl,test_loss_mu,train_reg,test_reg,train_kl_z2,test_kl_z2,beta,"    \
    "seconds,examples_per_sec,lr"

/* a classifier's metrics.csv adds these, after the columns above (the share
 * of examples whose most probable class is the label; test_accuracy empty
 * without a test set) */
#define AE_RUN_METRICS_ACCURACY "train_accuracy,test_accuracy"

#endif
