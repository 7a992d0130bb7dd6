/* check_pipeline_e2e.c - `slmc compile` as a pass pipeline on the built-in
 * example: recipes (every pass, errors with line and column, flags equal
 * to their recipe keys), the audit trail in the artifact (recipe, input
 * hashes, calibration data, scores), the score step against `slmrt eval
 * --ref`, byte-identical reruns, the size-budget search, `slmc passes`. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slm_gguf.h"
#include "slmc_cli.h"
#include "slmc_registry.h"
#include "test_support.h"

/* out/ of the README's example: the tiny model, an adapter, texts. */
typedef struct example {
    char tiny[4096], adapter[4096], calib[4096], eval[4096];
} example;

static void make_example(example *e) {
    snprintf(e->tiny, sizeof e->tiny, "%s", ts_tiny_model("pipe-tiny", "f32"));
    snprintf(e->adapter, sizeof e->adapter, "%s", ts_tmp("pipe-adapter"));
    snprintf(e->calib, sizeof e->calib, "%s", ts_tmp("pipe-calib.txt"));
    snprintf(e->eval, sizeof e->eval, "%s", ts_tmp("pipe-eval.txt"));
    ck_assert_int_eq(ts_run(NULL, "%s synth --preset tiny --adapter -o %s", ts_bin("slmc"), e->adapter), 0);
    ck_assert_int_eq(ts_run(NULL, "%s synth --text calib -o %s", ts_bin("slmc"), e->calib), 0);
    ck_assert_int_eq(ts_run(NULL, "%s synth --text eval -o %s", ts_bin("slmc"), e->eval), 0);
}

/* ts_tmp's buffer is reused by the next call: a path of our own. */
static const char *tmp_path(const char *name) {
    static char pool[24][4096];
    static int next;
    char *p = pool[next++ % 24];
    snprintf(p, 4096, "%s", ts_tmp(name));
    return p;
}

static const char *write_recipe(const char *name, const char *text) {
    const char *path = tmp_path(name);
    ck_assert_int_eq(ts_write_file(path, text, strlen(text)), 0);
    return path;
}

static slm_model *read_gguf(const char *path) {
    slm_diag d = {0};
    slm_model *m = NULL;
    ck_assert_msg(slm_gguf_read(path, &m, &d) == SLM_OK, "%s", d.msg);
    return m;
}

static const char *kv_str(const slm_model *m, const char *key) {
    const slm_kv *kv = slm_model_find_kv(m, key);
    ck_assert_msg(kv && kv->value.type == SLM_V_STR, "key %s missing or not a string", key);
    return kv->value.v.str.s;
}

/* Runs a compile expected to fail; returns its stderr (malloc'd). */
static char *failing(int want_rc, const char *fmt, const char *a, const char *b, const char *out) {
    char cmd[16384];
    const char *log = tmp_path("pipe-fail.log");
    snprintf(cmd, sizeof cmd, fmt, ts_bin("slmc"), a, b, out);
    int rc = ts_run(log, "%s", cmd);
    char *msg = ts_read_file(log, NULL);
    ck_assert_msg(rc == want_rc, "exit %d (wanted %d): %s", rc, want_rc, msg);
    ck_assert_msg(!ts_file_exists(out), "%s was written", out);
    return msg;
}

START_TEST(recipe_errors_name_line_and_column) {
    example e;
    make_example(&e);
    const char *out = tmp_path("pipe-err.gguf");
    const char *fmt = "%s compile %s --recipe %s -o %s";
    struct {
        const char *text, *want;
    } cases[] = {
        {"steps:\n  - prune: {method: magnitude, sparsityy: 0.5}\n", ":2:32: prune: unknown key 'sparsityy'"},
        {"steps:\n  - quantise: {type: q4_0}\n", ":2:5: unknown step 'quantise'"},
        {"steps:\n  - quantize:\n      type: q9_0\n", ":3:13: quantize.type 'q9_0': expected a type"},
        {"steps:\n  - quantize: {type: q4_0\n", ":3:1: did not find expected ',' or '}'"},
        {"steps:\n  - quantize: {type: q4_0}\n  - prune: {method: magnitude}\n", ":3:5: prune after quantize"},
        {"stepz: []\n", ":1:1: unknown key 'stepz'"},
        {"steps:\n  - quantize: {tensor-type: [a, b]}\n", ":2:29: quantize.tensor-type: expected a mapping"},
        {"steps:\n  - calibrate: {gram: maybe}\n", ":2:23: calibrate.gram: expected true or false"},
        {"steps:\n  - prune: {method: wanda}\n  - calibrate: {data: x.txt}\n",
         "wanda needs activation statistics from before pruning"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "pipe-bad%zu.yaml", i);
        const char *path = write_recipe(name, cases[i].text);
        char *msg = failing(SLMC_EXIT_INPUT, fmt, e.tiny, path, out);
        ck_assert_msg(strstr(msg, cases[i].want) != NULL, "case %zu: wanted '%s' in: %s", i, cases[i].want, msg);
        ck_assert_msg(strstr(msg, path) || strstr(cases[i].want, "wanda"), "case %zu: file not named: %s", i, msg);
        free(msg);
    }
}
END_TEST

