/* slmc_report.c - the compile report's storage and its JSON and Markdown
 * renderings (the plot is in slmc_report_svg.c). Renderers build the whole
 * text in memory and write it through slm_outfile, so a report file is
 * either complete or absent. */

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slmc_report_int.h"

/* ---- text buffer ---- */

static bool sb_reserve(slmc_strbuf *b, size_t extra) {
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = true;
        return false;
    }
    b->s = s;
    b->cap = cap;
    return true;
}

void slmc_sb_printf(slmc_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !sb_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void slmc_sb_puts(slmc_strbuf *b, const char *s) {
    size_t n = strlen(s);
    if (!sb_reserve(b, n)) return;
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

void slmc_sb_xml(slmc_strbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': slmc_sb_puts(b, "&amp;"); break;
        case '<': slmc_sb_puts(b, "&lt;"); break;
        case '>': slmc_sb_puts(b, "&gt;"); break;
        case '"': slmc_sb_puts(b, "&quot;"); break;
        case '\'': slmc_sb_puts(b, "&apos;"); break;
        default: {
            char c[2] = {*s, 0};
            slmc_sb_puts(b, c);
        }
        }
    }
}

/* ---- storage ---- */

slmc_report *slmc_report_new(void) {
    slmc_report *r = calloc(1, sizeof *r);
    if (r) r->overall.seconds = NAN;
    return r;
}

void slmc_report_free(slmc_report *r) {
    if (!r) return;
    free((char *)r->overall.input);
    free((char *)r->overall.output);
    for (uint32_t i = 0; i < r->n_tensors; i++) {
        free((char *)r->tensors[i].name);
        free((char *)r->tensors[i].method);
        free((char *)r->tensors[i].note);
    }
    free(r->tensors);
    for (uint32_t i = 0; i < r->n_passes; i++) {
        free(r->passes[i].name);
        free(r->passes[i].summary);
    }
    free(r->passes);
    free((char *)r->scores.data);
    for (uint32_t i = 0; i < r->n_cands; i++) free((char *)r->cands[i].label);
    free(r->cands);
    for (uint32_t i = 0; i < r->n_warnings; i++) free(r->warnings[i]);
    free(r->warnings);
    free(r);
}

/* strdup that keeps NULL as NULL and flags a failed copy. */
static char *dup_opt(const char *s, bool *fail) {
    if (!s) return NULL;
    char *c = strdup(s);
    if (!c) *fail = true;
    return c;
}

/* Makes room for one more element of an array. */
static bool grow(void **arr, uint32_t *cap, uint32_t n, size_t elem) {
    if (n < *cap) return true;
    uint32_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) return false;
    *arr = p;
    *cap = nc;
    return true;
}

static slm_status oom(slmc_report *r) {
    r->oom = true;
    return SLM_ERR_NOMEM;
}

slm_status slmc_report_set_overall(slmc_report *r, const slmc_report_overall *o) {
    bool fail = false;
    char *in = dup_opt(o->input, &fail), *out = dup_opt(o->output, &fail);
    if (fail) {
        free(in);
        free(out);
        return oom(r);
    }
    free((char *)r->overall.input);
    free((char *)r->overall.output);
    r->overall = *o;
    r->overall.input = in;
    r->overall.output = out;
    return SLM_OK;
}

slm_status slmc_report_add_tensor(slmc_report *r, const slmc_report_tensor *t) {
    if (!grow((void **)&r->tensors, &r->cap_tensors, r->n_tensors, sizeof *r->tensors)) return oom(r);
    bool fail = false;
    slmc_report_tensor c = *t;
    c.name = dup_opt(t->name ? t->name : "", &fail);
    c.method = dup_opt(t->method, &fail);
    c.note = dup_opt(t->note, &fail);
    if (c.n_dims < 1) c.n_dims = 1;
    if (c.n_dims > 4) c.n_dims = 4;
    if (fail) {
        free((char *)c.name);
        free((char *)c.method);
        free((char *)c.note);
        return oom(r);
    }
    r->tensors[r->n_tensors++] = c;
    return SLM_OK;
}

