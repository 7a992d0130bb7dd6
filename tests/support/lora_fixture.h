/* lora_fixture.h - writes LoRA adapters for the LoRA suites (formats, passes,
 * end to end): PEFT folders (adapter_config.json + adapter_model.safetensors
 * through slm_st_write) and llama.cpp GGUF adapters (through
 * slm_gguf_write). Header-only, so every suite that needs it just includes it. */
#ifndef SLM_LORA_FIXTURE_H
#define SLM_LORA_FIXTURE_H

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slm_gguf.h"
#include "slm_safetensors.h"
#include "test_support.h"

/* A tensor to write: shape outermost first for PEFT (PyTorch order), ggml
 * ne for GGUF; data row-major f32 (borrowed). */
typedef struct lf_tensor {
    const char *name;
    int64_t dim0, dim1;
    const float *data;
} lf_tensor;

/* A copy of a path that survives the next ts_tmp call (which reuses its
 * static buffer): eight slots, reused round robin. */
static inline const char *lf_keep(const char *path) {
    static char ring[8][4200];
    static int next;
    char *slot = ring[next++ % 8];
    snprintf(slot, sizeof ring[0], "%s", path);
    return slot;
}

static inline slm_status lf_get(void *ctx, size_t i, void *dst, slm_diag *d) {
    (void)d;
    const lf_tensor *t = (const lf_tensor *)ctx + i;
    memcpy(dst, t->data, sizeof(float) * (size_t)(t->dim0 * t->dim1));
    return SLM_OK;
}

/* Writes `dir`/adapter_config.json (the given text) and
 * `dir`/adapter_model.safetensors with the tensors as F32, shape
 * (dim0, dim1). Returns a lasting copy of dir (lf_keep). */
static inline const char *lf_write_peft(const char *dir, const char *config, const lf_tensor *t, size_t n) {
    mkdir(dir, 0755);
    char path[4200];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    ck_assert_int_eq(ts_write_file(path, config, strlen(config)), 0);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    slm_st_write_tensor *w = calloc(n ? n : 1, sizeof *w);
    for (size_t i = 0; i < n; i++) {
        w[i].name = t[i].name;
        w[i].type = SLM_TYPE_F32;
        w[i].n_dims = 2;
        w[i].shape[0] = t[i].dim0;
        w[i].shape[1] = t[i].dim1;
        w[i].get = lf_get;
    }
    const char *mk[] = {"format"}, *mv[] = {"pt"};
    slm_diag d = {0};
    ck_assert_msg(slm_st_write(path, w, n, (void *)t, mk, mv, 1, &d) == SLM_OK, "%s", d.msg);
    free(w);
    return lf_keep(dir);
}

/* Writes a GGUF adapter: general.architecture `arch`, general.type `gtype`
 * (NULL: absent), adapter.type "lora", adapter.lora.alpha (NAN: absent);
 * tensors as F32 with ne = [dim0, dim1]. Returns a lasting copy of path. */
static inline const char *lf_write_gguf(const char *path, const char *arch, const char *gtype, float alpha,
                                        const lf_tensor *t, size_t n) {
    slm_model *m = slm_model_new();
    ck_assert_ptr_nonnull(m);
    snprintf(m->hp.arch, sizeof m->hp.arch, "%s", arch);
    if (gtype) ck_assert(slm_model_set_str(m, "general.type", gtype) == SLM_OK);
    ck_assert(slm_model_set_str(m, "adapter.type", "lora") == SLM_OK);
    if (!isnan(alpha)) ck_assert(slm_model_set_f32(m, "adapter.lora.alpha", alpha) == SLM_OK);
    slm_diag d = {0};
    for (size_t i = 0; i < n; i++) {
        int64_t ne[2] = {t[i].dim0, t[i].dim1};
        slm_tensor *tt;
        ck_assert_msg(slm_model_add_tensor(m, t[i].name, SLM_TYPE_F32, 2, ne, &tt, &d) == SLM_OK, "%s", d.msg);
        float *copy = malloc(sizeof(float) * (size_t)(ne[0] * ne[1]));
        memcpy(copy, t[i].data, sizeof(float) * (size_t)(ne[0] * ne[1]));
        ck_assert(slm_tensor_set_owned(tt, SLM_TYPE_F32, copy, &d) == SLM_OK);
    }
    ck_assert_msg(slm_gguf_write(m, path, NULL, &d) == SLM_OK, "%s", d.msg);
    slm_model_free(m);
    return lf_keep(path);
}

/* n deterministic values in [-amp, amp). malloc'd. */
static inline float *lf_rand(size_t n, uint32_t seed, float amp) {
    float *v = malloc(sizeof(float) * (n ? n : 1));
    uint32_t s = seed ? seed : 1;
    for (size_t i = 0; i < n; i++) v[i] = amp * ts_rng_unit(&s);
    return v;
}

/* llama.cpp's Q/K row order (formats.md 4.2): GGUF row of HF row `r` for
 * `heads` heads of `rows / heads` rows. */
static inline int64_t lf_gguf_row(int64_t r, int64_t rows, int64_t heads) {
    const int64_t hd = rows / heads, h = r / hd, k = r % hd, half = hd / 2;
    const int64_t p = k / half, i = k % half;
    return h * hd + 2 * i + p;
}

#endif
