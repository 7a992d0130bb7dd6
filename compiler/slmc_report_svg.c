/* slmc_report_svg.c - the report's size-vs-KLD plot, an SVG written by hand
 * (a plotting library for one scatter is not worth the dependency).
 *
 * Each candidate is one marker: search points in blue circles joined in size
 * order (they trace the trade-off curve), presets and uniform types in orange
 * diamonds with their names, the chosen one ringed in red. A candidate's y is
 * its measured KLD, else its predicted one (hollow marker). The y axis turns
 * logarithmic when the values span more than 1.5 decades, which is the
 * usual case from q2_k to q8_0. The budget is a dashed vertical line with the
 * region past it shaded. Labels are placed where they collide with nothing
 * else when such a place exists. */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slmc_report_int.h"

enum { W = 820, H = 520 };
static const double PL = 84, PR = W - 28, PT = 74, PB = H - 64; /* plot area */

#define C_SEARCH "#1f77b4"
#define C_PRESET "#e8750a"
#define C_CHOSEN "#d62728"
#define C_GRID "#e6e6e6"
#define C_MINOR "#f3f3f3"
#define C_AXIS "#444444"
#define C_TEXT "#222222"
#define C_MUTED "#666666"

typedef struct pt {
    const slmc_report_candidate *c;
    double x, y;    /* data: size in the axis unit, KLD */
    double px, py;  /* pixels */
    bool predicted; /* y is a prediction (no measurement) */
} pt;

typedef struct box {
    double x0, y0, x1, y1;
} box;

typedef struct axis {
    double lo, hi;
    bool log;
    double step; /* linear: tick spacing */
} axis;

