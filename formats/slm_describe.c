/* slm_describe.c - text and JSON summaries of a model (see slm_describe.h). */
#include "slm_describe.h"

#include <inttypes.h>
#include <jansson.h>
#include <string.h>

static const char *tok_kind_name(slm_tok_kind k) {
    switch (k) {
    case SLM_TOK_SPM: return "spm";
    case SLM_TOK_BPE: return "bpe";
    default: return "none";
    }
}

static const char *rope_scaling_name(slm_rope_scaling s) {
    switch (s) {
    case SLM_ROPE_SCALING_LINEAR: return "linear";
    case SLM_ROPE_SCALING_YARN: return "yarn";
    case SLM_ROPE_SCALING_LONGROPE: return "longrope";
    default: return "none";
    }
}

static void scalar_format(slm_vtype t, const void *p, char *buf, size_t size) {
    switch (t) {
    case SLM_V_U8: snprintf(buf, size, "%u", *(const uint8_t *)p); break;
    case SLM_V_I8: snprintf(buf, size, "%d", *(const int8_t *)p); break;
    case SLM_V_U16: snprintf(buf, size, "%u", *(const uint16_t *)p); break;
    case SLM_V_I16: snprintf(buf, size, "%d", *(const int16_t *)p); break;
    case SLM_V_U32: snprintf(buf, size, "%" PRIu32, *(const uint32_t *)p); break;
    case SLM_V_I32: snprintf(buf, size, "%" PRId32, *(const int32_t *)p); break;
    case SLM_V_F32: snprintf(buf, size, "%.9g", *(const float *)p); break;
    case SLM_V_BOOL: snprintf(buf, size, "%s", *(const uint8_t *)p ? "true" : "false"); break;
    case SLM_V_U64: snprintf(buf, size, "%" PRIu64, *(const uint64_t *)p); break;
    case SLM_V_I64: snprintf(buf, size, "%" PRId64, *(const int64_t *)p); break;
    case SLM_V_F64: snprintf(buf, size, "%.17g", *(const double *)p); break;
    case SLM_V_STR: {
        const slm_str *s = p;
        snprintf(buf, size, "\"%.*s%s\"", (int)(s->len > 100 ? 100 : s->len), s->s, s->len > 100 ? "..." : "");
        break;
    }
    default: snprintf(buf, size, "?"); break;
    }
}

void slm_value_format(const slm_value *v, char *buf, size_t size) {
    if (v->type == SLM_V_ARR) {
        size_t o = (size_t)snprintf(buf, size, "[%s × %" PRIu64 "]", slm_vtype_name(v->arr_type), v->n);
        size_t es = v->arr_type == SLM_V_STR ? sizeof(slm_str) : slm_vtype_size(v->arr_type);
        for (uint64_t i = 0; i < v->n && i < 4 && o + 8 < size; i++) {
            char item[96];
            scalar_format(v->arr_type, (const char *)v->v.arr + i * es, item, sizeof item);
            o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : " ", item);
        }
        if (v->n > 4 && o + 5 < size) snprintf(buf + o, size - o, ", ...");
        return;
    }
    if (v->type == SLM_V_STR) {
        scalar_format(SLM_V_STR, &v->v.str, buf, size);
        return;
    }
    /* scalars are widened in the union; narrow them back for printing */
    switch (v->type) {
    case SLM_V_F32: case SLM_V_F64: snprintf(buf, size, "%.9g", v->v.f64); break;
    case SLM_V_BOOL: snprintf(buf, size, "%s", v->v.b ? "true" : "false"); break;
    case SLM_V_I8: case SLM_V_I16: case SLM_V_I32: case SLM_V_I64:
        snprintf(buf, size, "%" PRId64, v->v.i64);
        break;
    default: snprintf(buf, size, "%" PRIu64, v->v.u64); break;
    }
}

static void shape_format(const slm_tensor *t, char *buf, size_t size) {
    size_t o = 0;
    o += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < t->n_dims && o < size; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%" PRId64, i ? ", " : "", t->ne[i]);
    if (o < size) snprintf(buf + o, size - o, "]");
}

static void totals(const slm_model *m, uint64_t *params, uint64_t *bytes) {
    *params = *bytes = 0;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        *params += (uint64_t)slm_tensor_nelements(&m->tensors[i]);
        *bytes += m->tensors[i].nbytes;
    }
}

