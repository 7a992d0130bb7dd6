/* hf_to_hdf5.c - converts a Hugging Face model folder (config.json,
 * model.safetensors or model-*.safetensors shards, optional tokenizer.json and
 * tokenizer_config.json) into the HDF5 layout slmc reads (docs/hdf5.md),
 * without Python or h5py:
 *
 *   hf_to_hdf5 <hf-folder> <out.h5>
 *
 * Every tensor becomes one dataset whose group path spells its HF name
 * (model.layers.0.self_attn.q_proj.weight -> /model/layers/0/self_attn/
 * q_proj/weight); F32 stays 32-bit IEEE float, F16 becomes a 16-bit IEEE float
 * type, BF16 is stored as uint16 with attribute dtype="bfloat16" (HDF5 has no
 * bfloat16 type that other tools understand). The JSON files go into root
 * string attributes. Bytes are copied as they are: no transposing, no Q/K
 * permutation (slmc applies that when it reads the file). */
#include <glob.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slm_file.h"
#include "slm_safetensors.h"

static int fail(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "hf_to_hdf5: error: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    return 1;
}

/* IEEE binary16: HDF5 1.10 predefines no such type, so describe its bit
 * layout (sign 15, exponent bits 10..14 with bias 15, mantissa bits 0..9). */
static hid_t make_f16_type(void) {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    if (t < 0 || H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_precision(t, 16) < 0 || H5Tset_size(t, 2) < 0 ||
        H5Tset_ebias(t, 15) < 0)
        return -1;
    return t;
}

/* A scalar variable-length string attribute: its text lives in the file's
 * global heap, so multi-megabyte tokenizer.json files fit (a fixed-length
 * attribute is limited to 64 KiB in the default object header). */
static int put_string_attr(hid_t loc, const char *name, const char *text) {
    hid_t t = H5Tcopy(H5T_C_S1);
    hid_t sp = H5Screate(H5S_SCALAR);
    int ok = t >= 0 && sp >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 && H5Tset_cset(t, H5T_CSET_UTF8) >= 0;
    hid_t a = ok ? H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
    ok = a >= 0 && H5Awrite(a, t, &text) >= 0;
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    return ok ? 0 : -1;
}

/* Reads dir/name into a root attribute; a missing optional file is fine. */
static int put_json_file(hid_t file, const char *dir, const char *name, const char *attr, int required) {
    char *path = slm_path_join(dir, name);
    int rc = 0;
    if (!slm_path_exists(path)) {
        if (required) rc = fail("%s: not found (needed for attribute \"%s\")", path, attr);
        free(path);
        return rc;
    }
    char *text = NULL;
    size_t len = 0;
    slm_diag d = {0};
    if (slm_file_read_all(path, &text, &len, &d) != SLM_OK)
        rc = fail("%s%s", d.msg, "");
    else if (strlen(text) != len)
        rc = fail("%s: contains a NUL byte; cannot store it as attribute \"%s\"", path, attr);
    else if (put_string_attr(file, attr, text) < 0)
        rc = fail("cannot write attribute \"%s\" from %s", attr, path);
    else
        printf("  attribute %-16s <- %s (%zu bytes)\n", attr, name, len);
    free(text);
    free(path);
    return rc;
}