slm_status slmc_report_add_pass(slmc_report *r, const char *name, const char *summary, double seconds) {
    if (!grow((void **)&r->passes, &r->cap_passes, r->n_passes, sizeof *r->passes)) return oom(r);
    bool fail = false;
    slmc_report_pass p = {dup_opt(name ? name : "", &fail), dup_opt(summary, &fail), seconds};
    if (fail) {
        free(p.name);
        free(p.summary);
        return oom(r);
    }
    r->passes[r->n_passes++] = p;
    return SLM_OK;
}

slm_status slmc_report_set_scores(slmc_report *r, const slmc_report_scores *s) {
    bool fail = false;
    char *data = dup_opt(s->data, &fail);
    if (fail) return oom(r);
    free((char *)r->scores.data);
    r->scores = *s;
    r->scores.data = data;
    r->has_scores = true;
    return SLM_OK;
}

slm_status slmc_report_set_budget(slmc_report *r, uint64_t bytes) {
    r->budget = bytes;
    return SLM_OK;
}

slm_status slmc_report_add_candidate(slmc_report *r, const slmc_report_candidate *c) {
    if (!grow((void **)&r->cands, &r->cap_cands, r->n_cands, sizeof *r->cands)) return oom(r);
    bool fail = false;
    slmc_report_candidate k = *c;
    k.label = dup_opt(c->label ? c->label : "", &fail);
    if (fail) return oom(r);
    r->cands[r->n_cands++] = k;
    return SLM_OK;
}

slm_status slmc_report_add_warning(slmc_report *r, const char *fmt, ...) {
    if (!grow((void **)&r->warnings, &r->cap_warnings, r->n_warnings, sizeof *r->warnings)) return oom(r);
    va_list ap;
    va_start(ap, fmt);
    char *w = NULL;
    int n = vasprintf(&w, fmt, ap);
    va_end(ap);
    if (n < 0) return oom(r);
    r->warnings[r->n_warnings++] = w;
    return SLM_OK;
}

static uint64_t tensor_elems(const slmc_report_tensor *t) {
    uint64_t n = 1;
    for (int k = 0; k < t->n_dims; k++) n *= t->ne[k] > 0 ? (uint64_t)t->ne[k] : 0;
    return n;
}

void slmc_report_totals(const slmc_report *r, uint64_t *n_weights, uint64_t *tensor_bytes, double *bpw) {
    uint64_t n = 0, b = 0;
    for (uint32_t i = 0; i < r->n_tensors; i++) {
        n += tensor_elems(&r->tensors[i]);
        b += r->tensors[i].bytes;
    }
    if (n_weights) *n_weights = n;
    if (tensor_bytes) *tensor_bytes = b;
    if (bpw) *bpw = n ? 8.0 * (double)b / (double)n : NAN;
}

uint32_t slmc_report_n_candidates(const slmc_report *r) { return r->n_cands; }

/* ---- writing ---- */

static slm_status write_text(const slmc_report *r, const slmc_strbuf *b, const char *path, slm_diag *d) {
    if (r->oom || b->oom) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory while building the report", path);
    slm_outfile f;
    slm_status st = slm_outfile_open(&f, path, d);
    if (st != SLM_OK) return st;
    slm_outfile_write(&f, b->s, b->len, d);
    return slm_outfile_commit(&f, d);
}

/* ---- JSON ---- */

/* jansson has no NaN: unknown numbers are null. */
static json_t *jreal(double v) { return isfinite(v) ? json_real(v) : json_null(); }
static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }
static json_t *juint(uint64_t v) { return json_integer((json_int_t)v); }

static json_t *scores_json(const slmc_report_scores *s) {
    json_t *o = json_object();
    json_object_set_new(o, "kld_mean", jreal(s->kld_mean));
    json_object_set_new(o, "kld_median", jreal(s->kld_median));
    json_object_set_new(o, "kld_p90", jreal(s->kld_p90));
    json_object_set_new(o, "kld_p99", jreal(s->kld_p99));
    json_object_set_new(o, "kld_max", jreal(s->kld_max));
    json_object_set_new(o, "same_top1", jreal(s->same_top1));
    json_object_set_new(o, "dp_mean", jreal(s->dp_mean));
    json_object_set_new(o, "dp_rms", jreal(s->dp_rms));
    json_object_set_new(o, "ppl_teacher", jreal(s->ppl_teacher));
    json_object_set_new(o, "ppl_student", jreal(s->ppl_student));
    json_object_set_new(o, "n_tokens", juint(s->n_tokens));
    json_object_set_new(o, "data", jstr(s->data));
    return o;
}