static json_t *value_json(const slm_value *v) {
    if (v->type == SLM_V_STR) return json_stringn(v->v.str.s, v->v.str.len);
    if (v->type == SLM_V_ARR) {
        json_t *o = json_object();
        json_object_set_new(o, "type", json_string(slm_vtype_name(v->arr_type)));
        json_object_set_new(o, "count", json_integer((json_int_t)v->n));
        return o;
    }
    switch (v->type) {
    case SLM_V_F32: case SLM_V_F64: return json_real(v->v.f64);
    case SLM_V_BOOL: return json_boolean(v->v.b);
    case SLM_V_I8: case SLM_V_I16: case SLM_V_I32: case SLM_V_I64: return json_integer(v->v.i64);
    default: return json_integer((json_int_t)v->v.u64);
    }
}

static slm_status describe_json(const slm_model *m, FILE *out, const slm_describe_opts *o, slm_diag *d) {
    const slm_hparams *hp = &m->hp;
    uint64_t params, bytes;
    totals(m, &params, &bytes);
    json_t *root = json_object();
    if (o->path) json_object_set_new(root, "path", json_string(o->path));
    json_object_set_new(root, "format", json_string(m->source_format ? m->source_format : "?"));
    json_t *h = json_object();
    json_object_set_new(h, "architecture", json_string(hp->arch));
    json_object_set_new(h, "context_length", json_integer(hp->n_ctx));
    json_object_set_new(h, "embedding_length", json_integer(hp->n_embd));
    json_object_set_new(h, "feed_forward_length", json_integer(hp->n_ff));
    json_object_set_new(h, "block_count", json_integer(hp->n_layer));
    json_object_set_new(h, "head_count", json_integer(hp->n_head));
    json_object_set_new(h, "head_count_kv",
                        json_integer((hp->has & SLM_HP_HEAD_COUNT_KV) ? hp->n_head_kv : hp->n_head));
    json_object_set_new(h, "head_dim", json_integer(slm_hparams_head_dim(hp)));
    json_object_set_new(h, "rope_dimension_count",
                        json_integer((hp->has & SLM_HP_ROPE_DIM) ? hp->n_rot : slm_hparams_head_dim(hp)));
    json_object_set_new(h, "rope_freq_base", json_real((hp->has & SLM_HP_ROPE_FREQ_BASE) ? hp->rope_freq_base : 10000.0));
    json_object_set_new(h, "rope_scaling", json_string(rope_scaling_name(hp->rope_scaling)));
    json_object_set_new(h, "rms_norm_eps", json_real(hp->rms_eps));
    json_object_set_new(root, "hparams", h);

    json_t *tk = json_object();
    json_object_set_new(tk, "kind", json_string(tok_kind_name(m->tok.kind)));
    json_object_set_new(tk, "model", m->tok.model_name ? json_string(m->tok.model_name) : json_null());
    json_object_set_new(tk, "pre", m->tok.pre ? json_string(m->tok.pre) : json_null());
    json_object_set_new(tk, "tokens", json_integer(m->tok.n_tokens));
    json_object_set_new(tk, "merges", json_integer(m->tok.n_merges));
    json_object_set_new(tk, "bos_id", json_integer(m->tok.bos_id));
    json_object_set_new(tk, "eos_id", json_integer(m->tok.eos_id));
    json_object_set_new(tk, "unk_id", json_integer(m->tok.unk_id));
    json_object_set_new(tk, "add_bos", json_integer(m->tok.add_bos));
    json_object_set_new(tk, "add_eos", json_integer(m->tok.add_eos));
    json_object_set_new(root, "tokenizer", tk);

    json_object_set_new(root, "n_tensors", json_integer(m->n_tensors));
    json_object_set_new(root, "n_params", json_integer((json_int_t)params));
    json_object_set_new(root, "tensor_bytes", json_integer((json_int_t)bytes));
    json_t *ts = json_array();
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        json_t *e = json_object();
        json_object_set_new(e, "name", json_string(t->name));
        json_object_set_new(e, "type", json_string(slm_type_name(t->type)));
        json_t *sh = json_array();
        for (int k = 0; k < t->n_dims; k++) json_array_append_new(sh, json_integer(t->ne[k]));
        json_object_set_new(e, "shape", sh);
        json_object_set_new(e, "bytes", json_integer((json_int_t)t->nbytes));
        json_array_append_new(ts, e);
    }
    json_object_set_new(root, "tensors", ts);
    json_t *md = json_object();
    for (uint32_t i = 0; i < m->n_kv; i++) json_object_set_new(md, m->kv[i].key, value_json(&m->kv[i].value));
    json_object_set_new(root, "metadata", md);
    int rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    fputc('\n', out);
    json_decref(root);
    if (rc != 0) return slm_diag_set(d, SLM_ERR_IO, "cannot write JSON output");
    return SLM_OK;
}

