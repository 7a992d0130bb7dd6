/* slm_lora_peft.c - PEFT LoRA adapters: adapter_config.json and
 * adapter_model.safetensors as peft's save_pretrained writes them.
 *
 * Names: "base_model.model.<module>.lora_A.weight" / ".lora_B.weight" for
 * linear layers (A: r x in, B: out x r), ".lora_embedding_A" (r x vocab) /
 * ".lora_embedding_B" (embd x r) for embeddings, and for modules_to_save the
 * module's whole weight, "<module>.weight" (peft strips
 * ".modules_to_save.default" when saving; the long form is accepted too).
 * <module> + ".weight" is a Hugging Face tensor name that slm_hf_names.c maps
 * to llama.cpp's.
 *
 * Scale per module: lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora,
 * where r and alpha come from rank_pattern / alpha_pattern when a key matches
 * the module name as peft matches it (re.match(r"(.*\.)?(KEY)$", module);
 * the keys are run as POSIX extended regexes with \d \w \s translated).
 * fan_in_fan_out only says the *base* layer stores its weight transposed
 * (GPT-2's Conv1D); lora_A/lora_B have the same shapes either way and the
 * update in (out, in) orientation, which is the IR's, is B·A, so it changes
 * nothing here. */
#include <jansson.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slm_hf.h"
#include "slm_json.h"
#include "slm_lora_int.h"
#include "slm_safetensors.h"

typedef struct peft_config {
    int r;
    double alpha;
    bool rslora;
    json_t *target_modules; /* borrowed from root: string, array or NULL */
    json_t *rank_pattern, *alpha_pattern, *modules_to_save;
} peft_config;

/* One module's tensors as found in the file. */
typedef struct peft_module {
    char *module;   /* "model.layers.0.self_attn.q_proj" */
    char gguf[SLM_MAX_NAME];
    int permute;    /* slm_hf_name_to_gguf's: 1 Q, 2 K */
    bool embedding; /* lora_embedding_A/B */
    const slm_st_entry *a, *b;
} peft_module;



/* ------------------------------------------------------------ patterns */

/* Python regex -> POSIX ERE for the escapes peft users write. */
static char *posix_regex(const char *py, const char *prefix, const char *suffix) {
    size_t n = strlen(py);
    char *out = malloc(strlen(prefix) + 16 * n + strlen(suffix) + 1);
    if (!out) return NULL;
    char *o = out + sprintf(out, "%s", prefix);
    for (size_t i = 0; i < n; i++) {
        if (py[i] == '\\' && i + 1 < n && strchr("dwsDWS", py[i + 1])) {
            const char *rep = py[i + 1] == 'd'   ? "[0-9]"
                              : py[i + 1] == 'w' ? "[A-Za-z0-9_]"
                              : py[i + 1] == 's' ? "[[:space:]]"
                              : py[i + 1] == 'D' ? "[^0-9]"
                              : py[i + 1] == 'W' ? "[^A-Za-z0-9_]"
                                                 : "[^[:space:]]";
            o += sprintf(o, "%s", rep);
            i++;
        } else {
            *o++ = py[i];
        }
    }
    strcpy(o, suffix);
    return out;
}

/* Whether `text` matches the Python regex `py` wrapped in prefix/suffix;
 * -1 with an error when the pattern does not compile. */
static int regex_matches(const char *py, const char *prefix, const char *suffix, const char *text, const char *what,
                         slm_diag *d) {
    char *pat = posix_regex(py, prefix, suffix);
    if (!pat) {
        slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        return -1;
    }
    regex_t re;
    int rc = regcomp(&re, pat, REG_EXTENDED | REG_NOSUB);
    free(pat);
    if (rc != 0) {
        slm_diag_set(d, SLM_ERR_INPUT, "%s: pattern '%s' is not a regular expression slmc understands", what, py);
        return -1;
    }
    int m = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return m;
}

/* peft's get_pattern_key: the first key of `pattern` (an object) matching
 * the module, or NULL. *err set on a bad pattern. */
static json_t *pattern_value(json_t *pattern, const char *module, const char *what, bool *err, slm_diag *d) {
    if (!pattern || !json_is_object(pattern)) return NULL;
    const char *key;
    json_t *v;
    json_object_foreach(pattern, key, v) {
        int m = regex_matches(key, "^(.*\\.)?(", ")$", module, what, d);
        if (m < 0) {
            *err = true;
            return NULL;
        }
        if (m) return v;
    }
    return NULL;
}

/* peft's check_target_module_exists: a string is a full-match regex, a list
 * holds names equal to the module or to its last dotted components. */