/* 1, 2 or 5 times a power of ten, near span/n. */
static double nice_step(double span, int n) {
    double raw = span / n, p = pow(10.0, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void axis_linear(axis *a, double lo, double hi, int n_ticks, bool nonneg) {
    double span = hi - lo;
    if (!(span > 0)) span = fabs(hi) > 0 ? fabs(hi) * 0.2 : 1.0;
    lo -= span * 0.08;
    hi += span * 0.08;
    if (nonneg && lo < 0) lo = 0;
    a->log = false;
    a->step = nice_step(hi - lo, n_ticks);
    a->lo = floor(lo / a->step + 1e-9) * a->step;
    a->hi = ceil(hi / a->step - 1e-9) * a->step;
}

static double axis_frac(const axis *a, double v) {
    if (a->log) return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
    return (v - a->lo) / (a->hi - a->lo);
}

static double to_px(const axis *ax, double v) { return PL + axis_frac(ax, v) * (PR - PL); }
static double to_py(const axis *ay, double v) { return PB - axis_frac(ay, v) * (PB - PT); }

/* A tick label: enough decimals for the step, no trailing noise. */
static void fmt_tick(char *buf, size_t n, double v, const axis *a) {
    if (a->log) {
        snprintf(buf, n, "%g", v);
        char *e = strstr(buf, "e-0"); /* 1e-05 -> 1e-5 */
        if (e) memmove(e + 2, e + 3, strlen(e + 3) + 1);
        return;
    }
    int dec = a->step >= 1 ? 0 : (int)ceil(-log10(a->step) - 1e-9);
    if (fabs(v) < a->step * 1e-6) v = 0;
    snprintf(buf, n, "%.*f", dec, v);
}

/* Rough width of text in the plot's sans-serif (UTF-8 aware). */
static double text_w(const char *s, double size) {
    int n = 0;
    for (; *s; s++)
        if ((*s & 0xC0) != 0x80) n++;
    return n * size * 0.58;
}

static double overlap(box a, box b) {
    double w = fmin(a.x1, b.x1) - fmax(a.x0, b.x0), h = fmin(a.y1, b.y1) - fmax(a.y0, b.y0);
    return w > 0 && h > 0 ? w * h : 0;
}

/* Chooses where a label of width w goes around (px, py): the position that
 * overlaps the fewest pixels of markers, earlier labels and the legend, and
 * stays inside the plot. Returns the text anchor point and alignment. */
static box place_label(double px, double py, double w, double size, const box *obst, int n_obst, double *tx,
                       double *ty, const char **anchor) {
    static const struct {
        double dx, dy;
        int align; /* -1 end, 0 middle, 1 start */
    } pos[] = {{10, 4, 1}, {-10, 4, -1}, {0, -11, 0}, {0, 19, 0}, {8, -9, 1}, {-8, -9, -1}, {8, 16, 1}, {-8, 16, -1}};
    double best = INFINITY;
    box bb = {0};
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        double x = px + pos[i].dx, y = py + pos[i].dy;
        double x0 = pos[i].align > 0 ? x : pos[i].align < 0 ? x - w : x - w / 2;
        box b = {x0 - 1, y - size * 0.8, x0 + w + 1, y + size * 0.25};
        double cost = 0;
        for (int k = 0; k < n_obst; k++) cost += overlap(b, obst[k]);
        if (b.x0 < PL || b.x1 > PR || b.y0 < PT || b.y1 > PB) cost += 1e6;
        if (cost < best) {
            best = cost;
            bb = b;
            *tx = x;
            *ty = y;
            *anchor = pos[i].align > 0 ? "start" : pos[i].align < 0 ? "end" : "middle";
        }
        if (cost == 0) break;
    }
    return bb;
}

static int by_x(const void *a, const void *b) {
    const pt *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return p->c < q->c ? -1 : p->c > q->c; /* equal sizes: candidate order */
}

static void marker(slmc_strbuf *b, const pt *p) {
    const char *col = p->c->is_preset ? C_PRESET : C_SEARCH;
    const char *fill = p->predicted ? "#ffffff" : col;
    const char *stroke = p->predicted ? col : "#ffffff";
    double sw = p->predicted ? 1.8 : 1.2;
    if (p->c->is_preset)
        slmc_sb_printf(b,
                       "<path class=\"marker preset\" d=\"M%.1f %.1fl6.5 6.5l-6.5 6.5l-6.5 -6.5z\" fill=\"%s\" "
                       "stroke=\"%s\" stroke-width=\"%.1f\"><title>",
                       p->px, p->py - 6.5, fill, stroke, sw);
    else
        slmc_sb_printf(b,
                       "<circle class=\"marker search\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\" stroke=\"%s\" "
                       "stroke-width=\"%.1f\"><title>",
                       p->px, p->py, fill, stroke, sw);
    slmc_sb_xml(b, p->c->label);
    slmc_sb_printf(b, ": %llu bytes, KLD %.5g%s</title></%s>\n", (unsigned long long)p->c->bytes, p->y,
                   p->predicted ? " (predicted)" : "", p->c->is_preset ? "path" : "circle");
}

static void text(slmc_strbuf *b, double x, double y, const char *anchor, double size, const char *fill,
                 const char *weight, const char *s) {
    slmc_sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%g\" fill=\"%s\"%s%s%s>", x, y,
                   anchor, size, fill, weight ? " font-weight=\"" : "", weight ? weight : "", weight ? "\"" : "");
    slmc_sb_xml(b, s);
    slmc_sb_puts(b, "</text>\n");
}