static json_t *report_json(const slmc_report *r) {
    uint64_t n_weights, tbytes;
    double bpw;
    slmc_report_totals(r, &n_weights, &tbytes, &bpw);
    json_t *root = json_object();
    json_object_set_new(root, "slmc_report", json_integer(1));
    json_object_set_new(root, "input", jstr(r->overall.input));
    json_object_set_new(root, "output", jstr(r->overall.output));

    json_t *sum = json_object();
    json_object_set_new(sum, "artifact_bytes", juint(r->overall.artifact_bytes));
    json_object_set_new(sum, "tensor_bytes", juint(tbytes));
    json_object_set_new(sum, "n_tensors", json_integer(r->n_tensors));
    json_object_set_new(sum, "n_weights", juint(n_weights));
    json_object_set_new(sum, "bits_per_weight", jreal(bpw));
    json_object_set_new(sum, "seconds", jreal(r->overall.seconds));
    json_object_set_new(root, "summary", sum);

    json_object_set_new(root, "scores", r->has_scores ? scores_json(&r->scores) : json_null());

    if (r->n_cands || r->budget) {
        json_t *s = json_object();
        json_object_set_new(s, "budget_bytes", r->budget ? juint(r->budget) : json_null());
        json_t *cs = json_array();
        for (uint32_t i = 0; i < r->n_cands; i++) {
            const slmc_report_candidate *c = &r->cands[i];
            json_t *e = json_object();
            json_object_set_new(e, "label", jstr(c->label));
            json_object_set_new(e, "bytes", juint(c->bytes));
            json_object_set_new(e, "kld_predicted", jreal(c->kld_pred));
            json_object_set_new(e, "kld_measured", jreal(c->kld_meas));
            json_object_set_new(e, "chosen", json_boolean(c->chosen));
            json_object_set_new(e, "preset", json_boolean(c->is_preset));
            json_array_append_new(cs, e);
        }
        json_object_set_new(s, "candidates", cs);
        json_object_set_new(root, "search", s);
    } else {
        json_object_set_new(root, "search", json_null());
    }

    json_t *ps = json_array();
    for (uint32_t i = 0; i < r->n_passes; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "name", jstr(r->passes[i].name));
        json_object_set_new(e, "summary", jstr(r->passes[i].summary));
        json_object_set_new(e, "seconds", jreal(r->passes[i].seconds));
        json_array_append_new(ps, e);
    }
    json_object_set_new(root, "passes", ps);

    json_t *ts = json_array();
    for (uint32_t i = 0; i < r->n_tensors; i++) {
        const slmc_report_tensor *t = &r->tensors[i];
        json_t *e = json_object();
        json_object_set_new(e, "name", jstr(t->name));
        json_t *sh = json_array();
        for (int k = 0; k < t->n_dims; k++) json_array_append_new(sh, json_integer(t->ne[k]));
        json_object_set_new(e, "shape", sh);
        json_object_set_new(e, "src_type", json_string(slm_type_name(t->src_type)));
        json_object_set_new(e, "type", json_string(slm_type_name(t->out_type)));
        json_object_set_new(e, "bytes", juint(t->bytes));
        uint64_t n = tensor_elems(t);
        json_object_set_new(e, "bits_per_weight", n ? jreal(8.0 * (double)t->bytes / (double)n) : json_null());
        json_object_set_new(e, "sparsity", t->sparsity >= 0 ? jreal(t->sparsity) : json_null());
        json_object_set_new(e, "method", jstr(t->method));
        json_object_set_new(e, "error", t->error >= 0 ? jreal(t->error) : json_null());
        json_object_set_new(e, "note", jstr(t->note));
        json_array_append_new(ts, e);
    }
    json_object_set_new(root, "tensors", ts);

    json_t *ws = json_array();
    for (uint32_t i = 0; i < r->n_warnings; i++) json_array_append_new(ws, json_string(r->warnings[i]));
    json_object_set_new(root, "warnings", ws);
    return root;
}

