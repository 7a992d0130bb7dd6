/* slm_model.c - the in-memory model: arena, tensor table, metadata, lazy
 * tensor data, and the llama-architecture consistency check. */
#include "slm_model.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "slm_file.h"

/* A bump allocator: the model owns many small strings and arrays (a 32k
 * vocabulary is 64k allocations); freeing them one by one is pointless. */
typedef struct slm_arena_block {
    struct slm_arena_block *next;
    size_t used, cap;
    max_align_t data[];
} slm_arena_block;

struct slm_arena {
    slm_arena_block *head;
};

static void *arena_alloc(struct slm_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        slm_arena_block *b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = (char *)a->head->data + a->head->used;
    a->head->used += n;
    memset(p, 0, n);
    return p;
}

/* Open-addressing index of positions keyed by name; rebuilt on growth and
 * after removals (rare), so lookups and appends stay O(1). */
typedef struct slm_name_index {
    uint32_t *slots; /* position + 1; 0 = empty */
    uint32_t n_slots, n_used;
} slm_name_index;

static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void index_free(struct slm_name_index **ix) {
    if (*ix) free((*ix)->slots);
    free(*ix);
    *ix = NULL;
}

typedef const char *(*name_at_fn)(const slm_model *m, uint32_t pos);
static const char *tensor_name_at(const slm_model *m, uint32_t pos) { return m->tensors[pos].name; }
static const char *kv_name_at(const slm_model *m, uint32_t pos) { return m->kv[pos].key; }

/* Returns the position of `name`, or -1. */
static int64_t index_find(const slm_name_index *ix, const slm_model *m, name_at_fn at, const char *name) {
    uint32_t mask = ix->n_slots - 1;
    for (uint32_t i = (uint32_t)name_hash(name) & mask;; i = (i + 1) & mask) {
        uint32_t v = ix->slots[i];
        if (!v) return -1;
        if (strcmp(at(m, v - 1), name) == 0) return v - 1;
    }
}

static void index_put(slm_name_index *ix, const char *name, uint32_t pos) {
    uint32_t mask = ix->n_slots - 1;
    uint32_t i = (uint32_t)name_hash(name) & mask;
    while (ix->slots[i]) i = (i + 1) & mask;
    ix->slots[i] = pos + 1;
    ix->n_used++;
}

/* Makes the index cover positions [0, n); false on allocation failure. */
static bool index_sync(struct slm_name_index **pix, const slm_model *m, name_at_fn at, uint32_t n) {
    slm_name_index *ix = *pix;
    if (ix && ix->n_used == n) return true;
    if (ix && ix->n_used + 1 == n && (uint64_t)n * 2 <= ix->n_slots) {
        index_put(ix, at(m, n - 1), n - 1);
        return true;
    }
    uint32_t slots = 64;
    while ((uint64_t)slots < (uint64_t)n * 2 + 2) slots *= 2;
    if (!ix) {
        ix = calloc(1, sizeof *ix);
        if (!ix) return false;
        *pix = ix;
    }
    uint32_t *ns = calloc(slots, sizeof *ns);
    if (!ns) return false;
    free(ix->slots);
    ix->slots = ns;
    ix->n_slots = slots;
    ix->n_used = 0;
    for (uint32_t i = 0; i < n; i++) index_put(ix, at(m, i), i);
    return true;
}

size_t slm_vtype_size(slm_vtype t) {
    switch (t) {
    case SLM_V_U8: case SLM_V_I8: case SLM_V_BOOL: return 1;
    case SLM_V_U16: case SLM_V_I16: return 2;
    case SLM_V_U32: case SLM_V_I32: case SLM_V_F32: return 4;
    case SLM_V_U64: case SLM_V_I64: case SLM_V_F64: return 8;
    default: return 0;
    }
}

