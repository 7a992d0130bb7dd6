/* slmrt_lora.c - LoRA adapters applied at run time, as llama.cpp applies
 * them: y = W·x + s·B·(A·x) next to each adapted matrix product (the base
 * weights stay as they are, memory-mapped and in any type), and s·B[tok]·A
 * added to an adapted embedding row. The products run in f32 storage with
 * double sums: correctness first, and the rank is small next to the base
 * product. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "slmrt_model_priv.h"
#include "slmrt_pool.h"

struct slmrt_lora_set {
    slm_lora_adapter **owned; /* read by slmrt_model_add_lora_file */
    int n_owned;
    slmrt_lora_node **nodes;  /* every node, for freeing */
    size_t n_nodes;
};

void slmrt_lora_set_free(struct slmrt_lora_set *s) {
    if (!s) return;
    for (int i = 0; i < s->n_owned; i++) slm_lora_free(s->owned[i]);
    for (size_t i = 0; i < s->n_nodes; i++) free(s->nodes[i]);
    free(s->owned);
    free(s->nodes);
    free(s);
}

/* ------------------------------------------------------------- apply */

typedef struct lora_job {
    const slmrt_lora_node *l;
    const float *x;
    int n_in, n_out, stride;
    float *y, *tmp;
} lora_job;

static void lora_tokens(void *arg, int64_t t0, int64_t t1, int thread) {
    (void)thread;
    const lora_job *j = arg;
    for (int64_t t = t0; t < t1; t++) {
        const float *x = j->x + t * j->n_in;
        float *y = j->y + t * j->n_out, *u = j->tmp + t * j->stride;
        for (const slmrt_lora_node *l = j->l; l; l = l->next) {
            for (int r = 0; r < l->rank; r++) {
                const float *a = l->a + (size_t)r * j->n_in;
                double s = 0;
                for (int i = 0; i < j->n_in; i++) s += (double)a[i] * x[i];
                u[r] = (float)s;
            }
            for (int o = 0; o < j->n_out; o++) {
                const float *b = l->b + (size_t)o * l->rank;
                double s = 0;
                for (int r = 0; r < l->rank; r++) s += (double)b[r] * u[r];
                y[o] += l->scale * (float)s;
            }
        }
    }
}

void slmrt_lora_apply(const slmrt_lora_node *l, const float *x, int n_tok, int n_in, float *y, int n_out, float *tmp,
                      int n_threads) {
    int stride = 0;
    for (const slmrt_lora_node *n = l; n; n = n->next) stride = n->rank > stride ? n->rank : stride;
    lora_job j = {l, x, n_in, n_out, stride, y, tmp};
    slmrt_parallel_for(n_threads, n_tok, lora_tokens, &j);
}

void slmrt_lora_embed(const slmrt_lora_node *l, int32_t tok, float *e, int n_embd) {
    for (; l; l = l->next) {
        const float *b = l->b + (size_t)tok * l->rank;
        for (int i = 0; i < n_embd; i++) {
            double s = 0;
            for (int r = 0; r < l->rank; r++) s += (double)b[r] * l->a[(size_t)r * n_embd + i];
            e[i] += l->scale * (float)s;
        }
    }
}

/* --------------------------------------------------------------- add */

/* The list a pair's updates join: a matrix the forward pass multiplies by,
 * or token_embd's. NULL when the runtime never multiplies by that tensor. */
static const slmrt_lora_node **target_of(slmrt_model *rm, const char *name) {
    if (strcmp(name, rm->tok_embd->name) == 0) return &rm->embd_lora;
    if (rm->output.t && strcmp(rm->output.t->name, name) == 0) return &rm->output.lora;
    for (int l = 0; l < rm->n_layer; l++) {
        slmrt_layer *L = &rm->layers[l];
        slmrt_mat *mats[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int i = 0; i < 7; i++)
            if (strcmp(mats[i]->t->name, name) == 0) return &mats[i]->lora;
    }
    return NULL;
}

slm_status slmrt_model_add_lora(slmrt_model *rm, const slm_lora_adapter *a, float user_scale, slm_diag *d) {
    if (!rm || !a) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_model_add_lora: NULL model or adapter");
    if (!isfinite(user_scale))
        return slm_diag_set(d, SLM_ERR_USAGE, "%s: LoRA scale %g is not a finite number", a->path,
                            (double)user_scale);
    slm_status st = slm_lora_check(a, rm->ir, d);
    if (st != SLM_OK) return st;
    if (a->n_full)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: modules_to_save tensor %s replaces the whole weight %s, which "
                            "slmrt does not do at run time (merge the adapter with slmc instead)", a->path,
                            a->full[0].source, a->full[0].name);
    for (uint32_t i = 0; i < a->n_pairs; i++)
        if (!target_of(rm, a->pairs[i].name))
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: %s is adapted, but the runtime does not multiply by it",
                                a->path, a->pairs[i].name);
    if (!rm->lora && !(rm->lora = calloc(1, sizeof *rm->lora)))
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    struct slmrt_lora_set *s = rm->lora;
    slmrt_lora_node **grown = realloc(s->nodes, (s->n_nodes + a->n_pairs + 1) * sizeof *grown);
    if (!grown) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    s->nodes = grown;
    /* allocate all first, so a failure leaves the model as it was */
    slmrt_lora_node **fresh = s->nodes + s->n_nodes;
    for (uint32_t i = 0; i < a->n_pairs; i++) {
        if (!(fresh[i] = calloc(1, sizeof **fresh))) {
            for (uint32_t k = 0; k < i; k++) free(fresh[k]);
            return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        }
    }
    s->n_nodes += a->n_pairs;
    for (uint32_t i = 0; i < a->n_pairs; i++) {
        const slm_lora_pair *p = &a->pairs[i];
        slmrt_lora_node *n = fresh[i];
        n->a = p->a;
        n->b = p->b;
        n->rank = p->rank;
        n->scale = (float)((double)user_scale * p->scale);
        const slmrt_lora_node **tail = target_of(rm, p->name);
        while (*tail) tail = (const slmrt_lora_node **)&(*tail)->next; /* adapters add up in the order given */
        *tail = n;
        if (p->rank > rm->lora_max_rank) rm->lora_max_rank = p->rank;
    }
    /* a tied output multiplies by token_embd: it sees the same update */
    if (rm->output.t == rm->tok_embd) rm->output.lora = rm->embd_lora;
    return SLM_OK;
}

slm_status slmrt_model_add_lora_file(slmrt_model *rm, const char *path, float user_scale, slm_diag *d) {
    if (!rm || !path) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_model_add_lora_file: NULL model or path");
    slm_lora_adapter *a = NULL;
    slm_status st = slm_lora_read(path, &rm->ir->hp, &a, d);
    if (st == SLM_OK && !rm->lora && !(rm->lora = calloc(1, sizeof *rm->lora)))
        st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    slm_lora_adapter **owned = NULL;
    if (st == SLM_OK) {
        owned = realloc(rm->lora->owned, (rm->lora->n_owned + 1) * sizeof *owned);
        if (!owned) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        else rm->lora->owned = owned;
    }
    if (st == SLM_OK) st = slmrt_model_add_lora(rm, a, user_scale, d);
    if (st != SLM_OK) {
        slm_lora_free(a);
        return st;
    }
    rm->lora->owned[rm->lora->n_owned++] = a;
    return SLM_OK;
}
