/* slmc_recipe.c - see slmc_recipe.h. libyaml builds the document; this
 * file walks it against the registry and keeps each value's position for
 * the messages of later checks. */
#include "slmc_recipe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "slm_file.h"

typedef struct walker {
    const char *path;
    yaml_document_t *doc;
    slm_diag *d;
    slmc_recipe *r;
} walker;

static slm_status fail_at(walker *w, const yaml_node_t *n, const char *fmt, const char *a, const char *b,
                          const char *c) {
    char msg[400];
    snprintf(msg, sizeof msg, fmt, a, b, c);
    return slm_diag_set(w->d, SLM_ERR_INPUT, "%s:%zu:%zu: %s", w->path, n->start_mark.line + 1,
                        n->start_mark.column + 1, msg);
}

static const char *scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(walker *w, int id) { return yaml_document_get_node(w->doc, id); }

static slm_status add_value(walker *w, slmc_recipe_step *s, const slmc_opt_def *o, const yaml_node_t *at,
                            const char *text) {
    slmc_recipe_value *v = realloc(s->values, (size_t)(s->n_values + 1) * sizeof *v);
    if (!v) return slm_diag_set(w->d, SLM_ERR_NOMEM, "out of memory");
    s->values = v;
    v += s->n_values;
    *v = (slmc_recipe_value){o, strdup(text), (int)at->start_mark.line + 1, (int)at->start_mark.column + 1};
    if (!v->text) return slm_diag_set(w->d, SLM_ERR_NOMEM, "out of memory");
    s->n_values++;
    return SLM_OK;
}

/* One adapter: "path[:weight]" or {path: P, weight: W}. */
static slm_status adapter_item(walker *w, slmc_recipe_step *s, const slmc_opt_def *o, yaml_node_t *n) {
    if (scalar(n)) return add_value(w, s, o, n, scalar(n));
    if (n->type != YAML_MAPPING_NODE)
        return fail_at(w, n, "%s.%s: expected PATH[:WEIGHT] or {path: P, weight: W}", s->pass->name, o->key, "");
    const char *path = NULL, *weight = "1";
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(w, p->key), *v = node(w, p->value);
        const char *ks = scalar(k), *vs = scalar(v);
        if (!ks || !vs) return fail_at(w, k, "%s.%s: expected path: and weight: with plain values", s->pass->name,
                                       o->key, "");
        if (!strcmp(ks, "path")) path = vs;
        else if (!strcmp(ks, "weight")) weight = vs;
        else return fail_at(w, k, "%s.%s: unknown key '%s' (expected path, weight)", s->pass->name, o->key, ks);
    }
    if (!path) return fail_at(w, n, "%s.%s: an adapter needs path:", s->pass->name, o->key, "");
    char buf[4096];
    if ((size_t)snprintf(buf, sizeof buf, "%s:%s", path, weight) >= sizeof buf)
        return fail_at(w, n, "%s.%s: path too long", s->pass->name, o->key, "");
    return add_value(w, s, o, n, buf);
}

static slm_status option(walker *w, slmc_recipe_step *s, yaml_node_t *kn, yaml_node_t *vn) {
    const char *key = scalar(kn);
    if (!key) return fail_at(w, kn, "%s: option names are plain words", s->pass->name, "", "");
    const slmc_opt_def *o = slmc_registry_opt(s->pass, key);
    if (!o)
        return fail_at(w, kn, "%s: unknown key '%s' (expected %s)", s->pass->name, key, slmc_registry_keys(s->pass));
    switch (o->kind) {
    case SLMC_OK_SCALAR:
    case SLMC_OK_FLAG:
        if (!scalar(vn)) return fail_at(w, vn, "%s.%s: expected a single value (%s)", s->pass->name, key, o->value);
        if (o->kind == SLMC_OK_FLAG && strcmp(scalar(vn), "true") && strcmp(scalar(vn), "false"))
            return fail_at(w, vn, "%s.%s: expected true or false, got '%s'", s->pass->name, key, scalar(vn));
        return add_value(w, s, o, vn, scalar(vn));
    case SLMC_OK_LIST:
    case SLMC_OK_ADAPTER:
        if (vn->type != YAML_SEQUENCE_NODE)
            return o->kind == SLMC_OK_LIST && scalar(vn) ? add_value(w, s, o, vn, scalar(vn))
                                                         : adapter_item(w, s, o, vn);
        for (yaml_node_item_t *it = vn->data.sequence.items.start; it < vn->data.sequence.items.top; it++) {
            yaml_node_t *item = node(w, *it);
            slm_status st;
            if (o->kind == SLMC_OK_ADAPTER) st = adapter_item(w, s, o, item);
            else if (scalar(item)) st = add_value(w, s, o, item, scalar(item));
            else st = fail_at(w, item, "%s.%s: expected a list of %s", s->pass->name, key, o->value);
            if (st != SLM_OK) return st;
        }
        return SLM_OK;
    case SLMC_OK_MAP:
        if (vn->type != YAML_MAPPING_NODE)
            return fail_at(w, vn, "%s.%s: expected a mapping of %s", s->pass->name, key, o->value);
        for (yaml_node_pair_t *p = vn->data.mapping.pairs.start; p < vn->data.mapping.pairs.top; p++) {
            yaml_node_t *k = node(w, p->key), *v = node(w, p->value);
            if (!scalar(k) || !scalar(v))
                return fail_at(w, k, "%s.%s: expected REGEX: VALUE pairs", s->pass->name, key, "");
            char buf[1024];
            if ((size_t)snprintf(buf, sizeof buf, "%s=%s", scalar(k), scalar(v)) >= sizeof buf)
                return fail_at(w, k, "%s.%s: rule too long", s->pass->name, key, "");
            slm_status st = add_value(w, s, o, v, buf);
            if (st != SLM_OK) return st;
        }
        return SLM_OK;
    }
    return SLM_OK;
}