static int target_matches(const json_t *tm, const char *module, const char *cfg, slm_diag *d) {
    if (!tm || json_is_null(tm)) return 1;
    if (json_is_string(tm)) {
        const char *s = json_string_value(tm);
        if (strcmp(s, "all-linear") == 0) return 1;
        return regex_matches(s, "^(", ")$", module, cfg, d);
    }
    size_t i;
    json_t *v;
    json_array_foreach(tm, i, v) {
        const char *s = json_string_value(v);
        size_t ml = strlen(module), sl = strlen(s);
        if (strcmp(module, s) == 0 || (ml > sl && module[ml - sl - 1] == '.' && strcmp(module + ml - sl, s) == 0))
            return 1;
    }
    return 0;
}

/* peft's modules_to_save test: the module name ends with an entry. */
static bool to_save(const json_t *mts, const char *module) {
    size_t i;
    json_t *v;
    json_array_foreach(mts, i, v) if (json_is_string(v) && slm_path_has_suffix(module, json_string_value(v))) return true;
    return false;
}

/* ------------------------------------------------------------- config */

static slm_status parse_config(json_t *root, const char *cfg, peft_config *c, slm_diag *d) {
    memset(c, 0, sizeof *c);
    c->r = 8; /* peft's LoraConfig defaults */
    c->alpha = 8;
    json_t *v = json_object_get(root, "peft_type");
    if (v && (!json_is_string(v) || strcmp(json_string_value(v), "LORA") != 0))
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: peft_type is %s%s, only LORA adapters are supported", cfg,
                            json_is_string(v) ? "" : slm_json_kind(v), json_is_string(v) ? json_string_value(v) : "");
    v = json_object_get(root, "use_dora");
    if (v && json_is_true(v))
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: use_dora is true: DoRA is not supported", cfg);
    if ((v = json_object_get(root, "r"))) {
        if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > (1 << 20))
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: key 'r' is %s, expected a positive integer", cfg,
                                slm_json_kind(v));
        c->r = (int)json_integer_value(v);
    }
    if ((v = json_object_get(root, "lora_alpha"))) {
        if (!json_is_number(v))
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: key 'lora_alpha' is %s, expected a number", cfg,
                                slm_json_kind(v));
        c->alpha = json_number_value(v);
    }
    static const char *const bools[] = {"use_rslora", "fan_in_fan_out"};
    for (int i = 0; i < 2; i++) {
        v = json_object_get(root, bools[i]);
        if (v && !json_is_boolean(v) && !json_is_null(v))
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: key '%s' is %s, expected true or false", cfg, bools[i],
                                slm_json_kind(v));
    }
    c->rslora = json_is_true(json_object_get(root, "use_rslora"));
    c->target_modules = json_object_get(root, "target_modules");
    if (c->target_modules && !json_is_null(c->target_modules) && !json_is_string(c->target_modules)) {
        size_t i;
        json_t *e;
        bool ok = json_is_array(c->target_modules);
        json_array_foreach(c->target_modules, i, e) ok = ok && json_is_string(e);
        if (!ok)
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: key 'target_modules' is %s, expected a string or an array of "
                                "strings", cfg, slm_json_kind(c->target_modules));
    }
    static const char *const pats[] = {"rank_pattern", "alpha_pattern"};
    for (int i = 0; i < 2; i++) {
        v = json_object_get(root, pats[i]);
        if (!v || json_is_null(v)) continue;
        if (!json_is_object(v))
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: key '%s' is %s, expected an object of module pattern -> "
                                "number", cfg, pats[i], slm_json_kind(v));
        const char *key;
        json_t *e;
        json_object_foreach(v, key, e) {
            bool ok = i == 0 ? json_is_integer(e) && json_integer_value(e) > 0 : json_is_number(e);
            if (!ok)
                return slm_diag_set(d, SLM_ERR_INPUT, "%s: %s['%s'] is %s, expected a %s", cfg, pats[i], key,
                                    slm_json_kind(e), i == 0 ? "positive integer" : "number");
        }
        if (i == 0) c->rank_pattern = v;
        else c->alpha_pattern = v;
    }
    v = json_object_get(root, "modules_to_save");
    if (v && !json_is_null(v)) {
        size_t i;
        json_t *e;
        bool ok = json_is_array(v);
        json_array_foreach(v, i, e) ok = ok && json_is_string(e);
        if (!ok)
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: key 'modules_to_save' is %s, expected an array of module "
                                "names", cfg, slm_json_kind(v));
        c->modules_to_save = v;
    }
    return SLM_OK;
}

