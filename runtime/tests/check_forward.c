/* check_forward.c - the forward pass against llama.cpp's reference logits
 * (../shared/golden and ../shared/models, tolerances from golden/README.md),
 * batched versus one-token-at-a-time evaluation for every weight type and
 * ISA, the GEMM kernels against the matrix-vector dots, the observer,
 * argument errors, and several models in one process. */
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "slm_gguf.h"
#include "slmrt.h"
#include "slmrt_gemm.h"
#include "slmrt_kernels.h"
#include "slmrt_kernels_impl.h"
#include "logits_compare.h"
#include "test_support.h"

/* ------------------------------------------------------------ helpers */

/* Evaluates tokens in batches of `batch` (all logits) into out. */
static slm_status eval_batched(slmrt_ctx *c, const int32_t *tok, int n, int batch, float *out, int n_vocab,
                               slm_diag *d) {
    slmrt_ctx_reset(c);
    for (int i = 0; i < n; i += batch) {
        int nb = n - i < batch ? n - i : batch;
        slm_status st = slmrt_eval(c, tok + i, nb, i, out + (size_t)i * n_vocab, true, d);
        if (st != SLM_OK) return st;
    }
    return SLM_OK;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Checks every *.logits.txt in a shared directory against its GGUF. */
static void check_logits_dir(const char *rel, double min_agree) {
    const char *dirp = ts_shared(rel);
    if (!dirp) return;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", dirp);
    DIR *dh = opendir(dir);
    ck_assert_msg(dh != NULL, "cannot open %s", dir);
    char *names[256];
    int n_names = 0;
    struct dirent *e;
    while ((e = readdir(dh)) && n_names < 256) {
        size_t l = strlen(e->d_name);
        if (l > 11 && strcmp(e->d_name + l - 11, ".logits.txt") == 0) names[n_names++] = strdup(e->d_name);
    }
    closedir(dh);
    qsort(names, (size_t)n_names, sizeof *names, cmp_name);
    ck_assert_int_gt(n_names, 0);

    char failures[4096] = "";
    int n_checked = 0;
    for (int f = 0; f < n_names; f++) {
        char lpath[4200], gpath[4200];
        snprintf(lpath, sizeof lpath, "%s/%s", dir, names[f]);
        snprintf(gpath, sizeof gpath, "%s/%.*s.gguf", dir, (int)(strlen(names[f]) - 11), names[f]);
        ts_logits r;
        ck_assert_msg(ts_logits_read(lpath, &r) == 0, "cannot parse %s", lpath);
        slm_diag d = {0};
        slmrt_model *rm = NULL;
        slm_status st = slmrt_model_load(gpath, &rm, &d);
        if (st == SLM_ERR_UNSUPPORTED) {
            printf("SKIP %-32s %s\n", names[f], d.msg);
            ts_logits_free(&r);
            continue;
        }
        ck_assert_msg(st == SLM_OK, "%s: %s", gpath, d.msg);
        ck_assert_int_eq(slmrt_model_n_vocab(rm), r.n_vocab);
        slmrt_ctx *c = NULL;
        slmrt_ctx_params p = {.n_ctx = r.n_pos, .n_threads = 2};
        ck_assert_msg(slmrt_ctx_new(rm, &p, &c, &d) == SLM_OK, "%s", d.msg);
        float *ours = malloc(sizeof(float) * (size_t)r.n_pos * r.n_vocab);
        ck_assert_msg(slmrt_eval(c, r.tokens, r.n_pos, 0, ours, true, &d) == SLM_OK, "%s", d.msg);
        ts_logits_diff s = ts_logits_compare(r.logits, ours, r.n_pos, r.n_vocab);
        ts_tol tc = ts_tol_of_model(slmrt_model_ir(rm));
        const char *crit;
        bool ok = ts_logits_within(tc, s, min_agree, &crit);
        if (tc == TS_TOL_F16) {
            ok = s.max_abs <= 1e-3;
            crit = "max|d| <= 1e-3";
            /* Tighter than the README's 2e-2 for half weights: the F32/F16
             * dots follow ggml's summation order (slmrt_kernels_scalar.c)
             * and RoPE, softmax, attention x V and SiLU round as the
             * reference's AVX-512 build does (slmrt_ggml_math.h), so every
             * F16 file matches to print precision on every ISA: golden-F16
             * 4.9e-6, stories260K-ref-F16 5.0e-5, shakespeare-F16 5.0e-5
             * (before: 0.00044, 0.0083, 0.0015; stories260K is so sensitive
             * that one activation on the other side of an fp16 rounding
             * moves its logits by ~1e-2). */
        }
        printf("%-4s %-32s max|d| %.3g  mean KL %.3g  argmax %.1f%%  (%s)\n", ok ? "ok" : "FAIL", names[f],
               s.max_abs, s.mean_kl, 100.0 * s.argmax_agree, crit);
        fflush(stdout);
        if (!ok && strlen(failures) < sizeof failures - 100)
            snprintf(failures + strlen(failures), sizeof failures - strlen(failures), " %s", names[f]);
        n_checked++;
        free(ours);
        slmrt_ctx_free(c);
        slmrt_model_free(rm);
        ts_logits_free(&r);
    }
    for (int f = 0; f < n_names; f++) free(names[f]);
    ck_assert_msg(failures[0] == 0, "outside tolerance:%s", failures);
    ck_assert_int_gt(n_checked, 0);
}

/* ------------------------------------------------------------- tests */

START_TEST(golden_logits) { check_logits_dir("golden", 0.90); }
END_TEST

START_TEST(model_logits) { check_logits_dir("models", 0.97); }
END_TEST

/* ------------------------------------------- batched vs one at a time */

/* Batched evaluation (batches of 1, 7, 64 and all N tokens, 2 threads)
 * against one token at a time (1 thread), over N positions (512: more than
 * one internal chunk; the golden model's context is 256, the context here
 * is N), so the KV cache written by one batch is read by the next. Batches
 * of a few tokens or more (slmrt_gemm_type.min_tokens) go through the GEMM
 * kernels, which sum every (row, token) in the matrix-vector order, so the
 * logits are expected to be identical; the test holds them to the golden
 * tolerances (README.md) and prints the largest difference. Also: last-token
 * logits equal the last row of all logits. Returns 0 when all hold. */
static int batch_equality(const char *rel, const char *isa_name, int N) {
    const char *path = ts_shared(rel);
    if (!path) return 0;
    char gpath[4096];
    snprintf(gpath, sizeof gpath, "%s", path);
    slm_diag d = {0};
    slmrt_model *rm = NULL;
    slm_status st = slmrt_model_load(gpath, &rm, &d);
    if (st == SLM_ERR_UNSUPPORTED) {
        printf("SKIP batch equality on %s: %s\n", rel, d.msg);
        return 0;
    }
    if (st != SLM_OK) {
        printf("FAIL %s: %s\n", rel, d.msg);
        return 1;
    }
    ts_logits r;
    if (ts_logits_read(ts_shared("golden/golden-f32.logits.txt"), &r) != 0) {
        printf("FAIL cannot read golden tokens\n");
        return 1;
    }
    int32_t *tok = malloc(sizeof *tok * N);
    for (int i = 0; i < N; i++) tok[i] = r.tokens[i % r.n_pos];
    const int V = slmrt_model_n_vocab(rm);
    const ts_tol tc = ts_tol_of_model(slmrt_model_ir(rm));
    slmrt_ctx *c1 = NULL, *c2 = NULL;
    slmrt_ctx_params p1 = {.n_ctx = N, .n_threads = 1}, p2 = {.n_ctx = N, .n_threads = 2};
    int bad = 0;
    if (slmrt_ctx_new(rm, &p1, &c1, &d) != SLM_OK || slmrt_ctx_new(rm, &p2, &c2, &d) != SLM_OK) {
        printf("FAIL %s: %s\n", rel, d.msg);
        bad = 1;
        goto done;
    }
    float *one = malloc(sizeof(float) * N * V), *b = malloc(sizeof(float) * N * V);
    const int batches[] = {1, 7, 64, N};
    if (eval_batched(c1, tok, N, 1, one, V, &d) != SLM_OK) {
        printf("FAIL %s: %s\n", rel, d.msg);
        bad = 1;
    }
    for (int i = 0; i < 4 && !bad; i++) {
        if (eval_batched(c2, tok, N, batches[i], b, V, &d) != SLM_OK) {
            printf("FAIL %s: %s\n", rel, d.msg);
            bad = 1;
            break;
        }
        ts_logits_diff cs = ts_logits_compare(one, b, N, V);
        const char *crit;
        const bool ok = ts_logits_within(tc, cs, 0.0, &crit);
        printf("%-4s %s %-24s batch %3d (2 threads) vs 1 token at a time (1 thread): max|d| %.3g  mean KL %.3g\n",
               ok ? "ok" : "FAIL", isa_name, rel, batches[i], cs.max_abs, cs.mean_kl);
        bad |= !ok;
    }
    /* last-token-only output equals the last row of all logits: exactly
     * when our kernels do every product; within the tolerances when types
     * without our GEMM go through oneDNN (the output matrix then multiplies
     * a batch in one case and one row in the other) */
    slmrt_ctx_reset(c2);
    float *last = malloc(sizeof(float) * V);
    if (!bad && slmrt_eval(c2, tok, N, 0, last, false, &d) == SLM_OK) {
        const bool exact = slmrt_ctx_batch_exact(c2);
        const ts_logits_diff cs = ts_logits_compare(b + (size_t)(N - 1) * V, last, 1, V);
        const char *crit;
        const bool ok = exact ? memcmp(b + (size_t)(N - 1) * V, last, sizeof(float) * V) == 0
                              : ts_logits_within(tc, cs, 0.0, &crit);
        if (!ok) {
            printf("FAIL %s %s: last-token logits differ (max|d| %.3g, KL %.3g)\n", isa_name, rel, cs.max_abs,
                   cs.mean_kl);
            bad = 1;
        }
    }
    fflush(stdout);
    free(last);
    free(one);
    free(b);
done:
    free(tok);
    slmrt_ctx_free(c1);
    slmrt_ctx_free(c2);
    slmrt_model_free(rm);
    ts_logits_free(&r);
    return bad;
}

/* Every weight type with kernels, under ISA _i (one loop test per ISA, each
 * with its own timeout), when this CPU has it: in a child that has not
 * chosen its kernel table yet, so that SLMRT_ISA decides it (as in
 * check_kernels.c). */
START_TEST(batch_equal_every_type_and_isa) {
    const char *ck_fork = getenv("CK_FORK");
    if (ck_fork && !strcmp(ck_fork, "no")) {
        fprintf(stderr, "check_forward: CK_FORK=no, skipping the per-ISA batch test\n");
        return;
    }
    if (!ts_have_shared()) return;
    /* every weight type llama-quantize writes (../shared/golden/README.md) */
    static const char *const files[] = {
        "golden/golden-f32.gguf",  "golden/golden-F16.gguf",  "golden/golden-BF16.gguf",   "golden/golden-Q8_0.gguf",
        "golden/golden-Q4_0.gguf", "golden/golden-Q4_1.gguf", "golden/golden-Q5_0.gguf",   "golden/golden-Q5_1.gguf",
        "golden/golden-Q2_K.gguf", "golden/golden-Q3_K.gguf", "golden/golden-Q4_K.gguf",   "golden/golden-Q5_K.gguf",
        "golden/golden-Q6_K.gguf", "golden/golden-IQ4_NL.gguf", "golden/golden-IQ4_XS.gguf"};
    const int n_files = (int)(sizeof files / sizeof *files);
    static const char *const isas[] = {"scalar", "avx2", "avx512"};
    /* the CPU checks only: asking for a table here would make the choice
     * for the children */
    const bool have[3] = {true, slmrt_kernels_cpu_has_avx2(), slmrt_kernels_cpu_has_avx512()};
    const int i = _i;
    if (!have[i]) {
        printf("SKIP batch equality under %s: not on this CPU\n", isas[i]);
        return;
    }
    fflush(stdout);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("SLMRT_ISA", isas[i], 1);
        int bad = slmrt_kernels_best()->isa != (slmrt_isa)i;
        if (bad) printf("FAIL SLMRT_ISA=%s did not select it\n", isas[i]);
        /* Under ASan everything runs ~30x slower: 160 positions (64 for the
         * scalar table, whose reference dots call fmaf) still span batches
         * of 1, 7 and 64 reading the cache written by earlier ones; the
         * Release run covers 512. */
        int n = 512;
#ifdef __SANITIZE_ADDRESS__
        n = i == SLMRT_ISA_SCALAR ? 64 : 160;
#endif
        for (int f = 0; f < n_files && !bad; f++) bad |= batch_equality(files[f], isas[i], n);
        fflush(stdout);
        _exit(bad);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("batch equality under %s: %.1f s\n", isas[i],
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "batched vs one at a time under %s", isas[i]);
}
END_TEST

/* ------------------------------------------------ GEMM vs matrix-vector */

/* One product through a GEMM table and through the kernel table of the same
 * ISA (prepare, then one dot per row and token, + bias): the entries marked
 * exact (F32, F16, Q8_0, Q4_0) must agree bit for bit (the GEMM follows the
 * dots' summation order); BF16 (no fixed order) to 1e-5 of sum |w*x|, the
 * K-quants (the float sums of exact integer totals, in another order) to
 * 1e-6. Shapes cover row tails (70
 * rows: panels of 16 and 32), token tails, rows shorter than 8 blocks, with
 * leftovers past the last 64, and longer than a BF16 column block. */
static int gemm_case(const slmrt_kernels *k, const slmrt_gemm *g, const char *name, slm_type type, int n_out,
                     int n_in, int n_tok, bool with_bias) {
    const slmrt_gemm_type *gt = slmrt_gemm_type_for(g, type, n_in);
    if (!gt) return 0;
    const slmrt_type_kernels *tk = &k->by_type[type];
    const slm_type_traits *tr = slm_type_traits_get(type);
    const size_t rs = slm_type_row_size(type, n_in), xs = slmrt_prep_row_size(tk, n_in);
    uint8_t *w = malloc(rs * n_out), *x = malloc(xs * n_tok);
    float *src = malloc(sizeof(float) * n_in), *bias = malloc(sizeof(float) * n_out);
    float *wf = malloc(sizeof(float) * n_in * (size_t)n_out), *xf = malloc(sizeof(float) * n_in * (size_t)n_tok);
    float *y = malloc(sizeof(float) * n_out * (size_t)n_tok);
    uint32_t s = (uint32_t)(n_in * 31 + n_tok);
    for (int r = 0; r < n_out + n_tok; r++) {
        for (int i = 0; i < n_in; i++) {
            s = s * 1664525u + 1013904223u;
            src[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * (r < n_out ? 0.2f : 3.0f);
        }
        if (r < n_out) {
            tr->from_f32(src, w + (size_t)r * rs, n_in);
            tr->to_f32(w + (size_t)r * rs, wf + (size_t)r * n_in, n_in);
            bias[r] = 0.01f * (float)(r % 7);
        } else {
            const int t = r - n_out;
            tk->prepare(src, x + (size_t)t * xs, n_in);
            slm_type_traits_get(tk->partner)->to_f32(x + (size_t)t * xs, xf + (size_t)t * n_in, n_in);
        }
    }
    void *act = aligned_alloc(64, (slmrt_gemm_act_bytes(gt, n_in, n_tok) + 63) / 64 * 64 + 64);
    void *panels = aligned_alloc(64, slmrt_gemm_panel_bytes(gt, n_in) * 2 + 64);
    slmrt_gemm_act_fill(gt, x, xs, n_in, n_tok, 0, n_tok / 2, act); /* in two ranges, as threads would */
    slmrt_gemm_act_fill(gt, x, xs, n_in, n_tok, n_tok / 2, n_tok, act);
    slmrt_gemm_act a;
    slmrt_gemm_act_view(gt, x, xs, n_in, n_tok, act, &a);
    const slmrt_gemm_weights gw = {w, rs, n_in, n_out, with_bias ? bias : NULL};
    slmrt_gemm_run(gt, &gw, &a, n_tok, y, (size_t)n_out, panels, 2);
    int bad = 0;
    double worst = 0;
    for (int t = 0; t < n_tok && !bad; t++)
        for (int r = 0; r < n_out; r++) {
            float want = tk->dot(n_in, w + (size_t)r * rs, x + (size_t)t * xs);
            if (with_bias) want += bias[r];
            const float got = y[(size_t)t * n_out + r];
            if (!gt->exact) {
                /* BF16: no fixed order; K-quants: exact integer sums per
                 * super-block, float sums in another order than the dot's */
                double mag = 0;
                for (int i = 0; i < n_in; i++) mag += fabs((double)wf[(size_t)r * n_in + i] * xf[(size_t)t * n_in + i]);
                const double e = fabs((double)got - want) / (mag + 1e-30);
                if (e > worst) worst = e;
                if (e > (type == SLM_TYPE_BF16 ? 1e-5 : 1e-6)) bad = 1;
            } else if (memcmp(&got, &want, sizeof got) != 0) {
                bad = 1;
            }
            if (bad) {
                printf("FAIL GEMM %s %s %dx%d, %d tokens%s: row %d token %d: %.9g, dot %.9g\n", name,
                       slm_type_name(type), n_out, n_in, n_tok, with_bias ? " + bias" : "", r, t, (double)got,
                       (double)want);
                break;
            }
        }
    free(w);
    free(x);
    free(src);
    free(bias);
    free(wf);
    free(xf);
    free(y);
    free(act);
    free(panels);
    return bad;
}

START_TEST(gemm_equals_dots) {
    static const slm_type types[] = {SLM_TYPE_F32,  SLM_TYPE_F16,  SLM_TYPE_BF16, SLM_TYPE_Q8_0,
                                     SLM_TYPE_Q4_0, SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K};
    enum { N_TYPES = sizeof types / sizeof *types };
    /* row lengths: for 32-blocks and for 256-blocks (K-quants) */
    static const int n_ins[2][3] = {{96, 320, 4256}, {256, 768, 4352}};
    static const int n_toks[] = {1, 5, 13, 64};
    struct {
        const char *name;
        slmrt_isa isa;
        bool vnni, bf16;
    } variants[] = {{"avx2", SLMRT_ISA_AVX2, false, false},
                    {"avx512", SLMRT_ISA_AVX512, false, false},
                    {"avx512+vnni", SLMRT_ISA_AVX512, true, false},
                    {"avx512+bf16", SLMRT_ISA_AVX512, false, true},
                    {"avx512+vnni+bf16", SLMRT_ISA_AVX512, true, true}};
    const slmrt_cpu *cpu = slmrt_cpu_get();
    int n_bad = 0, n_run = 0;
    for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
        if (!slmrt_kernels_for(variants[v].isa) || (variants[v].vnni && !cpu->avx512_vnni) ||
            (variants[v].bf16 && !cpu->avx512_bf16)) {
            printf("SKIP GEMM %s: not on this CPU\n", variants[v].name);
            continue;
        }
        /* the kernel table with the same extensions as the GEMM table */
        slmrt_kernels k;
        slmrt_gemm g;
        if (variants[v].isa == SLMRT_ISA_AVX2) {
            slmrt_kernels_init_avx2(&k);
            slmrt_gemm_init_avx2(&g);
        } else {
            slmrt_kernels_init_avx512_with(&k, variants[v].vnni, variants[v].bf16);
            slmrt_gemm_init_avx512(&g, variants[v].vnni, variants[v].bf16);
        }
        for (int ti = 0; ti < N_TYPES; ti++)
            for (int ni = 0; ni < 3; ni++)
                for (int tk = 0; tk < 4; tk++) {
                    const bool with_bias = (ni + tk) % 2 == 1;
                    const int n_in = n_ins[ti >= 5][ni];
                    n_bad += gemm_case(&k, &g, variants[v].name, types[ti], 70, n_in, n_toks[tk], with_bias);
                    n_run += slmrt_gemm_type_for(&g, types[ti], n_in) != NULL;
                }
    }
    printf("GEMM vs dots: %d cases, %d failed\n", n_run, n_bad);
    ck_assert_int_eq(n_bad, 0);
    if (slmrt_kernels_for(SLMRT_ISA_AVX2)) ck_assert_int_gt(n_run, 0);
}
END_TEST

START_TEST(eval_errors) {
    const char *path = ts_shared("golden/golden-f32.gguf");
    if (!path) return;
    slm_diag d = {0};
    slmrt_model *rm = NULL;
    ck_assert_msg(slmrt_model_load(path, &rm, &d) == SLM_OK, "%s", d.msg);
    slmrt_ctx *c = NULL;
    slmrt_ctx_params p = {.n_ctx = 8, .n_threads = 1};
    ck_assert_int_eq(slmrt_ctx_new(rm, &p, &c, &d), SLM_OK);
    ck_assert_int_eq(slmrt_ctx_n_ctx(c), 8);
    int32_t tok[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    float *lg = malloc(sizeof(float) * 9 * 512);

    slm_diag_clear(&d);
    ck_assert_int_ne(slmrt_eval(c, tok, 9, 0, lg, true, &d), SLM_OK);
    ck_assert_msg(strstr(d.msg, "context overflow") && strstr(d.msg, "n_ctx 8"), "%s", d.msg);
    ck_assert_int_eq(slmrt_eval(c, tok, 5, 0, lg, true, &d), SLM_OK);
    slm_diag_clear(&d);
    ck_assert_int_ne(slmrt_eval(c, tok, 4, 5, lg, true, &d), SLM_OK);
    ck_assert_msg(strstr(d.msg, "context overflow") && strstr(d.msg, "n_ctx 8"), "%s", d.msg);
    /* n_past beyond what the cache holds */
    slm_diag_clear(&d);
    ck_assert_int_ne(slmrt_eval(c, tok, 1, 6, lg, false, &d), SLM_OK);
    ck_assert_msg(strstr(d.msg, "n_past 6"), "%s", d.msg);

    int32_t bad[3] = {1, 512, 2};
    slm_diag_clear(&d);
    ck_assert_int_ne(slmrt_eval(c, bad, 3, 0, lg, true, &d), SLM_OK);
    ck_assert_msg(strstr(d.msg, "token id 512") && strstr(d.msg, "n_vocab 512"), "%s", d.msg);
    bad[1] = -7;
    slm_diag_clear(&d);
    ck_assert_int_ne(slmrt_eval(c, bad, 3, 0, lg, true, &d), SLM_OK);
    ck_assert_msg(strstr(d.msg, "token id -7") && strstr(d.msg, "n_vocab 512"), "%s", d.msg);
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_eval(c, tok, 0, 0, lg, true, &d), SLM_ERR_USAGE);
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_eval(c, tok, 1, -1, lg, true, &d), SLM_ERR_USAGE);
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_eval(c, NULL, 1, 0, lg, true, &d), SLM_ERR_USAGE);
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_eval(NULL, tok, 1, 0, lg, true, &d), SLM_ERR_USAGE);

    slmrt_ctx *c2 = NULL;
    slmrt_ctx_params neg = {.n_ctx = -1};
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_ctx_new(rm, &neg, &c2, &d), SLM_ERR_USAGE);
    ck_assert_ptr_null(c2);
    /* n_ctx 0 means the model's context_length */
    ck_assert_int_eq(slmrt_ctx_new(rm, NULL, &c2, &d), SLM_OK);
    ck_assert_int_eq(slmrt_ctx_n_ctx(c2), (int)slmrt_model_ir(rm)->hp.n_ctx);
    slmrt_ctx_free(c2);
    /* after an error the context still works */
    slmrt_ctx_reset(c);
    ck_assert_int_eq(slmrt_eval(c, tok, 8, 0, lg, true, &d), SLM_OK);
    free(lg);
    slmrt_ctx_free(c);
    slmrt_model_free(rm);
    slmrt_model_free(NULL);
    slmrt_ctx_free(NULL);
}
END_TEST