void slmc_report_render_svg(const slmc_report *r, slmc_strbuf *b) {
    /* unit: the largest that keeps the biggest size at 1 or more */
    uint64_t max_bytes = r->budget;
    for (uint32_t i = 0; i < r->n_cands; i++)
        if (r->cands[i].bytes > max_bytes) max_bytes = r->cands[i].bytes;
    double unit = max_bytes >= (1ull << 30) ? 1073741824.0 : max_bytes >= (1ull << 20) ? 1048576.0 : 1024.0;
    const char *uname = unit > 1e9 ? "GiB" : unit > 1e6 ? "MiB" : "KiB";

    pt *pts = calloc(r->n_cands ? r->n_cands : 1, sizeof *pts);
    if (!pts) {
        b->oom = true;
        return;
    }
    int n = 0, n_hidden = 0;
    for (uint32_t i = 0; i < r->n_cands; i++) {
        const slmc_report_candidate *c = &r->cands[i];
        bool meas = isfinite(c->kld_meas) && c->kld_meas >= 0;
        double y = meas ? c->kld_meas : c->kld_pred;
        if (!isfinite(y) || y < 0) {
            n_hidden++;
            continue;
        }
        pts[n++] = (pt){c, c->bytes / unit, y, 0, 0, !meas};
    }

    /* axes */
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY, ypos = INFINITY;
    for (int i = 0; i < n; i++) {
        xmin = fmin(xmin, pts[i].x);
        xmax = fmax(xmax, pts[i].x);
        ymin = fmin(ymin, pts[i].y);
        ymax = fmax(ymax, pts[i].y);
        if (pts[i].y > 0) ypos = fmin(ypos, pts[i].y);
    }
    if (r->budget) {
        xmin = fmin(xmin, r->budget / unit);
        xmax = fmax(xmax, r->budget / unit);
    }
    if (!isfinite(xmin)) xmin = 0, xmax = 1;
    if (!n) ymin = 0, ymax = 1;
    axis ax, ay;
    axis_linear(&ax, xmin, xmax, 7, true);
    if (!n) {
        ay = (axis){0, 1, false, 0.2}; /* an empty frame for the note */
        if (!r->budget) ax = ay;
    } else if (n && isfinite(ypos) && ymax / ypos > pow(10.0, 1.5)) {
        /* zeros cannot sit on a log axis: they go on its floor */
        ay.log = true;
        ay.lo = pow(10.0, floor(log10(ypos) - 0.05));
        ay.hi = pow(10.0, ceil(log10(ymax) + 0.05));
        ay.step = 0;
    } else {
        axis_linear(&ay, ymin, ymax, 6, true);
    }
    qsort(pts, (size_t)n, sizeof *pts, by_x);
    for (int i = 0; i < n; i++) {
        pts[i].px = to_px(&ax, pts[i].x);
        pts[i].py = to_py(&ay, ay.log && pts[i].y < ay.lo ? ay.lo : pts[i].y);
    }

    slmc_sb_printf(b,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                   "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
                   "<title>size vs KL divergence</title>\n"
                   "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
                   W, H, W, H, W, H);

    /* title and subtitle */
    text(b, W / 2.0, 28, "middle", 17, C_TEXT, "bold", "Artifact size vs KL divergence to the teacher");
    {
        char sub[512] = "", tmp[320];
        if (r->budget) {
            snprintf(tmp, sizeof tmp, "budget %.4g %s", r->budget / unit, uname);
            strncat(sub, tmp, sizeof sub - strlen(sub) - 1);
        }
        for (int i = 0; i < n; i++)
            if (pts[i].c->chosen) {
                snprintf(tmp, sizeof tmp, "%schosen: %s, %.4g %s, KLD %.4g", *sub ? "  ·  " : "", pts[i].c->label,
                         pts[i].x, uname, pts[i].y);
                strncat(sub, tmp, sizeof sub - strlen(sub) - 1);
                break;
            }
        if (*sub) text(b, W / 2.0, 50, "middle", 12, C_MUTED, NULL, sub);
    }

    /* plot area, over-budget shading, grid */
    slmc_sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#ffffff\"/>\n", PL, PT,
                   PR - PL, PB - PT);
    double bx = r->budget ? to_px(&ax, r->budget / unit) : 0;
    if (r->budget && bx < PR)
        slmc_sb_printf(b,
                       "<rect class=\"over-budget\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                       "fill=\"#d62728\" fill-opacity=\"0.05\"/>\n",
                       bx, PT, PR - bx, PB - PT);
    char lab[64];
    slmc_sb_puts(b, "<g class=\"grid\" stroke-width=\"1\">\n");
    if (ay.log) {
        for (double dec = ay.lo; dec < ay.hi * 0.999; dec *= 10)
            for (int m = 2; m <= 9; m++) {
                double y = to_py(&ay, dec * m);
                slmc_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_MINOR "\"/>\n",
                               PL, y, PR, y);
            }
        for (double dec = ay.lo; dec <= ay.hi * 1.001; dec *= 10) {
            double y = to_py(&ay, dec);
            slmc_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GRID "\"/>\n", PL, y,
                           PR, y);
        }
    } else {
        for (double v = ay.lo; v <= ay.hi + ay.step * 1e-6; v += ay.step) {
            double y = to_py(&ay, v);
            slmc_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GRID "\"/>\n", PL, y,
                           PR, y);
        }
    }
    for (double v = ax.lo; v <= ax.hi + ax.step * 1e-6; v += ax.step) {
        double x = to_px(&ax, v);
        slmc_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GRID "\"/>\n", x, PT, x,
                       PB);
    }
    slmc_sb_puts(b, "</g>\n");

    /* axes, ticks, tick labels, axis titles */
    slmc_sb_printf(b,
                   "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"" C_AXIS "\" stroke-width=\"1.2\"/>\n",
                   PL, PT, PB, PR);
    for (double v = ax.lo; v <= ax.hi + ax.step * 1e-6; v += ax.step) {
        double x = to_px(&ax, v);
        slmc_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_AXIS "\"/>\n", x, PB, x,
                       PB + 5);
        fmt_tick(lab, sizeof lab, v, &ax);
        text(b, x, PB + 19, "middle", 11.5, C_TEXT, NULL, lab);
    }
    if (ay.log) {
        for (double dec = ay.lo; dec <= ay.hi * 1.001; dec *= 10) {
            double y = to_py(&ay, dec);
            slmc_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_AXIS "\"/>\n",
                           PL - 5, y, PL, y);
            fmt_tick(lab, sizeof lab, dec, &ay);
            text(b, PL - 8, y + 4, "end", 11.5, C_TEXT, NULL, lab);
        }
    } else {
        for (double v = ay.lo; v <= ay.hi + ay.step * 1e-6; v += ay.step) {
            double y = to_py(&ay, v);
            slmc_sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_AXIS "\"/>\n",
                           PL - 5, y, PL, y);
            fmt_tick(lab, sizeof lab, v, &ay);
            text(b, PL - 8, y + 4, "end", 11.5, C_TEXT, NULL, lab);
        }
    }
    snprintf(lab, sizeof lab, "Size (%s)", uname);
    text(b, (PL + PR) / 2, H - 22, "middle", 13, C_TEXT, NULL, lab);
    slmc_sb_printf(b,
                   "<text x=\"0\" y=\"0\" transform=\"translate(22 %.1f) rotate(-90)\" text-anchor=\"middle\" "
                   "font-size=\"13\" fill=\"" C_TEXT "\">Mean KLD (nats/token)%s</text>\n",
                   (PT + PB) / 2, ay.log ? ", log scale" : "");

    /* obstacles for labels: every marker, then labels as they are placed */
    int n_obst = 0, cap_obst = 2 * n + 4;
    for (int i = 1; i < n; i++) /* samples along the search curve */
        cap_obst += (int)((fabs(pts[i].px - pts[i - 1].px) + fabs(pts[i].py - pts[i - 1].py)) / 6) + 2;
    box *obst = calloc((size_t)cap_obst, sizeof *obst);
    if (!obst) {
        free(pts);
        b->oom = true;
        return;
    }
    for (int i = 0; i < n; i++) obst[n_obst++] = (box){pts[i].px - 7, pts[i].py - 7, pts[i].px + 7, pts[i].py + 7};

    /* legend: in the corner with the fewest markers (usually top right, as
     * KLD falls with size) */
    typedef struct {
        const char *text;
        int kind; /* 0 search, 1 preset, 2 predicted, 3 chosen, 4 budget */
    } legend_entry;
    legend_entry leg[5];
    int n_leg = 0;
    bool any_search = false, any_preset = false, any_pred = false, any_chosen = false;
    for (int i = 0; i < n; i++) {
        any_search |= !pts[i].c->is_preset;
        any_preset |= pts[i].c->is_preset;
        any_pred |= pts[i].predicted;
        any_chosen |= pts[i].c->chosen;
    }
    if (any_search) leg[n_leg++] = (legend_entry){"search candidate", 0};
    if (any_preset) leg[n_leg++] = (legend_entry){"preset / uniform type", 1};
    if (any_pred) leg[n_leg++] = (legend_entry){"hollow: predicted KLD only", 2};
    if (any_chosen) leg[n_leg++] = (legend_entry){"chosen", 3};
    if (r->budget) leg[n_leg++] = (legend_entry){"size budget", 4};
    box lb = {0};
    if (n_leg) {
        double lw = 0;
        for (int i = 0; i < n_leg; i++) lw = fmax(lw, text_w(leg[i].text, 11.5));
        lw += 44;
        double lh = 10 + 19.0 * n_leg;
        box corners[4] = {{PR - 10 - lw, PT + 10, PR - 10, PT + 10 + lh},
                          {PL + 10, PB - 10 - lh, PL + 10 + lw, PB - 10},
                          {PL + 10, PT + 10, PL + 10 + lw, PT + 10 + lh},
                          {PR - 10 - lw, PB - 10 - lh, PR - 10, PB - 10}};
        double best = INFINITY;
        for (int k = 0; k < 4; k++) {
            double cost = 0;
            for (int i = 0; i < n; i++) cost += overlap(corners[k], obst[i]);
            if (r->budget && bx > corners[k].x0 && bx < corners[k].x1) cost += 50; /* prefer not to hide the line */
            if (cost < best) best = cost, lb = corners[k];
        }
    }

    /* budget line, its label at the top */
    if (r->budget) {
        slmc_sb_printf(b,
                       "<line class=\"budget\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_CHOSEN
                       "\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
                       bx, PT, bx, PB);
        snprintf(lab, sizeof lab, "budget %.4g %s", r->budget / unit, uname);
        double w = text_w(lab, 11);
        bool left = bx + 6 + w > PR; /* keep the label inside the plot */
        text(b, left ? bx - 6 : bx + 6, PT + 14, left ? "end" : "start", 11, C_CHOSEN, NULL, lab);
        obst[n_obst++] = left ? (box){bx - 6 - w, PT + 3, bx, PT + 18} : (box){bx, PT + 3, bx + 6 + w, PT + 18};
        obst[n_obst++] = (box){bx - 1.5, PT, bx + 1.5, PB}; /* labels should not straddle the line */
    }
    if (n_leg) obst[n_obst++] = lb;

    /* the search curve: search points in size order */
    int n_search = 0;
    for (int i = 0; i < n; i++) n_search += !pts[i].c->is_preset;
    if (n_search > 1) {
        slmc_sb_puts(b, "<polyline fill=\"none\" stroke=\"" C_SEARCH
                        "\" stroke-opacity=\"0.45\" stroke-width=\"1.5\" points=\"");
        for (int i = 0; i < n; i++)
            if (!pts[i].c->is_preset) slmc_sb_printf(b, "%.1f,%.1f ", pts[i].px, pts[i].py);
        slmc_sb_puts(b, "\"/>\n");
        /* keep labels off the curve: small boxes every ~6 px along it */
        for (int i = 0, prev = -1; i < n; i++) {
            if (pts[i].c->is_preset) continue;
            if (prev >= 0) {
                double x0 = pts[prev].px, y0 = pts[prev].py, x1 = pts[i].px, y1 = pts[i].py;
                int steps = (int)((fabs(x1 - x0) + fabs(y1 - y0)) / 6) + 1;
                for (int k = 1; k < steps; k++) {
                    double x = x0 + (x1 - x0) * k / steps, y = y0 + (y1 - y0) * k / steps;
                    obst[n_obst++] = (box){x - 2, y - 2, x + 2, y + 2};
                }
            }
            prev = i;
        }
    }
    /* markers: search first, presets on top, the chosen ring last */
    for (int i = 0; i < n; i++)
        if (!pts[i].c->is_preset) marker(b, &pts[i]);
    for (int i = 0; i < n; i++)
        if (pts[i].c->is_preset) marker(b, &pts[i]);
    for (int i = 0; i < n; i++)
        if (pts[i].c->chosen) {
            slmc_sb_printf(b,
                           "<circle class=\"chosen\" cx=\"%.1f\" cy=\"%.1f\" r=\"10\" fill=\"none\" stroke=\"" C_CHOSEN
                           "\" stroke-width=\"2.2\"/>\n",
                           pts[i].px, pts[i].py);
            obst[i] = (box){pts[i].px - 11, pts[i].py - 11, pts[i].px + 11, pts[i].py + 11};
        }

    /* labels: the chosen point first (it matters most), then presets */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            const slmc_report_candidate *c = pts[i].c;
            if (pass == 0 ? !c->chosen : (c->chosen || !c->is_preset)) continue;
            const char *s = c->label;
            double size = c->chosen ? 12 : 11;
            double w = text_w(s, size) * (c->chosen ? 1.06 : 1.0), tx = 0, ty = 0;
            const char *anchor = "start";
            double pad = c->chosen ? 5 : 0; /* clear the ring */
            box bb = place_label(pts[i].px + (pts[i].px > (PL + PR) / 2 ? -pad : pad), pts[i].py, w, size, obst,
                                 n_obst, &tx, &ty, &anchor);
            obst[n_obst++] = bb;
            slmc_sb_printf(b,
                           "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%g\" fill=\"%s\"%s "
                           "stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">",
                           tx, ty, anchor, size, c->chosen ? C_CHOSEN : C_TEXT, c->chosen ? " font-weight=\"bold\"" : "");
            slmc_sb_xml(b, s);
            slmc_sb_puts(b, "</text>\n");
        }

    /* legend box */
    if (n_leg) {
        slmc_sb_printf(b,
                       "<g class=\"legend\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"4\" "
                       "fill=\"#ffffff\" fill-opacity=\"0.92\" stroke=\"#cccccc\"/>\n",
                       lb.x0, lb.y0, lb.x1 - lb.x0, lb.y1 - lb.y0);
        for (int i = 0; i < n_leg; i++) {
            double cx = lb.x0 + 18, cy = lb.y0 + 15 + 19.0 * i;
            switch (leg[i].kind) {
            case 0:
                slmc_sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"" C_SEARCH "\"/>\n", cx, cy);
                break;
            case 1:
                slmc_sb_printf(b, "<path d=\"M%.1f %.1fl6.5 6.5l-6.5 6.5l-6.5 -6.5z\" fill=\"" C_PRESET "\"/>\n", cx,
                               cy - 6.5);
                break;
            case 2:
                slmc_sb_printf(b,
                               "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#ffffff\" stroke=\"" C_SEARCH
                               "\" stroke-width=\"1.8\"/>\n",
                               cx, cy);
                break;
            case 3:
                slmc_sb_printf(b,
                               "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"8\" fill=\"none\" stroke=\"" C_CHOSEN
                               "\" stroke-width=\"2.2\"/>\n",
                               cx, cy);
                break;
            default:
                slmc_sb_printf(b,
                               "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_CHOSEN
                               "\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
                               cx, cy - 8, cx, cy + 8);
            }
            text(b, cx + 16, cy + 4, "start", 11.5, C_TEXT, NULL, leg[i].text);
        }
        slmc_sb_puts(b, "</g>\n");
    }

    if (!n)
        text(b, (PL + PR) / 2, (PT + PB) / 2, "middle", 13, C_MUTED, NULL, "no candidate has a KL divergence to plot");
    if (n_hidden) {
        snprintf(lab, sizeof lab, "%d candidate%s without a KLD not shown", n_hidden, n_hidden > 1 ? "s" : "");
        text(b, PR, H - 6, "end", 10.5, C_MUTED, NULL, lab);
    }
    slmc_sb_puts(b, "</svg>\n");
    free(obst);
    free(pts);
}
