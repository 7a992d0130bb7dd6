/* check_onednn.c - the oneDNN/OpenBLAS GEMM backend (slmrt_onednn.h):
 * products on random matrices of every type with a decoder against double
 * precision, the golden models evaluated in batches through it against
 * one-token evaluation and against llama.cpp's reference logits (tolerances
 * of ../shared/golden/README.md), the thread count it runs on, and what
 * happens when it is asked for where it cannot run. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slmrt.h"
#include "slmrt_cpu.h"
#include "slmrt_onednn.h"
#include "logits_compare.h"
#include "test_support.h"

/* ------------------------------------------------------------ helpers */

static uint32_t rng_state = 1;
static float rnd(float scale) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return ((float)(rng_state >> 8) / 16777216.0f - 0.5f) * scale;
}

static float bf16_round(float f) { return slm_bf16_to_f32(slm_f32_to_bf16(f)); }

static slm_status eval_batched(slmrt_ctx *c, const int32_t *tok, int n, int batch, float *out, int n_vocab,
                               slm_diag *d) {
    slmrt_ctx_reset(c);
    for (int i = 0; i < n; i += batch) {
        const int nb = n - i < batch ? n - i : batch;
        slm_status st = slmrt_eval(c, tok + i, nb, i, out + (size_t)i * n_vocab, true, d);
        if (st != SLM_OK) return st;
    }
    return SLM_OK;
}

/* every weight type llama-quantize writes (../shared/golden/README.md) */
static const char *const golden_files[] = {"golden-f32",  "golden-F16",  "golden-BF16",  "golden-Q8_0",  "golden-Q4_0",
                                           "golden-Q4_1", "golden-Q5_0", "golden-Q5_1",  "golden-Q2_K",  "golden-Q3_K",
                                           "golden-Q4_K", "golden-Q5_K", "golden-Q6_K",  "golden-IQ4_NL", "golden-IQ4_XS"};

/* ------------------------------------------- products on random data */

/* One product through the backend against double precision, twice: with
 * the weights and activations as given (the backend must be as close as
 * bf16 rounding allows: each product off by at most 2^-8 relative), and
 * with both rounded to bf16 first, which the backend must then match to f32
 * summation error (any misplaced weight shows here). F32 goes to OpenBLAS:
 * f32 summation error only. Returns 0 when both hold. */
