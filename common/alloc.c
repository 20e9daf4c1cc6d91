/*
 * alloc -- allocator wrappers with a failure hook for tests.
 */
#include "alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Singleton: allocations left before injected failures start; -1 means
 * never fail. Only tests change it.
 */
static atomic_long fail_countdown = -1;

static int
should_fail(void)
{
    long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);

    if (n < 0) {
        return 0;
    }
    if (n == 0) {
        return 1;
    }
    atomic_fetch_sub_explicit(&fail_countdown, 1, memory_order_relaxed);
    return 0;
}

void
tr_alloc_fail_after(long n)
{
    atomic_store(&fail_countdown, n);
}

void *
tr_malloc(size_t size)
{
    if (should_fail()) {
        return NULL;
    }
    return malloc(size ? size : 1);
}

void *
tr_calloc(size_t nmemb, size_t size)
{
    if (should_fail()) {
        return NULL;
    }
    return calloc(nmemb ? nmemb : 1, size ? size : 1);
}

void *
tr_realloc(void *ptr, size_t size)
{
    if (should_fail()) {
        return NULL;
    }
    return realloc(ptr, size ? size : 1);
}

tr_err_t
tr_array_reserve(void *arrp, size_t *cap, size_t n, size_t size)
{
    void **arr = arrp;
    size_t want = *cap ? *cap : 8;
    void *grown;

    if (n <= *cap) {
        return TR_OK;
    }
    while (want < n) {
        if (want > SIZE_MAX / 2) {
            return TR_ERR_NOMEM;
        }
        want *= 2;
    }
    if (size != 0 && want > SIZE_MAX / size) {
        return TR_ERR_NOMEM;
    }
    grown = tr_realloc(*arr, want * size);
    if (grown == NULL) {
        return TR_ERR_NOMEM;
    }
    *arr = grown;
    *cap = want;
    return TR_OK;
}

void
tr_free(void *ptr)
{
    free(ptr);
}

char *
tr_strndup(const char *s, size_t len)
{
    char *copy = tr_malloc(len + 1);

    if (copy == NULL) {
        return NULL;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *
tr_strdup(const char *s)
{
    return tr_strndup(s, strlen(s));
}
