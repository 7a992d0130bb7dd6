/* slm_hf_config.c - Hugging Face config.json <-> slm_hparams for the llama
 * family, following what llama.cpp's convert_hf_to_gguf.py writes for
 * LlamaForCausalLM / MistralForCausalLM (formats.md §3-4). Llama-3 style rope
 * scaling becomes the rope_freqs.weight tensor, as the converter makes it. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slm_json.h"
#include "slm_hf.h"


/* Optional keys may also be null: transformers writes null for unset ones. */
static json_t *get_opt(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

/* Reads obj[key] as an integer in [min, max]. `label` names the key in
 * errors (e.g. "rope_scaling.factor"). Absent optional keys leave *out. */
static slm_status get_u32(json_t *obj, const char *key, const char *label, bool required, uint32_t min, uint32_t max,
                          uint32_t *out, bool *present, const char *what, slm_diag *d) {
    json_t *v = get_opt(obj, key);
    if (present) *present = v != NULL;
    if (!v) {
        if (!required) return SLM_OK;
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: key '%s' missing, expected an integer", what, label);
    }
    if (!json_is_integer(v))
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: key '%s' is %s, expected an integer", what, label, slm_json_kind(v));
    json_int_t x = json_integer_value(v);
    if (x < (json_int_t)min || x > (json_int_t)max)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: key '%s' is %lld, expected an integer from %u to %u", what, label,
                            (long long)x, min, max);
    *out = (uint32_t)x;
    return SLM_OK;
}

/* Reads obj[key] as a positive finite number (integers accepted). */
static slm_status get_pos_real(json_t *obj, const char *key, const char *label, bool required, float *out,
                               bool *present, const char *what, slm_diag *d) {
    json_t *v = get_opt(obj, key);
    if (present) *present = v != NULL;
    if (!v) {
        if (!required) return SLM_OK;
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: key '%s' missing, expected a number", what, label);
    }
    if (!json_is_number(v))
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: key '%s' is %s, expected a number", what, label, slm_json_kind(v));
    double x = json_number_value(v);
    if (!(x > 0) || !isfinite((float)x))
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: key '%s' is %g, expected a positive number", what, label, x);
    *out = (float)x;
    return SLM_OK;
}

/* rope_freqs.weight for rope_type "llama3": per-frequency divisors, computed
 * in float32 like convert_hf_to_gguf.py (LlamaModel.generate_extra_tensors). */
static slm_status add_llama3_rope_freqs(slm_model *m, json_t *rs, uint32_t hd, const char *what, slm_diag *d) {
    float factor = 8.0f, low = 1.0f, high = 4.0f;
    uint32_t old_ctx = 8192;
    slm_status st = get_pos_real(rs, "factor", "rope_scaling.factor", false, &factor, NULL, what, d);
    if (st == SLM_OK) st = get_pos_real(rs, "low_freq_factor", "rope_scaling.low_freq_factor", false, &low, NULL, what, d);
    if (st == SLM_OK)
        st = get_pos_real(rs, "high_freq_factor", "rope_scaling.high_freq_factor", false, &high, NULL, what, d);
    if (st == SLM_OK)
        st = get_u32(rs, "original_max_position_embeddings", "rope_scaling.original_max_position_embeddings", false,
                     1, UINT32_MAX, &old_ctx, NULL, what, d);
    if (st != SLM_OK) return st;
    if (low == high)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: rope_scaling low_freq_factor equals high_freq_factor (%g)", what,
                            (double)low);
    if (hd < 2 || hd % 2)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: head size %u must be even for llama3 rope scaling", what, hd);
    int64_t n = hd / 2;
    float *f = malloc((size_t)n * sizeof *f);
    if (!f) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", what);
    float base = m->hp.rope_freq_base;
    float low_wavelen = (float)old_ctx / low, high_wavelen = (float)old_ctx / high;
    for (int64_t i = 0; i < n; i++) {
        float freq = 1.0f / powf(base, (float)(2 * i) / (float)hd);
        float wavelen = 2.0f * 3.14159265358979323846f / freq;
        if (wavelen < high_wavelen) {
            f[i] = 1.0f;
        } else if (wavelen > low_wavelen) {
            f[i] = factor;
        } else {
            float smooth = ((float)old_ctx / wavelen - low) / (high - low);
            f[i] = 1.0f / ((1.0f - smooth) / factor + smooth);
        }
    }
    slm_tensor *t;
    st = slm_model_add_tensor(m, "rope_freqs.weight", SLM_TYPE_F32, 1, &n, &t, d);
    if (st == SLM_OK) return slm_tensor_set_owned(t, SLM_TYPE_F32, f, d);
    free(f);
    return st;
}