START_TEST(load_errors) {
    slm_diag d = {0};
    slmrt_model *rm = NULL;
    ck_assert_int_ne(slmrt_model_load("/nonexistent/x.gguf", &rm, &d), SLM_OK);
    ck_assert_ptr_null(rm);
    ck_assert_msg(strstr(d.msg, "/nonexistent/x.gguf"), "%s", d.msg);
    const char *path = ts_shared("golden/golden-f32.gguf");
    if (!path) return;
    /* a matrix type without kernels is named, with the tensor */
    slm_model *m = NULL;
    ck_assert_int_eq(slm_gguf_read(path, &m, &d), SLM_OK);
    slm_tensor *t = slm_model_find_tensor(m, "blk.1.ffn_up.weight");
    ck_assert_ptr_nonnull(t);
    t->type = SLM_TYPE_I32; /* same byte size as f32: only the type check can object */
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_model_from_ir(m, &rm, &d), SLM_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(d.msg, "tensor blk.1.ffn_up.weight has type i32, which the runtime cannot run yet"), "%s",
                  d.msg);
    ck_assert_ptr_null(rm);
    t->type = SLM_TYPE_F32;
    /* fewer bytes than the shape needs: refused, not read past */
    size_t nb = t->nbytes;
    t->nbytes = 100;
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_model_from_ir(m, &rm, &d), SLM_ERR_INPUT);
    ck_assert_msg(strstr(d.msg, "blk.1.ffn_up.weight"), "%s", d.msg);
    t->nbytes = nb;
    /* another architecture */
    char arch[32];
    memcpy(arch, m->hp.arch, sizeof arch);
    snprintf(m->hp.arch, sizeof m->hp.arch, "mamba");
    slm_diag_clear(&d);
    ck_assert_int_eq(slmrt_model_from_ir(m, &rm, &d), SLM_ERR_UNSUPPORTED);
    ck_assert_msg(strstr(d.msg, "mamba"), "%s", d.msg);
    memcpy(m->hp.arch, arch, sizeof arch);
    /* the IR is still usable after the failed attempts */
    ck_assert_int_eq(slmrt_model_from_ir(m, &rm, &d), SLM_OK);
    slmrt_model_free(rm);
    rm = NULL;
    /* a missing tensor fails validation */
    slm_model_remove_tensor(m, "blk.0.ffn_norm.weight");
    slm_diag_clear(&d);
    ck_assert_int_ne(slmrt_model_from_ir(m, &rm, &d), SLM_OK);
    ck_assert_msg(strstr(d.msg, "blk.0.ffn_norm.weight"), "%s", d.msg);
    slm_model_free(m);
}
END_TEST

