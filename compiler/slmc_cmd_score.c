/* slmc_cmd_score.c - `slmc score --teacher T --student S [--student S2 ...]
 * (--data FILE | --tokens FILE)`: distillation-loss figures of each student
 * against the teacher (per-token KL(teacher‖student) statistics, top-1
 * agreement, Δp, both perplexities) on `slmrt eval --ref`'s protocol. The
 * teacher runs once per run, or not at all when its logits are in the disk
 * cache (passes/slmc_score.h). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_open.h"
#include "slmc_calib_data.h"
#include "slmc_cli.h"
#include "slmc_score.h"
#include "slmc_score_setup.h"
#include "slmrt.h"

int slmc_cmd_score(int argc, char **argv);

#define TOOL "slmc score"
#define MAX_STUDENTS 64

typedef struct score_args {
    const char *teacher, *students[MAX_STUDENTS], *data, *dataset;
    int n_students;
    long long tokens_max, ctx, threads;
    bool json, no_cache, tokens_file;
    slmc_calib_data_format data_format;
} score_args;

/* A model from any input slmc reads: GGUF through the runtime's loader (as
 * slmrt does), the rest through the IR. */
typedef struct loaded {
    slm_model *ir; /* owned, NULL for GGUF */
    slmrt_model *rm;
} loaded;

static void usage(FILE *f) {
    fprintf(f, "usage: slmc score --teacher T --student S [--student S2 ...] (--data FILE | --tokens FILE)\n"
               "                  [--tokens N | --tokens-max N] [--ctx 512] [--threads N] [--json] [--no-cache]\n"
               "                  [--data-format auto|text|jsonl|tokens|hdf5] [--dataset NAME]\n"
               "  T, S: a .gguf, Hugging Face folder, .safetensors or .h5; students must share T's tokenizer.\n"
               "  FILE: text or JSONL (tokenized with T's tokenizer, BOS at every chunk start), or token ids\n"
               "        (.tokens, HDF5: used as given); any of them gzip-compressed.\n"
               "  The teacher's logits are cached under $SLMC_CACHE_DIR (else $XDG_CACHE_HOME/slmc, else\n"
               "  ~/.cache/slmc); --no-cache or SLMC_TEACHER_CACHE=0 turns that off.\n");
}

