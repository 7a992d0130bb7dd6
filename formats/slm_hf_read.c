/* slm_hf_read.c - reads a Hugging Face llama folder (config.json, one
 * model.safetensors or shards listed in model.safetensors.index.json,
 * tokenizer.json + tokenizer_config.json) into the IR. Tensor bytes stay in
 * the shard maps (zero copy); Q/K rows are permuted lazily on acquire. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slm_json.h"
#include "slm_hf.h"
#include "slm_safetensors.h"

/* One safetensors entry on its way into the model. */
typedef struct hf_source {
    const slm_st_entry *e;
    const char *file; /* shard path, for errors */
    char gguf[SLM_MAX_NAME];
} hf_source;

typedef struct hf_reader {
    slm_model *m;
    char *dir;
    slm_st_file *files;
    char **file_paths;
    uint32_t n_files;
    hf_source *src;
    size_t n_src;
} hf_reader;

/* ------------------------------------------------------------ ordering */

static int source_cmp(const void *a, const void *b) {
    const hf_source *x = a, *y = b;
    return slm_tensor_name_order(x->gguf, y->gguf);
}

/* ------------------------------------------------------------- helpers */



static slm_status read_text(slm_model *m, const char *path, char **text, size_t *len, slm_diag *d) {
    slm_status st = slm_file_read_all(path, text, len, d);
    if (st != SLM_OK) return st;
    if (slm_model_add_input(m, path, NULL, 0) != SLM_OK) {
        free(*text);
        *text = NULL;
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    return SLM_OK;
}

/* general.name from the folder name, as llama.cpp's converter falls back to. */
static slm_status set_name_from_dir(slm_model *m, const char *dir) {
    char *real = realpath(dir, NULL);
    const char *p = real ? real : dir;
    const char *base = strrchr(p, '/');
    base = base ? base + 1 : p;
    slm_status st = SLM_OK;
    if (*base && strcmp(base, ".") != 0 && strcmp(base, "..") != 0) st = slm_model_set_str(m, "general.name", base);
    free(real);
    return st;
}

/* Opens one shard and hands its map to the model (unmapped by model free). */
static slm_status open_shard(hf_reader *r, const char *path, slm_diag *d) {
    slm_st_file *f = &r->files[r->n_files];
    slm_status st = slm_st_open(path, f, d);
    if (st != SLM_OK) return st;
    char *copy = strdup(path);
    if (!copy || slm_model_add_input(r->m, path, (void *)f->map, f->map_size) != SLM_OK) {
        free(copy);
        slm_st_close(f, false);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    r->file_paths[r->n_files++] = copy;
    return SLM_OK;
}

/* ---------------------------------------------------------- weight files */

static slm_status open_single(hf_reader *r, const char *path, slm_diag *d) {
    r->files = calloc(1, sizeof *r->files);
    r->file_paths = calloc(1, sizeof *r->file_paths);
    if (!r->files || !r->file_paths) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    return open_shard(r, path, d);
}

/* Every tensor of every shard must be in the weight map, under that shard;
 * every weight-map entry must then have been found. */
static slm_status check_weight_map(hf_reader *r, json_t *wmap, const char *index_path, const char *const *shard_names,
                                   slm_diag *d) {
    size_t found = 0;
    for (uint32_t i = 0; i < r->n_files; i++) {
        for (uint32_t k = 0; k < r->files[i].n; k++) {
            const char *name = r->files[i].entries[k].name;
            json_t *v = json_object_get(wmap, name);
            if (!v)
                return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor '%s' is not listed in the weight_map of %s",
                                    r->file_paths[i], name, index_path);
            if (strcmp(json_string_value(v), shard_names[i]) != 0)
                return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor '%s' is in shard %s but the weight_map says %s",
                                    index_path, name, shard_names[i], json_string_value(v));
            found++;
        }
    }
    if (found == json_object_size(wmap)) return SLM_OK;
    const char *key;
    json_t *v;
    json_object_foreach(wmap, key, v) {
        bool present = false;
        for (uint32_t i = 0; i < r->n_files && !present; i++) {
            if (strcmp(json_string_value(v), shard_names[i]) != 0) continue;
            for (uint32_t k = 0; k < r->files[i].n && !present; k++)
                present = strcmp(r->files[i].entries[k].name, key) == 0;
        }
        if (!present)
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: tensor '%s' is missing from shard %s named by the weight_map",
                                index_path, key, json_string_value(v));
    }
    return slm_diag_set(d, SLM_ERR_INTERNAL, "%s: weight_map count mismatch", index_path);
}