const char *slm_vtype_name(slm_vtype t) {
    static const char *names[SLM_V_COUNT] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                             "bool", "str", "arr", "u64", "i64", "f64"};
    return (unsigned)t < SLM_V_COUNT ? names[t] : "invalid";
}

uint32_t slm_hparams_head_dim(const slm_hparams *hp) {
    if (hp->has & SLM_HP_KEY_LENGTH) return hp->key_length;
    return hp->n_head ? hp->n_embd / hp->n_head : 0;
}

/* ------------------------------------------------------------ tensors */

int64_t slm_tensor_nelements(const slm_tensor *t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }
int64_t slm_tensor_nrows(const slm_tensor *t) { return t->ne[1] * t->ne[2] * t->ne[3]; }

/* Row r of the output takes row src_row(r) of the HF-ordered source. */
static slm_status permute_rows(const slm_tensor *t, const void *srcp, void *dstp, slm_diag *d) {
    int64_t nrows = t->n_dims == 1 ? t->ne[0] : slm_tensor_nrows(t);
    size_t row_bytes = t->n_dims == 1 ? (size_t)slm_type_traits_get(t->type)->type_size
                                      : slm_type_row_size(t->type, t->ne[0]);
    if (t->n_dims == 1 && slm_type_traits_get(t->type)->blck != 1)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: cannot permute a quantized vector", t->name);
    int64_t H = t->permute_heads;
    if (H <= 0 || nrows % (2 * H) != 0)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: %lld rows cannot be split into %lld heads of even size",
                            t->name, (long long)nrows, (long long)H);
    int64_t hd = nrows / H, half = hd / 2;
    const char *s = srcp;
    char *o = dstp;
    for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < half; i++)
            for (int64_t p = 0; p < 2; p++)
                memcpy(o + (size_t)(h * hd + 2 * i + p) * row_bytes, s + (size_t)(h * hd + p * half + i) * row_bytes,
                       row_bytes);
    return SLM_OK;
}

slm_status slm_tensor_acquire(slm_tensor *t, slm_diag *d) {
    if (t->data) return SLM_OK;
    if (!t->src && !t->load) return slm_diag_set(d, SLM_ERR_INTERNAL, "%s: tensor has no data", t->name);
    size_t n = t->nbytes ? t->nbytes : 1;
    void *raw = NULL;
    const void *srcp = t->src;
    if (!srcp) {
        raw = malloc(n);
        if (!raw) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory (%zu bytes)", t->name, t->nbytes);
        slm_status st = t->load(t->load_ctx, t, raw, d);
        if (st != SLM_OK) {
            free(raw);
            return st;
        }
        srcp = raw;
    }
    if (!t->permute_heads) {
        if (raw) {
            t->loaded = raw;
            t->data = raw;
        } else {
            t->data = srcp;
        }
        return SLM_OK;
    }
    void *out = malloc(n);
    if (!out) {
        free(raw);
        return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory (%zu bytes)", t->name, t->nbytes);
    }
    slm_status st = permute_rows(t, srcp, out, d);
    free(raw);
    if (st != SLM_OK) {
        free(out);
        return st;
    }
    t->loaded = out;
    t->data = out;
    return SLM_OK;
}

void slm_tensor_release(slm_tensor *t) {
    if (t->loaded) {
        free(t->loaded);
        t->loaded = NULL;
        t->data = NULL;
    }
}

void slm_tensor_evict(const slm_tensor *t) {
    if (!t->src || !t->nbytes) return;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t a = (uintptr_t)t->src & ~(uintptr_t)(page - 1);
    uintptr_t b = (uintptr_t)t->src + t->nbytes;
    /* read-only private maps of unmodified files: dropping pages loses nothing */
    madvise((void *)a, b - a, MADV_DONTNEED);
}

