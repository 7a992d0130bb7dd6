/* slm_validate.c - checks a model against what llama.cpp's loader demands
 * for its architecture (formats.md §3-4): required keys, exactly the expected
 * tensors, exact shapes. Run before writing so that an artifact llama.cpp
 * would refuse is never produced. Only the llama architecture is checked;
 * other architectures pass through unchecked for now. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_model.h"

typedef struct expect {
    const char *name;
    int n_dims;
    int64_t ne[2];
    bool optional;
} expect;

static slm_status check_shape(const slm_model *m, const expect *e, bool *seen, slm_diag *d) {
    const slm_tensor *t = slm_model_find_tensor(m, e->name);
    if (!t) {
        if (e->optional) return SLM_OK;
        return slm_diag_set(d, SLM_ERR_INPUT, "tensor %s missing (required by the llama architecture)", e->name);
    }
    seen[t - m->tensors] = true;
    int64_t want[4] = {e->ne[0], e->n_dims > 1 ? e->ne[1] : 1, 1, 1};
    for (int i = 0; i < 4; i++) {
        if (t->ne[i] != want[i]) {
            return slm_diag_set(d, SLM_ERR_INPUT,
                                "tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld] "
                                "(from the hyperparameters)",
                                e->name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                                (long long)t->ne[3], (long long)want[0], (long long)want[1]);
        }
    }
    return SLM_OK;
}

static slm_status validate_llama(const slm_model *m, slm_diag *d) {
    const slm_hparams *hp = &m->hp;
    if (!hp->n_embd || !hp->n_layer || !hp->n_head || !hp->n_ff || !hp->n_ctx)
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "llama: embedding_length, block_count, head_count, feed_forward_length and "
                            "context_length must all be non-zero (got %u, %u, %u, %u, %u)",
                            hp->n_embd, hp->n_layer, hp->n_head, hp->n_ff, hp->n_ctx);
    if (!(hp->has & SLM_HP_RMS_EPS))
        return slm_diag_set(d, SLM_ERR_INPUT, "llama: key llama.attention.layer_norm_rms_epsilon missing (required)");
    if (hp->n_layer > 512) return slm_diag_set(d, SLM_ERR_INPUT, "llama: block_count %u exceeds 512", hp->n_layer);
    uint32_t n_kv = (hp->has & SLM_HP_HEAD_COUNT_KV) ? hp->n_head_kv : hp->n_head;
    if (!n_kv || hp->n_head % n_kv)
        return slm_diag_set(d, SLM_ERR_INPUT, "llama: head_count %u is not a multiple of head_count_kv %u",
                            hp->n_head, n_kv);
    uint32_t hd = slm_hparams_head_dim(hp);
    if (!(hp->has & SLM_HP_KEY_LENGTH) && hp->n_embd % hp->n_head)
        return slm_diag_set(d, SLM_ERR_INPUT, "llama: embedding_length %u is not a multiple of head_count %u",
                            hp->n_embd, hp->n_head);
    if ((hp->has & SLM_HP_ROPE_DIM) && hp->n_rot != hd)
        return slm_diag_set(d, SLM_ERR_INPUT, "llama: rope.dimension_count %u must equal the head dimension %u",
                            hp->n_rot, hd);
    if (m->tok.n_tokens == 0)
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "llama: no tokenizer (llama.cpp needs tokenizer.ggml.tokens); pass --tokenizer");
    int64_t V = m->tok.n_tokens, E = hp->n_embd, F = hp->n_ff;
    int64_t q = (int64_t)hp->n_head * hd, kv = (int64_t)n_kv * hd;

    bool *seen = calloc(m->n_tensors ? m->n_tensors : 1, 1);
    if (!seen) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    slm_status st = SLM_OK;
    expect top[] = {
        {"token_embd.weight", 2, {E, V}, false},
        {"output_norm.weight", 1, {E, 0}, false},
        {"output.weight", 2, {E, V}, true},
        {"rope_freqs.weight", 1, {hd / 2, 0}, true},
    };
    for (size_t i = 0; i < sizeof top / sizeof top[0] && st == SLM_OK; i++) st = check_shape(m, &top[i], seen, d);
    for (uint32_t l = 0; l < hp->n_layer && st == SLM_OK; l++) {
        char nm[16][SLM_MAX_NAME];
        static const char *const parts[] = {"attn_norm.weight", "attn_q.weight",    "attn_k.weight",
                                            "attn_v.weight",    "attn_output.weight", "ffn_norm.weight",
                                            "ffn_gate.weight",  "ffn_up.weight",    "ffn_down.weight",
                                            "attn_q.bias",      "attn_k.bias",      "attn_v.bias",
                                            "attn_output.bias", "ffn_gate.bias",    "ffn_up.bias",
                                            "ffn_down.bias"};
        for (int i = 0; i < 16; i++) snprintf(nm[i], SLM_MAX_NAME, "blk.%u.%s", l, parts[i]);
        expect layer[] = {
            {nm[0], 1, {E, 0}, false},  {nm[1], 2, {E, q}, false},  {nm[2], 2, {E, kv}, false},
            {nm[3], 2, {E, kv}, false}, {nm[4], 2, {q, E}, false},  {nm[5], 1, {E, 0}, false},
            {nm[6], 2, {E, F}, false},  {nm[7], 2, {E, F}, false},  {nm[8], 2, {F, E}, false},
            {nm[9], 1, {q, 0}, true},   {nm[10], 1, {kv, 0}, true}, {nm[11], 1, {kv, 0}, true},
            {nm[12], 1, {E, 0}, true},  {nm[13], 1, {F, 0}, true},  {nm[14], 1, {F, 0}, true},
            {nm[15], 1, {E, 0}, true},
        };
        for (size_t i = 0; i < sizeof layer / sizeof layer[0] && st == SLM_OK; i++)
            st = check_shape(m, &layer[i], seen, d);
    }
    for (uint32_t i = 0; i < m->n_tensors && st == SLM_OK; i++)
        if (!seen[i])
            st = slm_diag_set(d, SLM_ERR_INPUT, "tensor %s is not part of the llama architecture "
                              "(llama.cpp would refuse the file: wrong number of tensors)", m->tensors[i].name);
    free(seen);
    return st;
}

slm_status slm_model_validate(const slm_model *m, slm_diag *d) {
    if (!m->hp.arch[0]) return slm_diag_set(d, SLM_ERR_INPUT, "general.architecture missing");
    if (strcmp(m->hp.arch, "llama") == 0) return validate_llama(m, d);
    return SLM_OK;
}
