/* slmc_gptq.c - see slmc_gptq.h. Follows the reference algorithm (its
 * Cholesky form and lazy batch updates): with U the upper Cholesky factor
 * of H⁻¹, quantizing column j of a row with error e = (w_j - q_j) / U_jj
 * takes w_c -= e * U_jc from every later column c. Within a batch of
 * columns the update runs row by row; the columns after the batch get the
 * whole batch's errors at once, as one sgemm. Rows are independent, so
 * they run in parallel and the result does not depend on the thread
 * count. */
#include "slmc_gptq.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "slm_qblock.h"

bool slmc_gptq_supports(slm_type type) { return slm_qblock_span(type) > 0; }

/* U, the upper Cholesky factor of (H + damp * mean(diag H) * I)⁻¹, in
 * float; tries damp, 10x and 100x. H (n x n) is left clobbered. */
static slm_status inverse_factor(double *h, const double *h_orig, int64_t n, double damp, float *u, double *used,
                                 slm_diag *d) {
    double mean = 0;
    for (int64_t j = 0; j < n; j++) mean += h_orig[j * n + j];
    mean /= (double)n;
    if (!(mean > 0)) mean = 1.0;
    for (int attempt = 0; attempt < 3; attempt++, damp *= 10) {
        memcpy(h, h_orig, sizeof(double) * (size_t)(n * n));
        for (int64_t j = 0; j < n; j++) h[j * n + j] += damp * mean;
        if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, h, (lapack_int)n) != 0) continue;
        if (LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, h, (lapack_int)n) != 0) continue;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = i + 1; j < n; j++) h[i * n + j] = h[j * n + i];
        if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)n, h, (lapack_int)n) != 0) continue;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) u[i * n + j] = j >= i ? (float)h[i * n + j] : 0.0f;
        *used = damp;
        return SLM_OK;
    }
    return slm_diag_set(d, SLM_ERR_INPUT, "the Gram matrix (%lld x %lld) is singular even with damping %g",
                        (long long)n, (long long)n, damp / 10);
}

slm_status slmc_gptq_inverse_factor(const double *gram, int64_t n, double damp, float *u, double *used,
                                    slm_diag *d) {
    double *h = malloc(sizeof(double) * (size_t)(n * n));
    if (!h) return slm_diag_set(d, SLM_ERR_NOMEM, "out of memory for a %lld x %lld matrix", (long long)n, (long long)n);
    slm_status st = inverse_factor(h, gram, n, damp, u, used, d);
    free(h);
    return st;
}

/* sum over rows of (w0 - q)ᵀ G (w0 - q), q decoded from the encoded rows. */
static double output_error(slm_type type, const float *w0, const void *rows, int64_t n_rows, int64_t n,
                           const float *g, float *dq, float *dg) {
    const size_t rb = slm_type_row_size(type, n);
    const slm_type_traits *tr = slm_type_traits_get(type);
    for (int64_t r = 0; r < n_rows; r++) {
        float *dr = dq + r * n;
        tr->to_f32((const uint8_t *)rows + (size_t)r * rb, dr, n);
        for (int64_t j = 0; j < n; j++) dr[j] = w0[r * n + j] - dr[j];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n_rows, (int)n, (int)n, 1.0f, dq, (int)n, g, (int)n,
                0.0f, dg, (int)n);
    double err = 0;
    for (int64_t i = 0; i < n_rows * n; i++) err += (double)dq[i] * dg[i];
    return err;
}

static int cmp_desc(const void *a, const void *b, void *h) {
    const double x = ((const double *)h)[*(const int64_t *)a], y = ((const double *)h)[*(const int64_t *)b];
    if (x != y) return x > y ? -1 : 1;
    return *(const int64_t *)a < *(const int64_t *)b ? -1 : 1; /* stable */
}

