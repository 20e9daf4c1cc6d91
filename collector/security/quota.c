/*
 * quota -- client quotas: entities, precedence, sampled-rate sensors and
 * throttle times; persisted in a file or in ZooKeeper. See quota.h.
 */
#include "quota.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h> /* isfinite */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "credentials.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"

/* The file is small; a bigger one is not ours. */
#define FILE_MAX (16u << 20)
/* A sanitized name: each byte may become %XX. */
#define SANITIZED_MAX (3 * TR_QUOTA_NAME_MAX + 1)
#define PATH_MAX_LEN  (2 * SANITIZED_MAX + 32)

static const char *const key_names[TR_QUOTA_NKEYS] = {
    [TR_QUOTA_PRODUCER_BYTE_RATE] = "producer_byte_rate",
    [TR_QUOTA_CONSUMER_BYTE_RATE] = "consumer_byte_rate",
    [TR_QUOTA_REQUEST_PERCENTAGE] = "request_percentage",
    [TR_QUOTA_CONTROLLER_MUTATION_RATE] = "controller_mutation_rate",
};

/* Kafka keeps the byte rates as longs, the others as doubles. */
static int
key_is_long(int key)
{
    return key == TR_QUOTA_PRODUCER_BYTE_RATE ||
           key == TR_QUOTA_CONSUMER_BYTE_RATE;
}

/*
 * Rounding of the non-negative values used here, without libm (the
 * collector does not link it).
 */
static int64_t
round_pos(double v)
{
    return (int64_t)(v + 0.5);
}

static int
is_whole(double v)
{
    double d = v - (double)round_pos(v);

    return d < 1e-6 && d > -1e-6;
}

enum part {
    ABSENT,
    DEFAULT,
    NAMED
};

struct ent {
    enum part ukind, ckind;
    char *user, *client; /* owned when NAMED, else NULL */
    struct tr_quota_values vals;
};

/* One sample window of a sensor. */
struct sample {
    int64_t start_ms;
    double value;
};

/*
 * A rate sensor: the key it measures and the names the matched entity
 * uses ("" for a part the entity does not name), then its samples.
 */
struct sensor {
    struct sensor *next; /* hash chain */
    TAILQ_ENTRY(sensor) lru;
    uint64_t hash;
    int key;
    int64_t last_ms;
    int cur;
    char *user, *client; /* point into names[] */
    struct sample *samples;
    char names[];
};

TAILQ_HEAD(sensor_list, sensor);

struct tr_quotas {
    pthread_mutex_t lock;
    char *dir;
    int window_num;
    int64_t window_ms;
    atomic_uint active; /* bit per key some entity sets */
    struct ent *ents;
    size_t nents, cap;
    /*
     * Open-addressing index over 'ents' (position + 1, 0 empty), rebuilt
     * at each change: changes are rare, lookups are up to eight a request.
     */
    uint32_t *index;
    size_t index_size;    /* a power of two, at least twice nents */
    atomic_int remote_on; /* set once, read by the cluster thread */
    struct tr_quotas_remote remote;
    /* sensors */
    struct sensor **buckets;
    size_t nbuckets, nsensors, max_sensors;
    struct sensor_list lru; /* least recently used first */
};

const char *
tr_quota_key_name(enum tr_quota_key key)
{
    return (unsigned)key < TR_QUOTA_NKEYS ? key_names[key] : "?";
}

int
tr_quota_key_parse(const char *name, size_t len)
{
    int k;

    for (k = 0; k < TR_QUOTA_NKEYS; k++) {
        if (strlen(key_names[k]) == len &&
            memcmp(key_names[k], name, len) == 0) {
            return k;
        }
    }
    return -1;
}

/* ---- entities ---- */

static enum part
part_of(const char *name, int is_default)
{
    return is_default ? DEFAULT : name != NULL ? NAMED : ABSENT;
}

static int
part_eq(enum part ka, const char *a, enum part kb, const char *b)
{
    return ka == kb && (ka != NAMED || strcmp(a, b) == 0);
}

static uint64_t hash_str(uint64_t h, const char *s);

static uint64_t
ent_hash(enum part uk, const char *user, enum part ck, const char *client)
{
    uint64_t h = 14695981039346656037ull ^ (uint64_t)(uk * 3 + ck);

    h = hash_str(h, uk == NAMED ? user : "");
    return hash_str(h, ck == NAMED ? client : "");
}