static slm_status open_sharded(hf_reader *r, const char *index_path, slm_diag *d) {
    char *text = NULL;
    size_t len = 0;
    slm_status st = read_text(r->m, index_path, &text, &len, d);
    if (st != SLM_OK) return st;
    json_t *root;
    slm_status lst = slm_json_load_object(text, len, index_path, &root, d);
    free(text);
    if (lst != SLM_OK) return lst;
    json_t *wmap = json_object_get(root, "weight_map");
    if (!wmap || !json_is_object(wmap)) {
        json_decref(root);
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: key 'weight_map' missing or not an object, expected tensor name -> "
                            "shard file", index_path);
    }
    /* Distinct shard names in order of first appearance. */
    size_t cap = json_object_size(wmap);
    const char **names = calloc(cap ? cap : 1, sizeof *names);
    r->files = calloc(cap ? cap : 1, sizeof *r->files);
    r->file_paths = calloc(cap ? cap : 1, sizeof *r->file_paths);
    if (!names || !r->files || !r->file_paths) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    size_t n_names = 0;
    const char *key;
    json_t *v;
    json_object_foreach(wmap, key, v) {
        if (st != SLM_OK) break;
        if (!json_is_string(v)) {
            st = slm_diag_set(d, SLM_ERR_INPUT, "%s: weight_map entry '%s' is not a string, expected a shard file name",
                              index_path, key);
            break;
        }
        const char *s = json_string_value(v);
        if (!*s || strchr(s, '/')) {
            st = slm_diag_set(d, SLM_ERR_INPUT,
                              "%s: weight_map entry '%s' names shard '%s', expected a file name in the same folder",
                              index_path, key, s);
            break;
        }
        size_t i = 0;
        while (i < n_names && strcmp(names[i], s) != 0) i++;
        if (i == n_names) names[n_names++] = s;
    }
    for (size_t i = 0; i < n_names && st == SLM_OK; i++) {
        char *p = slm_path_join(r->dir, names[i]);
        if (!p) {
            st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        } else if (!slm_path_exists(p)) {
            st = slm_diag_set(d, SLM_ERR_IO, "%s: shard %s named in %s does not exist", p, names[i], index_path);
        } else {
            st = open_shard(r, p, d);
        }
        free(p);
    }
    if (st == SLM_OK) st = check_weight_map(r, wmap, index_path, names, d);
    free(names);
    json_decref(root);
    return st;
}

/* -------------------------------------------------------------- tensors */

static slm_status collect_sources(hf_reader *r, slm_diag *d) {
    size_t total = 0;
    for (uint32_t i = 0; i < r->n_files; i++) total += r->files[i].n;
    r->src = calloc(total ? total : 1, sizeof *r->src);
    if (!r->src) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < r->n_files; i++) {
        for (uint32_t k = 0; k < r->files[i].n; k++) {
            hf_source *s = &r->src[r->n_src];
            s->e = &r->files[i].entries[k];
            s->file = r->file_paths[i];
            int permute;
            if (!slm_hf_name_to_gguf(s->e->name, s->gguf, &permute)) {
                /* Buffers of the rotary embedding are recomputed, not weights. */
                if (slm_path_has_suffix(s->e->name, "rotary_emb.inv_freq")) continue;
                return slm_diag_set(d, SLM_ERR_UNSUPPORTED,
                                    "%s: no llama.cpp name for tensor '%s' (not part of a llama model)", s->file,
                                    s->e->name);
            }
            r->n_src++;
        }
    }
    qsort(r->src, r->n_src, sizeof *r->src, source_cmp);
    return SLM_OK;
}

