/* slmrt_tokenizer_spm.c - the SentencePiece-style ("llama") encoder, as
 * llama.cpp's llm_tokenizer_spm_session computes it: spaces become U+2581
 * (plus one in front when the caller asks for the space prefix), the text
 * starts as one symbol per UTF-8 character, and the adjacent pair whose
 * concatenation is a token with the highest score is merged until no pair is
 * a token (ties: leftmost first). Symbols that are not tokens are emitted as
 * their <0xXX> byte tokens. */
#include <stdlib.h>
#include <string.h>

#include "slmrt_tokenizer_int.h"

#define SPM_SPACE "\xe2\x96\x81" /* U+2581, SentencePiece's visible space */

/* Bytes in the UTF-8 sequence a lead byte starts (llama.cpp's
 * unicode_len_utf8; the text is validated before it gets here). */
static size_t utf8_len(unsigned char c) {
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

typedef struct spm_state {
    const slmrt_tok *tk;
    const char *s;
    tok_sym *sym;
    tok_heap heap;
    bool oom;
} spm_state;

/* Queues the merge of symbols left and right when the merged text is a
 * token, with that token's score as priority. */
static void try_add_bigram(spm_state *S, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    size_t size = S->sym[left].n + S->sym[right].n;
    int32_t id = slmrt_tok_find(S->tk, S->s + S->sym[left].off, size);
    if (id < 0) return;
    tok_bigram b = {.key = S->tk->scores[id], .left = left, .right = right, .size = size};
    if (!slmrt_tok_heap_push(&S->heap, b)) S->oom = true;
}

/* Emits one final symbol: its token, or its bytes as byte tokens. A symbol
 * made by a merge is always a token, so only single characters fall back. */
static slm_status resegment(const spm_state *S, const tok_sym *y, tok_ids *out, slm_diag *d) {
    const char *p = S->s + y->off;
    int32_t id = slmrt_tok_find(S->tk, p, y->n);
    if (id >= 0) {
        slmrt_tok_ids_push(out, id);
        return SLM_OK;
    }
    bool all_bytes = true;
    for (size_t j = 0; j < y->n; j++) all_bytes = all_bytes && S->tk->byte_tok[(unsigned char)p[j]] >= 0;
    if (all_bytes) {
        for (size_t j = 0; j < y->n; j++) slmrt_tok_ids_push(out, S->tk->byte_tok[(unsigned char)p[j]]);
        return SLM_OK;
    }
    /* llama.cpp throws here; SentencePiece emits the unknown token once */
    if (S->tk->unk >= 0) {
        slmrt_tok_ids_push(out, S->tk->unk);
        return SLM_OK;
    }
    return slm_diag_set(d, SLM_ERR_INPUT,
                        "cannot encode the character at byte %zu of the text: it is not in the vocabulary, which "
                        "has no <0x%02X> byte token and no unknown token",
                        y->off, (unsigned char)p[0]);
}

slm_status slmrt_tok_spm_fragment(const slmrt_tok *tk, const char *text, size_t len, bool space_prefix,
                                  tok_ids *out, slm_diag *d) {
    size_t spaces = 0;
    for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
    size_t elen = len + 2 * spaces + (space_prefix ? 3 : 0); /* ' ' (1 byte) -> U+2581 (3 bytes) */
    if (elen == 0) return SLM_OK;
    if (elen > (size_t)INT32_MAX)
        return slm_diag_set(d, SLM_ERR_INPUT, "text of %zu bytes is too long to tokenize in one piece", len);

    spm_state S = {.tk = tk};
    char *s = malloc(elen);
    S.sym = malloc(elen * sizeof *S.sym);
    if (!s || !S.sym) {
        free(s);
        free(S.sym);
        return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory tokenizing %zu bytes", len);
    }
    size_t o = 0;
    if (space_prefix) {
        memcpy(s, SPM_SPACE, 3);
        o = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s + o, SPM_SPACE, 3);
            o += 3;
        } else {
            s[o++] = text[i];
        }
    }
    S.s = s;

    int32_t n_sym = 0;
    for (size_t off = 0; off < elen;) {
        size_t n = utf8_len((unsigned char)s[off]);
        if (n > elen - off) n = elen - off;
        S.sym[n_sym] = (tok_sym){.prev = n_sym - 1, .next = off + n == elen ? -1 : n_sym + 1, .off = off, .n = n};
        n_sym++;
        off += n;
    }
    for (int32_t i = 1; i < n_sym; i++) try_add_bigram(&S, i - 1, i);

    while (S.heap.n && !S.oom) {
        tok_bigram b = slmrt_tok_heap_pop(&S.heap);
        tok_sym *l = &S.sym[b.left], *r = &S.sym[b.right];
        /* stale: one side was merged away or grew since this was queued */
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) S.sym[r->next].prev = b.left;
        try_add_bigram(&S, l->prev, b.left);
        try_add_bigram(&S, b.left, l->next);
    }

    slm_status st = SLM_OK;
    if (S.oom) st = slm_diag_set(d, SLM_ERR_NOMEM, "out of memory tokenizing %zu bytes", len);
    for (int32_t i = 0; st == SLM_OK && i != -1; i = S.sym[i].next) st = resegment(&S, &S.sym[i], out, d);
    free(S.heap.v);
    free(S.sym);
    free(s);
    return st;
}