/* ------------------------------------------------------------ tensors */

/* Suffixes after the module name; `part` 'A'/'B' for the LoRA halves, 'F'
 * for a modules_to_save weight, 'M' DoRA, 'b' LoRA bias. */
typedef struct suffix_kind {
    const char *suffix;
    char part;
    bool embedding;
} suffix_kind;

static const suffix_kind suffixes[] = {
    {".lora_A.weight", 'A', false},          {".lora_B.weight", 'B', false},
    {".lora_A.default.weight", 'A', false},  {".lora_B.default.weight", 'B', false},
    {".lora_embedding_A", 'A', true},        {".lora_embedding_B", 'B', true},
    {".lora_embedding_A.default", 'A', true}, {".lora_embedding_B.default", 'B', true},
    {".lora_magnitude_vector", 'M', false},  {".lora_magnitude_vector.weight", 'M', false},
    {".lora_magnitude_vector.default.weight", 'M', false},
    {".lora_B.bias", 'b', false},            {".lora_B.default.bias", 'b', false},
    {".modules_to_save.default.weight", 'F', false},
};

static peft_module *module_get(peft_module **mods, size_t *n, const char *module, slm_diag *d) {
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*mods)[i].module, module) == 0) return &(*mods)[i];
    peft_module *m = realloc(*mods, (*n + 1) * sizeof *m);
    if (!m) {
        slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    *mods = m;
    memset(&m[*n], 0, sizeof *m);
    if (!(m[*n].module = strdup(module))) {
        slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return &m[(*n)++];
}

/* The llama.cpp name of `module`'s weight, or an error naming the tensor. */
static slm_status module_gguf(const char *st_path, const char *tensor, const char *module, char out[SLM_MAX_NAME],
                              int *permute, slm_diag *d) {
    char hf[512];
    if ((size_t)snprintf(hf, sizeof hf, "%s.weight", module) >= sizeof hf || !slm_hf_name_to_gguf(hf, out, permute))
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor %s: module '%s' is not a llama weight slmc knows (expected "
                            "e.g. model.layers.N.self_attn.q_proj, mlp.down_proj, model.embed_tokens, lm_head)",
                            st_path, tensor, module);
    return SLM_OK;
}

static slm_status classify(const slm_st_file *f, const char *st_path, const peft_config *c, peft_module **mods,
                           size_t *n_mods, slm_lora_adapter *a, slm_diag *d) {
    for (uint32_t i = 0; i < f->n; i++) {
        const slm_st_entry *e = &f->entries[i];
        const char *name = e->name;
        const char *rest = strncmp(name, "base_model.model.", 17) == 0 ? name + 17 : name;
        const suffix_kind *k = NULL;
        for (size_t s = 0; s < sizeof suffixes / sizeof *suffixes && !k; s++)
            if (slm_path_has_suffix(rest, suffixes[s].suffix)) k = &suffixes[s];
        char part;
        size_t mlen;
        bool embedding = false;
        if (k) {
            part = k->part;
            embedding = k->embedding;
            mlen = strlen(rest) - strlen(k->suffix);
        } else if (slm_path_has_suffix(rest, ".weight") && c->modules_to_save) {
            part = 'F';
            mlen = strlen(rest) - strlen(".weight");
        } else {
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor %s is neither a LoRA matrix (lora_A/lora_B, "
                                "lora_embedding_A/B) nor a modules_to_save weight", st_path, name);
        }
        if (part == 'M')
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: tensor %s is a DoRA magnitude vector: DoRA is not "
                                "supported", st_path, name);
        if (part == 'b')
            return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: tensor %s: LoRA biases (lora_bias) are not supported",
                                st_path, name);
        char *module = strndup(rest, mlen);
        if (!module) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        if (part == 'F' && !k && !to_save(c->modules_to_save, module)) {
            slm_status st = slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor %s: module '%s' is neither LoRA-adapted nor "
                                         "in modules_to_save", st_path, name, module);
            free(module);
            return st;
        }
        char gguf[SLM_MAX_NAME];
        int permute = 0;
        slm_status st = module_gguf(st_path, name, module, gguf, &permute, d);
        if (st != SLM_OK) {
            free(module);
            return st;
        }
        if (part == 'F') {
            free(module);
            if (e->n_dims != 2)
                return slm_diag_set(d, SLM_ERR_INPUT, "%s: modules_to_save tensor %s has %d dimensions, expected 2",
                                    st_path, name, e->n_dims);
            for (uint32_t j = 0; j < a->n_full; j++)
                if (strcmp(a->full[j].name, gguf) == 0)
                    return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensors %s and %s both replace %s", st_path,
                                        a->full[j].source, name, gguf);
            slm_lora_full *fu = slm_lora_add_full(a);
            if (!fu || !(fu->source = strdup(name))) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
            snprintf(fu->name, sizeof fu->name, "%s", gguf);
            fu->type = e->type;
            fu->ne[0] = e->shape[1];
            fu->ne[1] = e->shape[0];
            fu->data = e->data;
            continue;
        }
        peft_module *m = module_get(mods, n_mods, module, d);
        free(module);
        if (!m) return d ? d->status : SLM_ERR_NOMEM;
        const slm_st_entry **slot = part == 'A' ? &m->a : &m->b;
        if (*slot || (m->a || m->b ? m->embedding != embedding : false))
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor %s: module '%s' has more than one lora_%c", st_path,
                                name, m->module, part);
        *slot = e;
        m->embedding = embedding;
        snprintf(m->gguf, sizeof m->gguf, "%s", gguf);
        m->permute = permute;
    }
    return SLM_OK;
}