static struct ent *
ent_find(struct tr_quotas *q, enum part uk, const char *user, enum part ck,
         const char *client)
{
    size_t mask = q->index_size - 1, i;

    if (q->nents == 0 || q->index == NULL) {
        return NULL;
    }
    for (i = ent_hash(uk, user, ck, client) & mask; q->index[i] != 0;
         i = (i + 1) & mask) {
        struct ent *e;

        if (q->index[i] > q->nents) {
            continue; /* a stale index (see update_active) */
        }
        e = &q->ents[q->index[i] - 1];
        if (part_eq(e->ukind, e->user, uk, user) &&
            part_eq(e->ckind, e->client, ck, client)) {
            return e;
        }
    }
    return NULL;
}

/*
 * After a change: rebuilds the index and the bits of the keys in use. On
 * OOM (logged) the old index stays: lookups may then miss entities, whose
 * quotas go unenforced until a later change rebuilds it.
 */
static void
update_active(struct tr_quotas *q)
{
    unsigned bits = 0;
    size_t i, size = 16, mask;
    uint32_t *index;

    for (i = 0; i < q->nents; i++) {
        bits |= q->ents[i].vals.set;
    }
    while (size < 2 * q->nents) {
        size *= 2;
    }
    index = tr_calloc(size, sizeof(*index));
    if (index == NULL) {
        tr_log_error("quotas: out of memory indexing %zu entities", q->nents);
    } else {
        mask = size - 1;
        for (i = 0; i < q->nents; i++) {
            const struct ent *e = &q->ents[i];
            size_t at = ent_hash(e->ukind, e->user, e->ckind, e->client) & mask;
            while (index[at] != 0) {
                at = (at + 1) & mask;
            }
            index[at] = (uint32_t)i + 1;
        }
        tr_free(q->index);
        q->index = index;
        q->index_size = size;
    }
    atomic_store(&q->active, bits);
}

/*
 * Sets the entity's values (an empty set removes it). The caller holds
 * the lock.
 */
static tr_err_t
ent_put(struct tr_quotas *q, enum part uk, const char *user, enum part ck,
        const char *client, const struct tr_quota_values *vals)
{
    struct ent *e = ent_find(q, uk, user, ck, client);

    if (e != NULL) {
        if (vals->set != 0) {
            e->vals = *vals;
        } else {
            tr_free(e->user);
            tr_free(e->client);
            *e = q->ents[--q->nents];
        }
        update_active(q);
        return TR_OK;
    }
    if (vals->set == 0) {
        return TR_OK;
    }
    if (q->nents == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        struct ent *n = tr_realloc(q->ents, cap * sizeof(*n));
        if (n == NULL) {
            return TR_ERR_NOMEM;
        }
        q->ents = n;
        q->cap = cap;
    }
    e = &q->ents[q->nents];
    memset(e, 0, sizeof(*e));
    e->ukind = uk;
    e->ckind = ck;
    e->user = uk == NAMED ? tr_strdup(user) : NULL;
    e->client = ck == NAMED ? tr_strdup(client) : NULL;
    if ((uk == NAMED && e->user == NULL) ||
        (ck == NAMED && e->client == NULL)) {
        tr_free(e->user);
        tr_free(e->client);
        return TR_ERR_NOMEM;
    }
    e->vals = *vals;
    q->nents++;
    update_active(q);
    return TR_OK;
}

static void
ents_clear(struct tr_quotas *q)
{
    size_t i;

    for (i = 0; i < q->nents; i++) {
        tr_free(q->ents[i].user);
        tr_free(q->ents[i].client);
    }
    q->nents = 0;
    update_active(q);
}

/* ---- entity paths: users/U[/clients/C], clients/C ---- */

static void
path_part(char *out, size_t outlen, enum part k, const char *name)
{
    if (k == DEFAULT) {
        snprintf(out, outlen, "%s", TR_QUOTA_DEFAULT_NAME);
    } else if (k == ABSENT) {
        out[0] = '\0';
    } else {
        tr_credentials_sanitize(name, out, outlen);
    }
}

static void
ent_path(char *out, size_t outlen, enum part uk, const char *user, enum part ck,
         const char *client)
{
    char u[SANITIZED_MAX], c[SANITIZED_MAX];

    path_part(u, sizeof(u), uk, user);
    path_part(c, sizeof(c), ck, client);
    if (uk != ABSENT && ck != ABSENT) {
        snprintf(out, outlen, "users/%s/clients/%s", u, c);
    } else if (uk != ABSENT) {
        snprintf(out, outlen, "users/%s", u);
    } else {
        snprintf(out, outlen, "clients/%s", c);
    }
}

