/* slmrt_cmd_tokenize.c - `slmrt tokenize`: prints the token ids of a text as
 * llama.cpp would produce them, space-separated on one line. Reads only the
 * GGUF's metadata, so vocabulary-only files work too. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm_file.h"
#include "slm_gguf.h"
#include "slmrt_cli.h"
#include "slmrt_tokenizer.h"

static void usage(FILE *f) {
    fprintf(f, "usage: slmrt tokenize -m M.gguf (-p TEXT | --text FILE) [--no-bos]\n"
               "  -m, --model M.gguf   model or vocabulary-only GGUF\n"
               "  -p, --prompt TEXT    text to tokenize\n"
               "      --text FILE      tokenize the contents of FILE (bytes as they are)\n"
               "      --no-bos         do not add BOS/EOS even when the vocabulary asks for them\n"
               "prints the token ids separated by spaces, then a newline\n");
}

int slmrt_cmd_tokenize(int argc, char **argv) {
    enum { OPT_TEXT = 256, OPT_NO_BOS };
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"prompt", required_argument, 0, 'p'},
                                         {"text", required_argument, 0, OPT_TEXT},
                                         {"no-bos", no_argument, 0, OPT_NO_BOS},
                                         {"help", no_argument, 0, 'h'},
                                         {0}};
    const char *model = NULL, *prompt = NULL, *text_file = NULL;
    bool add_special = true;
    int c;
    optind = 0; /* glibc: 0 re-initialises getopt fully, even after an earlier aborted parse */
    opterr = 0; /* we print our own message */
    while ((c = getopt_long(argc, argv, "m:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'p': prompt = optarg; break;
        case OPT_TEXT: text_file = optarg; break;
        case OPT_NO_BOS: add_special = false; break;
        case 'h': usage(stdout); return 0;
        default:
            return slmrt_cli_usage("tokenize", "unknown option or missing argument '%s'",
                                   optind > 0 && optind <= argc ? argv[optind - 1] : "?");
        }
    }
    if (optind < argc) return slmrt_cli_usage("tokenize", "unexpected argument '%s'", argv[optind]);
    if (!model) return slmrt_cli_usage("tokenize", "missing -m M.gguf");
    if (!prompt == !text_file) return slmrt_cli_usage("tokenize", "give exactly one of -p TEXT and --text FILE");

    slm_diag d = {0};
    char *file_text = NULL;
    size_t len = 0;
    if (text_file) {
        if (slm_file_read_all(text_file, &file_text, &len, &d) != SLM_OK) return slmrt_cli_fail(&d);
    } else {
        len = strlen(prompt);
    }
    const char *text = text_file ? file_text : prompt;

    slm_model *m = NULL;
    slmrt_tok *tk = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = 0;
    if (slm_gguf_read(model, &m, &d) != SLM_OK || slmrt_tok_new(&m->tok, &tk, &d) != SLM_OK) {
        slm_diag_prefix(&d, model);
        rc = slmrt_cli_fail(&d);
    } else if (slmrt_tok_encode(tk, text, len, add_special, &ids, &n, &d) != SLM_OK) {
        if (text_file) slm_diag_prefix(&d, text_file);
        rc = slmrt_cli_fail(&d);
    } else {
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
        if (fflush(stdout) != 0 || ferror(stdout)) {
            slm_diag_set(&d, SLM_ERR_IO, "cannot write the token ids to standard output");
            rc = slmrt_cli_fail(&d);
        }
    }
    free(ids);
    slmrt_tok_free(tk);
    slm_model_free(m);
    free(file_text);
    return rc;
}