static slm_status parse_rope_scaling(slm_model *m, json_t *root, uint32_t hd, const char *what, slm_diag *d) {
    json_t *rs = get_opt(root, "rope_scaling");
    if (!rs) return SLM_OK;
    if (!json_is_object(rs))
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: key 'rope_scaling' is %s, expected an object or null", what,
                            slm_json_kind(rs));
    json_t *ty = get_opt(rs, "rope_type");
    if (!ty) ty = get_opt(rs, "type");
    if (!ty || !json_is_string(ty))
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: key 'rope_scaling.rope_type' is %s, expected a string", what,
                            slm_json_kind(ty));
    const char *type = json_string_value(ty);
    slm_hparams *hp = &m->hp;
    if (strcmp(type, "default") == 0) return SLM_OK;
    if (strcmp(type, "llama3") == 0) return add_llama3_rope_freqs(m, rs, hd, what, d);
    bool yarn = strcmp(type, "yarn") == 0;
    if (!yarn && strcmp(type, "linear") != 0)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                            "%s: rope_scaling type '%.40s' is not supported (supported: linear, yarn, llama3)", what,
                            type);
    slm_status st = get_pos_real(rs, "factor", "rope_scaling.factor", true, &hp->rope_scaling_factor, NULL, what, d);
    if (st != SLM_OK) return st;
    hp->rope_scaling = yarn ? SLM_ROPE_SCALING_YARN : SLM_ROPE_SCALING_LINEAR;
    hp->rope_scaling_orig_ctx = 0;
    if (yarn) {
        st = get_u32(rs, "original_max_position_embeddings", "rope_scaling.original_max_position_embeddings", true, 1,
                     UINT32_MAX, &hp->rope_scaling_orig_ctx, NULL, what, d);
        if (st != SLM_OK) return st;
    }
    hp->has |= SLM_HP_ROPE_SCALING;
    return SLM_OK;
}

static slm_status parse_architecture(slm_model *m, json_t *root, const char *what, slm_diag *d) {
    json_t *a = json_object_get(root, "architectures");
    if (!a) return slm_diag_set(d, SLM_ERR_INPUT, "%s: key 'architectures' missing, expected an array of strings", what);
    json_t *first = json_is_array(a) ? json_array_get(a, 0) : NULL;
    if (!first || !json_is_string(first))
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: key 'architectures' is %s, expected a non-empty array of strings",
                            what, json_is_array(a) ? (first ? "an array of non-strings" : "empty") : slm_json_kind(a));
    const char *arch = json_string_value(first);
    if (strcmp(arch, "LlamaForCausalLM") != 0 && strcmp(arch, "MistralForCausalLM") != 0)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                            "%s: unsupported architecture %.80s (supported: LlamaForCausalLM, MistralForCausalLM)",
                            what, arch);
    snprintf(m->hp.arch, sizeof m->hp.arch, "llama");
    return SLM_OK;
}