static int product_case(slmrt_onednn *o, slm_type type, int n_out, int n_in, int n_tok, bool with_bias) {
    const slm_type_traits *tr = slm_type_traits_get(type);
    const size_t rs = slm_type_row_size(type, n_in);
    uint8_t *w = malloc(rs * (size_t)n_out);
    float *wf = malloc(sizeof(float) * (size_t)n_in * n_out), *x = malloc(sizeof(float) * (size_t)n_in * n_tok);
    float *bias = malloc(sizeof(float) * (size_t)n_out);
    const size_t ldy = (size_t)n_out + 3; /* strided output, as into a wider buffer */
    float *y = malloc(sizeof(float) * ldy * (size_t)n_tok);
    float *row = malloc(sizeof(float) * (size_t)n_in);
    for (int r = 0; r < n_out; r++) {
        for (int i = 0; i < n_in; i++) row[i] = rnd(0.2f);
        tr->from_f32(row, w + (size_t)r * rs, n_in);
        tr->to_f32(w + (size_t)r * rs, wf + (size_t)r * n_in, n_in);
        bias[r] = 0.01f * (float)(r % 7);
    }
    for (size_t i = 0; i < (size_t)n_in * n_tok; i++) x[i] = rnd(3.0f);
    for (size_t i = 0; i < ldy * (size_t)n_tok; i++) y[i] = NAN;
    const slmrt_onednn_weights ow = {type, w, rs, n_in, n_out, with_bias ? bias : NULL};
    slm_diag d = {0};
    int bad = slmrt_onednn_matmul(o, &ow, x, (size_t)n_in, n_tok, y, ldy, &d) != SLM_OK;
    if (bad) printf("FAIL %s %dx%d, %d tokens: %s\n", tr->name, n_out, n_in, n_tok, d.msg);
    const bool bf16 = type != SLM_TYPE_F32;
    double worst = 0, worst_rounded = 0;
    for (int t = 0; t < n_tok && !bad; t++)
        for (int r = 0; r < n_out; r++) {
            const float *wr = wf + (size_t)r * n_in, *xt = x + (size_t)t * n_in;
            double exact = 0, rounded = 0, mag = 0;
            for (int i = 0; i < n_in; i++) {
                exact += (double)wr[i] * xt[i];
                rounded += bf16 ? (double)bf16_round(wr[i]) * bf16_round(xt[i]) : (double)wr[i] * xt[i];
                mag += fabs((double)wr[i] * xt[i]);
            }
            const double b = with_bias ? bias[r] : 0;
            const double got = y[(size_t)t * ldy + r];
            const double e = fabs(got - (exact + b)) / (mag + 1e-30), er = fabs(got - (rounded + b)) / (mag + 1e-30);
            worst = e > worst ? e : worst;
            worst_rounded = er > worst_rounded ? er : worst_rounded;
            if (!(e <= (bf16 ? 1.0 / 128 : 1e-5)) || !(er <= 1e-5)) {
                printf("FAIL %s %dx%d, %d tokens%s: row %d token %d: %.9g, double %.9g, of bf16 inputs %.9g\n",
                       tr->name, n_out, n_in, n_tok, with_bias ? " + bias" : "", r, t, got, exact + b, rounded + b);
                bad = 1;
                break;
            }
        }
    /* the padding columns of the output are not written */
    for (int t = 0; t < n_tok && !bad; t++)
        for (size_t r = (size_t)n_out; r < ldy; r++)
            if (!isnan(y[(size_t)t * ldy + r])) {
                printf("FAIL %s: wrote past n_out (token %d, column %zu)\n", tr->name, t, r);
                bad = 1;
            }
    if (!bad && getenv("SLM_VERBOSE"))
        printf("ok   %s %dx%d, %d tokens: worst %.2g of sum|w*x| (bf16 inputs: %.2g)\n", tr->name, n_out, n_in,
               n_tok, worst, worst_rounded);
    free(w);
    free(wf);
    free(x);
    free(bias);
    free(y);
    free(row);
    return bad;
}

/* Every type with a decoder and an encoder (new codecs join by
 * themselves), token counts below, at and above oneDNN's blocking, on 2
 * threads; on 1 and 3 threads one case per type with two panels, the last
 * one short (4160 rows: panels hold at most 4096). Row lengths are
 * multiples of 256 so that super-block types fit. */
START_TEST(products_match_double) {
    static const int n_outs[] = {70, 600};
    static const int n_ins[] = {256, 768};
    static const int n_toks[] = {1, 5, 33, 64};
    int n_bad = 0, n_run = 0, n_types = 0;
    for (int threads = 1; threads <= 3; threads++) {
        slmrt_onednn *o = NULL;
        slm_diag d = {0};
        ck_assert_msg(slmrt_onednn_new(threads, 64, 768, true, &o, &d) == SLM_OK, "%s", d.msg);
        for (int type = 0; type < SLM_TYPE_COUNT; type++) {
            const slm_type_traits *tr = slm_type_traits_get(type);
            if (!tr || !tr->to_f32 || !tr->from_f32 || 256 % tr->blck != 0 || type == SLM_TYPE_Q8_1 ||
                type == SLM_TYPE_Q8_K)
                continue; /* activation formats: never weights */
            if (!slmrt_onednn_takes(o, (slm_type)type)) {
                printf("SKIP %s: %s\n", tr->name, slmrt_onednn_why_not(o, (slm_type)type));
                continue;
            }
            n_types += threads == 1;
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    for (int c = 0; c < 4; c++) {
                        if (threads != 2 && !(a == 1 && b == 0 && c == 2)) continue;
                        const int n_out = threads != 2 ? 4160 : n_outs[a];
                        n_bad += product_case(o, (slm_type)type, n_out, n_ins[b], n_toks[c], (a + c) % 2 == 1);
                        n_run++;
                    }
        }
        slmrt_onednn_free(o);
    }
    printf("oneDNN/OpenBLAS products vs double: %d types, %d cases, %d failed\n", n_types, n_run, n_bad);
    fflush(stdout);
    ck_assert_int_eq(n_bad, 0);
    ck_assert_int_ge(n_types, 5); /* F32, F16, BF16, Q8_0, Q4_0 at least */
}
END_TEST

