/*
 * alloc -- the project's allocator wrappers.
 *
 * Every allocation goes through these so that tests can make the Nth call
 * fail (tr_alloc_fail_after) and check that each caller handles running out
 * of memory by returning TR_ERR_NOMEM instead of crashing.
 */
#ifndef TR_ALLOC_H
#define TR_ALLOC_H

#include <stddef.h>

#include "err.h"

void *tr_malloc(size_t size);
void *tr_calloc(size_t nmemb, size_t size);
void *tr_realloc(void *ptr, size_t size);
void tr_free(void *ptr);

/*
 * Makes room for 'n' elements of 'size' bytes in the array '*(T **)arrp'
 * whose capacity is '*cap', doubling it (from 8) as often as needed. On
 * TR_ERR_NOMEM the array and its capacity are left as they were.
 */
tr_err_t tr_array_reserve(void *arrp, size_t *cap, size_t n, size_t size);

/* Returns an owned copy of 's' (free with tr_free), or NULL. */
char *tr_strdup(const char *s);
/* Returns an owned, NUL-terminated copy of the first 'len' bytes of 's'. */
char *tr_strndup(const char *s, size_t len);

/*
 * Tests only: the next 'n' allocations succeed, then every one fails until
 * tr_alloc_fail_after(-1) is called. The counter is the one process-wide
 * singleton of this module; production code never sets it.
 */
void tr_alloc_fail_after(long n);

#endif /* TR_ALLOC_H */