/* llama.cpp's Q/K permutation of B's rows (formats.md §4.2): GGUF row
 * h*hd + 2i + p takes HF row h*hd + p*hd/2 + i. */
static slm_status permute_b(slm_lora_pair *p, uint32_t heads, const char *st_path, slm_diag *d) {
    if (heads == 0 || p->n_out % (2 * (int64_t)heads) != 0)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: %s: %lld output rows do not split into %u heads of an even size "
                            "(base model head count)", st_path, p->module, (long long)p->n_out, heads);
    const int64_t hd = p->n_out / heads, half = hd / 2, r = p->rank;
    float *out = malloc(sizeof(float) * (size_t)(p->n_out * r));
    if (!out) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < half; i++)
            for (int pp = 0; pp < 2; pp++)
                memcpy(out + (h * hd + 2 * i + pp) * r, p->b + (h * hd + pp * half + i) * r, sizeof(float) * r);
    free(p->b);
    p->b = out;
    return SLM_OK;
}

static slm_status build_pair(slm_lora_adapter *a, const peft_module *m, const peft_config *c, const char *cfg,
                             const char *st_path, const slm_hparams *base, slm_diag *d) {
    if (!m->a || !m->b)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: module '%s' has lora_%c but no lora_%c (both halves of a LoRA "
                            "pair are required)", st_path, m->module, m->a ? 'A' : 'B', m->a ? 'B' : 'A');
    if (m->a->n_dims != 2 || m->b->n_dims != 2)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: module '%s': lora_A and lora_B must be matrices (%d and %d "
                            "dimensions)", st_path, m->module, m->a->n_dims, m->b->n_dims);
    /* linear: A (r, in), B (out, r); embedding: A (r, vocab), B (embd, r) */
    const int64_t ra = m->a->shape[0], rb = m->b->shape[1];
    if (ra != rb)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: module '%s': lora_A has rank %lld but lora_B has rank %lld "
                            "(shapes [%lld, %lld] and [%lld, %lld])", st_path, m->module, (long long)ra,
                            (long long)rb, (long long)m->a->shape[0], (long long)m->a->shape[1],
                            (long long)m->b->shape[0], (long long)m->b->shape[1]);
    int tm = target_matches(c->target_modules, m->module, cfg, d);
    if (tm < 0) return d ? d->status : SLM_ERR_INPUT;
    if (!tm)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: module '%s' has LoRA tensors but does not match target_modules "
                            "in %s", st_path, m->module, cfg);
    bool err = false;
    json_t *rp = pattern_value(c->rank_pattern, m->module, cfg, &err, d);
    json_t *ap = err ? NULL : pattern_value(c->alpha_pattern, m->module, cfg, &err, d);
    if (err) return d ? d->status : SLM_ERR_INPUT;
    const int64_t r_cfg = rp ? json_integer_value(rp) : c->r;
    if (ra != r_cfg)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: module '%s' has rank %lld in the tensors but %lld in %s (%s)",
                            st_path, m->module, (long long)ra, (long long)r_cfg, cfg, rp ? "rank_pattern" : "r");
    slm_lora_pair *p = slm_lora_add_pair(a);
    if (!p || !(p->module = strdup(m->module))) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    snprintf(p->name, sizeof p->name, "%s", m->gguf);
    p->rank = (int)ra;
    p->alpha = ap ? json_number_value(ap) : c->alpha;
    p->scale = c->rslora ? p->alpha / sqrt((double)ra) : p->alpha / (double)ra;
    const int64_t a_cols = m->a->shape[1], b_rows = m->b->shape[0];
    p->a = malloc(sizeof(float) * (size_t)(ra * a_cols > 0 ? ra * a_cols : 1));
    p->b = malloc(sizeof(float) * (size_t)(b_rows * ra > 0 ? b_rows * ra : 1));
    if (!p->a || !p->b) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for module '%s'", m->module);
    slm_status st = slm_lora_decode(m->a->type, m->a->data, ra, a_cols, p->a, m->a->name, d);
    if (st == SLM_OK) st = slm_lora_decode(m->b->type, m->b->data, b_rows, ra, p->b, m->b->name, d);
    if (st != SLM_OK) return st;
    if (!m->embedding) {
        p->n_in = a_cols;
        p->n_out = b_rows;
    } else {
        /* ΔW (vocab x embd) = (B·A)ᵀ = Aᵀ·Bᵀ: in B·A form, B = Aᵀ, A = Bᵀ */
        p->n_out = a_cols;
        p->n_in = b_rows;
        float *t = p->a;
        p->a = p->b;
        p->b = t;
        if ((st = slm_lora_transpose(&p->a, p->n_in, ra, d)) != SLM_OK) return st;
        if ((st = slm_lora_transpose(&p->b, ra, p->n_out, d)) != SLM_OK) return st;
    }
    if (m->permute) {
        if (!base)
            return slm_diag_set(d, SLM_ERR_USAGE, "%s: module '%s' needs the base model's head counts for llama.cpp's "
                                "Q/K row order (read the adapter with the base model's hparams)", st_path, m->module);
        /* only the architectures llama.cpp converts with the permutation */
        if (!base->arch[0] || strcmp(base->arch, "llama") == 0 || strcmp(base->arch, "granite") == 0) {
            uint32_t heads = m->permute == 1 ? base->n_head : (base->n_head_kv ? base->n_head_kv : base->n_head);
            if ((st = permute_b(p, heads, st_path, d)) != SLM_OK) return st;
        }
    }
    return SLM_OK;
}

