/* sdlab_sae.h: a dictionary saved by another tool (SAELens, sparsify, dictionary_learning), read from its
 * directory with what its library needs to compute codes, and those codes computed as the library does.
 *
 * Layouts, detected by file and tensor names:
 *   SAELens              cfg.json + sae_weights.safetensors: W_enc (d_in x d_sae), W_dec (d_sae x d_out), b_dec,
 *                        and b_enc (standard, topk, jumprelu and the transcoders; jumprelu also threshold) or
 *                        b_gate, r_mag, b_mag (gated).  The architecture from cfg.json's "architecture" (6.x) or,
 *                        for 5.x files, "activation_fn_str" (topk) and the tensors (threshold: jumprelu, b_gate:
 *                        gated); k from "k" or activation_fn_kwargs.k; the input less b_dec when
 *                        apply_b_dec_to_input (default true); normalize_activations must be none.
 *   sparsify             cfg.json + sae.safetensors: encoder.weight (d_sae x d_in), encoder.bias, W_dec (d_sae x
 *                        d_in), b_dec; TopK of ReLU with k (default 32) from cfg.json; the input less b_dec unless
 *                        "transcode".
 *   dictionary_learning  config.json + model.safetensors, by trainer.dict_class: AutoEncoder (encoder.weight,
 *                        encoder.bias, decoder.weight, bias: ReLU of encoder(x - bias)), AutoEncoderTopK and
 *                        BatchTopKSAE (encoder.*, decoder.weight, b_dec, k, threshold: TopK of ReLU of encoder(x -
 *                        b_dec); BatchTopKSAE at inference keeps the codes above its one threshold),
 *                        JumpReluAutoEncoder (W_enc, b_enc, W_dec, b_dec, threshold: x W_enc + b_enc, no b_dec
 *                        subtraction), GatedAutoEncoder (encoder.weight, gate_bias, mag_bias, r_mag,
 *                        decoder.weight, decoder_bias).
 * Codes, from the pre-activation h = W_E (x - b_in) + b_enc in float32 (the libraries' dtype for these files):
 *   relu      max(h, 0)
 *   topk      the k largest h of the row (ties to the lower index), then max(., 0), the rest 0
 *   jumprelu  h where h > max(threshold_i, 0), else 0 (SAELens' ReLU(h) 1[h > threshold])
 *   gated     with g = W_E (x - b_in) (no bias): where g + b_gate > 0, max(exp(r_mag) g + b_mag, 0); else 0
 * Iterate nothing: load, encode, free. */
#ifndef SDLAB_SAE_H
#define SDLAB_SAE_H

#include <gsl/gsl_matrix.h>
#include <stddef.h>

typedef enum { SDLAB_SAE_RELU, SDLAB_SAE_TOPK, SDLAB_SAE_JUMPRELU, SDLAB_SAE_GATED } sdlab_sae_activation;

typedef struct {
  const char *layout;           /* "SAELens", "sparsify", "dictionary_learning" */
  const char *kind;             /* the library's name for it: an architecture or a dict_class */
  size_t p, q, r;               /* input, latents, output */
  gsl_matrix *WE;               /* q x p, rows the encoder directions (as sdlab's W_E.npy) */
  gsl_matrix *WD;               /* r x q, columns the decoder directions (as sdlab's W_D.npy) */
  /* inference (sdlab_sae_load with codes = 1): */
  float *we, *wdt;              /* W_E (q x p) and W_D^T (q x r) in float32, the values the file stored */
  sdlab_sae_activation act;
  size_t k;                     /* topk */
  float *b_in;                  /* p: subtracted from the input (NULL: nothing) */
  float *b_enc;                 /* q: the encoder's bias (gated: the gate's) */
  float *b_out;                 /* r: added to the reconstruction W_D a */
  float *threshold;             /* q: jumprelu */
  float *r_mag, *b_mag;         /* q: gated */
} sdlab_sae;

/* Read the dictionary in DIR; with `codes`, also its configuration and biases (what sdlab_sae_encode needs),
 * else the two matrices alone.  SDLAB_EIO naming DIR when it holds none of the three layouts (or lacks the
 * configuration), SDLAB_EBADFILE or SDLAB_ESHAPE naming the file and what is missing, inconsistent, or a
 * configuration whose codes this reader does not compute (it lists those it does). */
int sdlab_sae_load(const char *dir, int codes, sdlab_sae **out);
void sdlab_sae_free(sdlab_sae *s);

/* The two matrices alone (sdlab_sae_load without codes, the matrices handed over): W_E q x p, W_D r x q, and
 * the layout's name. */
int sdlab_sae_load_matrices(const char *dir, gsl_matrix **WE, gsl_matrix **WD, const char **layout);

/* Codes of N input rows X (N x p, row-major float32) into A (N x q float32), on `threads` threads. */
int sdlab_sae_encode(const sdlab_sae *s, const float *X, size_t N, float *A, int threads);
/* The reconstructions W_D a + b_dec of N code rows A (N x q) into Xhat (N x r float32). */
int sdlab_sae_decode(const sdlab_sae *s, const float *A, size_t N, float *Xhat, int threads);

#endif