/* A flag and the recipe key it abbreviates give the same tensors (flags
 * put calibrate before prune: the statistics are the unpruned model's). */
START_TEST(flags_equal_recipe) {
    example e;
    make_example(&e);
    const char *a = tmp_path("pipe-flags.gguf"), *b = tmp_path("pipe-recipe.gguf");
    ck_assert_int_eq(ts_run(NULL, "%s compile %s -o %s --prune magnitude --sparsity 0.4 --prune-ignore 'blk\\.0\\.' "
                                  "--type q4_0 --tensor-type attn_v=q8_0 --calib-data %s --calib-ctx 64 --quiet",
                            ts_bin("slmc"), e.tiny, a, e.calib),
                     0);
    char text[2048];
    snprintf(text, sizeof text,
             "steps:\n  - calibrate: {data: %s, ctx: 64}\n"
             "  - prune: {method: magnitude, sparsity: 0.4, ignore: ['blk\\.0\\.']}\n  - quantize:\n      type: q4_0\n      tensor-type: {attn_v: q8_0}\n",
             e.calib);
    const char *r = write_recipe("pipe-eq.yaml", text);
    ck_assert_int_eq(ts_run(NULL, "%s compile %s -o %s --recipe %s --quiet", ts_bin("slmc"), e.tiny, b, r), 0);
    slm_model *x = read_gguf(a), *y = read_gguf(b);
    ck_assert_uint_eq(x->n_tensors, y->n_tensors);
    int v_in_q8 = 0;
    for (uint32_t i = 0; i < x->n_tensors; i++) {
        const slm_tensor *s = &x->tensors[i], *t = &y->tensors[i];
        ck_assert_str_eq(s->name, t->name);
        ck_assert_int_eq(s->type, t->type);
        ck_assert_uint_eq(s->nbytes, t->nbytes);
        ck_assert_msg(!memcmp(s->data, t->data, s->nbytes), "%s differs", s->name);
        v_in_q8 += !strcmp(s->name, "blk.1.attn_v.weight") && s->type == SLM_TYPE_Q8_0;
    }
    ck_assert_int_eq(v_in_q8, 1);
    /* the recipe is recorded as written; the flags' run has none */
    ck_assert_str_eq(kv_str(y, "slmc.recipe"), text);
    ck_assert_ptr_null(slm_model_find_kv(x, "slmc.recipe"));
    slm_model_free(x);
    slm_model_free(y);
}
END_TEST

static double json_num(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_number(v), "%s missing", key);
    return json_number_value(v);
}