slm_status slmc_report_write_json(const slmc_report *r, const char *path, slm_diag *d) {
    json_t *root = report_json(r);
    /* JSON_ENSURE_ASCII off: labels such as "λ=0.3" stay readable UTF-8 */
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    slmc_strbuf b = {0};
    if (!text) b.oom = true;
    else {
        slmc_sb_puts(&b, text);
        slmc_sb_puts(&b, "\n");
    }
    free(text);
    slm_status st = write_text(r, &b, path, d);
    free(b.s);
    return st;
}

/* ---- Markdown ---- */

/* A table cell: pipes escaped, line breaks flattened, no raw HTML. */
static void md_cell(slmc_strbuf *b, const char *s) {
    if (!s) return;
    for (; *s; s++) {
        if (*s == '|') slmc_sb_puts(b, "\\|");
        else if (*s == '\n' || *s == '\r') slmc_sb_puts(b, " ");
        else if (*s == '<') slmc_sb_puts(b, "&lt;");
        else if (*s == '>') slmc_sb_puts(b, "&gt;");
        else {
            char c[2] = {*s, 0};
            slmc_sb_puts(b, c);
        }
    }
}

/* `s` as a code span, or plain (escaped) when it holds a backtick. */
static void md_code(slmc_strbuf *b, const char *s) {
    if (!s || !*s) {
        slmc_sb_puts(b, "–");
        return;
    }
    if (strchr(s, '`')) {
        md_cell(b, s);
        return;
    }
    slmc_sb_puts(b, "`");
    md_cell(b, s);
    slmc_sb_puts(b, "`");
}

static void md_size(slmc_strbuf *b, uint64_t v) {
    if (v >= (1ull << 30)) slmc_sb_printf(b, "%.2f GiB", v / 1073741824.0);
    else if (v >= (1ull << 20)) slmc_sb_printf(b, "%.2f MiB", v / 1048576.0);
    else if (v >= 1024) slmc_sb_printf(b, "%.1f KiB", v / 1024.0);
    else slmc_sb_printf(b, "%llu B", (unsigned long long)v);
}

/* 1234567 -> "1,234,567" */
static void md_count(slmc_strbuf *b, uint64_t v) {
    char digits[32], out[48];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = 0;
    slmc_sb_puts(b, out);
}

static void md_num(slmc_strbuf *b, double v, const char *fmt) {
    if (isfinite(v)) slmc_sb_printf(b, fmt, v);
    else slmc_sb_puts(b, "–");
}

static void md_summary(const slmc_report *r, slmc_strbuf *b) {
    uint64_t n_weights, tbytes;
    double bpw;
    slmc_report_totals(r, &n_weights, &tbytes, &bpw);
    slmc_sb_puts(b, "## Summary\n\n| | |\n|---|---|\n");
    slmc_sb_puts(b, "| Input | ");
    md_code(b, r->overall.input);
    slmc_sb_puts(b, " |\n| Output | ");
    md_code(b, r->overall.output);
    slmc_sb_puts(b, " |\n| Artifact size | ");
    md_size(b, r->overall.artifact_bytes);
    slmc_sb_puts(b, " (");
    md_count(b, r->overall.artifact_bytes);
    slmc_sb_puts(b, " bytes) |\n| Tensor data | ");
    md_size(b, tbytes);
    slmc_sb_printf(b, " in %u tensors |\n| Weights | ", r->n_tensors);
    md_count(b, n_weights);
    slmc_sb_puts(b, " |\n| Bits per weight | ");
    md_num(b, bpw, "%.3f");
    slmc_sb_puts(b, " |\n");
    if (r->has_scores) {
        const slmc_report_scores *s = &r->scores;
        slmc_sb_puts(b, "| KLD mean / median | ");
        md_num(b, s->kld_mean, "%.5g");
        slmc_sb_puts(b, " / ");
        md_num(b, s->kld_median, "%.5g");
        slmc_sb_puts(b, " |\n| KLD p90 / p99 / max | ");
        md_num(b, s->kld_p90, "%.5g");
        slmc_sb_puts(b, " / ");
        md_num(b, s->kld_p99, "%.5g");
        slmc_sb_puts(b, " / ");
        md_num(b, s->kld_max, "%.5g");
        slmc_sb_puts(b, " |\n| Same top-1 token | ");
        md_num(b, 100.0 * s->same_top1, "%.2f %%");
        slmc_sb_puts(b, " |\n| Δp mean / RMS | ");
        md_num(b, 100.0 * s->dp_mean, "%+.3f %%");
        slmc_sb_puts(b, " / ");
        md_num(b, 100.0 * s->dp_rms, "%.3f %%");
        slmc_sb_puts(b, " |\n| Perplexity teacher → student | ");
        md_num(b, s->ppl_teacher, "%.4f");
        slmc_sb_puts(b, " → ");
        md_num(b, s->ppl_student, "%.4f");
        if (isfinite(s->ppl_teacher) && isfinite(s->ppl_student) && s->ppl_teacher > 0)
            slmc_sb_printf(b, " (%+.2f %%)", 100.0 * (s->ppl_student / s->ppl_teacher - 1.0));
        slmc_sb_puts(b, " |\n| Scored on | ");
        md_count(b, s->n_tokens);
        slmc_sb_puts(b, " tokens");
        if (s->data) {
            slmc_sb_puts(b, " of ");
            md_code(b, s->data);
        }
        slmc_sb_puts(b, " |\n");
    }
    slmc_sb_puts(b, "| Time | ");
    md_num(b, r->overall.seconds, "%.2f s");
    slmc_sb_puts(b, " |\n\n");
}

