/* slmc_bpe_train.c - byte-level BPE training for synthetic vocabularies.
 * Quadratic but ample for the few thousand words of the built-in corpus;
 * past the corpus's merges it composes existing tokens so a vocabulary of
 * any size (32000 for the 1b preset) stays a valid BPE. */
#include "slmc_bpe_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct word {
    int *sym;   /* token ids */
    int n;
    int freq;
} word;

typedef struct vocab {
    char **text; /* token strings (UTF-8 of the GPT-2 byte alphabet) */
    int n, cap;
    /* open-addressing set of token strings for uniqueness */
    int *slots;
    int n_slots;
} vocab;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int vocab_find(const vocab *v, const char *s) {
    uint64_t h = hash_str(s);
    for (int i = 0;; i++) {
        int slot = (int)((h + (uint64_t)i) % (uint64_t)v->n_slots);
        if (v->slots[slot] < 0) return -1;
        if (strcmp(v->text[v->slots[slot]], s) == 0) return v->slots[slot];
    }
}

static int vocab_add(vocab *v, char *s) {
    if (v->n == v->cap) return -1;
    uint64_t h = hash_str(s);
    for (int i = 0;; i++) {
        int slot = (int)((h + (uint64_t)i) % (uint64_t)v->n_slots);
        if (v->slots[slot] < 0) {
            v->slots[slot] = v->n;
            break;
        }
    }
    v->text[v->n] = s;
    return v->n++;
}

/* GPT-2's reversible byte -> code point map: printable bytes map to
 * themselves, the rest to 256 + k, so every token is printable text. */
static void byte_to_utf8(int b, char out[4]) {
    int cp;
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) {
        cp = b;
    } else {
        int k = 0;
        for (int x = 0; x < b; x++)
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) k++;
        cp = 256 + k;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

static char *concat(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

/* Splits like GPT-2's pre-tokenizer in spirit: a word is an optional leading
 * space followed by letters/digits, or a single other character. */
static int split_words(const char *text, vocab *v, word **out, int *n_out) {
    int cap = 256, n = 0;
    word *w = calloc((size_t)cap, sizeof *w);
    if (!w) return -1;
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        const unsigned char *s = p;
        if (*p == ' ') p++;
        if (*p && ((*p | 32) >= 'a' && (*p | 32) <= 'z')) {
            while (*p && (((*p | 32) >= 'a' && (*p | 32) <= 'z') || *p == '\'')) p++;
        } else if (*p) {
            p++;
        }
        int len = (int)(p - s);
        /* merge duplicates so training counts by frequency */
        int found = -1;
        for (int i = 0; i < n && found < 0; i++) {
            if (w[i].n != len) continue;
            int same = 1;
            for (int k = 0; k < len && same; k++) {
                char u[4];
                byte_to_utf8(s[k], u);
                same = strcmp(v->text[w[i].sym[k]], u) == 0;
            }
            if (same) found = i;
        }
        if (found >= 0) {
            w[found].freq++;
            continue;
        }
        if (n == cap) {
            cap *= 2;
            word *nw = realloc(w, (size_t)cap * sizeof *nw);
            if (!nw) return -1;
            w = nw;
        }
        w[n].sym = malloc((size_t)len * sizeof(int));
        if (!w[n].sym) return -1;
        w[n].n = len;
        w[n].freq = 1;
        for (int k = 0; k < len; k++) {
            char u[4];
            byte_to_utf8(s[k], u);
            w[n].sym[k] = vocab_find(v, u);
        }
        n++;
    }
    *out = w;
    *n_out = n;
    return 0;
}

typedef struct merge {
    int a, b;
} merge;

