/* slmrt_forward.c - contexts and the forward pass of the llama architecture,
 * step for step as llama.cpp builds its graph (llm_build_llama): token
 * embedding; per layer RMSNorm, Q/K/V, RoPE, causal grouped-query attention
 * over an f32 KV cache, output projection, residual, RMSNorm, SwiGLU MLP,
 * residual; final RMSNorm and the output matrix.
 *
 * Everything outside the matrix products is f32 and follows ggml (RMSNorm
 * sums squares in double, RoPE advances theta by repeated multiplication as
 * ggml's rope cache does); softmax, SiLU, RoPE and attention x V round as
 * the AVX-512 build of llama.cpp that computed the reference logits does
 * (slmrt_ggml_math.h), so F16/F32 models match those to print precision.
 *
 * A batch of tokens goes through each layer together, but every token's
 * arithmetic is exactly what it would be alone (matrix products are one
 * dot per output row and token, or for batches the GEMM kernels of
 * slmrt_gemm.h, which sum each row and token in the dot's order; attention
 * reads the cache only up to the token's own position), so batched and
 * one-at-a-time evaluation give the same logits (BF16 weights: within
 * 0.005). A context using the oneDNN backend (slmrt_onednn.h) computes
 * batches of SLMRT_ONEDNN_MIN_TOKENS or more in bf16 instead: equal within
 * the golden tolerances, not bit for bit. Long batches are processed in
 * chunks of SLMRT_CHUNK tokens to bound the scratch memory; that does not
 * change results either. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slmrt_gemm.h"
#include "slmrt_ggml_math.h"
#include "slmrt_model_priv.h"
#include "slmrt_onednn.h"
#include "slmrt_pool.h"

/* Tokens per internal batch: scratch memory grows with it (about 90 KB per
 * token for a 1.1B model), and every chunk streams all weights from memory
 * once and repacks them (slmrt_gemm.h). Measured, prefill of 512 tokens,
 * Q8_0 1.1B, 2 threads (bench/gemm_bench.c): 173 tokens/s with chunks of
 * 64, 179 with 256, 180 with 512. */
#define SLMRT_CHUNK 256
/* Upper bound on threads a context accepts (far above any real machine). */
#define SLMRT_MAX_THREADS 1024

struct slmrt_ctx {
    slmrt_model *m;
    int n_ctx, n_threads, chunk;
    slmrt_observer_fn observer;
    void *observer_user;
    slmrt_residual_fn residual;
    void *residual_user;
    int n_filled; /* positions [0, n_filled) of the KV cache are valid */

    int q_dim, kv_dim;
    /* As dot_f32_cols reads them: keys in tiles of 16 positions (a tile of
     * one KV head holds head_dim rows of 16 positions, 4 KiB read in
     * order), values by position, in rows 16 floats longer than kv_dim (at
     * strides that are multiples of 4 KiB the rows attention reads one
     * after the other would share an L1 set, and the padding holds what
     * dot_f32_cols reads past the last head). n_ctx is rounded up to 32:
     * attention reads whole blocks of 32 positions. */
    int n_ctx_pad;
    size_t v_ld;    /* row stride of v_cache in floats */
    float *k_cache; /* [n_layer][n_head_kv][n_ctx_pad / 16][head_dim][16] */
    float *v_cache; /* [n_layer][n_ctx_pad][v_ld] */

    /* per-chunk activations, [chunk][width] */
    float *x, *h, *q, *k, *v, *att, *g, *u;
    float *rope_cos, *rope_sin; /* [chunk][n_rot/2] */
    void *prep;                 /* [chunk][max_prep_row] prepared activations */
    float *scores;              /* [n_threads][n_head / n_head_kv][n_ctx_pad] attention weights */

    /* batched products (NULL gemm: matrix-vector products only) */
    const slmrt_gemm *gemm;
    void *gemm_act;    /* activation side of the GEMM kernels for the chunk */
    void *gemm_panels; /* [n_threads] weight panels, 64-byte aligned */
    const slmrt_gemm_type *act_for; /* what gemm_act holds now (NULL: stale) */

    /* batched products through oneDNN/OpenBLAS (NULL: our kernels only) */
    slmrt_gemm_backend backend;
    slmrt_onednn *onednn;
    bool onednn_gemmless_only; /* auto without AMX: only types our GEMM lacks */
    slm_diag onednn_err; /* its first failure during one slmrt_eval */

    float *lora_tmp;      /* [chunk][lora_tmp_rank]: A·x of run-time LoRA */
    int lora_tmp_rank;
};

/* ------------------------------------------------------------ matmul */

