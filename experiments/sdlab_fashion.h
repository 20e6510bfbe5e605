/* sdlab_fashion.h: real neural representations made here.  Fashion-MNIST's IDX files (Debian's
 * dataset-fashion-mnist), a ReLU perceptron 784 -> hidden ... -> 10 trained on its 60,000 training images
 * (pixels / 255, softmax cross-entropy, Adam, shuffled each epoch from the seed; sdlab_mlp.h), its hidden
 * activations for all 70,000 images extracted in the layout sdlab train --data reads (with the normalised class
 * means, eqs. 23-24, as the ground-truth proxy), and a trained dictionary's top-activating images tiled.
 * Nothing here prints: progress goes through callbacks, failures through sdlab_fail. */
#ifndef SDLAB_FASHION_H
#define SDLAB_FASHION_H

#include <stddef.h>

#include "sdlab_idx.h"
#include "sdlab_mlp.h"
#include "sdlab_progress.h"

#define SDLAB_FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* The classes' names, by label */
extern const char *const SDLAB_FASHION_CLASSES[10];

/* The four IDX files (name, or name.gz) in dir: images (N x 28 x 28) and labels (N, classes 0-9) of each split,
 * checked against each other. */
typedef struct {
  sdlab_idx img[2], lab[2]; /* 0: train, 1: test */
} sdlab_fashion;
int sdlab_fashion_read(const char *dir, sdlab_fashion *f);
void sdlab_fashion_free(sdlab_fashion *f);

/* Rows [from, from + B) of a split's images (through order when not NULL) as floats in [0, 1], B x 784. */
void sdlab_fashion_pixels(const sdlab_idx *img, const size_t *order, size_t from, size_t B, float *X);
/* The share of a split's images whose largest logit is the label (X: scratch of the network's batch x 784). */
int sdlab_fashion_accuracy(sdlab_mlp *m, const sdlab_idx *img, const sdlab_idx *lab, float *X, double *acc);

/* The stage of sdlab_fashion_train's report after each epoch: done = the epoch (from 1), and three figures: its
 * mean training loss, training and test accuracy.  Within an epoch it reports "epoch E/EPOCHS", batch by batch. */
#define SDLAB_FASHION_EPOCH "epoch done"

/* Train network c for `epochs` on the images in data and write out/W1.npy, b1.npy, ..., metrics.json (through a
 * staging directory; force: replace out); *test_accuracy the last epoch's. */
int sdlab_fashion_train(const sdlab_mlp_config *c, size_t epochs, int threads, const char *data, const char *out,
                        int force, sdlab_progress_fn progress, void *ctx, double *test_accuracy);

/* The hidden activations of the network in model for all images, training then test, into out: h1/, h2/, ...
 * (x_p.npy and the class means W_p.npy), block/ (layer 2's input and output, for a transcoder), cross/ (h1 and
 * h2 concatenated, for a crosscoder), labels.npy and meta.json; *images and *test_accuracy reported. */
int sdlab_fashion_extract(const char *model, const char *data, const char *out, int force, sdlab_progress_fn progress,
                          void *ctx, size_t *images, double *test_accuracy);

/* For each feature feats[f] (a column of the truth W_p), the latent of the run whose encoder row matches it best
 * (|cos|) and its `count` top-activating images (run/top.npy), tiled 30 pixels a cell into out.bin (raw bytes)
 * and described in out.json (latents, cosines, labels, purity). */
int sdlab_fashion_grid(const char *run, const char *truth, const size_t *feats, size_t nf, size_t count,
                       const char *data, const char *out);

#endif