static void md_search(const slmc_report *r, slmc_strbuf *b, const char *svg_name) {
    if (!r->n_cands && !r->budget) return;
    slmc_sb_puts(b, "## Size vs KL divergence\n\n");
    if (svg_name) {
        /* angle brackets keep a name with spaces or parentheses one link */
        bool plain = !strpbrk(svg_name, " ()<>");
        slmc_sb_printf(b, plain ? "![size vs KLD](%s)\n\n" : "![size vs KLD](<%s>)\n\n", svg_name);
    }
    if (r->budget) {
        slmc_sb_puts(b, "Budget: ");
        md_size(b, r->budget);
        slmc_sb_puts(b, " (");
        md_count(b, r->budget);
        slmc_sb_puts(b, " bytes).\n\n");
    }
    if (!r->n_cands) return;
    slmc_sb_puts(b, "| Candidate | Kind | Size | Bytes | Predicted KLD | Measured KLD |");
    slmc_sb_puts(b, r->budget ? " Fits budget | Chosen |\n|---|---|--:|--:|--:|--:|:-:|:-:|\n"
                              : " Chosen |\n|---|---|--:|--:|--:|--:|:-:|\n");
    for (uint32_t i = 0; i < r->n_cands; i++) {
        const slmc_report_candidate *c = &r->cands[i];
        slmc_sb_puts(b, "| ");
        if (c->chosen) slmc_sb_puts(b, "**");
        md_cell(b, c->label);
        if (c->chosen) slmc_sb_puts(b, "**");
        slmc_sb_puts(b, c->is_preset ? " | preset | " : " | search | ");
        md_size(b, c->bytes);
        slmc_sb_puts(b, " | ");
        md_count(b, c->bytes);
        slmc_sb_puts(b, " | ");
        md_num(b, c->kld_pred, "%.5g");
        slmc_sb_puts(b, " | ");
        md_num(b, c->kld_meas, "%.5g");
        if (r->budget) slmc_sb_puts(b, c->bytes <= r->budget ? " | yes" : " | no");
        slmc_sb_puts(b, c->chosen ? " | **✓** |\n" : " | |\n");
    }
    slmc_sb_puts(b, "\n");
}

static void md_passes(const slmc_report *r, slmc_strbuf *b) {
    slmc_sb_puts(b, "## Passes\n\n");
    if (!r->n_passes) {
        slmc_sb_puts(b, "No passes ran.\n\n");
        return;
    }
    slmc_sb_puts(b, "| # | Pass | Summary | Time |\n|--:|---|---|--:|\n");
    for (uint32_t i = 0; i < r->n_passes; i++) {
        slmc_sb_printf(b, "| %u | ", i + 1);
        md_cell(b, r->passes[i].name);
        slmc_sb_puts(b, " | ");
        md_cell(b, r->passes[i].summary);
        slmc_sb_puts(b, " | ");
        md_num(b, r->passes[i].seconds, "%.2f s");
        slmc_sb_puts(b, " |\n");
    }
    slmc_sb_puts(b, "\n");
}