/* Every pass end to end, the audit trail, and the same bytes again. */
START_TEST(full_recipe_audit_trail_and_determinism) {
    example e;
    make_example(&e);
    char text[4096];
    snprintf(text, sizeof text,
             "description: every pass\nsteps:\n  - lora-merge:\n      adapters:\n        - {path: %s, weight: 0.5}\n"
             "  - prune: {method: magnitude, sparsity: 0.3, ignore: ['blk\\.0\\.']}\n"
             "  - calibrate: {data: %s, tokens: 1024, ctx: 64}\n"
             "  - quantize: {type: q4_0, method: gptq, tensor-type: {attn_v: q8_0}}\n"
             "  - score: {data: %s, ctx: 64}\n",
             e.adapter, e.calib, e.eval);
    const char *r = write_recipe("pipe-full.yaml", text);
    const char *a = tmp_path("pipe-full.gguf"), *rep = tmp_path("pipe-full.json");
    const char *log = tmp_path("pipe-full.log");
    int rc = ts_run(log, "SLMC_CACHE_DIR=%s %s compile %s -o %s --recipe %s --report %s", tmp_path("pipe-cache"),
                    ts_bin("slmc"), e.tiny, a, r, rep);
    char *msg = ts_read_file(log, NULL);
    ck_assert_msg(rc == 0, "%s", msg);
    free(msg);
    /* again, one thread, no report, the teacher's logits now from the
     * cache: the same bytes */
    size_t la = 0, lb = 0;
    char *x = ts_read_file(a, &la);
    ck_assert_int_eq(ts_run(NULL, "SLMC_CACHE_DIR=%s %s compile %s -o %s --recipe %s --threads 1 --quiet",
                            tmp_path("pipe-cache"), ts_bin("slmc"), e.tiny, a, r),
                     0);
    char *y = ts_read_file(a, &lb);
    ck_assert_msg(la == lb && !memcmp(x, y, la), "reruns differ");
    free(x);
    free(y);

    slm_model *m = read_gguf(a);
    ck_assert_str_eq(kv_str(m, "slmc.recipe"), text);
    ck_assert_str_eq(kv_str(m, "slmc.calibration.data"), e.calib);
    struct stat sb;
    ck_assert_int_eq(stat(e.calib, &sb), 0);
    const slm_kv *bytes = slm_model_find_kv(m, "slmc.calibration.bytes");
    ck_assert(bytes && bytes->value.v.u64 == (uint64_t)sb.st_size);
    /* every input is hashed: the model's files, recipe, data, adapter */
    const slm_kv *in = slm_model_find_kv(m, "slmc.inputs"), *sh = slm_model_find_kv(m, "slmc.inputs.sha256");
    ck_assert(in && sh && in->value.n == sh->value.n);
    const slm_str *paths = in->value.v.arr, *hex = sh->value.v.arr;
    int found = 0;
    for (uint64_t i = 0; i < in->value.n; i++) {
        char want[65];
        slm_diag d = {0};
        ck_assert_msg(slmc_sha256_file(paths[i].s, want, &d) == SLM_OK, "%s", d.msg);
        ck_assert_msg(!strncmp(hex[i].s, want, 64), "%s: recorded hash differs", paths[i].s);
        found += !strcmp(paths[i].s, r) + !strcmp(paths[i].s, e.calib) + !strcmp(paths[i].s, e.eval) +
                 (strstr(paths[i].s, "adapter_model.safetensors") != NULL);
    }
    ck_assert_int_eq(found, 4);
    const slm_kv *ad = slm_model_find_kv(m, "slmc.lora.adapters");
    ck_assert(ad && ad->value.n == 1);
    /* the scores of these bytes */
    json_error_t je;
    json_t *score = json_loads(kv_str(m, "slmc.score"), JSON_DISABLE_EOF_CHECK, &je);
    ck_assert_msg(score, "slmc.score is not JSON: %s", je.text);
    ck_assert(json_num(score, "kld_mean") > 0 && json_num(score, "kld_mean") < 5);
    ck_assert(json_num(score, "scored_tokens") >= 64);
    ck_assert(json_num(score, "kld_p99") >= json_num(score, "kld_median"));
    json_decref(score);
    slm_model_free(m);

    /* the report: every pass, and the tensors */
    json_t *j = json_load_file(rep, 0, &je);
    ck_assert_msg(j, "%s: %s", rep, je.text);
    json_t *passes = json_object_get(j, "passes");
    const char *want[] = {"lora-merge", "prune", "calibrate", "quantize", "write", "score"};
    ck_assert_uint_ge(json_array_size(passes), 6);
    for (size_t i = 0; i < 6; i++) {
        int hit = 0;
        for (size_t k = 0; k < json_array_size(passes); k++)
            hit |= !strcmp(json_string_value(json_object_get(json_array_get(passes, k), "name")), want[i]);
        ck_assert_msg(hit, "pass %s not in the report", want[i]);
    }
    ck_assert_uint_eq(json_array_size(json_object_get(j, "tensors")), 39);
    json_decref(j);
    char md[4200];
    snprintf(md, sizeof md, "%s", rep);
    strcpy(md + strlen(md) - 5, ".md");
    ck_assert(ts_file_exists(md));
}
END_TEST

