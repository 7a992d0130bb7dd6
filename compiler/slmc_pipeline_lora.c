/* slmc_pipeline_lora.c - the lora-merge step (slmc_lora.h) and the teacher
 * the budget search and the score step compare against. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slm_open.h"
#include "slmc_cli.h"
#include "slmc_lora.h"
#include "slmc_pipeline.h"

struct slmc_pipeline_lora {
    slmc_lora_result res;
};

static slm_status merge(const slmc_compile_args *a, slm_model *m, slmc_pipeline_lora_state **out, slm_diag *d) {
    slmc_lora_input in[SLMC_MAX_ADAPTERS];
    for (int i = 0; i < a->n_adapters; i++) in[i] = (slmc_lora_input){a->adapters[i].path, (float)a->adapters[i].weight};
    slmc_pipeline_lora_state *l = calloc(1, sizeof *l);
    if (!l) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    slm_status st = slmc_lora_merge(m, in, a->n_adapters, &l->res, d);
    if (st != SLM_OK) {
        free(l);
        return st;
    }
    *out = l;
    return SLM_OK;
}

/* The files an adapter path stands for, hashed with the other inputs. */
static slm_status note_files(slmc_pipeline *p, const char *path, slm_diag *d) {
    char *files[2] = {NULL, NULL};
    if (slm_path_is_dir(path)) {
        files[0] = slm_path_join(path, "adapter_config.json");
        files[1] = slm_path_join(path, "adapter_model.safetensors");
    } else {
        files[0] = strdup(path);
        const size_t n = strlen(path);
        if (n > 5 && !strcmp(path + n - 5, ".json")) { /* the config: its weights sit beside it */
            char *dir = strdup(path);
            char *slash = dir ? strrchr(dir, '/') : NULL;
            if (slash) *slash = 0;
            files[1] = dir ? slm_path_join(slash ? dir : ".", "adapter_model.safetensors") : NULL;
            free(dir);
        }
    }
    for (int i = 0; i < 2; i++) {
        if (!files[i]) continue;
        if (p->n_adapter_files == 2 * SLMC_MAX_ADAPTERS) free(files[i]);
        else p->adapter_files[p->n_adapter_files++] = files[i];
    }
    if (!files[0]) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    return SLM_OK;
}

slm_status slmc_pipeline_lora(slmc_pipeline *p, slm_diag *d) {
    const slmc_compile_args *a = p->a;
    const double t0 = slmc_now();
    slm_status st = merge(a, p->m, &p->lora, d);
    for (int i = 0; i < a->n_adapters && st == SLM_OK; i++) st = note_files(p, a->adapters[i].path, d);
    if (st != SLM_OK) return st;
    const slmc_lora_result *r = &p->lora->res;
    for (uint32_t i = 0; i < r->n_merged; i++)
        if (r->merged[i].requantized)
            slmc_pipeline_warn(p, "%s: LoRA merged into a %s base: dequantized, merged in f32 and quantized again to "
                               "%s (merge into the unquantized base for the best fidelity)", r->merged[i].name,
                               slm_type_name(r->merged[i].base_type), slm_type_name(r->merged[i].base_type));
    slmc_pipeline_timed(p, "lora-merge", t0, "%u adapter%s merged into %u tensors in f32 (%u requantized)",
                        r->n_adapters, r->n_adapters == 1 ? "" : "s", r->n_merged, r->n_requantized);
    if (!a->quiet) fprintf(stderr, "slmc: lora-merge: %s\n", p->timings[p->n_timings - 1].summary);
    return SLM_OK;
}

void slmc_pipeline_lora_keep_types(const slmc_pipeline *p) {
    if (!p->lora || p->conv_opts.mode != SLMC_CONVERT_KEEP) return;
    const slmc_lora_result *r = &p->lora->res;
    for (uint32_t i = 0; i < r->n_merged; i++) {
        slm_tensor *t = slm_model_find_tensor(p->m, r->merged[i].name);
        if (t && t->out_type == t->type) t->out_type = r->merged[i].base_type;
    }
}

void slmc_pipeline_lora_free(slmc_pipeline_lora_state *l) {
    if (!l) return;
    slmc_lora_result_free(&l->res);
    free(l);
}

slm_status slmc_pipeline_open_teacher(slmc_pipeline *p, slmc_pipeline_teacher *t, slm_diag *d) {
    const slmc_compile_args *a = p->a;
    memset(t, 0, sizeof *t);
    slm_open_opts oo = {.tokenizer = a->teacher ? NULL : a->tokenizer};
    slm_status st = slm_model_open(a->teacher ? a->teacher : a->input, &oo, &t->m, d);
    if (st != SLM_OK || a->teacher || !a->n_adapters) return st;
    st = merge(a, t->m, &t->lora, d);
    size_t cap = 16;
    for (int i = 0; i < a->n_adapters; i++) cap += strlen(a->adapters[i].path) + 32;
    if (st == SLM_OK && !(t->key_extra = malloc(cap))) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    if (st == SLM_OK) {
        strcpy(t->key_extra, "lora");
        /* the adapters' bytes count too: their files join the teacher's inputs */
        for (int i = 0; i < p->n_adapter_files && st == SLM_OK; i++)
            if (slm_model_add_input(t->m, p->adapter_files[i], NULL, 0) != SLM_OK)
                st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        for (int i = 0; i < a->n_adapters; i++)
            snprintf(t->key_extra + strlen(t->key_extra), cap - strlen(t->key_extra), ":%.9g", a->adapters[i].weight);
    }
    if (st != SLM_OK) slmc_pipeline_close_teacher(t);
    return st;
}

void slmc_pipeline_close_teacher(slmc_pipeline_teacher *t) {
    slm_model_free(t->m); /* before the merge its tensors load through */
    slmc_pipeline_lora_free(t->lora);
    free(t->key_extra);
    memset(t, 0, sizeof *t);
}