typedef struct obs_log {
    int n;
    char names[64][SLM_MAX_NAME];
    int n_tok[64], n_in[64];
    float first[64];
} obs_log;

static void obs(void *user, const char *weight, const float *x, int n_tokens, int n_in) {
    obs_log *o = user;
    if (o->n >= 64) return;
    snprintf(o->names[o->n], SLM_MAX_NAME, "%s", weight);
    o->n_tok[o->n] = n_tokens;
    o->n_in[o->n] = n_in;
    o->first[o->n] = x[(size_t)n_tokens * n_in - 1]; /* touches the whole range under ASan */
    o->n++;
}

START_TEST(observer_calls) {
    const char *path = ts_shared("golden/golden-f32.gguf");
    if (!path) return;
    slm_diag d = {0};
    slmrt_model *rm = NULL;
    ck_assert_msg(slmrt_model_load(path, &rm, &d) == SLM_OK, "%s", d.msg);
    obs_log o = {0};
    slmrt_ctx *c = NULL;
    slmrt_ctx_params p = {.n_ctx = 32, .n_threads = 2, .observer = obs, .observer_user = &o};
    ck_assert_int_eq(slmrt_ctx_new(rm, &p, &c, &d), SLM_OK);
    int32_t tok[5] = {1, 160, 263, 376, 310};
    float *lg = malloc(sizeof(float) * 5 * 512);
    ck_assert_int_eq(slmrt_eval(c, tok, 5, 0, lg, true, &d), SLM_OK);
    static const char *const parts[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up",
                                         "ffn_down"};
    static const int n_in[7] = {256, 256, 256, 256, 256, 256, 768};
    ck_assert_int_eq(o.n, 2 * 7 + 1);
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < 7; i++) {
            char want[SLM_MAX_NAME];
            snprintf(want, sizeof want, "blk.%d.%s.weight", l, parts[i]);
            int k = l * 7 + i;
            ck_assert_str_eq(o.names[k], want);
            ck_assert_int_eq(o.n_tok[k], 5);
            ck_assert_int_eq(o.n_in[k], n_in[i]);
        }
    /* q/k/v see the same input, as do gate/up */
    ck_assert_float_eq(o.first[0], o.first[1]);
    ck_assert_float_eq(o.first[0], o.first[2]);
    ck_assert_float_eq(o.first[4], o.first[5]);
    const slm_model *ir = slmrt_model_ir(rm);
    ck_assert_str_eq(o.names[14], slm_model_find_tensor(ir, "output.weight") ? "output.weight" : "token_embd.weight");
    ck_assert_int_eq(o.n_tok[14], 5);
    ck_assert_int_eq(o.n_in[14], 256);
    /* last-token-only logits: the output matrix sees one row */
    o.n = 0;
    ck_assert_int_eq(slmrt_eval(c, tok, 2, 5, lg, false, &d), SLM_OK);
    ck_assert_int_eq(o.n, 15);
    ck_assert_int_eq(o.n_tok[0], 2);
    ck_assert_int_eq(o.n_tok[14], 1);
    free(lg);
    slmrt_ctx_free(c);
    slmrt_model_free(rm);
}
END_TEST