/* The score step's figures are `slmrt eval --ref`'s on the same text. */
START_TEST(score_step_agrees_with_slmrt_eval) {
    example e;
    make_example(&e);
    const char *ref = tmp_path("pipe-ref.gguf"), *q = tmp_path("pipe-q.gguf"), *js = tmp_path("pipe-eval.json");
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --type f32 -o %s --quiet", ts_bin("slmc"), e.tiny, ref), 0);
    ck_assert_int_eq(ts_run(NULL, "%s compile %s --type q4_0 -o %s --score-data %s --score-ctx 64 --quiet",
                            ts_bin("slmc"), ref, q, e.eval),
                     0);
    ck_assert_int_eq(ts_run(js, "%s eval -m %s --ref %s --text %s --ctx 64 --json", ts_bin("slmrt"), q, ref, e.eval), 0);
    json_error_t je;
    json_t *ev = json_load_file(js, 0, &je);
    ck_assert_msg(ev, "%s", je.text);
    slm_model *m = read_gguf(q);
    json_t *sc = json_loads(kv_str(m, "slmc.score"), JSON_DISABLE_EOF_CHECK, &je);
    ck_assert(sc);
    const char *keys[][2] = {{"kld_mean", "kld_mean"},   {"kld_median", "kld_median"}, {"kld_p99", "kld_p99"},
                             {"kld_max", "kld_max"},     {"same_top1", "same_top1"},   {"ppl", "ppl"},
                             {"ppl_teacher", "ppl_ref"}, {"rms_delta_p", "rms_delta_p"}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        double x = json_num(sc, keys[i][0]), y = json_num(ev, keys[i][1]);
        ck_assert_msg(fabs(x - y) <= 1e-7 * fmax(fabs(y), 1e-12), "%s: %.10g vs slmrt eval %.10g", keys[i][0], x, y);
    }
    ck_assert(json_num(sc, "scored_tokens") == json_num(ev, "scored_tokens"));
    json_decref(sc);
    json_decref(ev);
    slm_model_free(m);
}
END_TEST

/* The budget search fits the budget and is never worse than a preset that
 * fits; its report has the candidates and the plot. */
START_TEST(budget_search_fits_and_beats_fitting_presets) {
    example e;
    make_example(&e);
    const char *out = tmp_path("pipe-budget.gguf"), *rep = tmp_path("pipe-budget.json");
    const char *log = tmp_path("pipe-budget.log");
    /* 0.6 MB: between the all-4-bit and all-8-bit files of the tiny model */
    int rc = ts_run(log, "%s compile %s -o %s --budget 600KB --budget-types q4_0 --budget-types q5_0 --budget-types "
                         "q8_0 --calib-data %s --calib-ctx 64 --calib-tokens 256 --report %s",
                    ts_bin("slmc"), e.tiny, out, e.calib, rep);
    char *msg = ts_read_file(log, NULL);
    ck_assert_msg(rc == 0, "%s", msg);
    free(msg);
    struct stat sb;
    ck_assert_int_eq(stat(out, &sb), 0);
    ck_assert_msg(sb.st_size <= 600000, "artifact %lld bytes over the 600000 budget", (long long)sb.st_size);
    json_error_t je;
    json_t *j = json_load_file(rep, 0, &je);
    ck_assert_msg(j, "%s", je.text);
    json_t *cands = json_object_get(json_object_get(j, "search"), "candidates");
    double chosen = NAN, best_preset = INFINITY;
    int n_presets_measured = 0;
    for (size_t i = 0; i < json_array_size(cands); i++) {
        json_t *c = json_array_get(cands, i);
        json_t *meas = json_object_get(c, "kld_measured");
        if (json_is_true(json_object_get(c, "chosen"))) {
            chosen = json_number_value(meas);
            ck_assert(json_number_value(json_object_get(c, "bytes")) <= 600000);
        }
        if (json_is_true(json_object_get(c, "preset")) && json_is_number(meas)) {
            n_presets_measured++;
            ck_assert(json_number_value(json_object_get(c, "bytes")) <= 600000);
            best_preset = fmin(best_preset, json_number_value(meas));
        }
    }
    ck_assert(!isnan(chosen));
    ck_assert_int_ge(n_presets_measured, 1);
    ck_assert_msg(chosen <= best_preset, "chosen %g, best fitting preset %g", chosen, best_preset);
    json_decref(j);
    char svg[4200];
    snprintf(svg, sizeof svg, "%s", rep);
    strcpy(svg + strlen(svg) - 5, ".svg");
    ck_assert(ts_file_exists(svg));
    /* the types vary by tensor: a uniform choice would not need a search */
    slm_model *m = read_gguf(out);
    int types[SLM_TYPE_COUNT] = {0}, distinct = 0;
    for (uint32_t i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].n_dims == 2 && !types[m->tensors[i].type]++) distinct++;
    ck_assert_int_ge(distinct, 2);
    slm_model_free(m);

    /* below the smallest choice: a usage error naming the size */
    msg = failing(SLMC_EXIT_USAGE, "%s compile %s --budget 100KB --calib-data %s --calib-ctx 64 -o %s", e.tiny, e.calib,
                  tmp_path("pipe-budget-small.gguf"));
    ck_assert_msg(strstr(msg, "below the smallest file"), "%s", msg);
    free(msg);
}
END_TEST

