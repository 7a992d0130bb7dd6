/* slmc_synth_adapter.c - example inputs for the built-in model beyond its
 * weights: a PEFT LoRA adapter (`slmc synth --adapter`) and calibration /
 * evaluation text (`slmc synth --text calib|eval`), so the whole pipeline
 * (lora-merge -> prune -> calibrate -> quantize -> score) runs on a fresh
 * machine without downloads. Deterministic like the model itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slm_file.h"
#include "slm_safetensors.h"
#include "slmc_rng.h"
#include "slmc_synth.h"

extern const char slmc_synth_corpus[];

#define ADAPTER_ALPHA 16

static const char *const modules[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                       "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

typedef struct adapter_gen {
    const slmc_synth_preset *p;
    int rank;
    uint64_t seed;
} adapter_gen;

/* Rows and columns (outermost first, as PyTorch stores lora_A [r, in] and
 * lora_B [out, r]) of tensor `index`: layer, module, A or B. */
static void adapter_shape(const adapter_gen *g, size_t index, int64_t shape[2]) {
    const slmc_synth_preset *p = g->p;
    const int64_t hd = p->n_embd / p->n_head;
    const int mod = (int)(index / 2 % 7);
    const bool is_b = index % 2;
    const int64_t in = mod == 6 ? p->n_ff : p->n_embd;
    const int64_t out = mod == 1 || mod == 2 ? hd * p->n_head_kv : mod == 4 || mod == 5 ? p->n_ff : p->n_embd;
    shape[0] = is_b ? out : g->rank;
    shape[1] = is_b ? g->rank : in;
}

/* A ~ U(-1,1)/sqrt(in) as PEFT's Kaiming init; B small but non-zero (a
 * trained adapter's B has moved away from PEFT's zero init), so the merge
 * changes the model by a few percent of its weights. */
static slm_status adapter_get(void *ctx, size_t index, void *dst, slm_diag *d) {
    (void)d;
    const adapter_gen *g = ctx;
    int64_t shape[2];
    adapter_shape(g, index, shape);
    const bool is_b = index % 2;
    const float scale = is_b ? 0.02f : 1.0f / sqrtf((float)shape[1]);
    uint64_t state = g->seed * 0x100000001B3ull + index;
    float *f = dst;
    for (int64_t i = 0; i < shape[0] * shape[1]; i++)
        f[i] = scale * ((float)(slmc_rng_next(&state) >> 40) * (2.0f / 16777216.0f) - 1.0f);
    return SLM_OK;
}

slm_status slmc_synth_adapter(const slmc_synth_preset *p, int rank, uint64_t seed, const char *dir, slm_diag *d) {
    if (mkdir(dir, 0755) != 0 && !slm_path_is_dir(dir)) return slm_diag_set(d, SLM_ERR_IO, "%s: cannot create", dir);
    adapter_gen g = {p, rank, seed};
    const size_t n = (size_t)p->n_layer * 7 * 2;
    slm_st_write_tensor *t = calloc(n, sizeof *t);
    char (*names)[96] = calloc(n, sizeof *names);
    slm_status st = t && names ? SLM_OK : slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && st == SLM_OK; i++) {
        snprintf(names[i], sizeof names[i], "base_model.model.model.layers.%zu.%s.lora_%c.weight", i / 14,
                 modules[i / 2 % 7], i % 2 ? 'B' : 'A');
        t[i] = (slm_st_write_tensor){.name = names[i], .type = SLM_TYPE_F32, .n_dims = 2, .get = adapter_get};
        adapter_shape(&g, i, t[i].shape);
    }
    char *st_path = slm_path_join(dir, "adapter_model.safetensors"), *cfg_path = slm_path_join(dir, "adapter_config.json");
    if (st == SLM_OK && (!st_path || !cfg_path)) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    if (st == SLM_OK) st = slm_st_write(st_path, t, n, &g, NULL, NULL, 0, d);
    if (st == SLM_OK) {
        char cfg[1024];
        int len = snprintf(cfg, sizeof cfg,
                           "{\n  \"peft_type\": \"LORA\",\n  \"task_type\": \"CAUSAL_LM\",\n"
                           "  \"base_model_name_or_path\": \"slmc-synth-%s\",\n  \"r\": %d,\n  \"lora_alpha\": %d,\n"
                           "  \"lora_dropout\": 0.0,\n  \"bias\": \"none\",\n  \"fan_in_fan_out\": false,\n"
                           "  \"use_rslora\": false,\n  \"use_dora\": false,\n  \"target_modules\": [\"q_proj\", "
                           "\"k_proj\", \"v_proj\", \"o_proj\", \"gate_proj\", \"up_proj\", \"down_proj\"]\n}\n",
                           p->name, rank, ADAPTER_ALPHA);
        slm_outfile f;
        st = slm_outfile_open(&f, cfg_path, d);
        if (st == SLM_OK) slm_outfile_write(&f, cfg, (size_t)len, d);
        if (st == SLM_OK) st = slm_outfile_commit(&f, d);
    }
    free(st_path);
    free(cfg_path);
    free(t);
    free(names);
    return st;
}

/* The corpus's paragraphs: the first five for calibration, the others for
 * evaluation, so that the two never overlap. */
slm_status slmc_synth_text(bool eval, const char *path, slm_diag *d) {
    const char *s = slmc_synth_corpus, *cut = s;
    for (int i = 0; i < 5 && cut; i++) {
        cut = strchr(cut, '\n');
        if (cut) cut++;
    }
    if (!cut) return slm_diag_set(d, SLM_ERR_INTERNAL, "synth corpus: fewer than six paragraphs");
    const char *from = eval ? cut : s;
    const size_t len = eval ? strlen(cut) : (size_t)(cut - s);
    slm_outfile f;
    slm_status st = slm_outfile_open(&f, path, d);
    if (st == SLM_OK) slm_outfile_write(&f, from, len, d);
    if (st == SLM_OK) st = slm_outfile_commit(&f, d);
    return st;
}