/* Counts this process's threads. */
static int n_tasks(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* oneDNN runs on OpenMP with omp_get_max_threads() threads unless told
 * otherwise: on 1 context thread it must start no OpenMP worker (in a fresh
 * process libgomp creates its workers at the first wider team and keeps
 * them), on 3 no more than 2, and the caller's setting comes back after
 * each call. Runs in a child, so that no earlier test has made a team. */
START_TEST(runs_on_the_context_threads) {
    fflush(stdout);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int bad = 0;
        const int K = 512, N = 96, M = 64;
        const size_t rs = slm_type_row_size(SLM_TYPE_Q8_0, K);
        uint8_t *w = calloc((size_t)N, rs);
        float *x = calloc((size_t)M * K, sizeof(float)), *y = malloc(sizeof(float) * M * N);
        const slmrt_onednn_weights ow = {SLM_TYPE_Q8_0, w, rs, K, N, NULL};
        omp_set_num_threads(5);
        slm_diag d = {0};
        const int before = n_tasks();
        for (int threads = 1; threads <= 3; threads += 2) {
            slmrt_onednn *o = NULL;
            if (slmrt_onednn_new(threads, M, K, true, &o, &d) != SLM_OK || !slmrt_onednn_takes(o, SLM_TYPE_Q8_0)) {
                printf("SKIP thread count: %s\n", o ? slmrt_onednn_why_not(o, SLM_TYPE_Q8_0) : d.msg);
                slmrt_onednn_free(o);
                break;
            }
            for (int i = 0; i < 3; i++) bad |= slmrt_onednn_matmul(o, &ow, x, K, M, y, N, &d) != SLM_OK;
            const int grown = n_tasks() - before;
            printf("%-4s %d context threads: %d threads started; omp_get_max_threads() %d afterwards\n",
                   grown == threads - 1 ? "ok" : "FAIL", threads, grown, omp_get_max_threads());
            bad |= grown != threads - 1 || omp_get_max_threads() != 5;
            slmrt_onednn_free(o);
        }
        free(w);
        free(x);
        free(y);
        fflush(stdout);
        _exit(bad);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "thread count (see output)");
}
END_TEST

/* --------------------------------------------------- golden models */

static slmrt_ctx *onednn_ctx(slmrt_model *rm, int n_ctx, int n_threads) {
    slmrt_ctx *c = NULL;
    slm_diag d = {0};
    slmrt_ctx_params p = {.n_ctx = n_ctx, .n_threads = n_threads, .gemm_backend = SLMRT_GEMM_ONEDNN};
    ck_assert_msg(slmrt_ctx_new(rm, &p, &c, &d) == SLM_OK, "%s", d.msg);
    ck_assert_int_eq(slmrt_ctx_gemm_backend(c), SLMRT_GEMM_ONEDNN);
    return c;
}

/* Batches of 1, 7, 64 and N (2 threads, oneDNN backend: 64 and N go
 * through it, 1 and 7 are below its minimum) against one token at a time
 * (1 thread), over N = 512 positions (more than one internal chunk of 256;
 * the golden tokens repeated), as check_forward.c does for our own kernels.
 * Under ASan N = 320 (chunks of 256 and 64, both through oneDNN): the
 * one-token evaluation is the slow part. */