/* Every recipe in examples/recipes runs on the built-in example, laid out
 * as scripts/run-example.sh lays it out (out/ in the working directory). */
START_TEST(example_recipes_run) {
    example e;
    make_example(&e);
    char dir[4096], src[4096];
    snprintf(dir, sizeof dir, "%s", tmp_path("pipe-examples"));
    snprintf(src, sizeof src, "%s", __FILE__);
    char *slash = strrchr(src, '/');
    ck_assert_ptr_nonnull(slash);
    strcpy(slash, "/../examples/recipes");
    ck_assert_int_eq(ts_run(NULL, "mkdir -p %s/out && cp -r %s %s/out/tiny && cp -r %s %s/out/tiny-adapter && cp %s "
                                  "%s/out/calib.txt && cp %s %s/out/eval.txt",
                            dir, e.tiny, dir, e.adapter, dir, e.calib, dir, e.eval, dir),
                     0);
    /* the tiny model's rows fit no type below 4.5 bits: the laptop recipe's
     * budget is raised from the command line, which overrides the recipe */
    const char *recipes[] = {"full", "ci", "laptop", "sparse-2of4-int4"};
    const char *extra[] = {"", "", "--bpw 5.2", ""};
    for (size_t i = 0; i < sizeof recipes / sizeof *recipes; i++) {
        const char *log = tmp_path("pipe-example.log");
        int rc = ts_run(log, "cd %s && %s compile out/tiny -o out/%s.gguf --recipe %s/%s.yaml %s --quiet", dir,
                        ts_bin("slmc"), recipes[i], src, recipes[i], extra[i]);
        char *msg = ts_read_file(log, NULL);
        ck_assert_msg(rc == 0, "%s.yaml: exit %d: %s", recipes[i], rc, msg);
        free(msg);
        char art[4200];
        snprintf(art, sizeof art, "%s/out/%s.gguf", dir, recipes[i]);
        slm_model *m = read_gguf(art);
        ck_assert_ptr_nonnull(slm_model_find_kv(m, "slmc.recipe"));
        ck_assert_ptr_nonnull(slm_model_find_kv(m, "slmc.score"));
        slm_model_free(m);
    }
}
END_TEST

START_TEST(passes_lists_the_registry) {
    const char *log = tmp_path("pipe-passes.txt");
    ck_assert_int_eq(ts_run(log, "%s passes", ts_bin("slmc")), 0);
    char *text = ts_read_file(log, NULL);
    int n = 0;
    const slmc_pass_def *p = slmc_registry_passes(&n);
    ck_assert_int_eq(n, 5);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(strstr(text, p[i].name), "%s missing", p[i].name);
        for (int j = 0; j < p[i].n_opts; j++) {
            char flag[64];
            snprintf(flag, sizeof flag, "--%s ", p[i].opts[j].flag);
            ck_assert_msg(strstr(text, flag), "%s missing", flag);
            /* and compile accepts it (an unknown flag is a different error) */
        }
    }
    free(text);
    /* every flag slmc passes shows is one compile knows */
    const char *help = tmp_path("pipe-help.txt");
    ck_assert_int_eq(ts_run(help, "%s compile --help", ts_bin("slmc")), 0);
    text = ts_read_file(help, NULL);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < p[i].n_opts; j++) {
            char flag[64];
            snprintf(flag, sizeof flag, "--%s ", p[i].opts[j].flag);
            ck_assert_msg(strstr(text, flag), "compile --help lacks %s", flag);
        }
    free(text);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("pipeline_e2e");
    TCase *tc = tcase_create("pipeline");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, recipe_errors_name_line_and_column);
    tcase_add_test(tc, flags_equal_recipe);
    tcase_add_test(tc, full_recipe_audit_trail_and_determinism);
    tcase_add_test(tc, score_step_agrees_with_slmrt_eval);
    tcase_add_test(tc, budget_search_fits_and_beats_fitting_presets);
    tcase_add_test(tc, example_recipes_run);
    tcase_add_test(tc, passes_lists_the_registry);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return ts_run_suite(suite()); }
