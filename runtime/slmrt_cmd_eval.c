/* slmrt_cmd_eval.c - `slmrt eval`: perplexity of a model on a text or token
 * file, and with --ref the figures llama.cpp's perplexity tool prints for
 * --kl-divergence (KLD statistics, top-1 agreement, Δp), on the same
 * protocol so the numbers compare: the token stream (BOS first) is cut into
 * chunks of --ctx tokens, each chunk starts with BOS and is evaluated from an
 * empty cache, and only the second half of each chunk is scored. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slmrt.h"
#include "slmrt_cli.h"
#include "slmrt_sample.h"
#include "slmrt_tokenizer.h"

typedef struct eval_args {
    const char *model, *ref, *text, *tokens, *dump;
    int n_ctx, n_threads, gemm;
    bool json;
} eval_args;

typedef struct scores {
    size_t n;          /* scored positions */
    double nll, nll_ref;
    double *kld;       /* [n] when a reference is given */
    size_t same_top1;
    double dp_sum, dp_sq;
} scores;

static int parse(int argc, char **argv, eval_args *a) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"text", required_argument, 0, 'x'},
        {"tokens", required_argument, 0, 'k'}, {"ctx", required_argument, 0, 'c'},
        {"ref", required_argument, 0, 'r'},   {"json", no_argument, 0, 'j'},
        {"dump-logits", required_argument, 0, 'D'}, {"threads", required_argument, 0, 't'},
        {"gemm", required_argument, 0, 'g'},  {"help", no_argument, 0, 'h'},
        {0}};
    memset(a, 0, sizeof *a);
    a->n_ctx = 256;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:x:k:c:r:jD:t:g:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'x': a->text = optarg; break;
        case 'k': a->tokens = optarg; break;
        case 'r': a->ref = optarg; break;
        case 'j': a->json = true; break;
        case 'D': a->dump = optarg; break;
        case 'c':
            a->n_ctx = atoi(optarg);
            if (a->n_ctx < 4) return slmrt_cli_usage("eval", "--ctx must be at least 4, got '%s'", optarg);
            break;
        case 't': a->n_threads = atoi(optarg); break;
        case 'g':
            if ((rc = slmrt_cli_gemm_arg("eval", optarg, &a->gemm))) return rc;
            break;
        case 'h':
            printf("usage: slmrt eval -m M.gguf (--text FILE | --tokens FILE) [--ctx 256] [--ref REF.gguf] "
                   "[--json] [--dump-logits FILE] [--threads N] [--gemm own|onednn|auto]\n");
            exit(0);
        default: return slmrt_cli_usage("eval", "bad option");
        }
    }
    if (optind != argc) return slmrt_cli_usage("eval", "unexpected argument '%s'", argv[optind]);
    if (!a->model) return slmrt_cli_usage("eval", "missing -m M.gguf");
    if (!a->text == !a->tokens) return slmrt_cli_usage("eval", "give exactly one of --text FILE or --tokens FILE");
    return 0;
}

