/* check_calib_data.c - calibration data reading: seeded chunk sampling
 * (uniform over the whole file, kept in file order, reproducible, seed 0 =
 * the first chunks) and HDF5 token datasets (rank 1 and 2, any integer
 * width, the default dataset choice, and clear errors). */
#include <check.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_open.h"
#include "slmc_calib_data.h"
#include "slmc_calib_stats.h"
#include "slmrt_tokenizer.h"
#include "test_support.h"

static const char *tiny(void) { return ts_tiny_model("calib-data-tiny", "f32"); }

/* The tiny model's tokenizer (bounds ids by its vocabulary). */
static slmrt_tok *tiny_tok(slm_model **m) {
    slm_diag d = {0};
    ck_assert_msg(slm_model_open(tiny(), NULL, m, &d) == SLM_OK, "%s", d.msg);
    slmrt_tok *tk = NULL;
    ck_assert_msg(slmrt_tok_new(&(*m)->tok, &tk, &d) == SLM_OK, "%s", d.msg);
    return tk;
}

/* A .tokens file of n ids 0, 1, ..., n-1. */
static const char *counting_tokens(const char *name, int n) {
    static char path[4096];
    snprintf(path, sizeof path, "%s", ts_tmp(name));
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < n; i++) fprintf(f, "%d%c", i, i % 7 == 6 ? '\n' : ' ');
    fclose(f);
    return path;
}

enum { CHUNK = 4, KEEP = 3, N_CHUNKS = 10 };

static void read_sample(const char *path, const slmrt_tok *tk, uint64_t seed, int32_t **ids, size_t *n,
                        slmc_calib_data_info *info) {
    slmc_calib_data_opts o = {.max_tokens = KEEP * CHUNK, .chunk = CHUNK, .seed = seed};
    slm_diag d = {0};
    ck_assert_msg(slmc_calib_data_read(path, &o, tk, ids, n, info, &d) == SLM_OK, "%s", d.msg);
}

START_TEST(sampling_is_uniform_ordered_and_reproducible) {
    slm_model *m = NULL;
    slmrt_tok *tk = tiny_tok(&m);
    /* 10 whole chunks and 2 ids of an 11th, which is never kept */
    const char *path = counting_tokens("count.tokens", N_CHUNKS * CHUNK + 2);
    int32_t *ids = NULL;
    size_t n = 0;
    slmc_calib_data_info info;
    read_sample(path, tk, 0, &ids, &n, &info);
    ck_assert_uint_ge(n, KEEP * CHUNK);
    for (int i = 0; i < KEEP * CHUNK; i++) ck_assert_int_eq(ids[i], i);
    free(ids);

    int picked[N_CHUNKS] = {0};
    int32_t first[KEEP * CHUNK];
    bool differs = false;
    const int trials = 3000;
    for (int seed = 1; seed <= trials; seed++) {
        read_sample(path, tk, (uint64_t)seed, &ids, &n, &info);
        ck_assert_uint_eq(n, KEEP * CHUNK);
        ck_assert_uint_eq(info.tokens_read, N_CHUNKS * CHUNK + 2);
        ck_assert_uint_eq(info.chunks_seen, N_CHUNKS);
        ck_assert_uint_eq(info.chunks_kept, KEEP);
        for (int c = 0; c < KEEP; c++) {
            const int32_t *chunk = ids + c * CHUNK;
            ck_assert_int_eq(chunk[0] % CHUNK, 0); /* whole chunks, as cut from the data */
            for (int k = 1; k < CHUNK; k++) ck_assert_int_eq(chunk[k], chunk[0] + k);
            if (c > 0) ck_assert_int_gt(chunk[0], chunk[-CHUNK]); /* in file order, distinct */
            picked[chunk[0] / CHUNK]++;
        }
        if (seed == 1) memcpy(first, ids, sizeof first);
        else differs |= memcmp(first, ids, sizeof first) != 0;
        free(ids);
    }
    ck_assert(differs);
    /* each chunk is kept with probability 3/10: 900 of 3000 expected, sd 25 */
    for (int c = 0; c < N_CHUNKS; c++)
        ck_assert_msg(picked[c] > 780 && picked[c] < 1020, "chunk %d kept %d times of %d", c, picked[c], trials);
    read_sample(path, tk, 1, &ids, &n, &info);
    ck_assert(!memcmp(first, ids, sizeof first));
    free(ids);

    /* less than one chunk: what there is, so the caller can say how much */
    const char *small = counting_tokens("small.tokens", 3);
    read_sample(small, tk, 5, &ids, &n, &info);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(info.chunks_seen, 0);
    free(ids);
    slmrt_tok_free(tk);
    slm_model_free(m);
}
END_TEST