static slm_status add_tensors(hf_reader *r, slm_diag *d) {
    for (size_t i = 0; i < r->n_src; i++) {
        const hf_source *s = &r->src[i];
        slm_tensor *t;
        slm_status st = slm_hf_add_tensor(r->m, s->e->name, s->e->type, s->e->n_dims, s->e->shape, s->e->data, NULL,
                                          NULL, 0, &t, d);
        if (st == SLM_OK && (!t || t->nbytes != s->e->nbytes))
            st = slm_diag_set(d, SLM_ERR_INTERNAL, "tensor '%s': size mismatch", s->e->name);
        if (st != SLM_OK) {
            slm_diag_prefix(d, s->file);
            return st;
        }
    }
    return SLM_OK;
}

static slm_status read_tokenizer(hf_reader *r, slm_diag *d) {
    char *tok_path = slm_path_join(r->dir, "tokenizer.json");
    char *cfg_path = slm_path_join(r->dir, "tokenizer_config.json");
    char *tok = NULL, *cfg = NULL;
    size_t tok_len = 0, cfg_len = 0;
    slm_status st = SLM_OK;
    if (!tok_path || !cfg_path) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    if (st == SLM_OK && slm_path_exists(tok_path)) {
        st = read_text(r->m, tok_path, &tok, &tok_len, d);
        if (st == SLM_OK && slm_path_exists(cfg_path)) st = read_text(r->m, cfg_path, &cfg, &cfg_len, d);
        if (st == SLM_OK) st = slm_hf_tokenizer_parse(r->m, tok, tok_len, cfg, cfg_len, tok_path, d);
    }
    free(tok);
    free(cfg);
    free(tok_path);
    free(cfg_path);
    return st;
}

static slm_status read_model(hf_reader *r, const char *path, slm_diag *d) {
    if (!slm_path_exists(path)) return slm_diag_set(d, SLM_ERR_IO, "%s: no such file or directory", path);
    bool is_dir = slm_path_is_dir(path);
    r->dir = is_dir ? strdup(path) : slm_path_dir(path);
    if (!r->dir) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");

    char *cfg_path = slm_path_join(r->dir, "config.json");
    if (!cfg_path) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    char *text = NULL;
    size_t len = 0;
    slm_status st = SLM_OK;
    if (!slm_path_exists(cfg_path))
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s: config.json not found %s %s", cfg_path, is_dir ? "in" : "beside",
                          path);
    if (st == SLM_OK) st = read_text(r->m, cfg_path, &text, &len, d);
    if (st == SLM_OK) st = slm_hf_config_parse(r->m, text, len, cfg_path, d);
    free(text);
    free(cfg_path);
    if (st != SLM_OK) return st;
    if (set_name_from_dir(r->m, r->dir) != SLM_OK) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");

    if (!is_dir) {
        st = slm_path_has_suffix(path, ".index.json") ? open_sharded(r, path, d) : open_single(r, path, d);
    } else {
        char *single = slm_path_join(r->dir, "model.safetensors");
        char *index = slm_path_join(r->dir, "model.safetensors.index.json");
        if (!single || !index)
            st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        else if (slm_path_exists(single)) /* transformers prefers the single file too */
            st = open_single(r, single, d);
        else if (slm_path_exists(index))
            st = open_sharded(r, index, d);
        else
            st = slm_diag_set(d, SLM_ERR_INPUT,
                              "%s: no model.safetensors or model.safetensors.index.json in the folder", path);
        free(single);
        free(index);
    }
    if (st == SLM_OK) st = collect_sources(r, d);
    if (st == SLM_OK) st = add_tensors(r, d);
    if (st == SLM_OK) st = read_tokenizer(r, d);
    if (st == SLM_OK && !(r->m->source_format = slm_model_strdup(r->m, "hf")))
        st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    return st;
}

slm_status slm_hf_read(const char *path, slm_model **out, slm_diag *d) {
    *out = NULL;
    hf_reader r = {0};
    r.m = slm_model_new();
    if (!r.m) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    slm_status st = read_model(&r, path, d);
    /* The maps now belong to the model's input list. */
    for (uint32_t i = 0; i < r.n_files; i++) {
        slm_st_close(&r.files[i], true);
        free(r.file_paths[i]);
    }
    free(r.files);
    free(r.file_paths);
    free(r.src);
    free(r.dir);
    if (st != SLM_OK) {
        slm_model_free(r.m);
        return st;
    }
    *out = r.m;
    return SLM_OK;
}
