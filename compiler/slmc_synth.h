/* slmc_synth.h - deterministic example models (`slmc synth`): a llama
 * architecture with random weights and a real byte-level BPE vocabulary,
 * written as a Hugging Face folder. */
#ifndef SLMC_SYNTH_H
#define SLMC_SYNTH_H

#include "slm_model.h"

typedef struct slmc_synth_preset {
    const char *name;
    uint32_t n_embd, n_ff, n_layer, n_head, n_head_kv, n_vocab, n_ctx;
    bool tied_output;
} slmc_synth_preset;

/* NULL when unknown. Presets: "tiny" (README/tests, < 10 MB) and "1b"
 * (TinyLlama-1.1B shapes, for benchmarks). */
const slmc_synth_preset *slmc_synth_find_preset(const char *name);

/* Builds the model in memory; tensor data is generated lazily, tensor by
 * tensor, when acquired (so the 4.4 GB 1b preset streams). `dtype` is F32,
 * F16 or BF16. */
slm_status slmc_synth_build(const slmc_synth_preset *p, slm_type dtype, uint64_t seed, slm_model **out,
                            slm_diag *d);

/* A PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors in
 * dir) for the preset's model: rank `rank`, alpha 16, every linear layer of
 * every block. */
slm_status slmc_synth_adapter(const slmc_synth_preset *p, int rank, uint64_t seed, const char *dir, slm_diag *d);

/* Example text for the preset's vocabulary: calibration text, or the
 * held-out evaluation text (disjoint from it). */
slm_status slmc_synth_text(bool eval, const char *path, slm_diag *d);

#endif