typedef struct matmul_job {
    const slmrt_mat *w;
    const char *prep;
    int n_tok;
    float *y;
    int64_t y_stride;
} matmul_job;

static void matmul_rows(void *arg, int64_t r0, int64_t r1, int thread) {
    (void)thread;
    const matmul_job *j = arg;
    const slmrt_mat *w = j->w;
    slmrt_dot_fn dot = w->k->dot;
    for (int64_t r = r0; r < r1; r++) {
        const char *row = w->data + (size_t)r * w->row_size;
        float b = w->bias ? w->bias[r] : 0.0f;
        /* tokens innermost: the weight row stays in cache across the batch */
        for (int t = 0; t < j->n_tok; t++) {
            float s = dot(w->n_in, row, j->prep + (size_t)t * w->prep_row_size);
            j->y[t * j->y_stride + r] = w->bias ? s + b : s;
        }
    }
}

/* The GEMM entry for w when the batch is large enough to pay for panel
 * repacking, else NULL (matrix-vector products). */
static const slmrt_gemm_type *gemm_for(const slmrt_ctx *c, const slmrt_mat *w, int n_tok) {
    const slmrt_gemm_type *gt = c->gemm ? slmrt_gemm_type_for(c->gemm, w->t->type, w->n_in) : NULL;
    return gt && n_tok >= gt->min_tokens ? gt : NULL;
}

typedef struct prep_job {
    slmrt_ctx *c;
    const slmrt_mat *w;
    const float *x;
    int n_tok;
    bool prepare;               /* convert x into the partner layout */
    const slmrt_gemm_type *gt;  /* and/or fill the GEMM activation side */
} prep_job;

static void prep_rows(void *arg, int64_t t0, int64_t t1, int thread) {
    (void)thread;
    const prep_job *j = arg;
    const slmrt_mat *w = j->w;
    char *prep = j->c->prep;
    if (j->prepare)
        for (int64_t t = t0; t < t1; t++)
            w->k->prepare(j->x + (size_t)t * w->n_in, prep + (size_t)t * w->prep_row_size, w->n_in);
    if (j->gt)
        slmrt_gemm_act_fill(j->gt, (const uint8_t *)prep, w->prep_row_size, w->n_in, j->n_tok, (int)t0, (int)t1,
                            j->c->gemm_act);
}

/* Converts n_tok activation rows of w->n_in floats into w's partner layout
 * (each row on its own: the same bytes however the rows are split among
 * threads). */
static void prepare(slmrt_ctx *c, const slmrt_mat *w, const float *x, int n_tok) {
    prep_job j = {c, w, x, n_tok, true, NULL};
    slmrt_parallel_for(c->n_threads, n_tok, prep_rows, &j);
    c->act_for = NULL;
}

static void observe(slmrt_ctx *c, const slmrt_mat *w, const float *x, int n_tok) {
    if (c->observer) c->observer(c->observer_user, w->t->name, x, n_tok, w->n_in);
}

/* y[t][r] = W[r] . x[t] (+ bias) for the activations already in c->prep. */
static void matmul_prepared(slmrt_ctx *c, const slmrt_mat *w, int n_tok, float *y) {
    const slmrt_gemm_type *gt = gemm_for(c, w, n_tok);
    if (!gt) {
        matmul_job j = {w, c->prep, n_tok, y, w->n_out};
        slmrt_parallel_for(c->n_threads, w->n_out, matmul_rows, &j);
        return;
    }
    /* the activation side is shared by matrices with the same entry
     * (Q/K/V, gate/up) */
    if (c->act_for != gt) {
        prep_job pj = {c, w, NULL, n_tok, false, gt};
        slmrt_parallel_for(c->n_threads, n_tok, prep_rows, &pj);
        c->act_for = gt;
    }
    slmrt_gemm_act a;
    slmrt_gemm_act_view(gt, (const uint8_t *)c->prep, w->prep_row_size, w->n_in, n_tok, c->gemm_act, &a);
    const slmrt_gemm_weights gw = {(const uint8_t *)w->data, w->row_size, w->n_in, w->n_out, w->bias};
    slmrt_gemm_run(gt, &gw, &a, n_tok, y, (size_t)w->n_out, c->gemm_panels, c->n_threads);
}

/* Whether our own GEMM kernels multiply by w in batches. */
static bool own_gemm_takes(const slmrt_ctx *c, const slmrt_mat *w) {
    return c->gemm && slmrt_gemm_type_for(c->gemm, w->t->type, w->n_in);
}