static int parse_args(int argc, char **argv, score_args *a) {
    enum { O_TEACHER = 256, O_STUDENT, O_DATA, O_TOKENS, O_TOKENS_MAX, O_CTX, O_NO_CACHE, O_DATA_FORMAT, O_DATASET };
    static const struct option opts[] = {{"teacher", required_argument, 0, O_TEACHER},
                                         {"student", required_argument, 0, O_STUDENT},
                                         {"data", required_argument, 0, O_DATA},
                                         {"tokens", required_argument, 0, O_TOKENS},
                                         {"tokens-max", required_argument, 0, O_TOKENS_MAX},
                                         {"ctx", required_argument, 0, O_CTX},
                                         {"threads", required_argument, 0, 'j'},
                                         {"json", no_argument, 0, 'J'},
                                         {"no-cache", no_argument, 0, O_NO_CACHE},
                                         {"data-format", required_argument, 0, O_DATA_FORMAT},
                                         {"dataset", required_argument, 0, O_DATASET},
                                         {"help", no_argument, 0, 'h'},
                                         {0}};
    memset(a, 0, sizeof *a);
    a->ctx = 512;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:h", opts, NULL)) != -1) {
        switch (c) {
        case O_TEACHER: a->teacher = optarg; break;
        case O_STUDENT:
            if (a->n_students == MAX_STUDENTS)
                return slmc_usage_error(TOOL, "at most %d --student options", MAX_STUDENTS);
            a->students[a->n_students++] = optarg;
            break;
        case O_TOKENS:
            /* --tokens N: how many to score (as slmc calibrate's); --tokens FILE:
             * a token-id file (as slmrt eval's) */
            if (optarg[0] >= '0' && optarg[0] <= '9' && optarg[strspn(optarg, "0123456789")] == 0) {
                if (!slmc_parse_int(optarg, 2, 1ll << 40, &a->tokens_max))
                    return slmc_usage_error(TOOL, "--tokens '%s': expected an integer >= 2", optarg);
                break;
            }
            /* fall through */
        case O_DATA:
            if (a->data) return slmc_usage_error(TOOL, "give exactly one of --data FILE or --tokens FILE");
            a->data = optarg;
            a->tokens_file = c == O_TOKENS;
            break;
        case O_TOKENS_MAX:
            if (!slmc_parse_int(optarg, 2, 1ll << 40, &a->tokens_max))
                return slmc_usage_error(TOOL, "--tokens-max '%s': expected an integer >= 2", optarg);
            break;
        case O_CTX:
            if (!slmc_parse_int(optarg, 4, 1 << 20, &a->ctx))
                return slmc_usage_error(TOOL, "--ctx '%s': expected an integer >= 4", optarg);
            break;
        case 'j':
            if (!slmc_parse_int(optarg, 0, 4096, &a->threads))
                return slmc_usage_error(TOOL, "--threads '%s': expected 0..4096 (0 = all cores)", optarg);
            break;
        case 'J': a->json = true; break;
        case O_NO_CACHE: a->no_cache = true; break;
        case O_DATASET: a->dataset = optarg; break;
        case O_DATA_FORMAT:
            if (!slmc_calib_data_format_parse(optarg, &a->data_format))
                return slmc_usage_error(TOOL, "--data-format '%s': expected auto, text, jsonl, tokens or hdf5",
                                        optarg);
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return SLMC_EXIT_USAGE;
        }
    }
    if (optind != argc) return slmc_usage_error(TOOL, "unexpected argument '%s'", argv[optind]);
    if (!a->teacher) return slmc_usage_error(TOOL, "missing --teacher T");
    if (!a->n_students) return slmc_usage_error(TOOL, "missing --student S");
    if (!a->data) return slmc_usage_error(TOOL, "missing --data FILE or --tokens FILE");
    if (a->tokens_file) {
        if (a->data_format && a->data_format != SLMC_CALIB_DATA_TOKENS)
            return slmc_usage_error(TOOL, "--tokens reads token ids; use --data with --data-format");
        a->data_format = SLMC_CALIB_DATA_TOKENS;
    }
    return 0;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcasecmp(s + n - k, suffix);
}

static slm_status load(const char *path, loaded *l, slm_diag *d) {
    memset(l, 0, sizeof *l);
    if (ends_with(path, ".gguf")) return slmrt_model_load(path, &l->rm, d);
    slm_status st = slm_model_open(path, NULL, &l->ir, d);
    if (st == SLM_OK && (st = slmrt_model_from_ir(l->ir, &l->rm, d)) != SLM_OK) slm_diag_prefix(d, path);
    return st;
}

static void unload(loaded *l) {
    slmrt_model_free(l->rm);
    slm_model_free(l->ir);
}

static json_t *student_json(const char *name, const slmc_score_result *r) {
    json_t *o = json_object();
    json_object_set_new(o, "student", json_string(name));
    json_object_set_new(o, "scored_tokens", json_integer((json_int_t)r->s.n));
    json_object_set_new(o, "ppl", json_real(r->s.ppl));
    json_object_set_new(o, "ppl_teacher", json_real(r->s.ppl_ref));
    json_object_set_new(o, "kld_mean", json_real(r->s.kld_mean));
    json_object_set_new(o, "kld_median", json_real(r->s.kld_median));
    json_object_set_new(o, "kld_p90", json_real(r->s.kld_p90));
    json_object_set_new(o, "kld_p99", json_real(r->s.kld_p99));
    json_object_set_new(o, "kld_max", json_real(r->s.kld_max));
    json_object_set_new(o, "same_top1", json_real(r->s.same_top1));
    json_object_set_new(o, "mean_delta_p", json_real(r->s.mean_dp));
    json_object_set_new(o, "rms_delta_p", json_real(r->s.rms_dp));
    json_object_set_new(o, "student_forward_passes", json_integer((json_int_t)r->student_forward));
    json_object_set_new(o, "seconds", json_real(r->seconds));
    return o;
}

