/* slm_open.c - picks the reader for an input by looking at it (a directory,
 * a file's magic bytes, then its extension), so users never name formats. */
#include "slm_open.h"

#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slm_gguf.h"
#include "slm_hdf5.h"
#include "slm_hf.h"
#include "slm_llama2c.h"

static bool has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static slm_status attach_tokenizer(slm_model *m, const char *tok_path, slm_diag *d) {
    if (!tok_path) return SLM_OK;
    if (has_suffix(tok_path, ".json")) {
        char *text = NULL;
        size_t n = 0;
        slm_status st = slm_file_read_all(tok_path, &text, &n, d);
        if (st != SLM_OK) return st;
        slm_tokenizer keep = m->tok;
        memset(&m->tok, 0, sizeof m->tok);
        m->tok.bos_id = m->tok.eos_id = m->tok.unk_id = m->tok.pad_id = m->tok.sep_id = -1;
        m->tok.add_bos = m->tok.add_eos = m->tok.add_space_prefix = -1;
        st = slm_hf_tokenizer_parse(m, text, n, NULL, 0, tok_path, d);
        free(text);
        if (st != SLM_OK) {
            m->tok = keep;
            return st;
        }
        return slm_model_add_input(m, tok_path, NULL, 0);
    }
    return slm_diag_set(d, SLM_ERR_USAGE, "%s: --tokenizer for this input must be a tokenizer.json", tok_path);
}

slm_status slm_model_open(const char *path, const slm_open_opts *opts, slm_model **out, slm_diag *d) {
    *out = NULL;
    const char *tok = opts ? opts->tokenizer : NULL;
    if (!slm_path_exists(path)) return slm_diag_set(d, SLM_ERR_IO, "%s: no such file or directory", path);
    slm_status st;
    if (slm_path_is_dir(path)) {
        st = slm_hf_read(path, out, d);
        if (st == SLM_OK && tok) st = attach_tokenizer(*out, tok, d);
        goto done;
    }
    const void *map;
    size_t size;
    st = slm_file_map(path, &map, &size, d);
    if (st != SLM_OK) return st;
    unsigned char head[8] = {0};
    if (size >= 8) memcpy(head, map, 8);
    bool l2c = slm_llama2c_sniff(map, size);
    slm_file_unmap(map, size);

    static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (size >= 4 && memcmp(head, "GGUF", 4) == 0) {
        st = slm_gguf_read(path, out, d);
        if (st == SLM_OK && tok) st = attach_tokenizer(*out, tok, d);
    } else if (size >= 8 && memcmp(head, hdf5_sig, 8) == 0) {
        st = slm_hdf5_read(path, out, d);
        if (st == SLM_OK && tok) st = attach_tokenizer(*out, tok, d);
    } else if (has_suffix(path, ".safetensors")) {
        st = slm_hf_read(path, out, d);
        if (st == SLM_OK && tok) st = attach_tokenizer(*out, tok, d);
    } else if (l2c || has_suffix(path, ".bin")) {
        st = slm_llama2c_read(path, tok, out, d);
    } else if (has_suffix(path, ".gguf")) {
        st = slm_gguf_read(path, out, d); /* reports the bad magic */
    } else {
        st = slm_diag_set(d, SLM_ERR_INPUT,
                          "%s: unrecognised input; expected a Hugging Face folder, .safetensors, .gguf, "
                          ".h5/.hdf5 or a llama2.c .bin checkpoint",
                          path);
    }
done:
    if (st != SLM_OK) {
        slm_model_free(*out);
        *out = NULL;
        slm_diag_prefix(d, path);
    }
    return st;
}
