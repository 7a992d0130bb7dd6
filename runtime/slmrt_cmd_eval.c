/* slmrt_cmd_eval.c - `slmrt eval`: perplexity of a model on a text or token
 * file, and with --ref the figures llama.cpp's perplexity tool prints for
 * --kl-divergence (KLD statistics, top-1 agreement, Δp), on the same
 * protocol so the numbers compare: the token stream (BOS first) is cut into
 * chunks of --ctx tokens, each chunk starts with BOS and is evaluated from an
 * empty cache, and only the second half of each chunk is scored. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slmrt.h"
#include "slmrt_cli.h"
#include "slmrt_cli_lora.h"
#include "slmrt_kld.h"
#include "slmrt_tokenizer.h"

typedef struct eval_args {
    const char *model, *ref, *text, *tokens, *dump;
    int n_ctx, n_threads, gemm;
    bool json;
    slmrt_cli_loras lora;
} eval_args;

static int parse(int argc, char **argv, eval_args *a) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"text", required_argument, 0, 'x'},
        {"tokens", required_argument, 0, 'k'}, {"ctx", required_argument, 0, 'c'},
        {"ref", required_argument, 0, 'r'},   {"json", no_argument, 0, 'j'},
        {"dump-logits", required_argument, 0, 'D'}, {"threads", required_argument, 0, 't'},
        {"gemm", required_argument, 0, 'g'},  {"help", no_argument, 0, 'h'},
        {"lora", required_argument, 0, 'L'},
        {0}};
    memset(a, 0, sizeof *a);
    a->n_ctx = 256;
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:x:k:c:r:jD:t:g:L:h", opts, NULL)) != -1) {
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
        case 'L':
            if ((rc = slmrt_cli_lora_arg("eval", optarg, &a->lora))) return rc;
            break;
        case 'h':
            printf("usage: slmrt eval -m M.gguf (--text FILE | --tokens FILE) [--ctx 256] [--ref REF.gguf] "
                   "[--json] [--dump-logits FILE] [--threads N] [--gemm own|onednn|auto] [--lora FILE[:SCALE]]...\n"
                   "  --lora  apply a LoRA adapter (PEFT folder or GGUF) to -m at run time; repeatable\n");
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
    FILE *dump = NULL;
    slmrt_kld sc = {0};
    slmrt_kld_plan plan = {0};
    slm_status st = slmrt_model_load(a.model, &m, &d);
    if (st == SLM_OK) st = slmrt_cli_lora_apply(m, &a.lora, &d);
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
    if (st == SLM_OK) st = slmrt_kld_plan_make(n_ids, a.n_ctx, !from_text, a.text ? a.text : a.tokens, &plan, &d);
    const int chunk = plan.chunk;
    const size_t n_chunks = plan.n_chunks;
    slmrt_ctx_params cp = {.n_ctx = chunk, .n_threads = a.n_threads, .gemm_backend = a.gemm};
    if (st == SLM_OK) st = slmrt_ctx_new(m, &cp, &cm, &d);
    if (st == SLM_OK && r) st = slmrt_ctx_new(r, &cp, &cr, &d);
    if (st == SLM_OK) st = slmrt_kld_init(&sc, V, n_chunks * (size_t)plan.n_scored, r != NULL, &d);
    if (st == SLM_OK) {
        lm = malloc((size_t)chunk * V * sizeof *lm);
        lr = r ? malloc((size_t)chunk * V * sizeof *lr) : NULL;
        if (!lm || (r && !lr)) st = slm_diag_set(&d, SLM_ERR_NOMEM, "out of memory");
    }
    if (st == SLM_OK && a.dump && !(dump = fopen(a.dump, "w")))
        st = slm_diag_set(&d, SLM_ERR_IO, "%s: cannot create", a.dump);
    double t0 = slmrt_now();
    const int32_t bos = from_text && ids ? ids[0] : -1;
    for (size_t c = 0; st == SLM_OK && c < n_chunks; c++) {
        const int32_t *tok = ids + c * (size_t)chunk;
        st = slmrt_kld_eval_chunk(cm, &plan, ids, c, bos, lm, &d);
        if (st == SLM_OK && cr) st = slmrt_kld_eval_chunk(cr, &plan, ids, c, bos, lr, &d);
        if (st == SLM_OK && dump) dump_chunk(dump, lm, chunk, V);
        for (int j = plan.first; st == SLM_OK && j < chunk - 1; j++) {
            slmrt_kld_row rm = slmrt_kld_row_of(lm + (size_t)j * V, V), rr;
            if (cr) rr = slmrt_kld_row_of(lr + (size_t)j * V, V);
            slmrt_kld_add(&sc, &rm, cr ? &rr : NULL, tok[j + 1]);
        }
    }
    double elapsed = slmrt_now() - t0;
    if (dump && fclose(dump) != 0 && st == SLM_OK) st = slm_diag_set(&d, SLM_ERR_IO, "%s: write failed", a.dump);
    slmrt_kld_summary s;
    if (st == SLM_OK) st = slmrt_kld_summarize(&sc, &s, &d);
    if (st == SLM_OK && a.json) {
        json_t *o = json_object();
        json_object_set_new(o, "model", json_string(a.model));
        json_object_set_new(o, "chunks", json_integer((json_int_t)n_chunks));
        json_object_set_new(o, "ctx", json_integer(chunk));
        json_object_set_new(o, "scored_tokens", json_integer((json_int_t)sc.n));
        json_object_set_new(o, "ppl", json_real(s.ppl));
        json_object_set_new(o, "seconds", json_real(elapsed));
        json_object_set_new(o, "gemm", json_string(slmrt_gemm_backend_name(slmrt_ctx_gemm_backend(cm))));
        json_object_set_new(o, "gemm_impl", json_string(slmrt_ctx_gemm_impl(cm)));
        if (cr) {
            json_object_set_new(o, "ref", json_string(a.ref));
            json_object_set_new(o, "ppl_ref", json_real(s.ppl_ref));
            json_object_set_new(o, "kld_mean", json_real(s.kld_mean));
            json_object_set_new(o, "kld_median", json_real(s.kld_median));
            json_object_set_new(o, "kld_p90", json_real(s.kld_p90));
            json_object_set_new(o, "kld_p99", json_real(s.kld_p99));
            json_object_set_new(o, "kld_max", json_real(s.kld_max));
            json_object_set_new(o, "same_top1", json_real(s.same_top1));
            json_object_set_new(o, "mean_delta_p", json_real(s.mean_dp));
            json_object_set_new(o, "rms_delta_p", json_real(s.rms_dp));
        }
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(o);
    } else if (st == SLM_OK) {
        char gemm_desc[96];
        printf("chunks %zu x %d tokens, %zu scored, %.2f s, GEMM %s\n", n_chunks, chunk, sc.n, elapsed,
               slmrt_cli_gemm_describe(cm, gemm_desc, sizeof gemm_desc));
        printf("PPL            %.6f\n", s.ppl);
        if (cr) {
            printf("PPL (ref)      %.6f\n", s.ppl_ref);
            printf("KLD mean       %.6f\n", s.kld_mean);
            printf("KLD median     %.6f\n", s.kld_median);
            printf("KLD p90        %.6f\n", s.kld_p90);
            printf("KLD p99        %.6f\n", s.kld_p99);
            printf("KLD max        %.6f\n", s.kld_max);
            /* from the sums, in the order these lines always computed them */
            printf("same top-1     %.3f%%\n", 100.0 * (double)sc.same_top1 / (double)sc.n);
            printf("mean Δp        %.3f%%\n", 100.0 * sc.dp_sum / (double)sc.n);
            printf("RMS Δp         %.3f%%\n", 100.0 * s.rms_dp);
        }
    }
    if (st != SLM_OK && a.dump) remove(a.dump);
    slmrt_kld_free(&sc);
    free(lm);
    free(lr);
    free(ids);
    slmrt_ctx_free(cm);
    slmrt_ctx_free(cr);
    slmrt_model_free(m);
    slmrt_model_free(r);
    return st == SLM_OK ? 0 : slmrt_cli_fail(&d);
}
