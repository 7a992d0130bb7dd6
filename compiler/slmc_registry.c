/* slmc_registry.c - see slmc_registry.h. */
#include "slmc_registry.h"

#include <string.h>

#define TYPES "f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k|q4_k|q5_k|q6_k|iq4_nl|iq4_xs"

static const slmc_opt_def lora_opts[] = {
    {SLMC_O_LORA, "adapters", "lora", SLMC_OK_ADAPTER, "PATH[:WEIGHT]",
     "a PEFT adapter folder (adapter_config.json + adapter_model.safetensors) or a llama.cpp GGUF LoRA, merged "
     "as W + weight*s*B*A in f32 (weight 1 by default; s = alpha/r, alpha/sqrt(r) with rsLoRA); repeat for several"},
};

static const slmc_opt_def prune_opts[] = {
    {SLMC_O_PRUNE, "method", "prune", SLMC_OK_SCALAR, "magnitude|wanda|sparsegpt",
     "zero the least important weights of the blocks' linear layers: |w|, |w| x input norm (needs calibration), "
     "or SparseGPT with reconstruction (needs calibration with Gram matrices)"},
    {SLMC_O_SPARSITY, "sparsity", "sparsity", SLMC_OK_SCALAR, "S in [0,1)", "fraction of each unit set to zero (0.5)"},
    {SLMC_O_PATTERN, "pattern", "pattern", SLMC_OK_SCALAR, "N:M", "keep N of every M consecutive weights (2:4, 4:8)"},
    {SLMC_O_PRUNE_SCOPE, "scope", "prune-scope", SLMC_OK_SCALAR, "row|tensor|global",
     "the unit whose weights compete (row by default; global: one threshold for the model)"},
    {SLMC_O_MAX_LAYER_SPARSITY, "max-layer-sparsity", "max-layer-sparsity", SLMC_OK_SCALAR, "X in (0,1)",
     "global scope: cap on any layer's sparsity"},
    {SLMC_O_SCHEDULE, "schedule", "schedule", SLMC_OK_SCALAR, "uniform|owl",
     "owl: per-layer sparsities from the layers' outlier ratios, averaging the target"},
    {SLMC_O_OWL_LAMBDA, "owl-lambda", "owl-lambda", SLMC_OK_SCALAR, "X in (0,0.5)", "OWL's spread (0.08)"},
    {SLMC_O_SPARSITY_FOR, "sparsity-for", "sparsity-for", SLMC_OK_MAP, "REGEX=S",
     "tensors matching REGEX get sparsity S (first match wins; 0 = unpruned)"},
    {SLMC_O_PRUNE_TARGETS, "targets", "prune-targets", SLMC_OK_LIST, "REGEX",
     "prune only the tensors matching one of these"},
    {SLMC_O_PRUNE_IGNORE, "ignore", "prune-ignore", SLMC_OK_LIST, "REGEX", "never prune tensors matching these"},
    {SLMC_O_FFN, "ffn", "ffn", SLMC_OK_SCALAR, "N or fraction",
     "structured: keep N FFN channels per layer, the most important by calibration activations"},
    {SLMC_O_HEADS, "heads", "heads", SLMC_OK_SCALAR, "N or fraction",
     "structured: keep N query heads per layer (GQA-consistently)"},
    {SLMC_O_LAYERS, "layers", "layers", SLMC_OK_SCALAR, "N or fraction",
     "structured: keep the N blocks of highest Block Influence"},
    {SLMC_O_IMPORTANCE, "importance", "importance", SLMC_OK_SCALAR, "activation|random",
     "structured: unit importance from activations, or random (the baseline)"},
    {SLMC_O_SEED, "seed", "seed", SLMC_OK_SCALAR, "N", "seed of --importance random"},
};