slm_status slm_lora_read_peft(slm_lora_adapter *a, const char *path, const slm_hparams *base, slm_diag *d) {
    char *dir = slm_path_is_dir(path) ? strdup(path) : slm_path_dir(path);
    if (!dir) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    char *cfg = slm_path_join(dir, "adapter_config.json");
    char *stp = slm_path_has_suffix(path, ".safetensors") ? strdup(path) : slm_path_join(dir, "adapter_model.safetensors");
    char *text = NULL;
    size_t len = 0;
    json_t *root = NULL;
    peft_module *mods = NULL;
    size_t n_mods = 0;
    peft_config c;
    slm_status st = SLM_OK;
    if (!cfg || !stp) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    else if (!slm_path_exists(cfg))
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s: not a LoRA adapter: no adapter_config.json (PEFT) in %s, and not a "
                          "GGUF file", path, dir);
    if (st == SLM_OK) st = slm_file_read_all(cfg, &text, &len, d);
    if (st == SLM_OK) st = slm_json_load_object(text, len, cfg, &root, d);
    if (st == SLM_OK) st = parse_config(root, cfg, &c, d);
    if (st == SLM_OK && !slm_path_exists(stp)) {
        char *bin = slm_path_join(dir, "adapter_model.bin");
        st = bin && slm_path_exists(bin)
                 ? slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: PyTorch pickles are not read; save the adapter with "
                                "safe_serialization=True (adapter_model.safetensors)", bin)
                 : slm_diag_set(d, SLM_ERR_IO, "%s: missing (the adapter's weights beside %s)", stp, cfg);
        free(bin);
    }
    slm_st_file *f = NULL;
    if (st == SLM_OK) {
        if (!(f = calloc(1, sizeof *f))) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        else if ((st = slm_st_open(stp, f, d)) != SLM_OK) {
            free(f);
            f = NULL;
        }
        a->priv = f;
    }
    if (st == SLM_OK) st = classify(f, stp, &c, &mods, &n_mods, a, d);
    for (size_t i = 0; st == SLM_OK && i < n_mods; i++) st = build_pair(a, &mods[i], &c, cfg, stp, base, d);
    if (st == SLM_OK && a->n_pairs == 0 && a->n_full == 0)
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s: no LoRA tensors", stp);
    for (size_t i = 0; i < n_mods; i++) free(mods[i].module);
    free(mods);
    json_decref(root);
    free(text);
    free(cfg);
    free(stp);
    free(dir);
    return st;
}
