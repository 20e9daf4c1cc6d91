/*
 * assets -- the console's HTML, CSS and JavaScript, embedded in the
 * binary at build time: collector/http/embed.sh turns the files under
 * collector/http/console/ into the table below (assets.c, generated), so
 * the collector serves them with nothing to install and nothing fetched
 * at run time.
 */
#ifndef TR_ASSETS_H
#define TR_ASSETS_H

#include <stddef.h>

struct tr_console_asset {
    const char *path;          /* "/index.html" */
    const char *type;          /* Content-Type */
    const char *etag;          /* quoted, from the content's CRC and size */
    const unsigned char *data; /* 'len' bytes (and a NUL after them) */
    size_t len;
};

extern const struct tr_console_asset tr_console_assets[];
extern const size_t tr_console_nassets;

#endif /* TR_ASSETS_H */