static const slmc_opt_def calib_opts[] = {
    {SLMC_O_CALIB, "stats", "calib", SLMC_OK_SCALAR, "FILE",
     "statistics from a file instead of a run: slmc calibrate's, or llama.cpp's imatrix .dat"},
    {SLMC_O_CALIB_DATA, "data", "calib-data", SLMC_OK_SCALAR, "FILE",
     "run the model (as the earlier steps left it) over this text / JSONL / .tokens / gzip / HDF5 file"},
    {SLMC_O_CALIB_TOKENS, "tokens", "calib-tokens", SLMC_OK_SCALAR, "N", "tokens to evaluate (65536)"},
    {SLMC_O_CALIB_CTX, "ctx", "calib-ctx", SLMC_OK_SCALAR, "N", "tokens per chunk (512, at most the model's context)"},
    {SLMC_O_CALIB_SEED, "seed", "calib-seed", SLMC_OK_SCALAR, "N",
     "chunks sampled uniformly from the whole file with this seed (1); 0 = the first chunks"},
    {SLMC_O_CALIB_GRAM, "gram", "calib-gram", SLMC_OK_FLAG, "true|false",
     "also collect input Gram matrices (automatic when a later step needs them: gptq, sparsegpt)"},
    {SLMC_O_CALIB_DATASET, "dataset", "calib-dataset", SLMC_OK_SCALAR, "NAME", "HDF5 dataset of token ids"},
};

static const slmc_opt_def quant_opts[] = {
    {SLMC_O_TYPE, "type", "type", SLMC_OK_SCALAR, TYPES " or a mix",
     "every matrix gets this type (llama-quantize --pure); a mix name (q4_k_m, ...) means --mix"},
    {SLMC_O_MIX, "mix", "mix", SLMC_OK_SCALAR, "q4_0|q4_k_m|q3_k_m|...",
     "llama-quantize's per-tensor rules for this type name"},
    {SLMC_O_OUTPUT_TYPE, "output-type", "output-type", SLMC_OK_SCALAR, TYPES, "type of output.weight"},
    {SLMC_O_EMBD_TYPE, "embedding-type", "embedding-type", SLMC_OK_SCALAR, TYPES, "type of token_embd.weight"},
    {SLMC_O_TENSOR_TYPE, "tensor-type", "tensor-type", SLMC_OK_MAP, "REGEX=TYPE|keep",
     "matrices matching REGEX get TYPE, or keep their type (first match wins)"},
    {SLMC_O_QUANT_IGNORE, "ignore", "quant-ignore", SLMC_OK_LIST, "REGEX",
     "matrices matching these keep their type (same as REGEX=keep)"},
    {SLMC_O_METHOD, "method", "method", SLMC_OK_SCALAR, "rtn|imatrix|gptq|awq|awq+gptq",
     "rounding: plain, importance-weighted, GPTQ error compensation, AWQ scales, or both (default imatrix with "
     "calibration, rtn without)"},
    {SLMC_O_GPTQ_DAMP, "gptq-damp", "gptq-damp", SLMC_OK_SCALAR, "X in (0,1]", "GPTQ damping (0.01)"},
    {SLMC_O_GPTQ_ORDER, "gptq-order", "gptq-order", SLMC_OK_SCALAR, "act|natural", "GPTQ column order"},
    {SLMC_O_BUDGET, "budget", "budget", SLMC_OK_SCALAR, "SIZE (e.g. 3.2GB, 900MiB)",
     "choose each matrix's type to minimise the predicted KLD from the teacher within this file size "
     "(needs calibration data)"},
    {SLMC_O_BPW, "bpw", "bpw", SLMC_OK_SCALAR, "X", "the same, as bits per weight of the whole file"},
    {SLMC_O_BUDGET_TYPES, "candidates", "budget-types", SLMC_OK_LIST, TYPES,
     "types the budget search may give a matrix (q2_k q3_k iq4_xs q4_k q5_k q6_k q8_0, with fallbacks)"},
    {SLMC_O_BUDGET_TOKENS, "search-tokens", "budget-tokens", SLMC_OK_SCALAR, "N",
     "calibration tokens each candidate is scored on (the first N of the calibration data; 4096)"},
};

