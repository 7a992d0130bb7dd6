/* model_compare.c - see model_compare.h. */
#include "model_compare.h"

#include <stdio.h>
#include <string.h>

int mc_tensor_equal(slm_model *a, const char *name, slm_model *b, const char *name_b, char *why, size_t n) {
    slm_tensor *x = slm_model_find_tensor(a, name), *y = slm_model_find_tensor(b, name_b);
    if (!x || !y) {
        snprintf(why, n, "tensor %s/%s missing (%p, %p)", name, name_b, (void *)x, (void *)y);
        return 1;
    }
    if (x->type != y->type) {
        snprintf(why, n, "%s: type %s vs %s", name, slm_type_name(x->type), slm_type_name(y->type));
        return 1;
    }
    for (int i = 0; i < 4; i++)
        if (x->ne[i] != y->ne[i]) {
            snprintf(why, n, "%s: ne[%d] %lld vs %lld", name, i, (long long)x->ne[i], (long long)y->ne[i]);
            return 1;
        }
    slm_diag d = {0};
    if (slm_tensor_acquire(x, &d) != SLM_OK || slm_tensor_acquire(y, &d) != SLM_OK) {
        snprintf(why, n, "%s: acquire failed: %s", name, d.msg);
        return 1;
    }
    int rc = 0;
    if (x->nbytes != y->nbytes || memcmp(x->data, y->data, x->nbytes) != 0) {
        size_t first = 0;
        while (first < x->nbytes && first < y->nbytes &&
               ((const unsigned char *)x->data)[first] == ((const unsigned char *)y->data)[first])
            first++;
        snprintf(why, n, "%s: bytes differ (first at byte %zu of %zu)", name, first, x->nbytes);
        rc = 1;
    }
    slm_tensor_release(x);
    slm_tensor_release(y);
    return rc;
}

int mc_tensors_equal(slm_model *a, slm_model *b, int allow_extra, char *why, size_t n) {
    for (uint32_t i = 0; i < a->n_tensors; i++)
        if (mc_tensor_equal(a, a->tensors[i].name, b, a->tensors[i].name, why, n)) return 1;
    if (!allow_extra && a->n_tensors != b->n_tensors) {
        snprintf(why, n, "tensor count %u vs %u", a->n_tensors, b->n_tensors);
        return 1;
    }
    return 0;
}

int mc_hparams_equal(const slm_model *a, const slm_model *b, char *why, size_t n) {
    const slm_hparams *x = &a->hp, *y = &b->hp;
#define HP(f)                                                                                                  \
    if (x->f != y->f) {                                                                                        \
        snprintf(why, n, "hparam " #f ": %g vs %g", (double)x->f, (double)y->f);                              \
        return 1;                                                                                              \
    }
    if (strcmp(x->arch, y->arch)) {
        snprintf(why, n, "arch %s vs %s", x->arch, y->arch);
        return 1;
    }
    HP(n_ctx) HP(n_embd) HP(n_ff) HP(n_layer) HP(n_head) HP(n_rot) HP(rms_eps) HP(has)
    if ((x->has & SLM_HP_HEAD_COUNT_KV)) HP(n_head_kv)
    if ((x->has & SLM_HP_ROPE_FREQ_BASE)) HP(rope_freq_base)
#undef HP
    return 0;
}

int mc_tokenizer_equal(const slm_model *a, const slm_model *b, char *why, size_t n) {
    const slm_tokenizer *x = &a->tok, *y = &b->tok;
    if (x->kind != y->kind || x->n_tokens != y->n_tokens || x->n_merges != y->n_merges) {
        snprintf(why, n, "tokenizer kind/tokens/merges %d/%u/%u vs %d/%u/%u", x->kind, x->n_tokens, x->n_merges,
                 y->kind, y->n_tokens, y->n_merges);
        return 1;
    }
    for (uint32_t i = 0; i < x->n_tokens; i++) {
        if (x->tokens[i].len != y->tokens[i].len || memcmp(x->tokens[i].s, y->tokens[i].s, x->tokens[i].len)) {
            snprintf(why, n, "token %u: '%s' vs '%s'", i, x->tokens[i].s, y->tokens[i].s);
            return 1;
        }
        if ((x->scores != NULL) != (y->scores != NULL) || (x->scores && x->scores[i] != y->scores[i])) {
            snprintf(why, n, "score of token %u differs", i);
            return 1;
        }
        if ((x->token_types != NULL) != (y->token_types != NULL) ||
            (x->token_types && x->token_types[i] != y->token_types[i])) {
            snprintf(why, n, "type of token %u differs", i);
            return 1;
        }
    }
    for (uint32_t i = 0; i < x->n_merges; i++)
        if (strcmp(x->merges[i].s, y->merges[i].s)) {
            snprintf(why, n, "merge %u: '%s' vs '%s'", i, x->merges[i].s, y->merges[i].s);
            return 1;
        }
    if (x->bos_id != y->bos_id || x->eos_id != y->eos_id || x->unk_id != y->unk_id || x->pad_id != y->pad_id ||
        x->sep_id != y->sep_id) {
        snprintf(why, n, "special ids differ: bos %lld/%lld eos %lld/%lld unk %lld/%lld pad %lld/%lld sep %lld/%lld",
                 (long long)x->bos_id, (long long)y->bos_id, (long long)x->eos_id, (long long)y->eos_id,
                 (long long)x->unk_id, (long long)y->unk_id, (long long)x->pad_id, (long long)y->pad_id,
                 (long long)x->sep_id, (long long)y->sep_id);
        return 1;
    }
    if (x->add_bos != y->add_bos || x->add_eos != y->add_eos) {
        snprintf(why, n, "add_bos/add_eos differ");
        return 1;
    }
    if ((x->pre == NULL) != (y->pre == NULL) || (x->pre && strcmp(x->pre, y->pre))) {
        snprintf(why, n, "pre differs");
        return 1;
    }
    return 0;
}
