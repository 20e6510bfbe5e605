/* sdlab_export.h: a trained sdlab run in the layouts other SAE tools load.
 *
 * The run is what `sdlab train` writes: W_E.npy (n_q x d_in), W_D.npy (d_out x n_q), b_E.npy, b_D.npy, theta.npy
 * (JumpReLU), r_mag.npy and b_mag.npy (Gated) and run.json (method, target, k, BatchTopK's threshold).  Each
 * layout is written so that the tool's own inference computes sdlab's codes (up to float rounding and ties):
 *
 *   saelens         SAELens 6.x (written against 6.18.0's loader, SAE.load_from_disk): cfg.json with
 *                   sae_lens_version and metadata, sae_weights.safetensors.  ReLU -> standard, JumpReLU ->
 *                   jumprelu, TopK, TopK+AuxK and Matryoshka -> topk (k: the inference k), BatchTopK -> jumprelu
 *                   with its global threshold (as SAELens saves its own), Gated -> gated; transcoders:
 *                   ReLU -> transcoder, JumpReLU and BatchTopK -> jumprelu_transcoder, with d_out.
 *   saelens-compat  one cfg.json that SAELens 5.x (5.11) and 6.x both load (5.x's required keys at the top level,
 *                   6.x's version in metadata); SAEs only, as 5.x has no transcoders.
 *   sparsify        EleutherAI sparsify (SparseCoder.load_from_disk): cfg.json and sae.safetensors
 *                   (encoder.weight, encoder.bias, W_dec, b_dec); its codes are TopK of ReLU, so the TopK family
 *                   only; transcoders with d_out = d_in (transcode).
 *   dictionary-learning  saprmarks' dictionary_learning state-dict names in model.safetensors (its own ae.pt is
 *                   a torch pickle, which only torch writes) and config.json: AutoEncoder (ReLU),
 *                   JumpReluAutoEncoder (its encoder does not subtract b_dec: b_enc - W_E b_D is folded in),
 *                   AutoEncoderTopK (TopK family), BatchTopKSAE, GatedAutoEncoder; SAEs only.
 *
 * A model a layout cannot express (a crosscoder anywhere, a TopK transcoder in SAELens, ...) is refused with
 * SDLAB_EPARAM and a message naming what would. */
#ifndef SDLAB_EXPORT_H
#define SDLAB_EXPORT_H

typedef enum {
  SDLAB_EXPORT_SAELENS,
  SDLAB_EXPORT_SAELENS_COMPAT,
  SDLAB_EXPORT_SPARSIFY,
  SDLAB_EXPORT_DICTIONARY_LEARNING
} sdlab_export_format;

typedef struct {
  const char *model_name;    /* the model the activations came from (SAELens metadata, dictionary_learning lm_name) */
  const char *hook_name;     /* where they were read (SAELens hook_name, dictionary_learning submodule_name) */
  const char *hook_name_out; /* transcoders: where the targets were read (SAELens hook_name_out) */
  long hook_layer;           /* SAELens 5.x hook_layer, dictionary_learning layer */
  int bf16;                  /* tensors in bfloat16 (rounded to nearest even) instead of float32 */
} sdlab_export_options;

/* The format named `name` ("saelens", "saelens-compat", "sparsify", "dictionary-learning"); SDLAB_EUSAGE
 * otherwise. */
int sdlab_export_format_parse(const char *name, sdlab_export_format *f);
/* Write the run in directory `run` to directory `out` in format f, atomically (a staging directory renamed at
 * the end); out must not exist unless force.  SDLAB_EBADFILE for a run that is not sdlab's (no run.json, arrays
 * of the wrong shape), SDLAB_EPARAM for a model the format cannot express. */
int sdlab_export_run(const char *run, sdlab_export_format f, const sdlab_export_options *o, const char *out, int force);

#endif