slm_status slmc_gptq_quantize(slm_type type, float *w, int64_t n_rows, int64_t n_cols, const double *gram,
                              const float *imp, const uint8_t *zero_mask, const slmc_gptq_opts *o, void *dst,
                              slmc_gptq_result *res, slm_diag *d) {
    memset(res, 0, sizeof *res);
    const int span = slm_qblock_span(type);
    if (!span) return slm_diag_set(d, SLM_ERR_UNSUPPORTED, "gptq: no element access for type %s", slm_type_name(type));
    if (n_cols % span)
        return slm_diag_set(d, SLM_ERR_INPUT, "gptq: rows of %lld do not fit %s's blocks of %d", (long long)n_cols,
                            slm_type_name(type), span);
    const slm_type_traits *tr = slm_type_traits_get(type);
    const int64_t n = n_cols;
    const size_t rb = slm_type_row_size(type, n), bb = rb / (size_t)(n / span);
    /* columns per lazy batch: whole blocks, so a block's scales are set from
     * columns that have had every earlier correction */
    const int64_t batch = span > 128 ? span : 128;
    const int n_threads = o->n_threads > 0 ? o->n_threads : omp_get_num_procs();

    double *h = malloc(sizeof(double) * (size_t)(n * n)), *hp = malloc(sizeof(double) * (size_t)(n * n));
    float *u = malloc(sizeof(float) * (size_t)(n * n)), *g = malloc(sizeof(float) * (size_t)(n * n));
    float *w0 = malloc(sizeof(float) * (size_t)(n_rows * n)), *err = malloc(sizeof(float) * (size_t)(n_rows * batch));
    float *wp = malloc(sizeof(float) * (size_t)(n_rows * n)), *dg = malloc(sizeof(float) * (size_t)(n_rows * n));
    uint8_t *ref = malloc(rb * (size_t)n_rows);
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)n);
    slm_status st = SLM_OK;
    if (!h || !hp || !u || !g || !w0 || !err || !wp || !dg || !ref || !perm) {
        st = slm_diag_set(d, SLM_ERR_NOMEM, "gptq: out of memory for a %lld x %lld matrix", (long long)n_rows,
                          (long long)n);
        goto done;
    }
    memcpy(w0, w, sizeof(float) * (size_t)(n_rows * n));
    for (int64_t i = 0; i < n * n; i++) g[i] = (float)gram[i];
    /* the reference rounding, to compare with */
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (int64_t r = 0; r < n_rows; r++) tr->quantize_row(w0 + r * n, ref + (size_t)r * rb, n, imp);

    /* columns no calibration input ever reached carry no information */
    memcpy(h, gram, sizeof(double) * (size_t)(n * n));
    for (int64_t j = 0; j < n; j++)
        if (h[j * n + j] == 0.0) {
            h[j * n + j] = 1.0;
            for (int64_t r = 0; r < n_rows; r++) w[r * n + j] = 0.0f;
        }
    for (int64_t j = 0; j < n; j++) perm[j] = j;
    if (o->act_order) {
        double *diag = malloc(sizeof(double) * (size_t)n);
        if (!diag) {
            st = slm_diag_set(d, SLM_ERR_NOMEM, "gptq: out of memory");
            goto done;
        }
        for (int64_t j = 0; j < n; j++) diag[j] = h[j * n + j];
        qsort_r(perm, (size_t)n, sizeof *perm, cmp_desc, diag);
        free(diag);
        /* block scales from the unquantized rows, set once */
#pragma omp parallel for num_threads(n_threads) schedule(static)
        for (int64_t r = 0; r < n_rows; r++) tr->quantize_row(w + r * n, (uint8_t *)dst + (size_t)r * rb, n, imp);
    }
    /* H and the rows in the order columns are processed */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) hp[i * n + j] = h[perm[i] * n + perm[j]];
    for (int64_t r = 0; r < n_rows; r++)
        for (int64_t j = 0; j < n; j++) wp[r * n + j] = w[r * n + perm[j]];
    st = inverse_factor(h, hp, n, o->damp > 0 ? o->damp : 0.01, u, &res->damp_used, d);
    if (st != SLM_OK) goto done;

    for (int64_t i1 = 0; i1 < n; i1 += batch) {
        const int64_t i2 = i1 + batch < n ? i1 + batch : n;
#pragma omp parallel for num_threads(n_threads) schedule(static)
        for (int64_t r = 0; r < n_rows; r++) {
            float *wr = wp + r * n, *er = err + r * batch;
            uint8_t *qr = (uint8_t *)dst + (size_t)r * rb;
            for (int64_t jp = i1; jp < i2; jp++) {
                const int64_t j = perm[jp];
                uint8_t *blk = qr + (size_t)(j / span) * bb;
                /* in column order a block starts here: its scales come from
                 * the corrected columns (all in this batch) */
                if (!o->act_order && j % span == 0) tr->quantize_row(wr + jp, blk, span, imp ? imp + j : NULL);
                slm_qgrid gr;
                slm_qblock_grid(type, blk, (int)(j % span), &gr);
                const uint64_t bit = (uint64_t)(r * n + j);
                const bool pruned = zero_mask && (zero_mask[bit >> 3] >> (bit & 7) & 1);
                const int k = slm_qgrid_nearest(&gr, pruned ? 0.0f : wr[jp]);
                slm_qblock_set(type, blk, (int)(j % span), k);
                const float e = (wr[jp] - slm_qgrid_value(&gr, k)) / u[jp * n + jp];
                er[jp - i1] = e;
                const float *ur = u + jp * n;
                for (int64_t c = jp + 1; c < i2; c++) wr[c] -= e * ur[c];
            }
        }
        if (i2 < n)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n_rows, (int)(n - i2), (int)(i2 - i1), -1.0f,
                        err, (int)batch, u + i1 * n + i2, (int)n, 1.0f, wp + i2, (int)n);
    }

    res->err = output_error(type, w0, dst, n_rows, n, g, wp, dg);
    res->err_reference = output_error(type, w0, ref, n_rows, n, g, wp, dg);
    if (!(res->err <= res->err_reference)) {
        memcpy(dst, ref, rb * (size_t)n_rows);
        res->kept_reference = true;
    }

done:
    free(h);
    free(hp);
    free(u);
    free(g);
    free(w0);
    free(err);
    free(wp);
    free(dg);
    free(ref);
    free(perm);
    return st;
}