/* Two models (and an IR-wrapped third) in one process, interleaved token by
 * token, give the same logits as each alone. */
START_TEST(two_models) {
    const char *pa = ts_shared("golden/golden-f32.gguf");
    if (!pa) return;
    char a_path[4096], b_path[4096];
    snprintf(a_path, sizeof a_path, "%s", pa);
    snprintf(b_path, sizeof b_path, "%s", ts_shared("models/stories260K-ref-f32.gguf"));
    slm_diag d = {0};
    slmrt_model *ma = NULL, *mb = NULL, *mc = NULL;
    ck_assert_msg(slmrt_model_load(a_path, &ma, &d) == SLM_OK, "%s", d.msg);
    ck_assert_msg(slmrt_model_load(b_path, &mb, &d) == SLM_OK, "%s", d.msg);
    slm_model *ir = NULL;
    ck_assert_int_eq(slm_gguf_read(a_path, &ir, &d), SLM_OK);
    ck_assert_msg(slmrt_model_from_ir(ir, &mc, &d) == SLM_OK, "%s", d.msg);
    ck_assert_ptr_eq(slmrt_model_ir(mc), ir);
    const int V = 512;
    ck_assert_int_eq(slmrt_model_n_vocab(ma), V);
    ck_assert_int_eq(slmrt_model_n_vocab(mb), V);
    enum { N = 20 };
    int32_t tok[N];
    for (int i = 0; i < N; i++) tok[i] = (int32_t)((i * 37 + 1) % V);
    slmrt_ctx_params p = {.n_ctx = 64, .n_threads = 2};
    slmrt_ctx *ca = NULL, *cb = NULL, *cc = NULL;
    ck_assert_int_eq(slmrt_ctx_new(ma, &p, &ca, &d), SLM_OK);
    ck_assert_int_eq(slmrt_ctx_new(mb, &p, &cb, &d), SLM_OK);
    ck_assert_int_eq(slmrt_ctx_new(mc, &p, &cc, &d), SLM_OK);
    float *ra = malloc(sizeof(float) * N * V), *rb = malloc(sizeof(float) * N * V);
    float *ia = malloc(sizeof(float) * N * V), *ib = malloc(sizeof(float) * N * V), *ic = malloc(sizeof(float) * N * V);
    ck_assert_int_eq(slmrt_eval(ca, tok, N, 0, ra, true, &d), SLM_OK);
    ck_assert_int_eq(slmrt_eval(cb, tok, N, 0, rb, true, &d), SLM_OK);
    slmrt_ctx_reset(ca);
    slmrt_ctx_reset(cb);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(slmrt_eval(ca, tok + i, 1, i, ia + (size_t)i * V, true, &d), SLM_OK);
        ck_assert_int_eq(slmrt_eval(cb, tok + i, 1, i, ib + (size_t)i * V, true, &d), SLM_OK);
        ck_assert_int_eq(slmrt_eval(cc, tok + i, 1, i, ic + (size_t)i * V, true, &d), SLM_OK);
    }
    double da = 0, db = 0, dc = 0, dab = 0;
    for (size_t j = 0; j < (size_t)N * V; j++) {
        da = fmax(da, fabs((double)ra[j] - ia[j]));
        db = fmax(db, fabs((double)rb[j] - ib[j]));
        dc = fmax(dc, fabs((double)ra[j] - ic[j]));
        dab = fmax(dab, fabs((double)ra[j] - rb[j]));
    }
    ck_assert_msg(da <= 1e-4 && db <= 1e-4 && dc <= 1e-4, "interleaved differs: %g %g %g", da, db, dc);
    ck_assert_msg(dab > 1e-2, "the two models gave the same logits");
    free(ra);
    free(rb);
    free(ia);
    free(ib);
    free(ic);
    slmrt_ctx_free(ca);
    slmrt_ctx_free(cb);
    slmrt_ctx_free(cc);
    slmrt_model_free(ma);
    slmrt_model_free(mb);
    slmrt_model_free(mc);
    /* the IR outlives its runtime model and is still intact */
    ck_assert_ptr_nonnull(slm_model_find_tensor(ir, "token_embd.weight")->data);
    slm_model_free(ir);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("forward");
    TCase *tc = tcase_create("forward");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, golden_logits);
    tcase_add_test(tc, model_logits);
    tcase_add_loop_test(tc, batch_equal_every_type_and_isa, 0, 3);
    tcase_add_test(tc, gemm_equals_dots);
    tcase_add_test(tc, eval_errors);
    tcase_add_test(tc, load_errors);
    tcase_add_test(tc, observer_calls);
    tcase_add_test(tc, two_models);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(suite()); }