START_TEST(batched_equals_one_token) {
    if (!ts_have_shared()) return;
#ifdef __SANITIZE_ADDRESS__
    enum { N = 320 };
#else
    enum { N = 512 };
#endif
    char failures[512] = "";
    ts_logits r;
    ck_assert_int_eq(ts_logits_read(ts_shared("golden/golden-f32.logits.txt"), &r), 0);
    int32_t tok[N];
    for (int i = 0; i < N; i++) tok[i] = r.tokens[i % r.n_pos];
    for (size_t f = 0; f < sizeof golden_files / sizeof *golden_files; f++) {
        char rel[128];
        snprintf(rel, sizeof rel, "golden/%s.gguf", golden_files[f]);
        slm_diag d = {0};
        slmrt_model *rm = NULL;
        ck_assert_msg(slmrt_model_load(ts_shared(rel), &rm, &d) == SLM_OK, "%s", d.msg);
        const int V = slmrt_model_n_vocab(rm);
        const ts_tol tc = ts_tol_of_model(slmrt_model_ir(rm));
        slmrt_ctx *c1 = onednn_ctx(rm, N, 1), *c2 = onednn_ctx(rm, N, 2);
        float *one = malloc(sizeof(float) * N * V), *b = malloc(sizeof(float) * N * V);
        ck_assert_msg(eval_batched(c1, tok, N, 1, one, V, &d) == SLM_OK, "%s", d.msg);
        static const int batches[] = {1, 7, 64, N};
        for (int i = 0; i < 4; i++) {
            ck_assert_msg(eval_batched(c2, tok, N, batches[i], b, V, &d) == SLM_OK, "%s", d.msg);
            const ts_logits_diff s = ts_logits_compare(one, b, N, V);
            const char *crit;
            const bool ok = ts_logits_within(tc, s, 0.90, &crit);
            printf("%-4s onednn %-12s batch %3d vs 1 token at a time: max|d| %.3g  mean KL %.3g  argmax %.1f%%  (%s)\n",
                   ok ? "ok" : "FAIL", golden_files[f], batches[i], s.max_abs, s.mean_kl, 100 * s.argmax_agree, crit);
            if (!ok && strlen(failures) < sizeof failures - 40)
                snprintf(failures + strlen(failures), sizeof failures - strlen(failures), " %s/%d", golden_files[f],
                         batches[i]);
        }
        fflush(stdout);
        free(one);
        free(b);
        slmrt_ctx_free(c1);
        slmrt_ctx_free(c2);
        slmrt_model_free(rm);
    }
    ts_logits_free(&r);
    ck_assert_msg(failures[0] == 0, "outside tolerance:%s", failures);
}
END_TEST

/* All golden tokens in one batch (64: through oneDNN) against llama.cpp's
 * logits, with the same bounds as check_forward.c's golden test. */
START_TEST(golden_reference_logits) {
    if (!ts_have_shared()) return;
    char failures[512] = "";
    for (size_t f = 0; f < sizeof golden_files / sizeof *golden_files; f++) {
        char rel[128];
        snprintf(rel, sizeof rel, "golden/%s.logits.txt", golden_files[f]);
        ts_logits r;
        ck_assert_msg(ts_logits_read(ts_shared(rel), &r) == 0, "cannot parse %s", rel);
        ck_assert_int_ge(r.n_pos, SLMRT_ONEDNN_MIN_TOKENS);
        snprintf(rel, sizeof rel, "golden/%s.gguf", golden_files[f]);
        slm_diag d = {0};
        slmrt_model *rm = NULL;
        ck_assert_msg(slmrt_model_load(ts_shared(rel), &rm, &d) == SLM_OK, "%s", d.msg);
        slmrt_ctx *c = onednn_ctx(rm, r.n_pos, 2);
        float *ours = malloc(sizeof(float) * (size_t)r.n_pos * r.n_vocab);
        ck_assert_msg(slmrt_eval(c, r.tokens, r.n_pos, 0, ours, true, &d) == SLM_OK, "%s", d.msg);
        const ts_logits_diff s = ts_logits_compare(r.logits, ours, r.n_pos, r.n_vocab);
        const char *crit;
        const bool ok = ts_logits_within(ts_tol_of_model(slmrt_model_ir(rm)), s, 0.90, &crit);
        printf("%-4s onednn %-12s %d tokens in one batch vs reference: max|d| %.3g  mean KL %.3g  argmax %.1f%%"
               "  (%s)\n",
               ok ? "ok" : "FAIL", golden_files[f], r.n_pos, s.max_abs, s.mean_kl, 100 * s.argmax_agree, crit);
        fflush(stdout);
        if (!ok) snprintf(failures + strlen(failures), sizeof failures - strlen(failures), " %s", golden_files[f]);
        free(ours);
        slmrt_ctx_free(c);
        slmrt_model_free(rm);
        ts_logits_free(&r);
    }
    ck_assert_msg(failures[0] == 0, "outside tolerance:%s", failures);
}
END_TEST