/* "- name: {options}" or "- name" */
static slm_status step(walker *w, yaml_node_t *n) {
    yaml_node_t *name_node = n, *opts = NULL;
    if (n->type == YAML_MAPPING_NODE) {
        if (n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1)
            return fail_at(w, n, "a step is one pass name with its options, e.g. '- prune: {sparsity: 0.5}'", "", "",
                           "");
        name_node = node(w, n->data.mapping.pairs.start->key);
        opts = node(w, n->data.mapping.pairs.start->value);
    }
    const char *name = scalar(name_node);
    const slmc_pass_def *pass = name ? slmc_registry_pass(name) : NULL;
    if (!pass)
        return fail_at(w, name_node, "unknown step '%s' (expected lora-merge, prune, calibrate, quantize or score)",
                       name ? name : "?", "", "");
    slmc_recipe_step *steps = realloc(w->r->steps, (size_t)(w->r->n_steps + 1) * sizeof *steps);
    if (!steps) return slm_diag_set(w->d, SLM_ERR_NOMEM, "out of memory");
    w->r->steps = steps;
    slmc_recipe_step *s = &steps[w->r->n_steps++];
    *s = (slmc_recipe_step){pass, (int)name_node->start_mark.line + 1, (int)name_node->start_mark.column + 1, 0,
                            NULL};
    if (!opts || (scalar(opts) && !*scalar(opts))) return SLM_OK; /* "- score:" with nothing after it */
    if (opts->type != YAML_MAPPING_NODE)
        return fail_at(w, opts, "%s: expected a mapping of options (%s)", name, slmc_registry_keys(pass), "");
    for (yaml_node_pair_t *p = opts->data.mapping.pairs.start; p < opts->data.mapping.pairs.top; p++) {
        slm_status st = option(w, s, node(w, p->key), node(w, p->value));
        if (st != SLM_OK) return st;
    }
    return SLM_OK;
}

static slm_status top_level(walker *w, yaml_node_t *root) {
    if (!root) return slm_diag_set(w->d, SLM_ERR_INPUT, "%s: empty recipe (expected a mapping with steps:)", w->path);
    if (root->type != YAML_MAPPING_NODE) return fail_at(w, root, "expected a mapping with steps:", "", "", "");
    bool has_steps = false;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(w, p->key), *v = node(w, p->value);
        const char *ks = scalar(k);
        char **slot = !ks                        ? NULL
                      : !strcmp(ks, "input")     ? &w->r->input
                      : !strcmp(ks, "output")    ? &w->r->output
                      : !strcmp(ks, "format")    ? &w->r->format
                                                 : NULL;
        if (slot) {
            if (!scalar(v)) return fail_at(w, v, "%s: expected a single value", ks, "", "");
            free(*slot);
            if (!(*slot = strdup(scalar(v)))) return slm_diag_set(w->d, SLM_ERR_NOMEM, "out of memory");
        } else if (ks && !strcmp(ks, "description")) {
            /* for people; not used */
        } else if (ks && !strcmp(ks, "steps")) {
            has_steps = true;
            if (v->type != YAML_SEQUENCE_NODE) return fail_at(w, v, "steps: expected a list of steps", "", "", "");
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                slm_status st = step(w, node(w, *it));
                if (st != SLM_OK) return st;
            }
        } else {
            return fail_at(w, k, "unknown key '%s' (expected description, input, output, format, steps)",
                           ks ? ks : "?", "", "");
        }
    }
    if (!has_steps) return fail_at(w, root, "no steps: list", "", "", "");
    return SLM_OK;
}

slm_status slmc_recipe_parse(const char *path, const char *text, size_t len, slmc_recipe **out, slm_diag *d) {
    *out = NULL;
    slmc_recipe *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path)) || !(r->text = malloc(len + 1))) {
        slmc_recipe_free(r);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    memcpy(r->text, text, len);
    r->text[len] = 0;
    r->text_len = len;
    yaml_parser_t parser;
    yaml_document_t doc;
    slm_status st = SLM_OK;
    if (!yaml_parser_initialize(&parser)) {
        slmc_recipe_free(r);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)r->text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s:%zu:%zu: %s%s%s", path, parser.problem_mark.line + 1,
                          parser.problem_mark.column + 1, parser.problem ? parser.problem : "malformed YAML",
                          parser.context ? " " : "", parser.context ? parser.context : "");
    } else {
        walker w = {path, &doc, d, r};
        st = top_level(&w, yaml_document_get_root_node(&doc));
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (st != SLM_OK) slmc_recipe_free(r);
    else *out = r;
    return st;
}

slm_status slmc_recipe_load(const char *path, slmc_recipe **out, slm_diag *d) {
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    slm_status st = slm_file_read_all(path, &text, &len, d);
    if (st == SLM_OK) st = slmc_recipe_parse(path, text, len, out, d);
    free(text);
    return st;
}

void slmc_recipe_free(slmc_recipe *r) {
    if (!r) return;
    for (int i = 0; i < r->n_steps; i++) {
        for (int j = 0; j < r->steps[i].n_values; j++) free(r->steps[i].values[j].text);
        free(r->steps[i].values);
    }
    free(r->steps);
    free(r->path);
    free(r->text);
    free(r->input);
    free(r->output);
    free(r->format);
    free(r);
}