/* One sanitized path component into 'name' (TR_QUOTA_NAME_MAX + 1). */
static int
parse_part(const char *s, size_t len, enum part *k, char *name)
{
    if (len == strlen(TR_QUOTA_DEFAULT_NAME) &&
        memcmp(s, TR_QUOTA_DEFAULT_NAME, len) == 0) {
        *k = DEFAULT;
        name[0] = '\0';
        return 1;
    }
    *k = NAMED;
    return len <= 3 * TR_QUOTA_NAME_MAX &&
           tr_credentials_desanitize(s, len, name, TR_QUOTA_NAME_MAX + 1) ==
               TR_OK;
}

/* Parses an entity path; the names go to 'user' and 'client'. */
static int
parse_path(const char *p, size_t len, enum part *uk, char *user, enum part *ck,
           char *client)
{
    const char *end = p + len, *slash;

    *uk = *ck = ABSENT;
    if (len > 6 && memcmp(p, "users/", 6) == 0) {
        p += 6;
        slash = memchr(p, '/', (size_t)(end - p));
        if (!parse_part(p, (size_t)((slash ? slash : end) - p), uk, user)) {
            return 0;
        }
        if (slash == NULL) {
            return 1;
        }
        p = slash + 1;
        if ((size_t)(end - p) <= 8 || memcmp(p, "clients/", 8) != 0) {
            return 0;
        }
        p += 8;
    } else if (len > 8 && memcmp(p, "clients/", 8) == 0) {
        p += 8;
    } else {
        return 0;
    }
    if (memchr(p, '/', (size_t)(end - p)) != NULL) {
        return 0;
    }
    return parse_part(p, (size_t)(end - p), ck, client);
}

/* Formats a value the way Kafka stores it ("1048576", "200.0", "0.5"). */
static void
format_value(int key, double v, char *out, size_t outlen)
{
    int prec;

    if (key_is_long(key)) {
        snprintf(out, outlen, "%lld", (long long)round_pos(v));
        return;
    }
    if (v < 1e15 && (double)round_pos(v) == v) {
        snprintf(out, outlen, "%.1f", v);
        return;
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(out, outlen, "%.*g", prec, v);
        if (strtod(out, NULL) == v) {
            return;
        }
    }
}

