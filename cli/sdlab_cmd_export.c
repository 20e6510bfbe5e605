/* sdlab export: a trained run in the layout SAELens, sparsify or dictionary_learning loads. */
#include "sdlab_cli.h"
#include "sdlab_cmd.h"
#include "sdlab_errno.h"
#include "sdlab_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
  "usage: sdlab export RUN --format saelens|saelens-compat|sparsify|dictionary-learning --out DIR\n"
  "                    [--model-name M] [--hook-name H] [--hook-name-out H] [--hook-layer L]\n"
  "                    [--dtype float32|bfloat16] [--force]\n"
  "\n"
  "Write the model that sdlab train left in RUN (its arrays and run.json) to DIR in another tool's layout,\n"
  "so that the tool's own inference computes sdlab's codes (up to float rounding and ties):\n"
  "  saelens          SAELens 6.x, SAE.load_from_disk(DIR): cfg.json (sae_lens_version, metadata) and\n"
  "                   sae_weights.safetensors.  relu -> standard, jumprelu -> jumprelu, topk, topk-auxk and\n"
  "                   matryoshka -> topk (k: the inference k, Matryoshka's largest), batchtopk -> jumprelu\n"
  "                   with its global threshold (as SAELens saves its own), gated -> gated; transcoders:\n"
  "                   relu -> transcoder, jumprelu and batchtopk -> jumprelu_transcoder (with d_out)\n"
  "  saelens-compat   the same SAEs with a cfg.json that SAELens 5.x loads as well (no transcoders)\n"
  "  sparsify         EleutherAI sparsify, SparseCoder.load_from_disk(DIR): cfg.json and sae.safetensors;\n"
  "                   the TopK family (its codes are TopK of ReLU), transcoders of equal widths\n"
  "  dictionary-learning  dictionary_learning's state-dict names in model.safetensors (load it with\n"
  "                   safetensors.torch.load_file and the class's load_state_dict; its ae.pt is a torch\n"
  "                   pickle) and config.json: AutoEncoder, JumpReluAutoEncoder, AutoEncoderTopK,\n"
  "                   BatchTopKSAE, GatedAutoEncoder; SAEs only\n"
  "A model the layout cannot express (a crosscoder, a TopK transcoder for SAELens, ...) is refused (exit 2).\n"
  "  --model-name M     the model the activations came from (default sdlab)\n"
  "  --hook-name H      where they were read (default input); --hook-name-out: a transcoder's targets\n"
  "  --hook-layer L     the layer (SAELens 5.x, dictionary_learning; default 0)\n"
  "  --dtype T          the tensors' type: float32 (default) or bfloat16 (rounded to nearest even)\n"
  "  --force            replace DIR\n";

enum { O_FORMAT, O_OUT, O_MODEL, O_HOOK, O_HOOK_OUT, O_LAYER, O_DTYPE, O_FORCE, O_COUNT };

int
sdlab_cmd_export(int argc, char **argv)
{
  static const char *names[O_COUNT] = {"--format", "--out", "--model-name", "--hook-name", "--hook-name-out",
                                       "--hook-layer", "--dtype", "--force"};
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? SDLAB_EXIT_USAGE : SDLAB_EXIT_OK;
  }
  sdlab_opt o[O_COUNT];
  sdlab_cli_options(o, names, O_COUNT, "--force");
  if (sdlab_cli_parse("export", argc - 1, argv + 1, o, O_COUNT))
    return SDLAB_EXIT_USAGE;
  const char *required[] = {"--format", "--out"};
  if (sdlab_cli_require("export", o, O_COUNT, required, 2))
    return SDLAB_EXIT_USAGE;
  if (argv[1][0] == '\0') {
    fprintf(stderr, "sdlab export: error: RUN is an empty directory name\n");
    return SDLAB_EXIT_USAGE;
  }
  sdlab_export_format f;
  int status = sdlab_export_format_parse(o[O_FORMAT].value, &f);
  if (status)
    return sdlab_cli_fail("export", status);
  sdlab_export_options eo = {o[O_MODEL].value ? o[O_MODEL].value : "sdlab",
                             o[O_HOOK].value ? o[O_HOOK].value : "input", o[O_HOOK_OUT].value, 0, 0};
  if (o[O_LAYER].value) {
    size_t layer;
    if (sdlab_cli_size("export", "--hook-layer", o[O_LAYER].value, &layer))
      return SDLAB_EXIT_USAGE;
    eo.hook_layer = (long)layer;
  }
  if (o[O_DTYPE].value) {
    if (strcmp(o[O_DTYPE].value, "bfloat16") != 0 && strcmp(o[O_DTYPE].value, "float32") != 0) {
      fprintf(stderr, "sdlab export: error: --dtype %s: float32 or bfloat16\n", o[O_DTYPE].value);
      return SDLAB_EXIT_USAGE;
    }
    eo.bf16 = strcmp(o[O_DTYPE].value, "bfloat16") == 0;
  }
  if (o[O_HOOK_OUT].value && f != SDLAB_EXPORT_SAELENS) {
    fprintf(stderr, "sdlab export: error: --hook-name-out applies to SAELens transcoders (--format saelens)\n");
    return SDLAB_EXIT_USAGE;
  }
  status = sdlab_export_run(argv[1], f, &eo, o[O_OUT].value, o[O_FORCE].value != NULL);
  if (status)
    return sdlab_cli_fail("export", status);
  return SDLAB_EXIT_OK;
}