/* y[t][r] = W[r] . x[t] (+ bias) through the oneDNN/OpenBLAS backend when
 * the context has it, it takes w's type and the batch is long enough; it
 * reads the f32 rows themselves. False: the caller prepares and uses our
 * kernels. A failure is kept for slmrt_eval to report. */
static bool matmul_onednn(slmrt_ctx *c, const slmrt_mat *w, const float *x, int n_tok, float *y) {
    if (!c->onednn || n_tok < SLMRT_ONEDNN_MIN_TOKENS || !slmrt_onednn_takes(c->onednn, w->t->type)) return false;
    if (c->onednn_gemmless_only && own_gemm_takes(c, w)) return false;
    if (c->onednn_err.status == SLM_OK) {
        const slmrt_onednn_weights ow = {w->t->type, w->data, w->row_size, w->n_in, w->n_out, w->bias};
        slmrt_onednn_matmul(c->onednn, &ow, x, (size_t)w->n_in, n_tok, y, (size_t)w->n_out, &c->onednn_err);
    }
    return true;
}

/* y += the run-time LoRA updates of w, if any. */
static void lora(slmrt_ctx *c, const slmrt_mat *w, const float *x, int n_tok, float *y) {
    if (w->lora) slmrt_lora_apply(w->lora, x, n_tok, w->n_in, y, w->n_out, c->lora_tmp, c->n_threads);
}

static void linear(slmrt_ctx *c, const slmrt_mat *w, const float *x, int n_tok, float *y) {
    observe(c, w, x, n_tok);
    if (!matmul_onednn(c, w, x, n_tok, y)) {
        prepare(c, w, x, n_tok);
        matmul_prepared(c, w, n_tok, y);
    }
    lora(c, w, x, n_tok, y);
}

/* Several matrices reading the same input (Q/K/V, gate/up): the observer sees
 * each weight name, and the input is prepared again only when the partner
 * layout changes. */
static void linear_shared(slmrt_ctx *c, const slmrt_mat *const *ws, float *const *ys, int n, const float *x,
                          int n_tok) {
    for (int i = 0; i < n; i++) observe(c, ws[i], x, n_tok);
    const slmrt_mat *prepared = NULL; /* whose partner layout c->prep holds */
    for (int i = 0; i < n; i++) {
        if (!matmul_onednn(c, ws[i], x, n_tok, ys[i])) {
            if (!prepared || ws[i]->k->prepare != prepared->k->prepare || ws[i]->k->partner != prepared->k->partner)
                prepare(c, ws[i], x, n_tok);
            prepared = ws[i];
            matmul_prepared(c, ws[i], n_tok, ys[i]);
        }
        lora(c, ws[i], x, n_tok, ys[i]);
    }
}

/* ------------------------------------------------------- elementwise */

/* ggml_compute_forward_rms_norm_f32 followed by the weight multiply. */
static void rms_norm(const float *x, const float *w, float *y, int n, float eps) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

/* cos/sin of theta for each token's position and each rotated pair, as
 * ggml_rope_cache_init computes them with ext_factor 0 and attn_factor 1. */
static void rope_tables(slmrt_ctx *c, int pos0, int n_tok) {
    const slmrt_model *m = c->m;
    const int half = m->n_rot / 2;
    const float theta_scale = powf(m->freq_base, -2.0f / (float)m->n_rot);
    for (int t = 0; t < n_tok; t++) {
        float theta_base = (float)(pos0 + t);
        float *cs = c->rope_cos + (size_t)t * half, *sn = c->rope_sin + (size_t)t * half;
        for (int i = 0; i < half; i++) {
            const float ff = m->rope_freqs ? m->rope_freqs[i] : 1.0f;
            const float theta = m->freq_scale * (theta_base / ff);
            cs[i] = cosf(theta);
            sn[i] = sinf(theta);
            theta_base *= theta_scale;
        }
    }
}

/* Rotates the first n_rot dims of each of n_heads heads of one token. */
static void rope_apply(const slmrt_model *m, float *v, int n_heads, const float *cs, const float *sn) {
    const int hd = m->head_dim, half = m->n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * hd;
        for (int i = 0; i < half; i++) {
            int a, b;
            if (m->rope_mode == SLMRT_ROPE_NEOX) {
                a = i;
                b = i + half;
            } else {
                a = 2 * i;
                b = 2 * i + 1;
            }
            const float x0 = x[a], x1 = x[b];
            /* as GCC contracts ggml's rope_f32 (reference logits) */
            x[a] = fmaf(x0, cs[i], -(x1 * sn[i]));
            x[b] = fmaf(x0, sn[i], x1 * cs[i]);
        }
    }
}