/* ------------------------------------------------ choice and errors */

START_TEST(backend_choice_and_errors) {
    slmrt_gemm_backend b;
    ck_assert(slmrt_gemm_backend_parse("onednn", &b) && b == SLMRT_GEMM_ONEDNN);
    ck_assert(slmrt_gemm_backend_parse("own", &b) && b == SLMRT_GEMM_OWN);
    ck_assert(slmrt_gemm_backend_parse("auto", &b) && b == SLMRT_GEMM_AUTO);
    ck_assert(!slmrt_gemm_backend_parse("blas", &b));
    ck_assert(!slmrt_gemm_backend_parse(NULL, &b));
    bool by_name;
    ck_assert_int_eq(slmrt_gemm_backend_choose(SLMRT_GEMM_OWN, &by_name), SLMRT_GEMM_OWN);
    ck_assert(by_name);
    /* auto: onednn exactly when the CPU has AMX (and the kernel allows it),
     * unless SLMRT_GEMM says otherwise */
    if (!getenv("SLMRT_GEMM")) {
        const slmrt_gemm_backend want = slmrt_cpu_get()->amx_bf16 ? SLMRT_GEMM_ONEDNN : SLMRT_GEMM_OWN;
        ck_assert_int_eq(slmrt_gemm_backend_choose(SLMRT_GEMM_AUTO, &by_name), want);
        ck_assert(!by_name);
    }
    if (slmrt_cpu_get()->amx_bf16) ck_assert(slmrt_cpu_get()->amx_tile);

    /* the backend refuses what it was not made for, naming it */
    slmrt_onednn *o = NULL;
    slm_diag d = {0};
    ck_assert_int_eq(slmrt_onednn_new(2, 8, 64, false, &o, &d), SLM_OK);
    float x[8 * 128] = {0}, y[8 * 64], w[64 * 64] = {0};
    const slmrt_onednn_weights f32 = {SLM_TYPE_F32, w, 64 * sizeof(float), 64, 64, NULL};
    ck_assert(!slmrt_onednn_takes(o, SLM_TYPE_F32)); /* F32 stays on our kernels unless asked for */
    ck_assert_int_eq(slmrt_onednn_matmul(o, &f32, x, 64, 8, y, 64, &d), SLM_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(d.msg, "f32"), "%s", d.msg);
    slm_diag_clear(&d);
    const slmrt_onednn_weights wide = {SLM_TYPE_BF16, w, 128 * 2, 128, 16, NULL};
    if (slmrt_onednn_takes(o, SLM_TYPE_BF16)) {
        ck_assert_int_eq(slmrt_onednn_matmul(o, &wide, x, 128, 8, y, 16, &d), SLM_ERR_USAGE);
        ck_assert_msg(strstr(d.msg, "8 x 64"), "%s", d.msg);
    }
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_onednn_matmul(o, &f32, x, 64, 0, y, 64, &d), SLM_ERR_USAGE);
    slmrt_onednn_free(o);
    slmrt_onednn_free(NULL);
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_onednn_new(0, 8, 64, false, &o, &d), SLM_ERR_USAGE);
    ck_assert_ptr_null(o);

    const char *path = ts_shared("golden/golden-Q8_0.gguf");
    if (!path) return;
    slmrt_model *rm = NULL;
    slm_diag_clear(&d);
    ck_assert_msg(slmrt_model_load(path, &rm, &d) == SLM_OK, "%s", d.msg);
    slmrt_ctx *c = NULL;
    slmrt_ctx_params bad = {.n_ctx = 16, .gemm_backend = 7};
    ck_assert_int_eq(slmrt_ctx_new(rm, &bad, &c, &d), SLM_ERR_USAGE);
    ck_assert_msg(strstr(d.msg, "gemm_backend 7"), "%s", d.msg);
    ck_assert_ptr_null(c);
    slmrt_ctx_params own = {.n_ctx = 16, .gemm_backend = SLMRT_GEMM_OWN};
    ck_assert_int_eq(slmrt_ctx_new(rm, &own, &c, &d), SLM_OK);
    ck_assert_int_eq(slmrt_ctx_gemm_backend(c), SLMRT_GEMM_OWN);
    ck_assert_str_eq(slmrt_ctx_gemm_impl(c), "");
    slmrt_ctx_free(c);
    slmrt_model_free(rm);
}
END_TEST