slm_status slm_tensor_rows_f32(const slm_tensor *t, int64_t row0, int64_t nrows, float *dst, slm_diag *d) {
    const slm_type_traits *tr = slm_type_traits_get(t->type);
    if (!tr || !tr->to_f32)
        return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "%s: no decoder for type %s yet", t->name,
                            slm_type_name(t->type));
    if (!t->data) return slm_diag_set(d, SLM_ERR_INTERNAL, "%s: tensor not acquired", t->name);
    if (row0 < 0 || nrows < 0 || row0 + nrows > slm_tensor_nrows(t))
        return slm_diag_set(d, SLM_ERR_INTERNAL, "%s: rows out of range", t->name);
    size_t rs = slm_type_row_size(t->type, t->ne[0]);
    tr->to_f32((const char *)t->data + (size_t)row0 * rs, dst, nrows * t->ne[0]);
    return SLM_OK;
}

slm_status slm_tensor_set_owned(slm_tensor *t, slm_type type, void *data, slm_diag *d) {
    size_t rs = slm_type_row_size(type, t->ne[0]);
    if (rs == 0)
        return slm_diag_set(d, SLM_ERR_USAGE, "%s: row length %lld does not fit type %s", t->name,
                            (long long)t->ne[0], slm_type_name(type));
    slm_tensor_release(t);
    free(t->owned);
    t->owned = data;
    t->data = data;
    t->type = type;
    t->out_type = type;
    t->nbytes = rs * (size_t)slm_tensor_nrows(t);
    t->load = NULL;
    t->src = NULL;
    t->permute_heads = 0;
    return SLM_OK;
}

/* -------------------------------------------------------------- model */

slm_model *slm_model_new(void) {
    slm_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->arena = calloc(1, sizeof *m->arena);
    if (!m->arena) {
        free(m);
        return NULL;
    }
    m->tok.bos_id = m->tok.eos_id = m->tok.unk_id = m->tok.pad_id = m->tok.sep_id = -1;
    m->tok.add_bos = m->tok.add_eos = m->tok.add_space_prefix = -1;
    return m;
}

void slm_model_free(slm_model *m) {
    if (!m) return;
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        free(m->tensors[i].owned);
        free(m->tensors[i].loaded);
    }
    free(m->tensors);
    free(m->kv);
    index_free(&m->tensor_index);
    index_free(&m->kv_index);
    if (m->reader_state && m->reader_state_free) m->reader_state_free(m->reader_state);
    for (uint32_t i = 0; i < m->n_inputs; i++) slm_file_unmap(m->inputs[i].map, m->inputs[i].map_size);
    free(m->inputs);
    if (m->arena) {
        slm_arena_block *b = m->arena->head;
        while (b) {
            slm_arena_block *n = b->next;
            free(b);
            b = n;
        }
        free(m->arena);
    }
    free(m);
}

void *slm_model_alloc(slm_model *m, size_t n) { return arena_alloc(m->arena, n); }