/* g = silu(g) * u for tokens [t0, t1): one exp per element, as much time
 * as a matrix product in a long batch if left to one thread. SiLU runs over
 * each token's row as ggml_vec_silu_f32 does (slmrt_ggml_math.h). */
static void silu_rows(void *arg, int64_t t0, int64_t t1, int thread) {
    (void)thread;
    slmrt_ctx *c = arg;
    const size_t F = (size_t)c->m->n_ff;
    const slmrt_ggml_math *gm = slmrt_ggml_math_for(c->m->kern->isa);
    for (int64_t t = t0; t < t1; t++) gm->silu((int)F, c->g + (size_t)t * F);
    for (size_t i = (size_t)t0 * F; i < (size_t)t1 * F; i++) c->g[i] *= c->u[i]; /* silu(gate) * up */
}

/* --------------------------------------------------------- attention */

typedef struct attn_job {
    slmrt_ctx *c;
    const slmrt_ggml_math *gm;
    int layer, pos0, n_tok;
} attn_job;

/* One (token, KV head) pair per index, for the query heads that share the
 * KV head: softmax(q.K^T * scale) V over positions 0..pos of the token. As
 * in the reference (llama.cpp evaluating one token at a time, AVX-512): the
 * scores are ggml dots of q with each key; the softmax runs over the cache
 * padded to 32 positions, later ones weighted 0, with ggml_v_expf and its
 * 16-lane sums; each output channel is a ggml dot of that channel's values
 * with the weights over the padded length. Both products go through
 * dot_f32_cols (the arithmetic of one ggml dot per pair, many keys or
 * channels at once, the heads of the group sharing each load), so all of
 * it depends only on the token's position, never on the batch. Indices go
 * KV head by KV head; within one, tokens alternate from both ends of the
 * batch (0, n-1, 1, n-2, ...): a token's work grows with its position, and
 * contiguous ranges of tokens in order would give the last thread most of
 * a long batch. */
static void attn_groups(void *arg, int64_t j0, int64_t j1, int thread) {
    const attn_job *j = arg;
    slmrt_ctx *c = j->c;
    const slmrt_model *m = c->m;
    const slmrt_kernels *k = m->kern;
    const int hd = m->head_dim, group = m->n_head / m->n_head_kv;
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t ncp = (size_t)c->n_ctx_pad;
    float *sc = c->scores + (size_t)thread * group * ncp; /* [group][ncp] */
    const size_t k_off = (size_t)j->layer * c->kv_dim * ncp, v_off = (size_t)j->layer * ncp * c->v_ld;
    for (int64_t idx = j0; idx < j1; idx++) {
        const int kvh = (int)(idx / j->n_tok), u = (int)(idx % j->n_tok);
        const int t = u % 2 ? j->n_tok - 1 - u / 2 : u / 2;
        const int pos = j->pos0 + t;
        const int nkv = (pos + 1 + 31) / 32 * 32; /* <= n_ctx_pad */
        const size_t head0 = (size_t)t * c->q_dim + (size_t)kvh * group * hd;
        const float *kc = c->k_cache + k_off + (size_t)kvh * hd * ncp;
        const float *vc = c->v_cache + v_off + (size_t)kvh * hd;
        k->dot_f32_cols(hd, c->q + head0, (size_t)hd, group, kc, 16, (size_t)16 * hd, pos + 1, scale, sc, ncp);
        for (int g = 0; g < group; g++) {
            float *s = sc + (size_t)g * ncp, mx = -INFINITY;
            for (int p = 0; p <= pos; p++) mx = s[p] > mx ? s[p] : mx;
            const double sum = j->gm->softmax_exp(nkv, pos + 1, s, mx);
            const float inv = (float)(1.0 / sum);
            for (int p = 0; p < nkv; p++) s[p] *= inv;
        }
        k->dot_f32_cols(nkv, sc, ncp, group, vc, c->v_ld, 16, hd, 1.0f, c->att + head0, (size_t)hd);
    }
}

/* ----------------------------------------------------------- forward */

/* Runs n_tok tokens at positions pos0.. through the model. When out is
 * non-NULL, writes logits: for every token when all, else for the last. */