static void student_text(const char *name, const slmc_score_result *r) {
    const slmrt_kld_summary *s = &r->s;
    printf("student %s: %zu scored tokens, %.2f s\n", name, s->n, r->seconds);
    printf("  KLD mean       %.6f\n", s->kld_mean);
    printf("  KLD median     %.6f\n", s->kld_median);
    printf("  KLD p90        %.6f\n", s->kld_p90);
    printf("  KLD p99        %.6f\n", s->kld_p99);
    printf("  KLD max        %.6f\n", s->kld_max);
    printf("  same top-1     %.3f%%\n", 100.0 * s->same_top1);
    printf("  mean Δp        %.3f%%\n", 100.0 * s->mean_dp);
    printf("  RMS Δp         %.3f%%\n", 100.0 * s->rms_dp);
    printf("  PPL teacher    %.6f\n", s->ppl_ref);
    printf("  PPL student    %.6f\n", s->ppl);
    fflush(stdout);
}

int slmc_cmd_score(int argc, char **argv) {
    score_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    slm_diag d = {0};
    loaded teacher = {0}, students[MAX_STUDENTS] = {{0}};
    slmc_teacher *t = NULL;
    json_t *out = a.json ? json_object() : NULL, *arr = a.json ? json_array() : NULL;

    slm_status st = load(a.teacher, &teacher, &d);
    /* every student is loaded and checked before the teacher runs */
    for (int i = 0; st == SLM_OK && i < a.n_students; i++) {
        st = load(a.students[i], &students[i], &d);
        if (st == SLM_OK) st = slmc_score_check_vocab(teacher.rm, a.teacher, students[i].rm, a.students[i], &d);
    }
    slmc_score_setup_opts so = {.data = a.data, .format = a.data_format, .dataset = a.dataset,
                                .max_tokens = (size_t)a.tokens_max, .n_ctx = (int)a.ctx, .n_threads = (int)a.threads,
                                .no_cache = a.no_cache, .teacher_name = a.teacher};
    if (st == SLM_OK) st = slmc_score_setup_teacher(teacher.rm, &so, &t, &d);
    if (st == SLM_OK) {
        const slmrt_kld_plan *p = slmc_teacher_plan(t);
        const size_t n_scored = p->n_chunks * (size_t)p->n_scored;
        const char *note = slmc_teacher_cache_note(t); /* already on stderr */
        if (a.json) {
            json_object_set_new(out, "teacher", json_string(a.teacher));
            json_object_set_new(out, "data", json_string(a.data));
            json_object_set_new(out, "ctx", json_integer(p->chunk));
            json_object_set_new(out, "chunks", json_integer((json_int_t)p->n_chunks));
            json_object_set_new(out, "scored_tokens", json_integer((json_int_t)n_scored));
            json_object_set_new(out, "teacher_forward_passes", json_integer((json_int_t)slmc_teacher_n_forward(t)));
            json_object_set_new(out, "teacher_cached", json_boolean(slmc_teacher_from_cache(t)));
            json_object_set_new(out, "teacher_cache", json_string(note));
            json_object_set_new(out, "teacher_seconds", json_real(slmc_teacher_seconds(t)));
        } else {
            printf("teacher %s: %zu chunks x %d tokens, %zu scored tokens, %llu forward passes%s, %.2f s\n",
                   a.teacher, p->n_chunks, p->chunk, n_scored, (unsigned long long)slmc_teacher_n_forward(t),
                   slmc_teacher_from_cache(t) ? " (logits from the cache)" : "", slmc_teacher_seconds(t));
            fflush(stdout);
        }
    }
    for (int i = 0; st == SLM_OK && i < a.n_students; i++) {
        slmc_score_result r;
        st = slmc_score_student(t, students[i].rm, &r, &d);
        if (st != SLM_OK) break;
        if (a.json) json_array_append_new(arr, student_json(a.students[i], &r));
        else student_text(a.students[i], &r);
    }
    if (st == SLM_OK && a.json) {
        json_object_set(out, "students", arr);
        json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
    }
    json_decref(arr);
    json_decref(out);
    slmc_teacher_free(t);
    for (int i = 0; i < a.n_students; i++) unload(&students[i]);
    unload(&teacher);
    return st == SLM_OK ? 0 : slmc_fail("slmc", &d);
}