char *slm_model_strndup(slm_model *m, const char *s, size_t n) {
    char *p = arena_alloc(m->arena, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *slm_model_strdup(slm_model *m, const char *s) { return s ? slm_model_strndup(m, s, strlen(s)) : NULL; }

slm_tensor *slm_model_find_tensor(const slm_model *m, const char *name) {
    slm_model *mm = (slm_model *)m; /* the index is a cache, not model state */
    if (index_sync(&mm->tensor_index, m, tensor_name_at, m->n_tensors)) {
        int64_t pos = index_find(m->tensor_index, m, tensor_name_at, name);
        return pos < 0 ? NULL : &m->tensors[pos];
    }
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

slm_status slm_model_add_tensor(slm_model *m, const char *name, slm_type type, int n_dims,
                                const int64_t *ne, slm_tensor **out, slm_diag *d) {
    if (out) *out = NULL;
    size_t nl = strlen(name);
    if (nl == 0 || nl >= SLM_MAX_NAME)
        return slm_diag_set(d, SLM_ERR_INPUT, "tensor name '%.80s' must be 1..%d bytes", name, SLM_MAX_NAME - 1);
    if (n_dims < 1 || n_dims > SLM_MAX_DIMS)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: %d dimensions, expected 1..%d", name, n_dims, SLM_MAX_DIMS);
    if (!slm_type_is_valid(type))
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: unknown tensor type id %d", name, (int)type);
    if (slm_model_find_tensor(m, name))
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: duplicate tensor name", name);
    int64_t dims[SLM_MAX_DIMS] = {1, 1, 1, 1};
    /* Guard the element count against overflow: each dim < 2^40, product < 2^62. */
    int64_t total = 1;
    for (int i = 0; i < n_dims; i++) {
        if (ne[i] < 0 || ne[i] > ((int64_t)1 << 40))
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: dimension %d is %lld, out of range", name, i, (long long)ne[i]);
        dims[i] = ne[i];
        if (dims[i] && total > (INT64_C(1) << 62) / dims[i])
            return slm_diag_set(d, SLM_ERR_INPUT, "%s: element count overflows", name);
        total *= dims[i];
    }
    size_t rs = slm_type_row_size(type, dims[0]);
    if (rs == 0 && dims[0] != 0)
        return slm_diag_set(d, SLM_ERR_INPUT, "%s: row length %lld is not a multiple of the %s block size %d",
                            name, (long long)dims[0], slm_type_name(type), slm_type_traits_get(type)->blck);
    if (m->n_tensors == m->cap_tensors) {
        uint32_t cap = m->cap_tensors ? m->cap_tensors * 2 : 64;
        slm_tensor *nt = realloc(m->tensors, cap * sizeof *nt);
        if (!nt) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory");
        m->tensors = nt;
        m->cap_tensors = cap;
    }
    slm_tensor *t = &m->tensors[m->n_tensors++];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, nl + 1);
    t->type = type;
    t->out_type = type;
    t->n_dims = n_dims;
    memcpy(t->ne, dims, sizeof dims);
    t->nbytes = rs * (size_t)(dims[1] * dims[2] * dims[3]);
    if (out) *out = t;
    return SLM_OK;
}

void slm_model_remove_tensor(slm_model *m, const char *name) {
    slm_tensor *t = slm_model_find_tensor(m, name);
    if (!t) return;
    free(t->owned);
    free(t->loaded);
    size_t i = (size_t)(t - m->tensors);
    memmove(t, t + 1, (m->n_tensors - i - 1) * sizeof *t);
    m->n_tensors--;
    index_free(&m->tensor_index);
}

slm_status slm_model_rename_tensor(slm_model *m, const char *name, const char *new_name, slm_diag *d) {
    slm_tensor *t = slm_model_find_tensor(m, name);
    if (!t) return slm_diag_set(d, SLM_ERR_USAGE, "rename: no tensor '%s'", name);
    if (strlen(new_name) >= SLM_MAX_NAME)
        return slm_diag_set(d, SLM_ERR_USAGE, "rename: name '%s' is too long", new_name);
    if (strcmp(name, new_name) && slm_model_find_tensor(m, new_name))
        return slm_diag_set(d, SLM_ERR_USAGE, "rename: '%s' exists already", new_name);
    snprintf(t->name, SLM_MAX_NAME, "%s", new_name);
    index_free(&m->tensor_index);
    return SLM_OK;
}

/* ------------------------------------------------------------ metadata */

const slm_kv *slm_model_find_kv(const slm_model *m, const char *key) {
    slm_model *mm = (slm_model *)m; /* the index is a cache, not model state */
    if (index_sync(&mm->kv_index, m, kv_name_at, m->n_kv)) {
        int64_t pos = index_find(m->kv_index, m, kv_name_at, key);
        return pos < 0 ? NULL : &m->kv[pos];
    }
    for (uint32_t i = 0; i < m->n_kv; i++)
        if (strcmp(m->kv[i].key, key) == 0) return &m->kv[i];
    return NULL;
}

void slm_model_remove_kv(slm_model *m, const char *key) {
    for (uint32_t i = 0; i < m->n_kv; i++) {
        if (strcmp(m->kv[i].key, key) == 0) {
            memmove(&m->kv[i], &m->kv[i + 1], (m->n_kv - i - 1) * sizeof m->kv[0]);
            m->n_kv--;
            index_free(&m->kv_index);
            return;
        }
    }
}

static slm_status copy_value(slm_model *m, slm_value *dst, const slm_value *src) {
    *dst = *src;
    if (src->type == SLM_V_STR) {
        dst->v.str.s = slm_model_strndup(m, src->v.str.s, src->v.str.len);
        return dst->v.str.s ? SLM_OK : SLM_ERR_NOMEM;
    }
    if (src->type == SLM_V_ARR) {
        if (src->arr_type == SLM_V_STR) {
            slm_str *a = slm_model_alloc(m, src->n * sizeof *a + 1);
            if (!a) return SLM_ERR_NOMEM;
            const slm_str *s = src->v.arr;
            for (uint64_t i = 0; i < src->n; i++) {
                a[i].s = slm_model_strndup(m, s[i].s, s[i].len);
                if (!a[i].s) return SLM_ERR_NOMEM;
                a[i].len = s[i].len;
            }
            dst->v.arr = a;
        } else {
            size_t bytes = src->n * slm_vtype_size(src->arr_type);
            void *a = slm_model_alloc(m, bytes + 1);
            if (!a) return SLM_ERR_NOMEM;
            if (bytes) memcpy(a, src->v.arr, bytes);
            dst->v.arr = a;
        }
    }
    return SLM_OK;
}

slm_status slm_model_set_kv(slm_model *m, const char *key, const slm_value *v) {
    slm_kv *kv = (slm_kv *)slm_model_find_kv(m, key);
    if (!kv) {
        if (m->n_kv == m->cap_kv) {
            uint32_t cap = m->cap_kv ? m->cap_kv * 2 : 32;
            slm_kv *n = realloc(m->kv, cap * sizeof *n);
            if (!n) return SLM_ERR_NOMEM;
            m->kv = n;
            m->cap_kv = cap;
        }
        kv = &m->kv[m->n_kv];
        kv->key = slm_model_strdup(m, key);
        if (!kv->key) return SLM_ERR_NOMEM;
        m->n_kv++;
    }
    return copy_value(m, &kv->value, v);
}

slm_status slm_model_set_str(slm_model *m, const char *key, const char *s) {
    slm_value v = {.type = SLM_V_STR};
    v.v.str.s = (char *)s;
    v.v.str.len = strlen(s);
    return slm_model_set_kv(m, key, &v);
}

slm_status slm_model_set_u32(slm_model *m, const char *key, uint32_t x) {
    slm_value v = {.type = SLM_V_U32};
    v.v.u64 = x;
    return slm_model_set_kv(m, key, &v);
}

slm_status slm_model_set_u64(slm_model *m, const char *key, uint64_t x) {
    slm_value v = {.type = SLM_V_U64};
    v.v.u64 = x;
    return slm_model_set_kv(m, key, &v);
}

slm_status slm_model_set_f32(slm_model *m, const char *key, float x) {
    slm_value v = {.type = SLM_V_F32};
    v.v.f64 = x;
    return slm_model_set_kv(m, key, &v);
}

slm_status slm_model_add_input(slm_model *m, const char *path, void *map, size_t map_size) {
    slm_input *n = realloc(m->inputs, (m->n_inputs + 1) * sizeof *n);
    if (!n) return SLM_ERR_NOMEM;
    m->inputs = n;
    n[m->n_inputs].path = slm_model_strdup(m, path);
    n[m->n_inputs].map = map;
    n[m->n_inputs].map_size = map_size;
    m->n_inputs++;
    return SLM_OK;
}
