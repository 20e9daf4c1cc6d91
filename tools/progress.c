/*
 * progress -- terminal progress bar; see progress.h.
 */
#include "progress.h"

#include <string.h>
#include <unistd.h>

#include "clock.h"

void
tr_progress_init(struct tr_progress *p, const char *unit, int64_t total,
                 int force)
{
    memset(p, 0, sizeof(*p));
    p->out = (force || isatty(STDERR_FILENO)) ? stderr : NULL;
    p->unit = unit;
    p->total = total;
    p->start_ms = tr_clock_mono_ms();
}

void
tr_progress_set_total(struct tr_progress *p, int64_t total)
{
    p->total = total;
}

static void
fmt_duration(char *buf, size_t len, int64_t s)
{
    if (s >= 3600) {
        snprintf(buf, len, "%lld:%02lld:%02lld", (long long)(s / 3600),
                 (long long)(s / 60 % 60), (long long)(s % 60));
    } else {
        snprintf(buf, len, "%02lld:%02lld", (long long)(s / 60),
                 (long long)(s % 60));
    }
}

void
tr_progress_format(char *buf, size_t len, const char *unit, int64_t done,
                   int64_t total, int64_t elapsed_ms, int width)
{
    char bar[128], eta[32];
    double rate =
        elapsed_ms > 0 ? (double)done * 1000.0 / (double)elapsed_ms : 0.0;
    int filled, i;

    if (width > (int)sizeof(bar) - 1) {
        width = (int)sizeof(bar) - 1;
    }
    if (total <= 0) {
        snprintf(buf, len, "%lld %s  %.0f %s/s", (long long)done, unit, rate,
                 unit);
        return;
    }
    if (done > total) {
        done = total;
    }
    filled = (int)((double)done * width / (double)total);
    for (i = 0; i < width; i++) {
        bar[i] = i < filled ? '#' : '.';
    }
    bar[width] = '\0';
    if (rate > 0.0) {
        fmt_duration(eta, sizeof(eta),
                     (int64_t)((double)(total - done) / rate + 0.5));
    } else {
        snprintf(eta, sizeof(eta), "--:--");
    }
    snprintf(buf, len, "[%s] %3d%% %lld/%lld %s  %.0f %s/s  ETA %s", bar,
             (int)(done * 100 / total), (long long)done, (long long)total, unit,
             rate, unit, eta);
}

static void
draw(struct tr_progress *p, int64_t now)
{
    char line[256];

    tr_progress_format(line, sizeof(line), p->unit, p->done, p->total,
                       now - p->start_ms, 30);
    fprintf(p->out, "\r%s\033[K", line);
    fflush(p->out);
    p->last_ms = now;
}

void
tr_progress_update(struct tr_progress *p, int64_t done)
{
    int64_t now;

    p->done = done;
    if (p->out == NULL) {
        return;
    }
    now = tr_clock_mono_ms();
    if (now - p->last_ms >= 100) {
        draw(p, now);
    }
}

void
tr_progress_finish(struct tr_progress *p)
{
    if (p->out == NULL) {
        return;
    }
    draw(p, tr_clock_mono_ms());
    fputc('\n', p->out);
    p->out = NULL;
}