static void human_bytes(uint64_t b, char *buf, size_t size) {
    if (b >= (1ull << 30)) snprintf(buf, size, "%.2f GiB", b / 1073741824.0);
    else if (b >= (1ull << 20)) snprintf(buf, size, "%.2f MiB", b / 1048576.0);
    else if (b >= 1024) snprintf(buf, size, "%.1f KiB", b / 1024.0);
    else snprintf(buf, size, "%" PRIu64 " B", b);
}

slm_status slm_model_describe(const slm_model *m, FILE *out, const slm_describe_opts *o, slm_diag *d) {
    slm_describe_opts def = {0};
    if (!o) o = &def;
    if (o->json) return describe_json(m, out, o, d);
    const slm_hparams *hp = &m->hp;
    uint64_t params, bytes;
    totals(m, &params, &bytes);
    char hb[32];
    human_bytes(bytes, hb, sizeof hb);
    fprintf(out, "model:        %s (%s)\n", o->path ? o->path : "-", m->source_format ? m->source_format : "?");
    fprintf(out, "architecture: %s\n", hp->arch[0] ? hp->arch : "(none)");
    fprintf(out, "  context %u, embedding %u, ffn %u, layers %u, heads %u, kv heads %u, head dim %u\n", hp->n_ctx,
            hp->n_embd, hp->n_ff, hp->n_layer, hp->n_head,
            (hp->has & SLM_HP_HEAD_COUNT_KV) ? hp->n_head_kv : hp->n_head, slm_hparams_head_dim(hp));
    fprintf(out, "  rope dims %u, rope base %g, rope scaling %s, rms eps %g\n",
            (hp->has & SLM_HP_ROPE_DIM) ? hp->n_rot : slm_hparams_head_dim(hp),
            (hp->has & SLM_HP_ROPE_FREQ_BASE) ? hp->rope_freq_base : 10000.0, rope_scaling_name(hp->rope_scaling),
            hp->rms_eps);
    const slm_tokenizer *tk = &m->tok;
    if (tk->n_tokens) {
        fprintf(out, "tokenizer:    %s (%s%s%s), %u tokens, %u merges, bos %lld, eos %lld, unk %lld, add_bos %s\n",
                tk->model_name ? tk->model_name : "?", tok_kind_name(tk->kind), tk->pre ? ", pre " : "",
                tk->pre ? tk->pre : "", tk->n_tokens, tk->n_merges, (long long)tk->bos_id, (long long)tk->eos_id,
                (long long)tk->unk_id, tk->add_bos < 0 ? "default" : tk->add_bos ? "yes" : "no");
    } else {
        fprintf(out, "tokenizer:    none\n");
    }
    fprintf(out, "tensors:      %u, %.3fM parameters, %s\n", m->n_tensors, params / 1e6, hb);
    fprintf(out, "  %-40s %-7s %-22s %12s\n", "name", "type", "shape", "bytes");
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        const slm_tensor *t = &m->tensors[i];
        char sh[64];
        shape_format(t, sh, sizeof sh);
        fprintf(out, "  %-40s %-7s %-22s %12zu\n", t->name, slm_type_name(t->type), sh, t->nbytes);
    }
    if (m->n_kv) {
        fprintf(out, "metadata:\n");
        for (uint32_t i = 0; i < m->n_kv; i++) {
            char vb[512];
            slm_value_format(&m->kv[i].value, vb, sizeof vb);
            fprintf(out, "  %-40s %s\n", m->kv[i].key, vb);
        }
    }
    if (ferror(out)) return slm_diag_set(d, SLM_ERR_IO, "cannot write output");
    return SLM_OK;
}