/* In a child, with oneDNN limited to AVX2 (no bf16 matmul at all) before
 * its first use: forcing onednn on a Q8_0 model fails at slmrt_ctx_new,
 * naming a tensor and the reason; an F32 model still runs (OpenBLAS); auto
 * leaves the Q8_0 model on our kernels. SLMRT_GEMM=onednn is honoured. */
START_TEST(forced_where_it_cannot_run) {
    if (!ts_have_shared()) return;
    char q8[4096], f32[4096];
    snprintf(q8, sizeof q8, "%s", ts_shared("golden/golden-Q8_0.gguf"));
    snprintf(f32, sizeof f32, "%s", ts_shared("golden/golden-f32.gguf"));
    fflush(stdout);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("ONEDNN_MAX_CPU_ISA", "AVX2", 1);
        setenv("SLMRT_GEMM", "onednn", 1);
        int bad = 0;
        slm_diag d = {0};
        slmrt_model *mq = NULL, *mf = NULL;
        bad |= slmrt_model_load(q8, &mq, &d) != SLM_OK || slmrt_model_load(f32, &mf, &d) != SLM_OK;
        slmrt_ctx *c = NULL;
        slmrt_ctx_params p = {.n_ctx = 64, .n_threads = 2, .gemm_backend = SLMRT_GEMM_ONEDNN};
        slm_status st = bad ? SLM_ERR_INPUT : slmrt_ctx_new(mq, &p, &c, &d);
        printf("forced onednn, Q8_0, oneDNN without bf16: %s\n", d.msg);
        bad |= st != SLM_ERR_UNSUPPORTED || c != NULL || !strstr(d.msg, "q8_0") || !strstr(d.msg, "bf16");
        /* SLMRT_GEMM=onednn names the backend too: the same refusal */
        slmrt_ctx_params by_env = {.n_ctx = 64, .n_threads = 2};
        slm_diag_clear(&d);
        bad |= slmrt_ctx_new(mq, &by_env, &c, &d) != SLM_ERR_UNSUPPORTED;
        /* F32 weights need only OpenBLAS */
        slm_diag_clear(&d);
        if (slmrt_ctx_new(mf, &p, &c, &d) != SLM_OK) {
            printf("FAIL forced onednn on f32: %s\n", d.msg);
            bad = 1;
        } else {
            int32_t tok[40];
            for (int i = 0; i < 40; i++) tok[i] = (int32_t)(i * 37 % 512);
            float *lg = malloc(sizeof(float) * 40 * 512);
            bad |= slmrt_ctx_gemm_backend(c) != SLMRT_GEMM_ONEDNN;
            bad |= slmrt_eval(c, tok, 40, 0, lg, true, &d) != SLM_OK;
            free(lg);
            slmrt_ctx_free(c);
        }
        slmrt_model_free(mq);
        slmrt_model_free(mf);
        fflush(stdout);
        _exit(bad);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "forcing onednn without bf16 (see output)");
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("onednn");
    TCase *tc = tcase_create("onednn");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, products_match_double);
    tcase_add_test(tc, runs_on_the_context_threads);
    tcase_add_test(tc, batched_equals_one_token);
    tcase_add_test(tc, golden_reference_logits);
    tcase_add_test(tc, backend_choice_and_errors);
    tcase_add_test(tc, forced_where_it_cannot_run);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(suite()); }