static void forward_chunk(slmrt_ctx *c, const int32_t *toks, int n_tok, int pos0, float *out, bool all) {
    const slmrt_model *m = c->m;
    const int E = m->n_embd, half = m->n_rot / 2;
    const slm_type_traits *etr = slm_type_traits_get(m->tok_embd->type);
    const size_t ers = slm_type_row_size(m->tok_embd->type, m->tok_embd->ne[0]);

    for (int t = 0; t < n_tok; t++) {
        etr->to_f32((const char *)m->tok_embd->data + (size_t)toks[t] * ers, c->x + (size_t)t * E, E);
        if (m->embd_lora) slmrt_lora_embed(m->embd_lora, toks[t], c->x + (size_t)t * E, E);
    }
    rope_tables(c, pos0, n_tok);

    for (int l = 0; l < m->n_layer; l++) {
        const slmrt_layer *L = &m->layers[l];
        if (c->residual) c->residual(c->residual_user, l, c->x, n_tok, E);
        for (int t = 0; t < n_tok; t++)
            rms_norm(c->x + (size_t)t * E, L->attn_norm, c->h + (size_t)t * E, E, m->rms_eps);
        {
            const slmrt_mat *ws[3] = {&L->wq, &L->wk, &L->wv};
            float *ys[3] = {c->q, c->k, c->v};
            linear_shared(c, ws, ys, 3, c->h, n_tok);
        }
        const size_t ncp = (size_t)c->n_ctx_pad;
        float *kt = c->k_cache + (size_t)l * c->kv_dim * ncp, *vt = c->v_cache + (size_t)l * ncp * c->v_ld;
        const int hd = m->head_dim;
        for (int t = 0; t < n_tok; t++) {
            const float *cs = c->rope_cos + (size_t)t * half, *sn = c->rope_sin + (size_t)t * half;
            rope_apply(m, c->q + (size_t)t * c->q_dim, m->n_head, cs, sn);
            rope_apply(m, c->k + (size_t)t * c->kv_dim, m->n_head_kv, cs, sn);
            const float *kr = c->k + (size_t)t * c->kv_dim;
            const int p = pos0 + t;
            for (int h = 0; h < m->n_head_kv; h++) {
                float *tile = kt + (size_t)h * hd * ncp + (size_t)(p / 16) * 16 * hd + p % 16;
                for (int i = 0; i < hd; i++) tile[(size_t)i * 16] = kr[(size_t)h * hd + i];
            }
            memcpy(vt + (size_t)(pos0 + t) * c->v_ld, c->v + (size_t)t * c->kv_dim, sizeof(float) * c->kv_dim);
        }
        /* attention reads V up to the next multiple of 32 (weighted 0): keep
         * what lies there past this chunk zero, not a previous history's */
        const size_t end = (size_t)pos0 + n_tok, pad_end = (end + 31) / 32 * 32;
        if (pad_end > end)
            memset(vt + end * c->v_ld, 0, (pad_end - end) * c->v_ld * sizeof(float));
        attn_job aj = {c, slmrt_ggml_math_for(m->kern->isa), l, pos0, n_tok};
        slmrt_parallel_for(c->n_threads, (int64_t)n_tok * m->n_head_kv, attn_groups, &aj);
        linear(c, &L->wo, c->att, n_tok, c->h);
        for (size_t i = 0; i < (size_t)n_tok * E; i++) c->x[i] += c->h[i];

        for (int t = 0; t < n_tok; t++)
            rms_norm(c->x + (size_t)t * E, L->ffn_norm, c->h + (size_t)t * E, E, m->rms_eps);
        {
            const slmrt_mat *ws[2] = {&L->w_gate, &L->w_up};
            float *ys[2] = {c->g, c->u};
            linear_shared(c, ws, ys, 2, c->h, n_tok);
        }
        slmrt_parallel_for(c->n_threads, n_tok, silu_rows, c);
        linear(c, &L->w_down, c->g, n_tok, c->h);
        for (size_t i = 0; i < (size_t)n_tok * E; i++) c->x[i] += c->h[i];
    }

    if (c->residual) c->residual(c->residual_user, m->n_layer, c->x, n_tok, E);
    if (!out) return;
    /* Only the rows whose logits are wanted go through the output matrix, so
     * with last-token-only output its observer sees one row. */
    const int first = all ? 0 : n_tok - 1, n_out = n_tok - first;
    for (int t = first; t < n_tok; t++)
        rms_norm(c->x + (size_t)t * E, m->output_norm, c->h + (size_t)(t - first) * E, E, m->rms_eps);
    linear(c, &m->output, c->h, n_out, out);
}