/* ---------------------------------------------------------------- HDF5 */

static void put_dataset(hid_t file, const char *name, hid_t mem_type, hid_t file_type, int rank, const hsize_t *dims,
                        const void *data) {
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(ds >= 0);
    ck_assert(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(ds);
    H5Sclose(space);
}

static hid_t new_h5(const char *path) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(f >= 0);
    return f;
}

static slm_status read_h5(const char *path, const char *dataset, const slmrt_tok *tk, int32_t **ids, size_t *n,
                          slm_diag *d) {
    slmc_calib_data_opts o = {.dataset = dataset, .max_tokens = 1u << 30};
    return slmc_calib_data_read(path, &o, tk, ids, n, NULL, d);
}

static void expect_h5_error(const char *path, const char *dataset, const slmrt_tok *tk, const char *frag) {
    slm_diag d = {0};
    int32_t *ids = NULL;
    size_t n = 0;
    ck_assert(read_h5(path, dataset, tk, &ids, &n, &d) == SLM_ERR_INPUT);
    ck_assert_msg(strstr(d.msg, frag) && strstr(d.msg, path), "message lacks '%s' or the path: %s", frag, d.msg);
    ck_assert_ptr_null(ids);
}

START_TEST(hdf5_token_datasets) {
    slm_model *m = NULL;
    slmrt_tok *tk = tiny_tok(&m);
    const int n_vocab = slmrt_tok_n_vocab(tk);
    slm_diag d = {0};
    int32_t *ids = NULL;
    size_t n = 0;

    /* rank 2 int32 input_ids beside an attention_mask: input_ids is chosen */
    char rows[4096];
    snprintf(rows, sizeof rows, "%s", ts_tmp("rows.h5"));
    int32_t grid[3][10], mask[3][10];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 10; c++) grid[r][c] = (r * 37 + c * 11) % n_vocab, mask[r][c] = 1;
    hid_t f = new_h5(rows);
    hsize_t dims2[2] = {3, 10};
    put_dataset(f, "attention_mask", H5T_NATIVE_INT32, H5T_STD_I32LE, 2, dims2, mask);
    put_dataset(f, "input_ids", H5T_NATIVE_INT32, H5T_STD_I32LE, 2, dims2, grid);
    H5Fclose(f);
    ck_assert_msg(read_h5(rows, NULL, tk, &ids, &n, &d) == SLM_OK, "%s", d.msg);
    ck_assert_uint_eq(n, 30);
    ck_assert(!memcmp(ids, grid, sizeof grid));
    free(ids);

    /* one uint16 stream longer than a read piece, under another name */
    char stream[4096];
    snprintf(stream, sizeof stream, "%s", ts_tmp("stream.hdf5"));
    const size_t len = 150001;
    uint16_t *v = malloc(len * sizeof *v);
    for (size_t i = 0; i < len; i++) v[i] = (uint16_t)((i * 7919) % (size_t)n_vocab);
    f = new_h5(stream);
    hsize_t dim1 = len;
    put_dataset(f, "corpus", H5T_NATIVE_UINT16, H5T_STD_U16LE, 1, &dim1, v);
    H5Fclose(f);
    ck_assert_msg(read_h5(stream, NULL, tk, &ids, &n, &d) == SLM_OK, "%s", d.msg);
    ck_assert_uint_eq(n, len);
    for (size_t i = 0; i < len; i++) ck_assert_int_eq(ids[i], v[i]);
    free(ids);
    free(v);

    /* ambiguity, a wrong name, floats and an id outside the vocabulary */
    char bad[4096];
    snprintf(bad, sizeof bad, "%s", ts_tmp("bad.h5"));
    int64_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, n_vocab, 7};
    float fl[4] = {1, 2, 3, 4};
    hsize_t dim4 = 4;
    f = new_h5(bad);
    put_dataset(f, "a", H5T_NATIVE_INT64, H5T_STD_I64LE, 1, &dim4, a);
    put_dataset(f, "b", H5T_NATIVE_INT64, H5T_STD_I64LE, 1, &dim4, b);
    put_dataset(f, "f", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 1, &dim4, fl);
    H5Fclose(f);
    expect_h5_error(bad, NULL, tk, "(the root has: a, b, f); name it with --dataset");
    expect_h5_error(bad, "nope", tk, "no dataset named nope");
    expect_h5_error(bad, "f", tk, "dataset f holds floating-point numbers, expected integer token ids");
    expect_h5_error(bad, "b", tk, "token 2 is id");
    ck_assert_msg(read_h5(bad, "a", tk, &ids, &n, &d) == SLM_OK, "%s", d.msg);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(ids[3], 4);
    free(ids);
    expect_h5_error(counting_tokens("not.h5", 10), NULL, tk, "not an HDF5 file");
    slmrt_tok_free(tk);
    slm_model_free(m);
}
END_TEST