static void md_tensors(const slmc_report *r, slmc_strbuf *b) {
    slmc_sb_puts(b, "## Tensors\n\n");
    if (!r->n_tensors) {
        slmc_sb_puts(b, "No tensors.\n\n");
        return;
    }
    slmc_sb_puts(b, "| Tensor | Shape | Type | Bytes | bpw | Sparsity | Method | Error | Note |\n"
                    "|---|---|---|--:|--:|--:|---|--:|---|\n");
    for (uint32_t i = 0; i < r->n_tensors; i++) {
        const slmc_report_tensor *t = &r->tensors[i];
        slmc_sb_puts(b, "| ");
        md_code(b, t->name);
        slmc_sb_puts(b, " | ");
        for (int k = 0; k < t->n_dims; k++) slmc_sb_printf(b, "%s%lld", k ? "×" : "", (long long)t->ne[k]);
        if (t->src_type == t->out_type) slmc_sb_printf(b, " | %s | ", slm_type_name(t->out_type));
        else slmc_sb_printf(b, " | %s → %s | ", slm_type_name(t->src_type), slm_type_name(t->out_type));
        md_count(b, t->bytes);
        slmc_sb_puts(b, " | ");
        uint64_t n = tensor_elems(t);
        md_num(b, n ? 8.0 * (double)t->bytes / (double)n : NAN, "%.2f");
        slmc_sb_puts(b, " | ");
        md_num(b, t->sparsity >= 0 ? 100.0 * t->sparsity : NAN, "%.1f %%");
        slmc_sb_puts(b, " | ");
        if (t->method) md_cell(b, t->method);
        else slmc_sb_puts(b, "–");
        slmc_sb_puts(b, " | ");
        md_num(b, t->error >= 0 ? t->error : NAN, "%.4g");
        slmc_sb_puts(b, " | ");
        md_cell(b, t->note);
        slmc_sb_puts(b, " |\n");
    }
    slmc_sb_puts(b, "\n");
}

static void md_warnings(const slmc_report *r, slmc_strbuf *b) {
    slmc_sb_puts(b, "## Warnings\n\n");
    if (!r->n_warnings) slmc_sb_puts(b, "None.\n");
    for (uint32_t i = 0; i < r->n_warnings; i++) {
        slmc_sb_puts(b, "- ");
        md_cell(b, r->warnings[i]);
        slmc_sb_puts(b, "\n");
    }
}

slm_status slmc_report_write_markdown(const slmc_report *r, const char *path, const char *svg_name, slm_diag *d) {
    slmc_strbuf b = {0};
    slmc_sb_puts(&b, "# slmc compile report\n\n");
    md_summary(r, &b);
    md_search(r, &b, svg_name);
    md_passes(r, &b);
    md_tensors(r, &b);
    md_warnings(r, &b);
    slm_status st = write_text(r, &b, path, d);
    free(b.s);
    return st;
}

slm_status slmc_report_write_svg(const slmc_report *r, const char *path, slm_diag *d) {
    slmc_strbuf b = {0};
    slmc_report_render_svg(r, &b);
    slm_status st = write_text(r, &b, path, d);
    free(b.s);
    return st;
}

/* "dir/out.json" -> "dir/out" + ext; a name without ".json" keeps it whole. */
static char *sibling(const char *json_path, const char *ext) {
    size_t n = strlen(json_path);
    if (n > 5 && !strcmp(json_path + n - 5, ".json")) n -= 5;
    char *p = malloc(n + strlen(ext) + 1);
    if (!p) return NULL;
    memcpy(p, json_path, n);
    strcpy(p + n, ext);
    return p;
}

slm_status slmc_report_write(const slmc_report *r, const char *json_path, slm_diag *d) {
    char *md = sibling(json_path, ".md"), *svg = r->n_cands ? sibling(json_path, ".svg") : NULL;
    slm_status st = SLM_OK;
    if (!md || (r->n_cands && !svg)) st = slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", json_path);
    /* the plot first, so the Markdown never links to a file not there */
    if (st == SLM_OK && svg) st = slmc_report_write_svg(r, svg, d);
    if (st == SLM_OK) {
        const char *base = svg ? strrchr(svg, '/') : NULL;
        st = slmc_report_write_markdown(r, md, svg ? (base ? base + 1 : svg) : NULL, d);
    }
    if (st == SLM_OK) st = slmc_report_write_json(r, json_path, d);
    free(md);
    free(svg);
    return st;
}