slm_status slmrt_eval(slmrt_ctx *c, const int32_t *tokens, int n, int n_past, float *logits, bool all_logits,
                      slm_diag *d) {
    if (!c || !tokens || !logits) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_eval: NULL context, tokens or logits");
    if (n <= 0) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_eval: %d tokens (need at least 1)", n);
    if (n_past < 0) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_eval: negative n_past %d", n_past);
    if ((int64_t)n_past + n > c->n_ctx)
        return slm_diag_set(d, SLM_ERR_USAGE, "context overflow: %d tokens after n_past %d need %lld positions "
                            "(n_ctx %d)", n, n_past, (long long)n_past + n, c->n_ctx);
    if (n_past > c->n_filled)
        return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_eval: n_past %d but the KV cache holds only %d positions "
                            "(evaluate the earlier tokens first)", n_past, c->n_filled);
    const int V = c->m->n_vocab;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return slm_diag_set(d, SLM_ERR_USAGE, "token id %d (at index %d) is out of range: n_vocab %d",
                                (int)tokens[i], i, V);
    if (c->m->lora_max_rank > c->lora_tmp_rank) { /* an adapter was added after the context */
        float *tmp = realloc(c->lora_tmp, sizeof(float) * (size_t)c->chunk * (size_t)c->m->lora_max_rank);
        if (!tmp) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for LoRA scratch");
        c->lora_tmp = tmp;
        c->lora_tmp_rank = c->m->lora_max_rank;
    }
    slm_diag_clear(&c->onednn_err);
    for (int off = 0; off < n; off += c->chunk) {
        const int nb = n - off < c->chunk ? n - off : c->chunk;
        const bool last = off + nb == n;
        float *out = all_logits ? logits + (size_t)off * V : (last ? logits : NULL);
        forward_chunk(c, tokens + off, nb, n_past + off, out, all_logits);
        if (c->onednn_err.status != SLM_OK) {
            c->n_filled = n_past + off; /* this chunk's positions are not valid */
            return slm_diag_set(d, c->onednn_err.status, "%s", c->onednn_err.msg);
        }
    }
    /* later positions, if any, were computed from a different history */
    c->n_filled = n_past + n;
    return SLM_OK;
}

/* ----------------------------------------------------------- context */

/* The matrices of layer l, or for l == n_layer the output matrix; returns
 * how many. */
static int layer_mats(const slmrt_model *m, int l, const slmrt_mat *mats[7]) {
    if (l == m->n_layer) {
        mats[0] = &m->output;
        return 1;
    }
    const slmrt_layer *L = &m->layers[l];
    const slmrt_mat *lm[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
    memcpy(mats, lm, sizeof lm);
    return 7;
}

/* Scratch for the GEMM path: the largest activation side of any matrix for
 * a whole chunk, and the largest panel. */
static void gemm_scratch_sizes(const slmrt_ctx *c, size_t *act, size_t *panel) {
    const slmrt_model *m = c->m;
    *act = *panel = 0;
    for (int l = 0; l <= m->n_layer; l++) {
        const slmrt_mat *mats[7];
        const int n = layer_mats(m, l, mats);
        for (int i = 0; i < n; i++) {
            const slmrt_gemm_type *gt = slmrt_gemm_type_for(c->gemm, mats[i]->t->type, mats[i]->n_in);
            if (!gt) continue;
            const size_t a = slmrt_gemm_act_bytes(gt, mats[i]->n_in, c->chunk);
            const size_t p = slmrt_gemm_panel_bytes(gt, mats[i]->n_in);
            if (a > *act) *act = a;
            if (p > *panel) *panel = p;
        }
    }
}

/* The oneDNN/OpenBLAS backend when the context is to use it: requested
 * by name (parameter or SLMRT_GEMM), every matrix must go through it, or
 * the context is not made; chosen by auto, matrices it does not take stay
 * on our kernels, and when it takes none the context does without it. */
static slm_status onednn_setup(slmrt_ctx *c, int requested, slm_diag *d) {
    bool by_name;
    c->backend = slmrt_gemm_backend_choose((slmrt_gemm_backend)requested, &by_name);
    /* Auto on a CPU without AMX: our kernels, except for the weight types
     * they have no batched product for (Q2_K, Q3_K, Q4_1, IQ4_NL, ...), which
     * would otherwise run as matrix-vector products: measured 4x faster
     * prefill through oneDNN (still within the logits tolerances of
     * one-token evaluation, not bit-identical to it). */
    if (c->backend == SLMRT_GEMM_OWN && !by_name && c->gemm) {
        bool gemmless = false;
        for (int l = 0; l <= c->m->n_layer && !gemmless; l++) {
            const slmrt_mat *mats[7];
            for (int i = 0, n = layer_mats(c->m, l, mats); i < n; i++) gemmless |= !own_gemm_takes(c, mats[i]);
        }
        if (gemmless) {
            c->backend = SLMRT_GEMM_ONEDNN;
            c->onednn_gemmless_only = true;
        }
    }
    if (c->backend != SLMRT_GEMM_ONEDNN) return SLM_OK;
    const slmrt_model *m = c->m;
    int max_n_in = 0;
    for (int l = 0; l <= m->n_layer; l++) {
        const slmrt_mat *mats[7];
        for (int i = 0, n = layer_mats(m, l, mats); i < n; i++)
            if (mats[i]->n_in > max_n_in) max_n_in = mats[i]->n_in;
    }
    slm_diag local = {0};
    slm_status st = slmrt_onednn_new(c->n_threads, c->chunk, max_n_in, by_name, &c->onednn, by_name ? d : &local);
    if (st != SLM_OK) {
        if (by_name) return st;
        c->backend = SLMRT_GEMM_OWN;
        c->onednn_gemmless_only = false;
        return SLM_OK;
    }
    bool any = false;
    for (int l = 0; l <= m->n_layer; l++) {
        const slmrt_mat *mats[7];
        for (int i = 0, n = layer_mats(m, l, mats); i < n; i++) {
            const slm_type type = mats[i]->t->type;
            if (slmrt_onednn_takes(c->onednn, type)) any = true;
            else if (by_name)
                return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "GEMM backend onednn cannot multiply by %s (%s): %s",
                                    mats[i]->t->name, slm_type_name(type), slmrt_onednn_why_not(c->onednn, type));
        }
    }
    if (!any) {
        slmrt_onednn_free(c->onednn);
        c->onednn = NULL;
        c->backend = SLMRT_GEMM_OWN;
        c->onednn_gemmless_only = false;
    }
    return SLM_OK;
}