/* The CLI: an HDF5 dataset gives the same statistics as the same ids in a
 * .tokens file; sampling seeds change which chunks are used. */
START_TEST(calibrate_cli_reads_hdf5_and_samples) {
    slm_model *m = NULL;
    slmrt_tok *tk = tiny_tok(&m);
    const int n_vocab = slmrt_tok_n_vocab(tk);
    char h5[4096], toks[4096], sa[4096], sb[4096], sc[4096], sd[4096];
    snprintf(h5, sizeof h5, "%s", ts_tmp("cli.h5"));
    snprintf(toks, sizeof toks, "%s", ts_tmp("cli.tokens"));
    int32_t grid[8][16];
    FILE *tf = fopen(toks, "w");
    for (int r = 0; r < 8; r++)
        for (int c = 0; c < 16; c++) {
            grid[r][c] = (r * 131 + c * 17 + 3) % n_vocab;
            fprintf(tf, "%d ", grid[r][c]);
        }
    fclose(tf);
    hid_t f = new_h5(h5);
    hsize_t dims[2] = {8, 16};
    put_dataset(f, "tokens", H5T_NATIVE_INT32, H5T_STD_I32LE, 2, dims, grid);
    H5Fclose(f);
    snprintf(sa, sizeof sa, "%s", ts_tmp("h5.stats"));
    snprintf(sb, sizeof sb, "%s", ts_tmp("tok.stats"));
    snprintf(sc, sizeof sc, "%s", ts_tmp("seed2.stats"));
    snprintf(sd, sizeof sd, "%s", ts_tmp("seed0.stats"));
    const char *cmd = "%s calibrate %s --data %s -o %s --ctx 16 --tokens 48 --quiet %s";
    ck_assert_int_eq(ts_run(NULL, cmd, ts_bin("slmc"), tiny(), h5, sa, "--seed 1"), 0);
    ck_assert_int_eq(ts_run(NULL, cmd, ts_bin("slmc"), tiny(), toks, sb, "--seed 1"), 0);
    ck_assert_int_eq(ts_run(NULL, cmd, ts_bin("slmc"), tiny(), toks, sc, "--seed 2"), 0);
    ck_assert_int_eq(ts_run(NULL, cmd, ts_bin("slmc"), tiny(), toks, sd, "--seed 0"), 0);
    slm_diag d = {0};
    slmc_stats *xa = NULL, *xb = NULL, *xc = NULL, *xd = NULL;
    ck_assert(slmc_stats_load(sa, &xa, &d) == SLM_OK && slmc_stats_load(sb, &xb, &d) == SLM_OK);
    ck_assert(slmc_stats_load(sc, &xc, &d) == SLM_OK && slmc_stats_load(sd, &xd, &d) == SLM_OK);
    const char *w = "blk.0.attn_q.weight";
    const slmc_stats_entry *ea = slmc_stats_find(xa, w), *eb = slmc_stats_find(xb, w), *ec = slmc_stats_find(xc, w),
                           *ed = slmc_stats_find(xd, w);
    ck_assert(ea && eb && ec && ed);
    ck_assert_uint_eq(xa->n_tokens, 48);
    ck_assert(!memcmp(ea->sum_x2, eb->sum_x2, ea->n_in * sizeof(double)));
    ck_assert(memcmp(eb->sum_x2, ec->sum_x2, eb->n_in * sizeof(double)) != 0 ||
              memcmp(eb->sum_x2, ed->sum_x2, eb->n_in * sizeof(double)) != 0);
    slmc_stats_free(xa), slmc_stats_free(xb), slmc_stats_free(xc), slmc_stats_free(xd);
    slmrt_tok_free(tk);
    slm_model_free(m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("calib_data");
    TCase *tc = tcase_create("calib_data");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, sampling_is_uniform_ordered_and_reproducible);
    tcase_add_test(tc, hdf5_token_datasets);
    tcase_add_test(tc, calibrate_cli_reads_hdf5_and_samples);
    suite_add_tcase(s, tc);
    return ts_run_suite(s);
}
