/* slmc_synth.c - see slmc_synth.h. Every value is a pure function of (seed,
 * tensor index, element index), so output is byte-identical across runs and
 * tensors can be generated in any order, one at a time. */
#include "slmc_synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmc_bpe_train.h"

extern const char slmc_synth_corpus[];

static const slmc_synth_preset presets[] = {
    {"tiny", 128, 384, 4, 4, 2, 512, 256, false},
    {"1b", 2048, 5632, 22, 32, 4, 32000, 2048, false},
};

const slmc_synth_preset *slmc_synth_find_preset(const char *name) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0) return &presets[i];
    return NULL;
}

typedef struct synth_state {
    uint64_t seed;
} synth_state;

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Standard normal from a counter (Box-Muller on two 24-bit uniforms). */
static float normal_at(uint64_t key, uint64_t i) {
    uint64_t r = splitmix64(key ^ (i * 0xD1B54A32D192ED03ull));
    float u1 = ((float)(r >> 40) + 0.5f) * (1.0f / 16777216.0f);
    float u2 = (float)((r >> 16) & 0xFFFFFF) * (1.0f / 16777216.0f);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

static slm_status synth_load(void *ctx, const slm_tensor *t, void *dst, slm_diag *d) {
    const synth_state *s = ctx;
    uint64_t key = splitmix64(s->seed * 0x100000001B3ull + t->load_arg);
    int64_t n = slm_tensor_nelements(t);
    bool is_norm = t->n_dims == 1;
    /* matrices ~ N(0, 1/fan_in) like a trained model's scale; norms near 1 */
    float sigma = is_norm ? 0.05f : 1.0f / sqrtf((float)t->ne[0]);
    float mean = is_norm ? 1.0f : 0.0f;
    const slm_type_traits *tr = slm_type_traits_get(t->type);
    enum { CHUNK = 4096 };
    float buf[CHUNK];
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
        int64_t c = n - i0 < CHUNK ? n - i0 : CHUNK;
        for (int64_t i = 0; i < c; i++) buf[i] = mean + sigma * normal_at(key, (uint64_t)(i0 + i));
        if (t->type == SLM_TYPE_F32) memcpy((float *)dst + i0, buf, (size_t)c * 4);
        else tr->from_f32(buf, (char *)dst + (size_t)i0 * (size_t)tr->type_size, c);
    }
    return SLM_OK;
}

static slm_status add(slm_model *m, const char *name, slm_type type, int64_t ne0, int64_t ne1, synth_state *s,
                      slm_diag *d) {
    int64_t ne[2] = {ne0, ne1};
    slm_tensor *t;
    slm_status st = slm_model_add_tensor(m, name, ne1 ? type : SLM_TYPE_F32, ne1 ? 2 : 1, ne, &t, d);
    if (st != SLM_OK) return st;
    t->load = synth_load;
    t->load_ctx = s;
    t->load_arg = m->n_tensors - 1;
    return SLM_OK;
}

slm_status slmc_synth_build(const slmc_synth_preset *p, slm_type dtype, uint64_t seed, slm_model **out,
                            slm_diag *d) {
    *out = NULL;
    if (dtype != SLM_TYPE_F32 && dtype != SLM_TYPE_F16 && dtype != SLM_TYPE_BF16)
        return slm_diag_set(d, SLM_ERR_USAGE, "synth dtype must be f32, f16 or bf16, not %s", slm_type_name(dtype));
    slm_model *m = slm_model_new();
    if (!m) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    synth_state *s = calloc(1, sizeof *s);
    if (!s) {
        slm_model_free(m);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    s->seed = seed;
    m->reader_state = s;
    m->reader_state_free = free;
    m->source_format = slm_model_strdup(m, "synth");

    slm_hparams *hp = &m->hp;
    snprintf(hp->arch, sizeof hp->arch, "llama");
    hp->n_ctx = p->n_ctx;
    hp->n_embd = p->n_embd;
    hp->n_ff = p->n_ff;
    hp->n_layer = p->n_layer;
    hp->n_head = p->n_head;
    hp->n_head_kv = p->n_head_kv;
    hp->n_rot = p->n_embd / p->n_head;
    hp->rms_eps = 1e-5f;
    hp->rope_freq_base = 10000.0f;
    hp->n_vocab = p->n_vocab;
    hp->has = SLM_HP_HEAD_COUNT_KV | SLM_HP_ROPE_DIM | SLM_HP_ROPE_FREQ_BASE | SLM_HP_RMS_EPS | SLM_HP_VOCAB_SIZE;

    slm_status st = slmc_bpe_train(m, slmc_synth_corpus, p->n_vocab, d);
    char name[SLM_MAX_NAME];
    int64_t E = p->n_embd, F = p->n_ff, V = p->n_vocab, hd = E / p->n_head, KV = hd * p->n_head_kv;
    if (st == SLM_OK) st = add(m, "token_embd.weight", dtype, E, V, s, d);
    for (uint32_t l = 0; l < p->n_layer && st == SLM_OK; l++) {
        struct {
            const char *part;
            int64_t ne0, ne1;
        } parts[] = {{"attn_norm.weight", E, 0}, {"attn_q.weight", E, E},   {"attn_k.weight", E, KV},
                     {"attn_v.weight", E, KV},   {"attn_output.weight", E, E}, {"ffn_norm.weight", E, 0},
                     {"ffn_gate.weight", E, F},  {"ffn_up.weight", E, F},   {"ffn_down.weight", F, E}};
        for (size_t i = 0; i < sizeof parts / sizeof parts[0] && st == SLM_OK; i++) {
            snprintf(name, sizeof name, "blk.%u.%s", l, parts[i].part);
            st = add(m, name, dtype, parts[i].ne0, parts[i].ne1, s, d);
        }
    }
    if (st == SLM_OK) st = add(m, "output_norm.weight", dtype, E, 0, s, d);
    if (st == SLM_OK && !p->tied_output) st = add(m, "output.weight", dtype, E, V, s, d);
    if (st != SLM_OK) {
        slm_model_free(m);
        return st;
    }
    *out = m;
    return SLM_OK;
}