static void *alloc_floats(size_t n, bool zero) {
    if (n == 0) n = 1;
    if (n > SIZE_MAX / sizeof(float)) return NULL;
    return zero ? calloc(n, sizeof(float)) : malloc(n * sizeof(float));
}

slm_status slmrt_ctx_new(slmrt_model *rm, const slmrt_ctx_params *p, slmrt_ctx **out, slm_diag *d) {
    if (!out) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_ctx_new: out is NULL");
    *out = NULL;
    if (!rm) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_ctx_new: model is NULL");
    slmrt_ctx_params def = {0};
    if (!p) p = &def;
    if (p->n_ctx < 0) return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_ctx_new: negative n_ctx %d", p->n_ctx);
    if (p->n_threads < 0 || p->n_threads > SLMRT_MAX_THREADS)
        return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_ctx_new: n_threads %d is not in 0..%d", p->n_threads,
                            SLMRT_MAX_THREADS);
    if (p->gemm_backend < SLMRT_GEMM_AUTO || p->gemm_backend > SLMRT_GEMM_ONEDNN)
        return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_ctx_new: gemm_backend %d is not a slmrt_gemm_backend",
                            p->gemm_backend);
    slmrt_ctx *c = calloc(1, sizeof *c);
    if (!c) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    c->m = rm;
    c->n_ctx = p->n_ctx ? p->n_ctx : rm->n_ctx_train;
    c->n_threads = p->n_threads ? p->n_threads : slmrt_pool_default_threads();
    c->observer = p->observer;
    c->observer_user = p->observer_user;
    c->residual = p->residual;
    c->residual_user = p->residual_user;
    c->chunk = c->n_ctx < SLMRT_CHUNK ? c->n_ctx : SLMRT_CHUNK;
    if (c->n_ctx <= 0) {
        free(c);
        return slm_diag_set(d, SLM_ERR_USAGE, "slmrt_ctx_new: n_ctx is 0 (the model has no context_length)");
    }
    c->q_dim = rm->n_head * rm->head_dim;
    c->kv_dim = rm->n_head_kv * rm->head_dim;

    const size_t ch = (size_t)c->chunk;
    /* dims are capped at load (SLMRT_MAX_DIM) and chunk is small, so only the
     * KV cache size (n_ctx is the caller's) can overflow */
    const size_t per_pos = (size_t)rm->n_layer * ((size_t)c->kv_dim + 16) * 2 * sizeof(float);
    if ((size_t)c->n_ctx > SIZE_MAX / 4 / per_pos || c->n_ctx > INT_MAX - 31) {
        int n_ctx = c->n_ctx;
        free(c);
        return slm_diag_set(d, SLM_ERR_NOMEM, "slmrt_ctx_new: a KV cache of %d tokens does not fit in memory",
                            n_ctx);
    }
    c->n_ctx_pad = (c->n_ctx + 31) / 32 * 32;
    c->v_ld = (size_t)c->kv_dim + 16;
    c->k_cache = alloc_floats((size_t)rm->n_layer * c->kv_dim * c->n_ctx_pad, true);
    c->v_cache = alloc_floats((size_t)rm->n_layer * c->n_ctx_pad * c->v_ld, true);
    c->x = alloc_floats(ch * rm->n_embd, false);
    c->h = alloc_floats(ch * rm->n_embd, false);
    c->q = alloc_floats(ch * c->q_dim, false);
    c->att = alloc_floats(ch * c->q_dim, false);
    c->k = alloc_floats(ch * c->kv_dim, false);
    c->v = alloc_floats(ch * c->kv_dim, false);
    c->g = alloc_floats(ch * rm->n_ff, false);
    c->u = alloc_floats(ch * rm->n_ff, false);
    c->rope_cos = alloc_floats(ch * (rm->n_rot / 2), false);
    c->rope_sin = alloc_floats(ch * (rm->n_rot / 2), false);
    c->scores = alloc_floats((size_t)c->n_threads * (rm->n_head / rm->n_head_kv) * c->n_ctx_pad, false);
    /* 64-byte aligned so vector kernels see aligned rows when the row size allows */
    size_t prep_bytes = (ch * rm->max_prep_row + 63) / 64 * 64;
    c->prep = aligned_alloc(64, prep_bytes ? prep_bytes : 64);
    /* batched products only when a chunk can hold a batch worth it */
    c->gemm = c->chunk > 1 ? slmrt_gemm_for(rm->kern->isa) : NULL;
    bool gemm_ok = true;
    if (c->gemm) {
        size_t act = 0, panel = 0;
        gemm_scratch_sizes(c, &act, &panel);
        c->gemm_act = aligned_alloc(64, (act + 63) / 64 * 64 + 64);
        c->gemm_panels = aligned_alloc(64, panel * (size_t)c->n_threads + 64);
        gemm_ok = c->gemm_act && c->gemm_panels;
    }
    if (!gemm_ok || !c->k_cache || !c->v_cache || !c->x || !c->h || !c->q || !c->att || !c->k || !c->v || !c->g ||
        !c->u || !c->rope_cos || !c->rope_sin || !c->scores || !c->prep) {
        slmrt_ctx_free(c);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for a context of %d tokens (KV cache %zu MiB)",
                            p->n_ctx ? p->n_ctx : rm->n_ctx_train, (size_t)c->n_ctx_pad * per_pos >> 20);
    }
    slm_status st = onednn_setup(c, p->gemm_backend, d);
    if (st != SLM_OK) {
        slmrt_ctx_free(c);
        return st;
    }
    *out = c;
    return SLM_OK;
}