static const slmc_opt_def score_opts[] = {
    {SLMC_O_SCORE_DATA, "data", "score-data", SLMC_OK_SCALAR, "FILE",
     "evaluation text or tokens: KL(teacher || artifact) per token on llama.cpp's perplexity protocol, written "
     "into the artifact (slmc.score) and the report"},
    {SLMC_O_SCORE_TOKENS, "tokens", "score-tokens", SLMC_OK_SCALAR, "N", "tokens to score (all of the file)"},
    {SLMC_O_SCORE_CTX, "ctx", "score-ctx", SLMC_OK_SCALAR, "N", "tokens per chunk (512, at most the context)"},
    {SLMC_O_TEACHER, "teacher", "teacher", SLMC_OK_SCALAR, "MODEL",
     "the reference (default: the input with the recipe's LoRA adapters merged)"},
};

#define N(a) (int)(sizeof(a) / sizeof(a)[0])

static const slmc_pass_def passes[] = {
    {SLMC_PASS_LORA_MERGE, "lora-merge", "merge LoRA adapters into the weights (first, in f32)", lora_opts,
     N(lora_opts)},
    {SLMC_PASS_PRUNE, "prune", "unstructured, N:M or structured (FFN channels, heads, layers) pruning", prune_opts,
     N(prune_opts)},
    {SLMC_PASS_CALIBRATE, "calibrate", "activation statistics of the model as the earlier steps left it",
     calib_opts, N(calib_opts)},
    {SLMC_PASS_QUANTIZE, "quantize", "choose types (a type, a mix, rules, or a size budget) and round", quant_opts,
     N(quant_opts)},
    {SLMC_PASS_SCORE, "score", "distillation loss of the artifact against the teacher (last)", score_opts,
     N(score_opts)},
};

const slmc_pass_def *slmc_registry_passes(int *n) {
    *n = N(passes);
    return passes;
}

const slmc_pass_def *slmc_registry_pass(const char *name) {
    for (int i = 0; i < N(passes); i++)
        if (!strcmp(passes[i].name, name)) return &passes[i];
    return NULL;
}

const slmc_opt_def *slmc_registry_opt(const slmc_pass_def *pass, const char *key) {
    for (int i = 0; pass && i < pass->n_opts; i++)
        if (!strcmp(pass->opts[i].key, key)) return &pass->opts[i];
    return NULL;
}

const slmc_opt_def *slmc_registry_flag(const char *flag) {
    for (int p = 0; p < N(passes); p++)
        for (int i = 0; i < passes[p].n_opts; i++)
            if (!strcmp(passes[p].opts[i].flag, flag)) return &passes[p].opts[i];
    return NULL;
}

const slmc_opt_def *slmc_registry_opt_by_id(slmc_opt_id id) {
    for (int p = 0; p < N(passes); p++)
        for (int i = 0; i < passes[p].n_opts; i++)
            if (passes[p].opts[i].id == id) return &passes[p].opts[i];
    return NULL;
}

const slmc_pass_def *slmc_registry_pass_of(slmc_opt_id id) {
    for (int p = 0; p < N(passes); p++)
        for (int i = 0; i < passes[p].n_opts; i++)
            if (passes[p].opts[i].id == id) return &passes[p];
    return NULL;
}

const char *slmc_registry_keys(const slmc_pass_def *pass) {
    static char buf[512];
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; pass && i < pass->n_opts && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? ", " : "", pass->opts[i].key);
    return buf;
}

void slmc_registry_print(FILE *f, bool markdown) {
    for (int p = 0; p < N(passes); p++) {
        const slmc_pass_def *pd = &passes[p];
        if (markdown) fprintf(f, "### `%s`\n\n%s.\n\n| key | flag | value | |\n|---|---|---|---|\n", pd->name,
                              pd->summary);
        else fprintf(f, "%s\n    %s\n", pd->name, pd->summary);
        for (int i = 0; i < pd->n_opts; i++) {
            const slmc_opt_def *o = &pd->opts[i];
            if (markdown) fprintf(f, "| `%s` | `--%s` | %s | %s |\n", o->key, o->flag, o->value, o->help);
            else fprintf(f, "    %-20s --%-20s %s\n    %-20s   %s\n", o->key, o->flag, o->value, "", o->help);
        }
        fputc('\n', f);
    }
}