static slm_status load_tokens(const eval_args *a, slmrt_model *m, int32_t **ids, size_t *n, bool *from_text,
                              slm_diag *d) {
    if (a->tokens) {
        *from_text = false;
        return slmrt_read_token_file(a->tokens, ids, n, d);
    }
    *from_text = true;
    char *text = NULL;
    size_t len = 0;
    slm_status st = slm_file_read_all(a->text, &text, &len, d);
    if (st != SLM_OK) return st;
    slmrt_tok *tk = NULL;
    st = slmrt_tok_new(&slmrt_model_ir(m)->tok, &tk, d);
    int32_t *body = NULL;
    size_t nb = 0;
    if (st == SLM_OK) st = slmrt_tok_encode(tk, text, len, false, &body, &nb, d);
    if (st == SLM_OK) {
        /* the whole text with one BOS in front, as llama.cpp's perplexity tool does */
        *ids = malloc((nb + 1) * sizeof **ids);
        if (!*ids) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        else {
            (*ids)[0] = slmrt_tok_bos(tk);
            memcpy(*ids + 1, body, nb * sizeof *body);
            *n = nb + 1;
        }
    }
    if (st != SLM_OK) slm_diag_prefix(d, a->text);
    free(body);
    slmrt_tok_free(tk);
    free(text);
    return st;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double percentile(const double *sorted, size_t n, double q) {
    if (!n) return 0;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    double f = pos - (double)i;
    return i + 1 < n ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

static void dump_chunk(FILE *f, const float *logits, int len, int V) {
    for (int i = 0; i < len; i++) {
        const float *l = logits + (size_t)i * V;
        for (int j = 0; j < V; j++) fprintf(f, j ? " %.6g" : "%.6g", l[j]);
        fputc('\n', f);
    }
}

int slmrt_cmd_eval(int argc, char **argv) {
    eval_args a;
    int rc = parse(argc, argv, &a);
    if (rc) return rc;
    slm_diag d = {0};
    slmrt_model *m = NULL, *r = NULL;
    slmrt_ctx *cm = NULL, *cr = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    bool from_text = false;
    float *lm = NULL, *lr = NULL;
    double *lpm = NULL, *lpr = NULL;
    FILE *dump = NULL;
    scores sc = {0};
    slm_status st = slmrt_model_load(a.model, &m, &d);
    if (st == SLM_OK && a.ref) st = slmrt_model_load(a.ref, &r, &d);
    int V = st == SLM_OK ? slmrt_model_n_vocab(m) : 0;
    if (st == SLM_OK && r && slmrt_model_n_vocab(r) != V)
        st = slm_diag_set(&d, SLM_ERR_INPUT, "%s has %d tokens but %s has %d: the vocabularies differ", a.model, V,
                          a.ref, slmrt_model_n_vocab(r));
    if (st == SLM_OK) st = load_tokens(&a, m, &ids, &n_ids, &from_text, &d);
    for (size_t i = 0; st == SLM_OK && i < n_ids; i++)
        if (ids[i] < 0 || ids[i] >= V)
            st = slm_diag_set(&d, SLM_ERR_INPUT, "token %d at index %zu is outside the vocabulary (%d tokens)", ids[i],
                              i, V);
    /* chunking: full chunks of --ctx; a token file shorter than --ctx is one chunk */
    int chunk = a.n_ctx;
    size_t n_chunks = 0;
    if (st == SLM_OK) {
        if (!from_text && n_ids < (size_t)chunk) chunk = (int)n_ids;
        n_chunks = chunk >= 2 ? n_ids / (size_t)chunk : 0;
        if (n_chunks == 0)
            st = slm_diag_set(&d, SLM_ERR_INPUT, "%s: %zu tokens, need at least --ctx %d to score one chunk",
                              a.text ? a.text : a.tokens, n_ids, a.n_ctx);
    }
    slmrt_ctx_params cp = {.n_ctx = chunk, .n_threads = a.n_threads, .gemm_backend = a.gemm};
    if (st == SLM_OK) st = slmrt_ctx_new(m, &cp, &cm, &d);
    if (st == SLM_OK && r) st = slmrt_ctx_new(r, &cp, &cr, &d);
    if (st == SLM_OK) {
        lm = malloc((size_t)chunk * V * sizeof *lm);
        lpm = malloc((size_t)V * sizeof *lpm);
        lr = r ? malloc((size_t)chunk * V * sizeof *lr) : NULL;
        lpr = r ? malloc((size_t)V * sizeof *lpr) : NULL;
        sc.kld = r ? malloc(n_chunks * (size_t)chunk * sizeof *sc.kld) : NULL;
        if (!lm || !lpm || (r && (!lr || !lpr || !sc.kld))) st = slm_diag_set(&d, SLM_ERR_NOMEM, "out of memory");
    }
    if (st == SLM_OK && a.dump && !(dump = fopen(a.dump, "w")))
        st = slm_diag_set(&d, SLM_ERR_IO, "%s: cannot create", a.dump);
    double t0 = slmrt_now();
    int first = chunk / 2;
    for (size_t c = 0; st == SLM_OK && c < n_chunks; c++) {
        int32_t *tok = ids + c * (size_t)chunk;
        int32_t saved = tok[0];
        if (from_text) tok[0] = ids[0]; /* every chunk starts with BOS */
        slmrt_ctx_reset(cm);
        st = slmrt_eval(cm, tok, chunk, 0, lm, true, &d);
        if (st == SLM_OK && cr) {
            slmrt_ctx_reset(cr);
            st = slmrt_eval(cr, tok, chunk, 0, lr, true, &d);
        }
        if (st == SLM_OK && dump) dump_chunk(dump, lm, chunk, V);
        for (int j = first; st == SLM_OK && j < chunk - 1; j++) {
            int32_t target = tok[j + 1];
            slmrt_log_softmax(lm + (size_t)j * V, V, lpm);
            sc.nll -= lpm[target];
            if (cr) {
                slmrt_log_softmax(lr + (size_t)j * V, V, lpr);
                sc.nll_ref -= lpr[target];
                double kl = 0;
                for (int v = 0; v < V; v++) kl += exp(lpr[v]) * (lpr[v] - lpm[v]);
                sc.kld[sc.n] = kl < 0 ? 0 : kl;
                if (slmrt_argmax(lm + (size_t)j * V, V) == slmrt_argmax(lr + (size_t)j * V, V)) sc.same_top1++;
                double dp = exp(lpm[target]) - exp(lpr[target]);
                sc.dp_sum += dp;
                sc.dp_sq += dp * dp;
            }
            sc.n++;
        }
        tok[0] = saved;
    }
    double elapsed = slmrt_now() - t0;
    if (dump && fclose(dump) != 0 && st == SLM_OK) st = slm_diag_set(&d, SLM_ERR_IO, "%s: write failed", a.dump);
    if (st == SLM_OK) {
        double ppl = exp(sc.nll / (double)sc.n);
        double *sorted = NULL;
        double kl_mean = 0;
        if (cr) {
            sorted = malloc(sc.n * sizeof *sorted);
            if (sorted) {
                memcpy(sorted, sc.kld, sc.n * sizeof *sorted);
                qsort(sorted, sc.n, sizeof *sorted, cmp_double);
            }
            for (size_t i = 0; i < sc.n; i++) kl_mean += sc.kld[i];
            kl_mean /= (double)sc.n;
        }
        if (cr && !sorted) st = slm_diag_set(&d, SLM_ERR_NOMEM, "out of memory");
        if (st == SLM_OK && a.json) {
            json_t *o = json_object();
            json_object_set_new(o, "model", json_string(a.model));
            json_object_set_new(o, "chunks", json_integer((json_int_t)n_chunks));
            json_object_set_new(o, "ctx", json_integer(chunk));
            json_object_set_new(o, "scored_tokens", json_integer((json_int_t)sc.n));
            json_object_set_new(o, "ppl", json_real(ppl));
            json_object_set_new(o, "seconds", json_real(elapsed));
            json_object_set_new(o, "gemm", json_string(slmrt_gemm_backend_name(slmrt_ctx_gemm_backend(cm))));
            json_object_set_new(o, "gemm_impl", json_string(slmrt_ctx_gemm_impl(cm)));
            if (cr) {
                json_object_set_new(o, "ref", json_string(a.ref));
                json_object_set_new(o, "ppl_ref", json_real(exp(sc.nll_ref / (double)sc.n)));
                json_object_set_new(o, "kld_mean", json_real(kl_mean));
                json_object_set_new(o, "kld_median", json_real(percentile(sorted, sc.n, 0.5)));
                json_object_set_new(o, "kld_p90", json_real(percentile(sorted, sc.n, 0.9)));
                json_object_set_new(o, "kld_p99", json_real(percentile(sorted, sc.n, 0.99)));
                json_object_set_new(o, "kld_max", json_real(sorted[sc.n - 1]));
                json_object_set_new(o, "same_top1", json_real((double)sc.same_top1 / (double)sc.n));
                json_object_set_new(o, "mean_delta_p", json_real(sc.dp_sum / (double)sc.n));
                json_object_set_new(o, "rms_delta_p", json_real(sqrt(sc.dp_sq / (double)sc.n)));
            }
            json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', stdout);
            json_decref(o);
        } else if (st == SLM_OK) {
            char gemm_desc[96];
            printf("chunks %zu x %d tokens, %zu scored, %.2f s, GEMM %s\n", n_chunks, chunk, sc.n, elapsed,
                   slmrt_cli_gemm_describe(cm, gemm_desc, sizeof gemm_desc));
            printf("PPL            %.6f\n", ppl);
            if (cr) {
                printf("PPL (ref)      %.6f\n", exp(sc.nll_ref / (double)sc.n));
                printf("KLD mean       %.6f\n", kl_mean);
                printf("KLD median     %.6f\n", percentile(sorted, sc.n, 0.5));
                printf("KLD p90        %.6f\n", percentile(sorted, sc.n, 0.9));
                printf("KLD p99        %.6f\n", percentile(sorted, sc.n, 0.99));
                printf("KLD max        %.6f\n", sorted[sc.n - 1]);
                printf("same top-1     %.3f%%\n", 100.0 * (double)sc.same_top1 / (double)sc.n);
                printf("mean Δp        %.3f%%\n", 100.0 * sc.dp_sum / (double)sc.n);
                printf("RMS Δp         %.3f%%\n", 100.0 * sqrt(sc.dp_sq / (double)sc.n));
            }
        }
        free(sorted);
    }
    if (st != SLM_OK && a.dump) remove(a.dump);
    free(sc.kld);
    free(lm);
    free(lr);
    free(lpm);
    free(lpr);
    free(ids);
    slmrt_ctx_free(cm);
    slmrt_ctx_free(cr);
    slmrt_model_free(m);
    slmrt_model_free(r);
    return st == SLM_OK ? 0 : slmrt_cli_fail(&d);
}