static slm_status parse_config(slm_model *m, json_t *root, const char *what, slm_diag *d) {
    slm_status st = parse_architecture(m, root, what, d);
    if (st != SLM_OK) return st;
    slm_hparams *hp = &m->hp;
    const uint32_t big = 1u << 30;
    bool have;
    if ((st = get_u32(root, "hidden_size", "hidden_size", true, 1, big, &hp->n_embd, NULL, what, d)) ||
        (st = get_u32(root, "intermediate_size", "intermediate_size", true, 1, big, &hp->n_ff, NULL, what, d)) ||
        (st = get_u32(root, "num_hidden_layers", "num_hidden_layers", true, 1, 100000, &hp->n_layer, NULL, what, d)) ||
        (st = get_u32(root, "num_attention_heads", "num_attention_heads", true, 1, 1u << 20, &hp->n_head, NULL, what,
                      d)) ||
        (st = get_u32(root, "max_position_embeddings", "max_position_embeddings", true, 1, UINT32_MAX, &hp->n_ctx,
                      NULL, what, d)))
        return st;
    hp->n_head_kv = hp->n_head;
    if ((st = get_u32(root, "num_key_value_heads", "num_key_value_heads", false, 1, hp->n_head, &hp->n_head_kv, NULL,
                      what, d)))
        return st;
    if (hp->n_head % hp->n_head_kv != 0)
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s: num_attention_heads (%u) must be a multiple of num_key_value_heads (%u)", what,
                            hp->n_head, hp->n_head_kv);
    hp->has |= SLM_HP_HEAD_COUNT_KV;

    uint32_t head_dim = 0;
    if ((st = get_u32(root, "head_dim", "head_dim", false, 1, big, &head_dim, &have, what, d))) return st;
    if (!have) {
        if (hp->n_embd % hp->n_head != 0)
            return slm_diag_set(d, SLM_ERR_INPUT,
                                "%s: hidden_size (%u) is not a multiple of num_attention_heads (%u) and there is no "
                                "head_dim",
                                what, hp->n_embd, hp->n_head);
        head_dim = hp->n_embd / hp->n_head;
    } else if (hp->n_embd % hp->n_head != 0 || head_dim != hp->n_embd / hp->n_head) {
        hp->key_length = hp->value_length = head_dim;
        hp->has |= SLM_HP_KEY_LENGTH | SLM_HP_VALUE_LENGTH;
    }
    hp->n_rot = head_dim;
    hp->has |= SLM_HP_ROPE_DIM;

    hp->rms_eps = 1e-6f; /* transformers' LlamaConfig default */
    if ((st = get_pos_real(root, "rms_norm_eps", "rms_norm_eps", false, &hp->rms_eps, NULL, what, d))) return st;
    hp->has |= SLM_HP_RMS_EPS;
    hp->rope_freq_base = 10000.0f;
    if ((st = get_pos_real(root, "rope_theta", "rope_theta", false, &hp->rope_freq_base, &have, what, d))) return st;
    if (have) hp->has |= SLM_HP_ROPE_FREQ_BASE;
    if ((st = get_u32(root, "vocab_size", "vocab_size", false, 1, UINT32_MAX, &hp->n_vocab, &have, what, d)))
        return st;
    if (have) hp->has |= SLM_HP_VOCAB_SIZE;
    json_t *tie = get_opt(root, "tie_word_embeddings");
    if (tie && !json_is_boolean(tie))
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: key 'tie_word_embeddings' is %s, expected a boolean", what,
                            slm_json_kind(tie));
    return parse_rope_scaling(m, root, head_dim, what, d);
}

slm_status slm_hf_config_parse(slm_model *m, const char *json, size_t len, const char *what, slm_diag *d) {
    json_t *root;
    slm_status st = slm_json_load_object(json, len, what, &root, d);
    if (st != SLM_OK) return st;
    st = parse_config(m, root, what, d);
    json_decref(root);
    return st;
}

/* ---------------------------------------------------------------- write */

/* The shortest decimal that reads back as the same float, so config.json
 * shows 1e-05 rather than 9.99999975e-06. */
static json_t *json_float(float f) {
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f) break;
    }
    return json_real(strtod(buf, NULL));
}

static const char *torch_dtype_name(slm_type t) {
    switch (t) {
    case SLM_TYPE_F16: return "float16";
    case SLM_TYPE_BF16: return "bfloat16";
    default: return "float32";
    }
}

/* The dtype holding most of the weights. */
static slm_type dominant_out_type(const slm_model *m) {
    int64_t count[3] = {0, 0, 0}; /* f32, f16, bf16 */
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        slm_type t = m->tensors[i].out_type;
        int k = t == SLM_TYPE_F16 ? 1 : t == SLM_TYPE_BF16 ? 2 : 0;
        count[k] += slm_tensor_nelements(&m->tensors[i]);
    }
    if (count[2] > count[0] && count[2] >= count[1]) return SLM_TYPE_BF16;
    if (count[1] > count[0]) return SLM_TYPE_F16;
    return SLM_TYPE_F32;
}

static bool any_tensor_with_suffix(const slm_model *m, const char *suffix) {
    size_t sl = strlen(suffix);
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        size_t nl = strlen(m->tensors[i].name);
        if (nl >= sl && strcmp(m->tensors[i].name + nl - sl, suffix) == 0) return true;
    }
    return false;
}