static int
parse_value(const char *s, size_t len, double *out)
{
    char text[64], *end;

    if (len == 0 || len >= sizeof(text)) {
        return 0;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    errno = 0;
    *out = strtod(text, &end);
    return errno == 0 && *end == '\0' && isfinite(*out) && *out > 0;
}

/* ---- the file ---- */

/* Rewrites the file from the table; the caller holds the lock. */
static tr_err_t
save(struct tr_quotas *q)
{
    char ep[PATH_MAX_LEN], val[64];
    struct tr_buf b;
    size_t i;
    int k;
    tr_err_t err;
    static const char header[] = "# Client quotas of this collector "
                                 "(tributary quotas, AlterClientQuotas).\n";

    tr_buf_init(&b, FILE_MAX);
    tr_buf_put_bytes(&b, header, sizeof(header) - 1);
    for (i = 0; i < q->nents; i++) {
        const struct ent *e = &q->ents[i];
        ent_path(ep, sizeof(ep), e->ukind, e->user, e->ckind, e->client);
        tr_buf_put_bytes(&b, ep, strlen(ep));
        for (k = 0; k < TR_QUOTA_NKEYS; k++) {
            if (e->vals.set & (1u << k)) {
                format_value(k, e->vals.v[k], val, sizeof(val));
                tr_buf_put_bytes(&b, " ", 1);
                tr_buf_put_bytes(&b, key_names[k], strlen(key_names[k]));
                tr_buf_put_bytes(&b, "=", 1);
                tr_buf_put_bytes(&b, val, strlen(val));
            }
        }
        tr_buf_put_bytes(&b, "\n", 1);
    }
    err = tr_buf_err(&b);
    if (err == TR_OK) {
        err = tr_replace_file(q->dir, &TR_QUOTAS_FILE[1], tr_buf_data(&b),
                              tr_buf_len(&b), 0644);
    }
    tr_buf_cleanup(&b);
    return err;
}

/* Parses one line "PATH key=value ..." into the table. */
static const char *
load_line(struct tr_quotas *q, const char *line, size_t len)
{
    char user[TR_QUOTA_NAME_MAX + 1], client[TR_QUOTA_NAME_MAX + 1];
    struct tr_quota_values vals;
    const char *p = line, *end = line + len, *sp;
    enum part uk, ck;

    memset(&vals, 0, sizeof(vals));
    sp = memchr(p, ' ', len);
    if (sp == NULL ||
        !parse_path(p, (size_t)(sp - p), &uk, user, &ck, client)) {
        return "not an entity path (users/U, users/U/clients/C, clients/C) "
               "and values";
    }
    p = sp + 1;
    while (p < end) {
        const char *eq, *stop;
        int k;
        sp = memchr(p, ' ', (size_t)(end - p));
        stop = sp != NULL ? sp : end;
        eq = memchr(p, '=', (size_t)(stop - p));
        if (eq == NULL) {
            return "expected key=value";
        }
        k = tr_quota_key_parse(p, (size_t)(eq - p));
        if (k < 0) {
            return "unknown quota key";
        }
        if (!parse_value(eq + 1, (size_t)(stop - eq - 1), &vals.v[k])) {
            return "bad value (a positive number)";
        }
        vals.set |= 1u << k;
        p = stop + (stop < end);
    }
    if (ent_put(q, uk, user, ck, client, &vals) != TR_OK) {
        return "out of memory";
    }
    return NULL;
}

static tr_err_t
load(struct tr_quotas *q, char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    struct tr_buf text;
    FILE *f;
    char chunk[4096];
    size_t n, pos = 0, lineno = 0;
    tr_err_t err = TR_OK;

    snprintf(path, sizeof(path), "%s" TR_QUOTAS_FILE, q->dir);
    f = fopen(path, "re");
    if (f == NULL) {
        return errno == ENOENT ? TR_OK : TR_ERR_IO;
    }
    tr_buf_init(&text, FILE_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        tr_buf_put_bytes(&text, chunk, n);
    }
    fclose(f);
    if (tr_buf_err(&text) != TR_OK) {
        snprintf(errbuf, errlen, "%s: larger than %u bytes", path, FILE_MAX);
        err = TR_ERR_CORRUPT;
        goto out;
    }
    while (pos < tr_buf_len(&text)) {
        const char *line = (const char *)tr_buf_data(&text) + pos;
        const char *nl = memchr(line, '\n', tr_buf_len(&text) - pos);
        size_t len = nl ? (size_t)(nl - line) : tr_buf_len(&text) - pos;
        const char *why;

        lineno++;
        pos += len + 1;
        if (len == 0 || line[0] == '#') {
            continue;
        }
        why = load_line(q, line, len);
        if (why != NULL) {
            snprintf(errbuf, errlen, "%s:%zu: %s", path, lineno, why);
            err = TR_ERR_CORRUPT;
            goto out;
        }
    }
out:
    tr_buf_cleanup(&text);
    return err;
}

/* ---- sensors ---- */

static uint64_t
hash_str(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return (h ^ 0xff) * 1099511628211ull;
}

static void
sensor_unlink(struct tr_quotas *q, struct sensor *s)
{
    struct sensor **pp = &q->buckets[s->hash & (q->nbuckets - 1)];

    while (*pp != s) {
        pp = &(*pp)->next;
    }
    *pp = s->next;
    TAILQ_REMOVE(&q->lru, s, lru);
    q->nsensors--;
    tr_free(s);
}

/*
 * The sensor for 'key' and the names, created if needed; sensors idle
 * for the whole sampled time are dropped on the way (they remember
 * nothing), then the least recently used if the table is full.
 */
static struct sensor *
sensor_get(struct tr_quotas *q, int key, const char *user, const char *client,
           int64_t now)
{
    uint64_t h = hash_str(
        hash_str(14695981039346656037ull ^ (uint64_t)key, user), client);
    struct sensor *s, *first;
    size_t ul = strlen(user), cl = strlen(client), i;
    int64_t expiry = (int64_t)q->window_num * q->window_ms;

    for (s = q->buckets[h & (q->nbuckets - 1)]; s != NULL; s = s->next) {
        if (s->hash == h && s->key == key && strcmp(s->user, user) == 0 &&
            strcmp(s->client, client) == 0) {
            TAILQ_REMOVE(&q->lru, s, lru);
            TAILQ_INSERT_TAIL(&q->lru, s, lru);
            return s;
        }
    }
    while ((first = TAILQ_FIRST(&q->lru)) != NULL &&
           (now - first->last_ms >= expiry || q->nsensors >= q->max_sensors)) {
        sensor_unlink(q, first);
    }
    s = tr_calloc(1, sizeof(*s) + ul + cl + 2 +
                         (size_t)q->window_num * sizeof(struct sample) + 8);
    if (s == NULL) {
        return NULL;
    }
    s->hash = h;
    s->key = key;
    s->user = s->names;
    s->client = s->names + ul + 1;
    memcpy(s->user, user, ul + 1);
    memcpy(s->client, client, cl + 1);
    /* The samples, aligned after the names. */
    s->samples = (struct sample *)(((uintptr_t)(s->names + ul + cl + 2) + 7) &
                                   ~(uintptr_t)7);
    for (i = 0; i < (size_t)q->window_num; i++) {
        s->samples[i].start_ms = now;
    }
    s->last_ms = now;
    s->next = q->buckets[h & (q->nbuckets - 1)];
    q->buckets[h & (q->nbuckets - 1)] = s;
    TAILQ_INSERT_TAIL(&q->lru, s, lru);
    q->nsensors++;
    return s;
}

/* Kafka's SampledStat.record: a full current window moves to the next. */
static void
sensor_record(struct tr_quotas *q, struct sensor *s, double value, int64_t now)
{
    struct sample *cur = &s->samples[s->cur];

    if (now - cur->start_ms >= q->window_ms) {
        s->cur = (s->cur + 1) % q->window_num;
        cur = &s->samples[s->cur];
        cur->start_ms = now;
        cur->value = 0;
    }
    cur->value += value;
    s->last_ms = now;
}

/*
 * Kafka's Rate.measure: the live samples' sum over the time since the
 * oldest, but at least (samples - 1) whole windows; '*window' gets that
 * time in ms.
 */
static double
sensor_rate(struct tr_quotas *q, struct sensor *s, int64_t now, double *window)
{
    int64_t expire = (int64_t)q->window_num * q->window_ms, oldest = now;
    int64_t elapsed, full, min_full = q->window_num - 1;
    double sum = 0;
    int i;

    for (i = 0; i < q->window_num; i++) {
        struct sample *smp = &s->samples[i];
        if (now - smp->start_ms >= expire) {
            smp->start_ms = now;
            smp->value = 0;
        }
        sum += smp->value;
        if (smp->start_ms < oldest) {
            oldest = smp->start_ms;
        }
    }
    elapsed = now - oldest;
    full = elapsed / q->window_ms;
    if (full < min_full) {
        elapsed += (min_full - full) * q->window_ms;
    }
    if (elapsed <= 0) {
        elapsed = q->window_ms;
    }
    *window = (double)elapsed;
    return sum / ((double)elapsed / 1000.0);
}

/* ---- precedence ---- */

/*
 * The entity whose value for 'key' applies to (user, client): Kafka's
 * eight levels in order. Sets which parts it names. The caller holds the
 * lock.
 */
static const struct ent *
resolve(struct tr_quotas *q, const char *user, const char *client, int key)
{
    static const enum part levels[8][2] = {
        { NAMED, NAMED },   { NAMED, DEFAULT },   { NAMED, ABSENT },
        { DEFAULT, NAMED }, { DEFAULT, DEFAULT }, { DEFAULT, ABSENT },
        { ABSENT, NAMED },  { ABSENT, DEFAULT },
    };
    int i;

    for (i = 0; i < 8; i++) {
        const struct ent *e =
            ent_find(q, levels[i][0], user, levels[i][1], client);
        if (e != NULL && (e->vals.set & (1u << key))) {
            return e;
        }
    }
    return NULL;
}

int
tr_quotas_active(const struct tr_quotas *q, enum tr_quota_key key)
{
    return q != NULL &&
           (atomic_load(&((struct tr_quotas *)q)->active) & (1u << key)) != 0;
}

int
tr_quotas_bound(struct tr_quotas *q, const char *user, const char *client_id,
                enum tr_quota_key key, double *bound)
{
    const struct ent *e;

    pthread_mutex_lock(&q->lock);
    e = resolve(q, user != NULL ? user : "", client_id != NULL ? client_id : "",
                key);
    if (e != NULL) {
        *bound = e->vals.v[key];
    }
    pthread_mutex_unlock(&q->lock);
    return e != NULL;
}

double
tr_quotas_window_max(struct tr_quotas *q, const char *user,
                     const char *client_id, enum tr_quota_key key)
{
    double bound;

    if (!tr_quotas_active(q, key) ||
        !tr_quotas_bound(q, user, client_id, key, &bound)) {
        return 0;
    }
    return bound * (double)(q->window_num - 1) * (double)q->window_ms / 1000.0;
}

int64_t
tr_quotas_record(struct tr_quotas *q, const char *user, const char *client_id,
                 enum tr_quota_key key, double value, int64_t now_ms)
{
    const struct ent *e;
    struct sensor *s;
    double rate, window, bound;
    int64_t throttle = 0;

    if (!tr_quotas_active(q, key)) {
        return 0;
    }
    user = user != NULL ? user : "";
    client_id = client_id != NULL ? client_id : "";
    pthread_mutex_lock(&q->lock);
    e = resolve(q, user, client_id, key);
    if (e == NULL) {
        goto out;
    }
    bound = e->vals.v[key];
    s = sensor_get(q, key, e->ukind != ABSENT ? user : "",
                   e->ckind != ABSENT ? client_id : "", now_ms);
    if (s == NULL) {
        goto out;
    }
    sensor_record(q, s, value, now_ms);
    rate = sensor_rate(q, s, now_ms, &window);
    if (rate > bound) {
        throttle = round_pos((rate - bound) / bound * window);
        if (key == TR_QUOTA_REQUEST_PERCENTAGE && throttle > q->window_ms) {
            throttle = q->window_ms;
        }
    }
out:
    pthread_mutex_unlock(&q->lock);
    return throttle;
}

size_t
tr_quotas_sensor_count(struct tr_quotas *q)
{
    size_t n;

    pthread_mutex_lock(&q->lock);
    n = q->nsensors;
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* ---- ZooKeeper ---- */

/*
 * Reads the znode at 'path' into 'vals' (quota keys only) and, if 'others'
 * is not NULL, copies its other config members there as JSON members.
 */
static tr_err_t
remote_read(struct tr_quotas *q, const char *path, struct tr_quota_values *vals,
            struct tr_buf *others)
{
    struct tr_json_value root, cfg, k, v;
    struct tr_json_iter it;
    char key[64], *data = NULL, *text = NULL;
    size_t len = 0;
    int first = 1;
    tr_err_t err;

    memset(vals, 0, sizeof(*vals));
    err = q->remote.get(q->remote.arg, path, &data, &len);
    if (err != TR_OK) {
        return err;
    }
    if (len == 0) { /* a parent Kafka made with no data */
        goto out;
    }
    if (tr_json_parse(data, len, &root) != TR_OK ||
        tr_json_get(&root, "config", &cfg) != TR_OK ||
        tr_json_iter_init(&it, &cfg) != TR_OK) {
        err = TR_ERR_CORRUPT;
        goto out;
    }
    text = tr_malloc(len + 1);
    if (text == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    while (tr_json_next(&it, &k, &v) == TR_OK) {
        int kk;
        if (tr_json_string(&k, key, sizeof(key)) != TR_OK ||
            tr_json_string(&v, text, len + 1) != TR_OK) {
            continue;
        }
        kk = tr_quota_key_parse(key, strlen(key));
        if (kk >= 0) {
            if (parse_value(text, strlen(text), &vals->v[kk])) {
                vals->set |= 1u << kk;
            }
        } else if (others != NULL) {
            if (!first) {
                tr_buf_put_bytes(others, ",", 1);
            }
            (void)tr_json_put_string(others, key);
            tr_buf_put_bytes(others, ":", 1);
            (void)tr_json_put_string(others, text);
            first = 0;
        }
    }
out:
    tr_free(text);
    free(data);
    return err;
}

/* Writes 'vals' into the znode at 'path', keeping its other members. */
static tr_err_t
remote_write(struct tr_quotas *q, const char *path,
             const struct tr_quota_values *vals)
{
    struct tr_quota_values old;
    struct tr_buf others, b;
    char val[64];
    int k, first = 1;
    tr_err_t err;

    tr_buf_init(&others, 1 << 20);
    tr_buf_init(&b, 1 << 20);
    err = remote_read(q, path, &old, &others);
    if (err == TR_ERR_NOT_FOUND) {
        err = TR_OK;
    }
    if (err != TR_OK) {
        goto out;
    }
    tr_buf_put_bytes(&b, "{\"version\":1,\"config\":{", 23);
    if (tr_buf_len(&others) > 0) {
        tr_buf_put_bytes(&b, tr_buf_data(&others), tr_buf_len(&others));
        first = 0;
    }
    for (k = 0; k < TR_QUOTA_NKEYS; k++) {
        if (!(vals->set & (1u << k))) {
            continue;
        }
        format_value(k, vals->v[k], val, sizeof(val));
        if (!first) {
            tr_buf_put_bytes(&b, ",", 1);
        }
        (void)tr_json_put_string(&b, key_names[k]);
        tr_buf_put_bytes(&b, ":", 1);
        (void)tr_json_put_string(&b, val);
        first = 0;
    }
    tr_buf_put_bytes(&b, "}}", 2);
    err = tr_buf_err(&b);
    if (err == TR_OK) {
        err = q->remote.put(q->remote.arg, path, (const char *)tr_buf_data(&b),
                            tr_buf_len(&b));
    }
out:
    tr_buf_cleanup(&others);
    tr_buf_cleanup(&b);
    return err;
}

void
tr_quotas_set_remote(struct tr_quotas *q, const struct tr_quotas_remote *remote)
{
    pthread_mutex_lock(&q->lock);
    q->remote = *remote;
    atomic_store(&q->remote_on, 1);
    pthread_mutex_unlock(&q->lock);
}

/* Reads the entity at 'path' from ZooKeeper into the table. */
static tr_err_t
reload_path(struct tr_quotas *q, const char *path)
{
    char user[TR_QUOTA_NAME_MAX + 1], client[TR_QUOTA_NAME_MAX + 1];
    struct tr_quota_values vals;
    enum part uk, ck;
    tr_err_t err;

    if (!parse_path(path, strlen(path), &uk, user, &ck, client)) {
        return TR_ERR_INVALID;
    }
    err = remote_read(q, path, &vals, NULL);
    if (err == TR_ERR_NOT_FOUND) {
        memset(&vals, 0, sizeof(vals));
        err = TR_OK;
    }
    if (err != TR_OK) {
        tr_log_warn("quotas: cannot read /config/%s: %s", TR_LOG_ESC(path),
                    tr_err_str(err));
        return err;
    }
    pthread_mutex_lock(&q->lock);
    err = ent_put(q, uk, user, ck, client, &vals);
    pthread_mutex_unlock(&q->lock);
    return err;
}

/* Reloads every child of 'dir' (and, under users, their clients). */
static void
reload_children(struct tr_quotas *q, const char *dir, int with_clients)
{
    char **names = NULL, path[PATH_MAX_LEN];
    int n = 0, i;

    if (q->remote.children(q->remote.arg, dir, &names, &n) != TR_OK) {
        return;
    }
    for (i = 0; i < n; i++) {
        if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >=
            (int)sizeof(path)) {
            continue;
        }
        (void)reload_path(q, path);
        if (with_clients && snprintf(path, sizeof(path), "%s/%s/clients", dir,
                                     names[i]) < (int)sizeof(path)) {
            reload_children(q, path, 0);
        }
    }
    q->remote.free_names(names, n);
}

tr_err_t
tr_quotas_reload_all(struct tr_quotas *q)
{
    if (!atomic_load(&q->remote_on)) {
        return TR_OK;
    }
    pthread_mutex_lock(&q->lock);
    ents_clear(q);
    pthread_mutex_unlock(&q->lock);
    reload_children(q, "users", 1);
    reload_children(q, "clients", 0);
    return TR_OK;
}

void
tr_quotas_changed(struct tr_quotas *q, const char *entity_path)
{
    if (q == NULL || !atomic_load(&q->remote_on) ||
        (strncmp(entity_path, "users/", 6) != 0 &&
         strncmp(entity_path, "clients/", 8) != 0)) {
        return;
    }
    (void)reload_path(q, entity_path);
}

/* ---- changes ---- */

int16_t
tr_quotas_alter(struct tr_quotas *q, const struct tr_quota_entity *e,
                const struct tr_quota_op *ops, size_t n, int validate_only,
                char *msg, size_t msglen)
{
    enum part uk = part_of(e->user, e->user_default);
    enum part ck = part_of(e->client_id, e->client_default);
    struct tr_quota_values vals;
    const struct ent *cur;
    char path[PATH_MAX_LEN];
    size_t i;
    tr_err_t err;

    msg[0] = '\0';
    if (uk == ABSENT && ck == ABSENT) {
        snprintf(msg, msglen, "the entity names neither a user nor a client");
        return TR_KERR_INVALID_REQUEST;
    }
    if ((uk == NAMED && strlen(e->user) > TR_QUOTA_NAME_MAX) ||
        (ck == NAMED && strlen(e->client_id) > TR_QUOTA_NAME_MAX)) {
        snprintf(msg, msglen, "entity names are limited to %d bytes",
                 TR_QUOTA_NAME_MAX);
        return TR_KERR_INVALID_REQUEST;
    }
    for (i = 0; i < n; i++) {
        double v = ops[i].value;
        if ((unsigned)ops[i].key >= TR_QUOTA_NKEYS) {
            snprintf(msg, msglen, "unknown quota key");
            return TR_KERR_INVALID_REQUEST;
        }
        if (ops[i].remove) {
            continue;
        }
        if (!isfinite(v) || v <= 0) {
            snprintf(msg, msglen, "%s must be a positive number",
                     key_names[ops[i].key]);
            return TR_KERR_INVALID_REQUEST;
        }
        if (key_is_long(ops[i].key) && (v >= 9.2e18 || !is_whole(v))) {
            snprintf(msg, msglen, "Configuration %s must be a Long value",
                     key_names[ops[i].key]);
            return TR_KERR_INVALID_REQUEST;
        }
    }
    if (validate_only) {
        return TR_KERR_NONE;
    }
    pthread_mutex_lock(&q->lock);
    cur = ent_find(q, uk, e->user, ck, e->client_id);
    if (cur != NULL) {
        vals = cur->vals;
    } else {
        memset(&vals, 0, sizeof(vals));
    }
    for (i = 0; i < n; i++) {
        if (ops[i].remove) {
            vals.set &= ~(1u << ops[i].key);
            vals.v[ops[i].key] = 0;
        } else {
            vals.set |= 1u << ops[i].key;
            vals.v[ops[i].key] = key_is_long(ops[i].key)
                                     ? (double)round_pos(ops[i].value)
                                     : ops[i].value;
        }
    }
    if (!atomic_load(&q->remote_on)) {
        err = ent_put(q, uk, e->user, ck, e->client_id, &vals);
        if (err == TR_OK) {
            err = save(q);
        }
        pthread_mutex_unlock(&q->lock);
    } else {
        /* ZooKeeper first, without the lock: the hot path must not wait. */
        pthread_mutex_unlock(&q->lock);
        ent_path(path, sizeof(path), uk, e->user, ck, e->client_id);
        err = remote_write(q, path, &vals);
        if (err == TR_OK) {
            pthread_mutex_lock(&q->lock);
            err = ent_put(q, uk, e->user, ck, e->client_id, &vals);
            pthread_mutex_unlock(&q->lock);
        }
    }
    if (err != TR_OK) {
        tr_log_error("quotas: cannot store a change: %s", tr_err_str(err));
        snprintf(msg, msglen, "cannot store the quotas: %s", tr_err_str(err));
        return TR_KERR_UNKNOWN_SERVER_ERROR;
    }
    return TR_KERR_NONE;
}

void
tr_quotas_each(struct tr_quotas *q,
               void (*cb)(const struct tr_quota_entity *e,
                          const struct tr_quota_values *v, void *arg),
               void *arg)
{
    size_t i;

    pthread_mutex_lock(&q->lock);
    for (i = 0; i < q->nents; i++) {
        const struct ent *en = &q->ents[i];
        struct tr_quota_entity e;

        e.user = en->user;
        e.user_default = en->ukind == DEFAULT;
        e.client_id = en->client;
        e.client_default = en->ckind == DEFAULT;
        cb(&e, &en->vals, arg);
    }
    pthread_mutex_unlock(&q->lock);
}

/* ---- life ---- */

tr_err_t
tr_quotas_open(const char *dir, int window_num, int64_t window_ms,
               size_t max_sensors, struct tr_quotas **out, char *errbuf,
               size_t errlen)
{
    struct tr_quotas *q;
    tr_err_t err = TR_ERR_NOMEM;

    *out = NULL;
    if (window_num < 1 || window_ms < 1 || max_sensors < 1) {
        snprintf(errbuf, errlen, "quota windows must be positive");
        return TR_ERR_CONFIG;
    }
    q = tr_calloc(1, sizeof(*q));
    if (q == NULL) {
        return TR_ERR_NOMEM;
    }
    pthread_mutex_init(&q->lock, NULL);
    TAILQ_INIT(&q->lru);
    q->window_num = window_num;
    q->window_ms = window_ms;
    q->max_sensors = max_sensors;
    for (q->nbuckets = 64; q->nbuckets < max_sensors / 2; q->nbuckets *= 2) {
    }
    q->buckets = tr_calloc(q->nbuckets, sizeof(*q->buckets));
    q->dir = tr_strdup(dir);
    if (q->buckets == NULL || q->dir == NULL) {
        goto out;
    }
    err = load(q, errbuf, errlen);
out:
    if (err != TR_OK) {
        tr_quotas_free(q);
        return err;
    }
    *out = q;
    return TR_OK;
}

void
tr_quotas_free(struct tr_quotas *q)
{
    struct sensor *s;

    if (q == NULL) {
        return;
    }
    while ((s = TAILQ_FIRST(&q->lru)) != NULL) {
        sensor_unlink(q, s);
    }
    ents_clear(q);
    tr_free(q->ents);
    tr_free(q->index);
    tr_free(q->buckets);
    tr_free(q->dir);
    pthread_mutex_destroy(&q->lock);
    tr_free(q);
}