void slmrt_ctx_free(slmrt_ctx *c) {
    if (!c) return;
    free(c->k_cache);
    free(c->v_cache);
    free(c->x);
    free(c->h);
    free(c->q);
    free(c->att);
    free(c->k);
    free(c->v);
    free(c->g);
    free(c->u);
    free(c->rope_cos);
    free(c->rope_sin);
    free(c->scores);
    free(c->prep);
    free(c->gemm_act);
    free(c->gemm_panels);
    slmrt_onednn_free(c->onednn);
    free(c->lora_tmp);
    free(c);
}

void slmrt_ctx_reset(slmrt_ctx *c) {
    if (c) c->n_filled = 0;
}

int slmrt_ctx_n_ctx(const slmrt_ctx *c) { return c ? c->n_ctx : 0; }

int slmrt_ctx_n_threads(const slmrt_ctx *c) { return c ? c->n_threads : 0; }

slmrt_gemm_backend slmrt_ctx_gemm_backend(const slmrt_ctx *c) { return c ? c->backend : SLMRT_GEMM_OWN; }

const char *slmrt_ctx_gemm_impl(const slmrt_ctx *c) { return c && c->onednn ? slmrt_onednn_impl(c->onednn) : ""; }

bool slmrt_ctx_batch_exact(const slmrt_ctx *c) {
    if (!c) return false;
    for (int l = 0; l <= c->m->n_layer; l++) {
        const slmrt_mat *mats[7];
        for (int i = 0, n = layer_mats(c->m, l, mats); i < n; i++) {
            const slm_type type = mats[i]->t->type;
            const bool to_onednn = c->onednn && slmrt_onednn_takes(c->onednn, type) &&
                                   !(c->onednn_gemmless_only && own_gemm_takes(c, mats[i]));
            if (to_onednn) return false;
            const slmrt_gemm_type *gt = c->gemm ? slmrt_gemm_type_for(c->gemm, type, mats[i]->n_in) : NULL;
            if (gt && !gt->exact) return false;
        }
    }
    return true;
}