static int put_tensor(hid_t file, hid_t lcpl, hid_t f16, const slm_st_entry *e) {
    /* "model.layers.0.mlp.up_proj.weight" -> "/model/layers/0/mlp/up_proj/weight" */
    size_t n = strlen(e->name);
    char *path = malloc(n + 2);
    if (!path) return fail("%s%s", "out of memory", "");
    path[0] = '/';
    for (size_t i = 0; i <= n; i++) path[i + 1] = e->name[i] == '.' ? '/' : e->name[i];

    hid_t type = e->type == SLM_TYPE_F32 ? H5T_IEEE_F32LE : e->type == SLM_TYPE_F16 ? f16 : H5T_STD_U16LE;
    hsize_t dims[SLM_MAX_DIMS];
    for (int i = 0; i < e->n_dims; i++) dims[i] = (hsize_t)e->shape[i];
    hid_t space = e->n_dims ? H5Screate_simple(e->n_dims, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t ds = space >= 0 ? H5Dcreate2(file, path, type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = 0;
    /* The memory type equals the file type: the bytes go in unchanged. */
    if (ds < 0)
        rc = fail("cannot create dataset %s for tensor %s (does a dataset already use part of this path?)", path,
                  e->name);
    else if (e->nbytes && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, e->data) < 0)
        rc = fail("cannot write dataset %s (tensor %s)", path, e->name);
    else if (e->type == SLM_TYPE_BF16) {
        /* a fixed-length string is enough for this short value */
        hid_t st = H5Tcopy(H5T_C_S1);
        hid_t sp = H5Screate(H5S_SCALAR);
        H5Tset_size(st, sizeof "bfloat16");
        hid_t a = H5Acreate2(ds, "dtype", st, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0 || H5Awrite(a, st, "bfloat16") < 0) rc = fail("cannot write attribute dtype on %s%s", path, "");
        if (a >= 0) H5Aclose(a);
        H5Sclose(sp);
        H5Tclose(st);
    }
    if (ds >= 0) H5Dclose(ds);
    if (space >= 0) H5Sclose(space);
    free(path);
    return rc;
}

/* model.safetensors, or else every model*.safetensors shard in the folder. */
static int list_weight_files(const char *dir, glob_t *g) {
    char *single = slm_path_join(dir, "model.safetensors");
    char *pattern = slm_path_join(dir, slm_path_exists(single) ? "model.safetensors" : "model*.safetensors");
    int rc = glob(pattern, 0, NULL, g);
    free(single);
    free(pattern);
    return rc == 0 ? 0 : fail("%s: no model.safetensors or model-*.safetensors files%s", dir, "");
}

static int convert(const char *dir, const char *out) {
    glob_t g;
    if (list_weight_files(dir, &g) != 0) return 1;
    hid_t file = H5Fcreate(out, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        globfree(&g);
        return fail("%s: cannot create%s", out, "");
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1); /* groups appear as paths need them */
    hid_t f16 = make_f16_type();
    int rc = f16 < 0 ? fail("cannot build the float16 type%s%s", "", "") : 0;
    if (!rc) rc = put_json_file(file, dir, "config.json", "config", 1);
    if (!rc) rc = put_json_file(file, dir, "tokenizer.json", "tokenizer", 0);
    if (!rc) rc = put_json_file(file, dir, "tokenizer_config.json", "tokenizer_config", 0);
    size_t n_tensors = 0, n_bytes = 0;
    for (size_t i = 0; !rc && i < g.gl_pathc; i++) {
        slm_st_file st;
        slm_diag d = {0};
        if (slm_st_open(g.gl_pathv[i], &st, &d) != SLM_OK) {
            rc = fail("%s%s", d.msg, "");
            break;
        }
        for (uint32_t k = 0; !rc && k < st.n; k++) {
            rc = put_tensor(file, lcpl, f16, &st.entries[k]);
            n_tensors++;
            n_bytes += st.entries[k].nbytes;
        }
        slm_st_close(&st, false);
    }
    if (f16 >= 0) H5Tclose(f16);
    H5Pclose(lcpl);
    if (H5Fclose(file) < 0 && !rc) rc = fail("%s: cannot finish writing%s", out, "");
    globfree(&g);
    if (rc) {
        unlink(out); /* never leave a half-written file behind */
        return rc;
    }
    printf("wrote %zu tensors (%zu bytes of weights) to %s\n", n_tensors, n_bytes, out);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr,
                "usage: hf_to_hdf5 <hf-folder> <out.h5>\n"
                "  converts config.json, model.safetensors (or model-*.safetensors shards) and optional\n"
                "  tokenizer.json / tokenizer_config.json into the HDF5 layout of docs/hdf5.md\n");
        return 2;
    }
    if (!slm_path_is_dir(argv[1])) return fail("%s: not a folder%s", argv[1], "");
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our messages name the tensor; HDF5's stack would bury them */
    return convert(argv[1], argv[2]);
}
