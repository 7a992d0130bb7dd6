/* slmc_report_int.h - private to the report module (slmc_report.c and the
 * plot in slmc_report_svg.c): the report's storage and a growable text
 * buffer both renderers print into. */
#ifndef SLMC_REPORT_INT_H
#define SLMC_REPORT_INT_H

#include <stddef.h>

#include "slmc_report.h"

typedef struct slmc_report_pass {
    char *name, *summary; /* owned; summary may be NULL */
    double seconds;
} slmc_report_pass;

struct slmc_report {
    slmc_report_overall overall; /* strings owned */
    slmc_report_tensor *tensors; /* n_tensors, strings owned */
    uint32_t n_tensors, cap_tensors;
    slmc_report_pass *passes;
    uint32_t n_passes, cap_passes;
    bool has_scores;
    slmc_report_scores scores; /* data owned */
    uint64_t budget;
    slmc_report_candidate *cands; /* labels owned */
    uint32_t n_cands, cap_cands;
    char **warnings;
    uint32_t n_warnings, cap_warnings;
    bool oom; /* an adder failed to allocate; the writers report it */
};

/* Text built in memory and written in one go. Allocation failure is sticky
 * (oom), so renderers print freely and check once at the end. */
typedef struct slmc_strbuf {
    char *s;
    size_t len, cap;
    bool oom;
} slmc_strbuf;

void slmc_sb_printf(slmc_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void slmc_sb_puts(slmc_strbuf *b, const char *s);
/* Text with &, <, >, " and ' escaped for XML. */
void slmc_sb_xml(slmc_strbuf *b, const char *s);

/* Renders the size-vs-KLD plot of r's candidates into b. */
void slmc_report_render_svg(const slmc_report *r, slmc_strbuf *b);

#endif