static slm_status build_config(const slm_model *m, json_t *o, slm_diag *d) {
    const slm_hparams *hp = &m->hp;
    if (strcmp(hp->arch, "llama") != 0)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                            "architecture '%s' cannot be written as a Hugging Face model (supported: llama)",
                            hp->arch);
    if (!hp->n_embd || !hp->n_head || !hp->n_layer || !hp->n_ff)
        return slm_diag_set(d, SLM_ERR_INPUT, "model lacks embedding/feed-forward size, layer or head count");
    if (slm_model_find_tensor(m, "rope_freqs.weight"))
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                            "rope_freqs.weight (llama3 rope scaling) cannot be expressed in config.json");
    if (hp->rope_scaling == SLM_ROPE_SCALING_LONGROPE)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "longrope scaling is not supported for llama");
    const slm_tensor *embd = slm_model_find_tensor(m, "token_embd.weight");
    uint32_t n_vocab = (hp->has & SLM_HP_VOCAB_SIZE) ? hp->n_vocab
                       : embd && embd->n_dims >= 2 ? (uint32_t)embd->ne[1]
                                                   : m->tok.n_tokens;
    uint32_t n_kv = (hp->has & SLM_HP_HEAD_COUNT_KV) && hp->n_head_kv ? hp->n_head_kv : hp->n_head;
    int rc = 0;
    rc |= json_object_set_new(o, "architectures", json_pack("[s]", "LlamaForCausalLM"));
    rc |= json_object_set_new(o, "model_type", json_string("llama"));
    rc |= json_object_set_new(o, "hidden_size", json_integer(hp->n_embd));
    rc |= json_object_set_new(o, "intermediate_size", json_integer(hp->n_ff));
    rc |= json_object_set_new(o, "num_hidden_layers", json_integer(hp->n_layer));
    rc |= json_object_set_new(o, "num_attention_heads", json_integer(hp->n_head));
    rc |= json_object_set_new(o, "num_key_value_heads", json_integer(n_kv));
    if (hp->has & SLM_HP_KEY_LENGTH) rc |= json_object_set_new(o, "head_dim", json_integer(hp->key_length));
    rc |= json_object_set_new(o, "max_position_embeddings", json_integer(hp->n_ctx));
    rc |= json_object_set_new(o, "rms_norm_eps", json_float((hp->has & SLM_HP_RMS_EPS) ? hp->rms_eps : 1e-5f));
    rc |= json_object_set_new(
        o, "rope_theta", json_float((hp->has & SLM_HP_ROPE_FREQ_BASE) ? hp->rope_freq_base : 10000.0f));
    if ((hp->has & SLM_HP_ROPE_SCALING) && hp->rope_scaling == SLM_ROPE_SCALING_LINEAR)
        rc |= json_object_set_new(o, "rope_scaling",
                                  json_pack("{s:s, s:o}", "rope_type", "linear", "factor",
                                            json_float(hp->rope_scaling_factor)));
    else if ((hp->has & SLM_HP_ROPE_SCALING) && hp->rope_scaling == SLM_ROPE_SCALING_YARN)
        rc |= json_object_set_new(o, "rope_scaling",
                                  json_pack("{s:s, s:o, s:I}", "rope_type", "yarn", "factor",
                                            json_float(hp->rope_scaling_factor), "original_max_position_embeddings",
                                            (json_int_t)hp->rope_scaling_orig_ctx));
    rc |= json_object_set_new(o, "vocab_size", json_integer(n_vocab));
    rc |= json_object_set_new(o, "hidden_act", json_string("silu"));
    rc |= json_object_set_new(o, "attention_bias", json_boolean(any_tensor_with_suffix(m, ".attn_q.bias")));
    rc |= json_object_set_new(o, "mlp_bias", json_boolean(any_tensor_with_suffix(m, ".ffn_up.bias")));
    rc |= json_object_set_new(o, "tie_word_embeddings", json_boolean(!slm_model_find_tensor(m, "output.weight")));
    rc |= json_object_set_new(o, "torch_dtype", json_string(torch_dtype_name(dominant_out_type(m))));
    if (m->tok.bos_id >= 0) rc |= json_object_set_new(o, "bos_token_id", json_integer(m->tok.bos_id));
    if (m->tok.eos_id >= 0) rc |= json_object_set_new(o, "eos_token_id", json_integer(m->tok.eos_id));
    if (rc) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    return SLM_OK;
}

slm_status slm_hf_config_write(const slm_model *m, const char *dir, slm_diag *d) {
    char *path = slm_path_join(dir, "config.json");
    if (!path) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    json_t *o = json_object();
    slm_status st = o ? build_config(m, o, d) : slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    char *text = NULL;
    if (st == SLM_OK) {
        /* 9 significant digits print every float-derived value exactly. */
        text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        if (!text) st = slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory", path);
    }
    json_decref(o);
    slm_outfile f;
    if (st == SLM_OK && (st = slm_outfile_open(&f, path, d)) == SLM_OK) {
        slm_outfile_write(&f, text, strlen(text), d);
        slm_outfile_write(&f, "\n", 1, d);
        st = slm_outfile_commit(&f, d);
    }
    if (st != SLM_OK) slm_diag_prefix(d, path);
    free(text);
    free(path);
    return st;
}
