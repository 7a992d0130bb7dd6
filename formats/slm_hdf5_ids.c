/* slm_hdf5_ids.c - token ids from an HDF5 integer dataset (slm_hdf5.h).
 * Read by hyperslabs of whole rows so memory stays bounded by one piece. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_hdf5.h"
#include "slm_hdf5_err.h"

#define PIECE_IDS (64u << 10)

static bool is_int_dataset(hid_t file, const char *name) {
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return false;
    hid_t obj = H5Oopen(file, name, H5P_DEFAULT);
    if (obj < 0) return false;
    bool yes = false;
    if (H5Iget_type(obj) == H5I_DATASET) {
        hid_t t = H5Dget_type(obj);
        yes = t >= 0 && H5Tget_class(t) == H5T_INTEGER;
        if (t >= 0) H5Tclose(t);
    }
    H5Oclose(obj);
    return yes;
}

/* The default choice: a conventional name, else the only integer dataset
 * at the root. `name` gets the choice; errors list what the root holds. */
static slm_status pick_dataset(hid_t file, const char *path, char *name, size_t cap, slm_diag *d) {
    static const char *conventional[] = {"input_ids", "tokens"};
    for (size_t i = 0; i < sizeof conventional / sizeof *conventional; i++)
        if (is_int_dataset(file, conventional[i])) return snprintf(name, cap, "%s", conventional[i]), SLM_OK;
    H5G_info_t info;
    if (H5Gget_info(file, &info) < 0) return slm_hdf5_fail(d, SLM_ERR_INPUT, "%s: cannot list the root group", path);
    char seen[512] = "", link[256];
    int n_int = 0;
    for (hsize_t i = 0; i < info.nlinks; i++) {
        if (H5Lget_name_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, i, link, sizeof link, H5P_DEFAULT) < 0)
            continue;
        size_t used = strlen(seen);
        if (used + strlen(link) + 3 < sizeof seen) snprintf(seen + used, sizeof seen - used, "%s%s", used ? ", " : "", link);
        if (is_int_dataset(file, link) && n_int++ == 0) snprintf(name, cap, "%s", link);
    }
    H5Eclear2(H5E_DEFAULT);
    if (n_int == 1) return SLM_OK;
    return slm_diag_set(d, SLM_ERR_INPUT,
                        "%s: which dataset holds the token ids? expected one named input_ids or tokens, or a single "
                        "integer dataset at the root (the root has: %s); name it with --dataset",
                        path, seen[0] ? seen : "nothing");
}

static slm_status read_rows(hid_t dset, hid_t space, const char *path, const char *name, slm_hdf5_ids_fn fn,
                            void *user, slm_diag *d) {
    int rank = H5Sget_simple_extent_ndims(space);
    if (H5Sget_simple_extent_type(space) != H5S_SIMPLE || rank < 1 || rank > 2)
        return slm_diag_set(d, SLM_ERR_INPUT,
                            "%s: dataset %s has rank %d, expected 1 (a token stream) or 2 (one sequence per row)",
                            path, name, rank);
    hsize_t dims[2] = {1, 1};
    H5Sget_simple_extent_dims(space, dims, NULL);
    /* rank 1 reads as one row cut into pieces; rank 2 as blocks of rows */
    const hsize_t rows = rank == 2 ? dims[0] : 1, cols = rank == 2 ? dims[1] : dims[0];
    if (rows == 0 || cols == 0) return slm_diag_set(d, SLM_ERR_INPUT, "%s: dataset %s is empty", path, name);
    const hsize_t piece_cols = rank == 1 && cols > PIECE_IDS ? PIECE_IDS : cols;
    hsize_t piece_rows = rank == 2 ? PIECE_IDS / cols : 1;
    if (piece_rows < 1) piece_rows = 1;
    int64_t *buf = malloc((size_t)(piece_rows * piece_cols) * sizeof *buf);
    if (!buf) return slm_diag_set(d, SLM_ERR_NOMEM, "%s: out of memory for rows of %llu ids", path,
                                  (unsigned long long)cols);
    slm_status st = SLM_OK;
    for (hsize_t r = 0; r < rows && st == SLM_OK; r += piece_rows) {
        for (hsize_t c = 0; c < cols && st == SLM_OK; c += piece_cols) {
            hsize_t nr = rows - r < piece_rows ? rows - r : piece_rows;
            hsize_t nc = cols - c < piece_cols ? cols - c : piece_cols;
            hsize_t start[2], count[2];
            if (rank == 2) start[0] = r, start[1] = c, count[0] = nr, count[1] = nc;
            else start[0] = c, count[0] = nc;
            hsize_t n = nr * nc;
            hid_t mem = H5Screate_simple(1, &n, NULL);
            if (mem < 0 || H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
                H5Dread(dset, H5T_NATIVE_INT64, mem, space, H5P_DEFAULT, buf) < 0)
                st = slm_hdf5_fail(d, SLM_ERR_IO, "%s: cannot read dataset %s at id %llu", path, name,
                                   (unsigned long long)(r * cols + c));
            if (mem >= 0) H5Sclose(mem);
            if (st != SLM_OK) break;
            int go = fn(user, buf, (size_t)n, (uint64_t)(r * cols + c), d);
            if (go < 0) st = d->status != SLM_OK ? d->status : SLM_ERR_INPUT;
            if (go != 0) {
                free(buf);
                return st;
            }
        }
    }
    free(buf);
    return st;
}

slm_status slm_hdf5_read_ids(const char *path, const char *dataset, slm_hdf5_ids_fn fn, void *user, slm_diag *d) {
    slm_hdf5_quiet q;
    slm_hdf5_quiet_begin(&q);
    slm_status st = SLM_OK;
    hid_t file = -1, dset = -1, type = -1, space = -1;
    char name[256];
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        st = is == 0 ? slm_diag_set(d, SLM_ERR_INPUT, "%s: not an HDF5 file (no HDF5 signature found)", path)
                     : slm_hdf5_fail(d, SLM_ERR_IO, "%s: cannot open", path);
        goto done;
    }
    if ((file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        st = slm_hdf5_fail(d, SLM_ERR_INPUT, "%s: cannot open as HDF5", path);
        goto done;
    }
    if (dataset) snprintf(name, sizeof name, "%s", dataset);
    else if ((st = pick_dataset(file, path, name, sizeof name, d)) != SLM_OK) goto done;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s: no dataset named %s", path, name);
        goto done;
    }
    if ((dset = H5Dopen2(file, name, H5P_DEFAULT)) < 0) {
        st = slm_hdf5_fail(d, SLM_ERR_INPUT, "%s: %s is not a dataset", path, name);
        goto done;
    }
    type = H5Dget_type(dset);
    space = H5Dget_space(dset);
    if (type < 0 || space < 0) {
        st = slm_hdf5_fail(d, SLM_ERR_INPUT, "%s: cannot read the type and shape of dataset %s", path, name);
        goto done;
    }
    if (H5Tget_class(type) != H5T_INTEGER) {
        st = slm_diag_set(d, SLM_ERR_INPUT, "%s: dataset %s holds %s, expected integer token ids", path, name,
                          H5Tget_class(type) == H5T_FLOAT ? "floating-point numbers" : "non-integer values");
        goto done;
    }
    st = read_rows(dset, space, path, name, fn, user, d);
done:
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (dset >= 0) H5Dclose(dset);
    if (file >= 0) H5Fclose(file);
    H5Eclear2(H5E_DEFAULT);
    slm_hdf5_quiet_end(&q);
    return st;
}