slm_status slmc_bpe_train(slm_model *m, const char *corpus, uint32_t n_vocab, slm_diag *d) {
    if (n_vocab < 260) return slm_diag_set(d, SLM_ERR_USAGE, "vocabulary size %u too small (need >= 260)", n_vocab);
    int n_normal = (int)n_vocab - 2;
    vocab v = {0};
    v.cap = n_normal;
    v.n_slots = n_normal * 2 + 7;
    v.text = calloc((size_t)v.cap, sizeof *v.text);
    v.slots = malloc((size_t)v.n_slots * sizeof *v.slots);
    merge *merges = calloc((size_t)n_normal, sizeof *merges);
    word *words = NULL;
    int n_words = 0, n_merges = 0;
    slm_status st = SLM_OK;
    if (!v.text || !v.slots || !merges) goto nomem;
    for (int i = 0; i < v.n_slots; i++) v.slots[i] = -1;
    for (int b = 0; b < 256; b++) {
        char u[4];
        byte_to_utf8(b, u);
        char *s = strdup(u);
        if (!s) goto nomem;
        vocab_add(&v, s);
    }
    if (split_words(corpus, &v, &words, &n_words) != 0) goto nomem;

    /* learn merges from the corpus while some pair repeats; pairs are
     * counted in a hash table rebuilt per merge (linear in the corpus) */
    int total = 0;
    for (int wi = 0; wi < n_words; wi++) total += words[wi].n;
    int n_tab = 2 * total + 17;
    uint64_t *keys = malloc((size_t)n_tab * sizeof *keys);
    int *cnt = malloc((size_t)n_tab * sizeof *cnt);
    if (!keys || !cnt) {
        free(keys);
        free(cnt);
        goto nomem;
    }
    while (v.n < n_normal) {
        for (int i = 0; i < n_tab; i++) keys[i] = UINT64_MAX;
        int best_a = -1, best_b = -1, best = 1;
        for (int wi = 0; wi < n_words; wi++) {
            for (int k = 0; k + 1 < words[wi].n; k++) {
                int a = words[wi].sym[k], b = words[wi].sym[k + 1];
                uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
                uint64_t h = (key * 0x9E3779B97F4A7C15ull) >> 17;
                int slot = (int)(h % (uint64_t)n_tab);
                while (keys[slot] != UINT64_MAX && keys[slot] != key) slot = (slot + 1) % n_tab;
                if (keys[slot] == UINT64_MAX) {
                    keys[slot] = key;
                    cnt[slot] = 0;
                }
                int c = cnt[slot] += words[wi].freq;
                /* most frequent first; ties go to the smaller (a, b) so training is deterministic */
                if (c > best || (c == best && c >= 2 && (a < best_a || (a == best_a && b < best_b)))) {
                    best = c;
                    best_a = a;
                    best_b = b;
                }
            }
        }
        if (best_a < 0) break;
        char *s = concat(v.text[best_a], v.text[best_b]);
        if (!s) {
            free(keys);
            free(cnt);
            goto nomem;
        }
        int id = vocab_find(&v, s);
        if (id < 0) id = vocab_add(&v, s);
        else free(s);
        merges[n_merges++] = (merge){best_a, best_b};
        for (int wi = 0; wi < n_words; wi++) {
            int o = 0;
            for (int k = 0; k < words[wi].n; k++) {
                if (k + 1 < words[wi].n && words[wi].sym[k] == best_a && words[wi].sym[k + 1] == best_b) {
                    words[wi].sym[o++] = id;
                    k++;
                } else {
                    words[wi].sym[o++] = words[wi].sym[k];
                }
            }
            words[wi].n = o;
        }
    }
    free(keys);
    free(cnt);
    /* then compose existing tokens deterministically until the size is reached */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int guard = 0;
    while (v.n < n_normal && guard < 50 * n_normal) {
        guard++;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int a = (int)(x % (uint64_t)v.n), b = (int)((x >> 32) % 256 + (v.n > 512 ? 256 : 0)) % v.n;
        if (strlen(v.text[a]) + strlen(v.text[b]) > 24) continue;
        char *s = concat(v.text[a], v.text[b]);
        if (!s) goto nomem;
        if (vocab_find(&v, s) >= 0) {
            free(s);
            continue;
        }
        vocab_add(&v, s);
        merges[n_merges++] = (merge){a, b};
    }
    if (v.n < n_normal) {
        st = slm_diag_set(d, SLM_ERR_INTERNAL, "could not build a vocabulary of %u tokens", n_vocab);
        goto out;
    }

    /* move into the model */
    slm_tokenizer *t = &m->tok;
    t->kind = SLM_TOK_BPE;
    t->model_name = slm_model_strdup(m, "gpt2");
    t->pre = slm_model_strdup(m, "gpt-2");
    t->n_tokens = n_vocab;
    t->tokens = slm_model_alloc(m, n_vocab * sizeof *t->tokens);
    t->token_types = slm_model_alloc(m, n_vocab * sizeof *t->token_types);
    t->n_merges = (uint32_t)n_merges;
    t->merges = slm_model_alloc(m, (size_t)(n_merges ? n_merges : 1) * sizeof *t->merges);
    if (!t->model_name || !t->pre || !t->tokens || !t->token_types || !t->merges) goto nomem;
    for (int i = 0; i < n_normal; i++) {
        t->tokens[i].s = slm_model_strdup(m, v.text[i]);
        t->tokens[i].len = strlen(v.text[i]);
        t->token_types[i] = SLM_TOKEN_NORMAL;
    }
    const char *specials[2] = {"<s>", "</s>"};
    for (int i = 0; i < 2; i++) {
        t->tokens[n_normal + i].s = slm_model_strdup(m, specials[i]);
        t->tokens[n_normal + i].len = strlen(specials[i]);
        t->token_types[n_normal + i] = SLM_TOKEN_CONTROL;
    }
    for (int i = 0; i < n_merges; i++) {
        const char *a = v.text[merges[i].a], *b = v.text[merges[i].b];
        size_t la = strlen(a), lb = strlen(b);
        char *s = slm_model_alloc(m, la + lb + 2);
        if (!s) goto nomem;
        memcpy(s, a, la);
        s[la] = ' ';
        memcpy(s + la + 1, b, lb + 1);
        t->merges[i].s = s;
        t->merges[i].len = la + lb + 1;
    }
    t->bos_id = n_normal;
    t->eos_id = n_normal + 1;
    t->add_bos = 1;
    t->add_eos = 0;
    goto out;
nomem:
    st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory training the vocabulary");
out:
    for (int i = 0; i < v.n; i++) free(v.text[i]);
    free(v.text);
    free(v.slots);
    free(merges);
    for (int i = 0; i < n_words; i++) free(words[i].sym);
    free(words);
    return st;
}
