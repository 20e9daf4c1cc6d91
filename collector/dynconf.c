/*
 * dynconf -- dynamic broker configuration: which keys may change at run
 * time, the two dynamic sets over the static configuration, their JSON
 * form (Kafka's znode text, also the files of a single collector), and the
 * rebuild of the effective configuration after each change. See dynconf.h.
 */
#include "dynconf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"

/*
 * Flags of a dynamic key: K_PER_BROKER, not at the cluster default (Kafka
 * takes these per listener); K_LIST, comma-separated, so APPEND and
 * SUBTRACT apply; K_SENSITIVE, never shown by DescribeConfigs.
 */
#define K_PER_BROKER 0x1u
#define K_LIST       0x2u
#define K_SENSITIVE  0x4u

struct dyn_key {
    const char *name;
    unsigned what;  /* TR_DYNCONF_* category */
    unsigned flags; /* K_* */
};

/*
 * The keys that may change at run time. Kafka's list (DynamicBrokerConfig
 * .AllDynamicConfigs) narrowed to the settings this collector has and can
 * apply live; num.network.threads and num.io.threads are not here, since
 * the network threads are fixed at start-up, so they stay read-only.
 */
static const struct dyn_key dyn_keys[] = {
    { "log.segment.bytes", TR_DYNCONF_LOG, 0 },
    { "log.roll.ms", TR_DYNCONF_LOG, 0 },
    { "log.roll.hours", TR_DYNCONF_LOG, 0 },
    { "log.index.interval.bytes", TR_DYNCONF_LOG, 0 },
    { "log.index.size.max.bytes", TR_DYNCONF_LOG, 0 },
    { "log.flush.interval.messages", TR_DYNCONF_LOG, 0 },
    { "log.flush.interval.ms", TR_DYNCONF_LOG, 0 },
    { "log.retention.ms", TR_DYNCONF_LOG, 0 },
    { "log.retention.minutes", TR_DYNCONF_LOG, 0 },
    { "log.retention.hours", TR_DYNCONF_LOG, 0 },
    { "log.retention.bytes", TR_DYNCONF_LOG, 0 },
    { "log.segment.delete.delay.ms", TR_DYNCONF_LOG, 0 },
    { "message.max.bytes", TR_DYNCONF_LOG, 0 },
    { "log.cleaner.min.cleanable.ratio", TR_DYNCONF_LOG, 0 },
    { "log.cleaner.delete.retention.ms", TR_DYNCONF_LOG, 0 },
    { "log.cleaner.min.compaction.lag.ms", TR_DYNCONF_LOG, 0 },
    { "log.cleaner.threads", TR_DYNCONF_CLEANER, 0 },
    { "log.cleaner.dedupe.buffer.size", TR_DYNCONF_CLEANER, 0 },
    { "log.cleaner.backoff.ms", TR_DYNCONF_CLEANER, 0 },
    { "max.connections", TR_DYNCONF_CONNS, 0 },
    { "max.connections.per.ip", TR_DYNCONF_CONNS, 0 },
    { "max.connections.per.ip.overrides", TR_DYNCONF_CONNS, K_LIST },
    { "leader.replication.throttled.rate", TR_DYNCONF_THROTTLE, 0 },
    { "follower.replication.throttled.rate", TR_DYNCONF_THROTTLE, 0 },
    { "ssl.keystore.type", TR_DYNCONF_TLS, K_PER_BROKER },
    { "ssl.keystore.location", TR_DYNCONF_TLS, K_PER_BROKER },
    { "ssl.key.password", TR_DYNCONF_TLS, K_PER_BROKER | K_SENSITIVE },
    { "ssl.truststore.type", TR_DYNCONF_TLS, K_PER_BROKER },
    { "ssl.truststore.location", TR_DYNCONF_TLS, K_PER_BROKER },
    { "ssl.client.auth", TR_DYNCONF_TLS, K_PER_BROKER },
    { "ssl.enabled.protocols", TR_DYNCONF_TLS, K_PER_BROKER | K_LIST },
    { "ssl.cipher.suites", TR_DYNCONF_TLS, K_PER_BROKER | K_LIST },
};

#define NDYN (sizeof(dyn_keys) / sizeof(dyn_keys[0]))

/*
 * Keys one value is derived from, highest precedence first (config.h):
 * DescribeConfigs lists them as synonyms of the first.
 */
static const char *const synonym_groups[][3] = {
    { "log.retention.ms", "log.retention.minutes", "log.retention.hours" },
    { "log.roll.ms", "log.roll.hours", NULL },
};

/* Entries a set may hold: more than every dynamic key. */
#define SET_MAX      64
#define VALUE_MAX    4096
#define FILE_MAX     (1 << 20)
#define TABLE_MAX    256
#define NAME_DEFAULT "<default>"
#define SUBDIR       ".brokers"

struct tr_dynconf_set {
    char *keys[SET_MAX];
    char *values[SET_MAX];
    size_t n;
};

struct tr_dynconf {
    pthread_mutex_t lock; /* guards everything below; held by hooks */
    struct tr_broker_config static_cfg;
    struct tr_broker_config builtin; /* Kafka's defaults, for synonyms */
    struct tr_broker_config eff;
    struct tr_dynconf_set *sets[2]; /* indexed by enum tr_dynconf_scope */
    char *dir;                      /* log.dirs of a single collector */
    char id[16];
    struct tr_dynconf_hooks hooks;
};

static const struct dyn_key *
find_dyn(const char *key)
{
    size_t i;

    for (i = 0; i < NDYN; i++) {
        if (strcmp(dyn_keys[i].name, key) == 0) {
            return &dyn_keys[i];
        }
    }
    return NULL;
}

int
tr_dynconf_is_dynamic(const char *key, unsigned *what)
{
    const struct dyn_key *k = find_dyn(key);

    if (k != NULL && what != NULL) {
        *what = k->what;
    }
    return k != NULL;
}

static int
is_sensitive(const char *key)
{
    const struct dyn_key *k = find_dyn(key);

    return (k != NULL && (k->flags & K_SENSITIVE)) ||
           strstr(key, "password") != NULL;
}

/* ------------------------------------------------------------- sets */

void
tr_dynconf_set_free(struct tr_dynconf_set *set)
{
    size_t i;

    if (set == NULL) {
        return;
    }
    for (i = 0; i < set->n; i++) {
        tr_free(set->keys[i]);
        tr_free(set->values[i]);
    }
    tr_free(set);
}

size_t
tr_dynconf_set_entries(const struct tr_dynconf_set *set,
                       const char *const **keys, const char *const **values)
{
    *keys = (const char *const *)set->keys;
    *values = (const char *const *)set->values;
    return set->n;
}

static int
set_find(const struct tr_dynconf_set *set, const char *key)
{
    size_t i;

    for (i = 0; i < set->n; i++) {
        if (strcmp(set->keys[i], key) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Sets 'key' to 'value' (copied); TR_ERR_TOO_LARGE when the set is full. */
static tr_err_t
set_put(struct tr_dynconf_set *set, const char *key, const char *value)
{
    int at = set_find(set, key);
    char *v = tr_strdup(value), *k = NULL;

    if (v == NULL) {
        return TR_ERR_NOMEM;
    }
    if (at >= 0) {
        tr_free(set->values[at]);
        set->values[at] = v;
        return TR_OK;
    }
    if (set->n == SET_MAX) {
        tr_free(v);
        return TR_ERR_TOO_LARGE;
    }
    k = tr_strdup(key);
    if (k == NULL) {
        tr_free(v);
        return TR_ERR_NOMEM;
    }
    set->keys[set->n] = k;
    set->values[set->n] = v;
    set->n++;
    return TR_OK;
}

static void
set_del(struct tr_dynconf_set *set, const char *key)
{
    int at = set_find(set, key);

    if (at < 0) {
        return;
    }
    tr_free(set->keys[at]);
    tr_free(set->values[at]);
    set->n--;
    set->keys[at] = set->keys[set->n];
    set->values[at] = set->values[set->n];
}

static struct tr_dynconf_set *
set_clone(const struct tr_dynconf_set *src)
{
    struct tr_dynconf_set *set = tr_calloc(1, sizeof(*set));
    size_t i;

    for (i = 0; set != NULL && src != NULL && i < src->n; i++) {
        if (set_put(set, src->keys[i], src->values[i]) != TR_OK) {
            tr_dynconf_set_free(set);
            return NULL;
        }
    }
    return set;
}

/* -------------------------------------------------------------- JSON */

/*
 * Parses Kafka's {"version":1,"config":{"k":"v",...}} into a new set.
 * TR_ERR_CORRUPT with 'errbuf' saying why (without the origin).
 */
static tr_err_t
parse_json(const char *data, size_t len, struct tr_dynconf_set **out,
           char *errbuf, size_t errlen)
{
    struct tr_json_value root, cfg, k, v;
    struct tr_json_iter it;
    struct tr_dynconf_set *set;
    char *key = NULL, *value = NULL;
    tr_err_t err = TR_ERR_CORRUPT;

    *out = NULL;
    set = tr_calloc(1, sizeof(*set));
    key = tr_malloc(VALUE_MAX);
    value = tr_malloc(VALUE_MAX);
    if (set == NULL || key == NULL || value == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        err = TR_ERR_NOMEM;
        goto out;
    }
    if (tr_json_parse(data, len, &root) != TR_OK ||
        root.type != TR_JSON_OBJECT) {
        snprintf(errbuf, errlen, "not a JSON object");
        goto out;
    }
    if (tr_json_get(&root, "config", &cfg) != TR_OK ||
        tr_json_iter_init(&it, &cfg) != TR_OK || cfg.type != TR_JSON_OBJECT) {
        snprintf(errbuf, errlen,
                 "no \"config\" object (expected {\"version\":1,"
                 "\"config\":{...}})");
        goto out;
    }
    while ((err = tr_json_next(&it, &k, &v)) == TR_OK) {
        if (tr_json_string(&k, key, VALUE_MAX) != TR_OK) {
            snprintf(errbuf, errlen, "a key is too long or not text");
            err = TR_ERR_CORRUPT;
            goto out;
        }
        if (v.type != TR_JSON_STRING ||
            tr_json_string(&v, value, VALUE_MAX) != TR_OK) {
            snprintf(errbuf, errlen,
                     "%s: the value is not a string (or too long)", key);
            err = TR_ERR_CORRUPT;
            goto out;
        }
        if (set_find(set, key) >= 0 ||
            (err = set_put(set, key, value)) != TR_OK) {
            snprintf(errbuf, errlen, "%s: %s", key,
                     set_find(set, key) >= 0 ? "given twice"
                                             : "too many entries");
            err = TR_ERR_CORRUPT;
            goto out;
        }
    }
    if (err != TR_ERR_NOT_FOUND) {
        snprintf(errbuf, errlen, "unreadable \"config\" object");
        err = TR_ERR_CORRUPT;
        goto out;
    }
    *out = set;
    set = NULL;
    err = TR_OK;
out:
    tr_dynconf_set_free(set);
    tr_free(key);
    tr_free(value);
    return err;
}

/* Appends Kafka's JSON of 'set' to 'b'. */
static void
format_json(const struct tr_dynconf_set *set, struct tr_buf *b)
{
    size_t i;

    tr_buf_put_bytes(b, "{\"version\":1,\"config\":{", 23);
    for (i = 0; i < set->n; i++) {
        if (i > 0) {
            tr_buf_put_bytes(b, ",", 1);
        }
        (void)tr_json_put_string(b, set->keys[i]);
        tr_buf_put_bytes(b, ":", 1);
        (void)tr_json_put_string(b, set->values[i]);
    }
    tr_buf_put_bytes(b, "}}", 2);
}

/* ------------------------------------------------- effective config */

/* One configuration's values, as tr_broker_config_describe gives them. */
struct values {
    size_t n;
    const char *names[TABLE_MAX];
    char *vals[TABLE_MAX]; /* owned; NULL for null */
    int is_default[TABLE_MAX];
};

static void
collect_cb(const char *name, const char *value, int is_default, void *arg)
{
    struct values *v = arg;

    if (v->n == TABLE_MAX) {
        return;
    }
    v->names[v->n] = name; /* the table's own string */
    v->vals[v->n] = value != NULL ? tr_strdup(value) : NULL;
    v->is_default[v->n] = is_default;
    v->n++;
}

static struct values *
collect(const struct tr_broker_config *cfg)
{
    struct values *v = tr_calloc(1, sizeof(*v));

    if (v != NULL) {
        tr_broker_config_describe(cfg, collect_cb, v);
    }
    return v;
}

static void
values_free(struct values *v)
{
    size_t i;

    for (i = 0; v != NULL && i < v->n; i++) {
        tr_free(v->vals[i]);
    }
    tr_free(v);
}

static int
same(const char *a, const char *b)
{
    return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* The categories of dynamic keys whose values differ between 'a' and 'b'. */
static unsigned
changed(const struct tr_broker_config *a, const struct tr_broker_config *b)
{
    struct values *va = collect(a), *vb = collect(b);
    unsigned what = 0, w;
    size_t i;

    if (va == NULL || vb == NULL) {
        what = ~0u; /* cannot tell: apply everything */
    }
    for (i = 0; va != NULL && vb != NULL && i < va->n && i < vb->n; i++) {
        if (tr_dynconf_is_dynamic(va->names[i], &w) &&
            !same(va->vals[i], vb->vals[i])) {
            what |= w;
        }
    }
    values_free(va);
    values_free(vb);
    return what;
}

/*
 * Builds the effective configuration from the static one and 'sets' into
 * 'out' (owned by the caller). 'strict': the first entry that cannot apply
 * fails with TR_ERR_INVALID (read-only key) or TR_ERR_CONFIG (bad value);
 * otherwise such entries are logged and dropped from their set, so that
 * DescribeConfigs does not show them and the next change does not keep
 * them.
 */
static tr_err_t
build(const struct tr_dynconf *dc, struct tr_dynconf_set *const sets[2],
      int strict, struct tr_broker_config *out, char *errbuf, size_t errlen)
{
    static const enum tr_dynconf_scope order[2] = { TR_DYNCONF_DEFAULT,
                                                    TR_DYNCONF_BROKER };
    char reason[512];
    size_t s, i;
    tr_err_t err;

    if (tr_broker_config_copy(out, &dc->static_cfg) != TR_OK) {
        snprintf(errbuf, errlen, "out of memory");
        return TR_ERR_NOMEM;
    }
    for (s = 0; s < 2; s++) {
        struct tr_dynconf_set *set = sets[order[s]];
        const char *where = order[s] == TR_DYNCONF_DEFAULT
                                ? "the cluster default"
                                : "this broker's dynamic config";

        for (i = 0; set != NULL && i < set->n;) {
            const struct dyn_key *k = find_dyn(set->keys[i]);

            if (k == NULL ||
                (order[s] == TR_DYNCONF_DEFAULT && (k->flags & K_PER_BROKER))) {
                err = TR_ERR_INVALID;
                snprintf(reason, sizeof(reason), "%s",
                         k == NULL ? "not a key that can change at run time"
                                   : "a per-broker key, not for the default");
            } else {
                err = tr_broker_config_put(out, set->keys[i], set->values[i],
                                           reason, sizeof(reason));
            }
            if (err == TR_OK) {
                i++;
                continue;
            }
            if (strict) {
                snprintf(errbuf, errlen,
                         "Invalid value %s for configuration %s: %s",
                         set->values[i], set->keys[i], reason);
                tr_broker_config_cleanup(out);
                return err;
            }
            tr_log_warn("dynamic config: %s=%s in %s ignored: %s", set->keys[i],
                        set->values[i], where, reason);
            set_del(set, set->keys[i]); /* the last entry moves to i */
        }
    }
    return TR_OK;
}

/*
 * Makes 'set' (consumed) the set of 'scope', rebuilds the effective
 * configuration and calls the apply hook; dc->lock held. Only running out
 * of memory fails (TR_ERR_NOMEM): the previous set and values then stay.
 */
static tr_err_t
install(struct tr_dynconf *dc, enum tr_dynconf_scope scope,
        struct tr_dynconf_set *set)
{
    struct tr_dynconf_set *old = dc->sets[scope];
    struct tr_broker_config next;
    char errbuf[512];
    unsigned what;

    if (set == NULL) {
        return TR_ERR_NOMEM;
    }
    dc->sets[scope] = set;
    if (build(dc, dc->sets, 0, &next, errbuf, sizeof(errbuf)) != TR_OK) {
        tr_log_error("dynamic config: %s; keeping the previous values", errbuf);
        dc->sets[scope] = old;
        tr_dynconf_set_free(set);
        return TR_ERR_NOMEM;
    }
    tr_dynconf_set_free(old);
    what = changed(&dc->eff, &next);
    tr_broker_config_cleanup(&dc->eff);
    dc->eff = next; /* the strings move over */
    if (what != 0 && dc->hooks.apply != NULL) {
        dc->hooks.apply(dc->hooks.arg, what, &dc->eff);
    }
    return TR_OK;
}

/* ------------------------------------------------------------- store */

tr_err_t
tr_dynconf_new(const struct tr_broker_config *static_cfg,
               struct tr_dynconf **out)
{
    struct tr_dynconf *dc = tr_calloc(1, sizeof(*dc));

    *out = NULL;
    if (dc == NULL) {
        return TR_ERR_NOMEM;
    }
    tr_broker_config_init(&dc->builtin);
    if (tr_broker_config_copy(&dc->static_cfg, static_cfg) != TR_OK) {
        tr_broker_config_cleanup(&dc->builtin);
        tr_free(dc);
        return TR_ERR_NOMEM;
    }
    if (tr_broker_config_copy(&dc->eff, static_cfg) != TR_OK) {
        tr_broker_config_cleanup(&dc->builtin);
        tr_broker_config_cleanup(&dc->static_cfg);
        tr_free(dc);
        return TR_ERR_NOMEM;
    }
    snprintf(dc->id, sizeof(dc->id), "%d", (int)static_cfg->broker_id);
    pthread_mutex_init(&dc->lock, NULL);
    *out = dc;
    return TR_OK;
}

void
tr_dynconf_free(struct tr_dynconf *dc)
{
    if (dc == NULL) {
        return;
    }
    tr_dynconf_set_free(dc->sets[0]);
    tr_dynconf_set_free(dc->sets[1]);
    tr_broker_config_cleanup(&dc->static_cfg);
    tr_broker_config_cleanup(&dc->builtin);
    tr_broker_config_cleanup(&dc->eff);
    tr_free(dc->dir);
    pthread_mutex_destroy(&dc->lock);
    tr_free(dc);
}

void
tr_dynconf_set_hooks(struct tr_dynconf *dc,
                     const struct tr_dynconf_hooks *hooks)
{
    pthread_mutex_lock(&dc->lock);
    if (hooks != NULL) {
        dc->hooks = *hooks;
    } else {
        memset(&dc->hooks, 0, sizeof(dc->hooks));
    }
    pthread_mutex_unlock(&dc->lock);
}

tr_err_t
tr_dynconf_effective(struct tr_dynconf *dc, struct tr_broker_config *out)
{
    tr_err_t err;

    pthread_mutex_lock(&dc->lock);
    err = tr_broker_config_copy(out, &dc->eff);
    pthread_mutex_unlock(&dc->lock);
    return err;
}

/* The file name of 'scope' under dir/.brokers. */
static void
file_name(const struct tr_dynconf *dc, enum tr_dynconf_scope scope, char *buf,
          size_t len)
{
    snprintf(buf, len, "%s.json",
             scope == TR_DYNCONF_DEFAULT ? NAME_DEFAULT : dc->id);
}

/* Reads a whole small file; TR_ERR_NOT_FOUND when it does not exist. */
static tr_err_t
read_small(const char *path, char **data, size_t *len, char *errbuf,
           size_t errlen)
{
    struct stat st;
    ssize_t got;
    size_t at = 0;
    int fd;

    *data = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return TR_ERR_NOT_FOUND;
        }
        snprintf(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
        return TR_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || st.st_size > FILE_MAX) {
        snprintf(errbuf, errlen, "%s: larger than %d bytes, or unreadable",
                 path, FILE_MAX);
        close(fd);
        return TR_ERR_CORRUPT;
    }
    *data = tr_malloc((size_t)st.st_size + 1);
    if (*data == NULL) {
        close(fd);
        return TR_ERR_NOMEM;
    }
    while (at < (size_t)st.st_size &&
           ((got = read(fd, *data + at, (size_t)st.st_size - at)) > 0 ||
            (got < 0 && errno == EINTR))) {
        at += got > 0 ? (size_t)got : 0;
    }
    close(fd);
    *len = at;
    return TR_OK;
}

tr_err_t
tr_dynconf_open_dir(struct tr_dynconf *dc, const char *dir, char *errbuf,
                    size_t errlen)
{
    struct tr_dynconf_set *sets[2] = { NULL, NULL };
    char path[4096], name[64], reason[512];
    char *data = NULL;
    size_t len = 0;
    int s;
    tr_err_t err = TR_OK;

    for (s = 0; s < 2 && err == TR_OK; s++) {
        file_name(dc, (enum tr_dynconf_scope)s, name, sizeof(name));
        snprintf(path, sizeof(path), "%s/%s/%s", dir, SUBDIR, name);
        err = read_small(path, &data, &len, errbuf, errlen);
        if (err == TR_ERR_NOT_FOUND) {
            err = TR_OK;
            continue;
        }
        if (err == TR_OK) {
            err = parse_json(data, len, &sets[s], reason, sizeof(reason));
            if (err != TR_OK) {
                snprintf(errbuf, errlen,
                         "%s: not Kafka's dynamic broker config JSON: %s", path,
                         reason);
            }
        }
        tr_free(data);
        data = NULL;
    }
    if (err != TR_OK) {
        tr_dynconf_set_free(sets[0]);
        tr_dynconf_set_free(sets[1]);
        return err;
    }
    for (s = 0; s < 2; s++) {
        if (sets[s] == NULL) {
            sets[s] = tr_calloc(1, sizeof(*sets[s]));
        }
    }
    pthread_mutex_lock(&dc->lock);
    tr_free(dc->dir);
    dc->dir = tr_strdup(dir);
    err = dc->dir != NULL ? TR_OK : TR_ERR_NOMEM;
    if (err == TR_OK) {
        err = install(dc, TR_DYNCONF_DEFAULT, sets[TR_DYNCONF_DEFAULT]);
        sets[TR_DYNCONF_DEFAULT] = NULL;
    }
    if (err == TR_OK) {
        err = install(dc, TR_DYNCONF_BROKER, sets[TR_DYNCONF_BROKER]);
        sets[TR_DYNCONF_BROKER] = NULL;
    }
    pthread_mutex_unlock(&dc->lock);
    tr_dynconf_set_free(sets[0]);
    tr_dynconf_set_free(sets[1]);
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "out of memory");
    }
    return err;
}

/* Writes the set of 'scope' atomically under dc->dir; dc->lock held. */
static tr_err_t
persist(struct tr_dynconf *dc, enum tr_dynconf_scope scope,
        const struct tr_dynconf_set *set, char *errbuf, size_t errlen)
{
    char sub[4096], name[64];
    struct tr_buf b;
    tr_err_t err;

    snprintf(sub, sizeof(sub), "%s/%s", dc->dir, SUBDIR);
    if (mkdir(sub, 0755) != 0 && errno != EEXIST) {
        snprintf(errbuf, errlen, "cannot create %s: %s", sub, strerror(errno));
        return TR_ERR_IO;
    }
    file_name(dc, scope, name, sizeof(name));
    tr_buf_init(&b, FILE_MAX);
    format_json(set, &b);
    err = tr_buf_err(&b);
    if (err == TR_OK) {
        err = tr_replace_file(sub, name, tr_buf_data(&b), tr_buf_len(&b), 0600);
    }
    tr_buf_cleanup(&b);
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "cannot write %s/%s: %s", sub, name,
                 tr_err_str(err));
    }
    return err;
}

/* Appends 'item' to the comma-separated list 'list' unless it is there. */
static tr_err_t
list_edit(const char *list, const char *items, int append, char *out,
          size_t outlen)
{
    char cur[VALUE_MAX], add[VALUE_MAX];
    char *save = NULL, *tok;
    size_t used = 0;

    out[0] = '\0';
    snprintf(cur, sizeof(cur), "%s", list != NULL ? list : "");
    snprintf(add, sizeof(add), ",%s,", items);
    /* Keep the current items, minus those subtracted. */
    for (tok = strtok_r(cur, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        char probe[VALUE_MAX];

        snprintf(probe, sizeof(probe), ",%s,", tok);
        if (!append && strstr(add, probe) != NULL) {
            continue;
        }
        used += (size_t)snprintf(out + used, outlen - used, "%s%s",
                                 used ? "," : "", tok);
        if (used >= outlen) {
            return TR_ERR_TOO_LARGE;
        }
    }
    if (!append) {
        return TR_OK;
    }
    snprintf(add, sizeof(add), "%s", items);
    for (tok = strtok_r(add, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        char probe[VALUE_MAX], have[VALUE_MAX + 2];

        snprintf(probe, sizeof(probe), ",%s,", tok);
        snprintf(have, sizeof(have), ",%s,", out);
        if (strstr(have, probe) != NULL) {
            continue;
        }
        used += (size_t)snprintf(out + used, outlen - used, "%s%s",
                                 used ? "," : "", tok);
        if (used >= outlen) {
            return TR_ERR_TOO_LARGE;
        }
    }
    return TR_OK;
}

/* The current effective value of 'key' as text ("" for null). */
static void
effective_value(const struct tr_dynconf *dc, const char *key, char *out,
                size_t outlen)
{
    struct values *v = collect(&dc->eff);
    size_t i;

    out[0] = '\0';
    for (i = 0; v != NULL && i < v->n; i++) {
        if (strcmp(v->names[i], key) == 0 && v->vals[i] != NULL) {
            snprintf(out, outlen, "%s", v->vals[i]);
        }
    }
    values_free(v);
}

/* Appends "name" to a Scala-style "Set(a, b)" list under construction. */
static void
add_name(char *list, size_t len, const char *name)
{
    size_t used = strlen(list);

    snprintf(list + used, len - used, "%s%s", used ? ", " : "", name);
}

/* Applies one operation to 'set'; TR_ERR_INVALID with 'errbuf'. */
static tr_err_t
edit(const struct tr_dynconf *dc, struct tr_dynconf_set *set,
     const struct tr_config_alter *a, int replace, char *errbuf, size_t errlen)
{
    const struct dyn_key *k = find_dyn(a->name);
    char cur[VALUE_MAX], next[VALUE_MAX];
    int at;

    if (!replace && a->op == TR_CONFIG_OP_DELETE) {
        set_del(set, a->name);
        return TR_OK;
    }
    if (a->value == NULL) {
        snprintf(errbuf, errlen, "Null value not supported for : %s", a->name);
        return TR_ERR_INVALID;
    }
    if (replace || a->op == TR_CONFIG_OP_SET) {
        return set_put(set, a->name, a->value) == TR_OK ? TR_OK
                                                        : TR_ERR_INVALID;
    }
    if ((a->op != TR_CONFIG_OP_APPEND && a->op != TR_CONFIG_OP_SUBTRACT) ||
        k == NULL || !(k->flags & K_LIST)) {
        snprintf(errbuf, errlen,
                 "Config value %s is not allowed for config "
                 "key: %s",
                 a->op == TR_CONFIG_OP_SUBTRACT ? "subtract" : "append",
                 a->name);
        return TR_ERR_INVALID;
    }
    at = set_find(set, a->name);
    if (at >= 0) {
        snprintf(cur, sizeof(cur), "%s", set->values[at]);
    } else {
        effective_value(dc, a->name, cur, sizeof(cur));
    }
    if (list_edit(cur, a->value, a->op == TR_CONFIG_OP_APPEND, next,
                  sizeof(next)) != TR_OK) {
        snprintf(errbuf, errlen, "%s: the list is too long", a->name);
        return TR_ERR_INVALID;
    }
    return set_put(set, a->name, next) == TR_OK ? TR_OK : TR_ERR_INVALID;
}

tr_err_t
tr_dynconf_prepare(struct tr_dynconf *dc, enum tr_dynconf_scope scope,
                   const struct tr_config_alter *alters, size_t n, int replace,
                   struct tr_dynconf_set **out, char *errbuf, size_t errlen)
{
    struct tr_dynconf_set *set = NULL, *sets[2];
    struct tr_broker_config candidate;
    char readonly[1024] = "", perbroker[1024] = "";
    unsigned what;
    size_t i, j;
    tr_err_t err = TR_ERR_INVALID;

    *out = NULL;
    errbuf[0] = '\0';
    pthread_mutex_lock(&dc->lock);
    for (i = 0; i < n; i++) {
        const struct dyn_key *k = find_dyn(alters[i].name);
        int deleting = !replace && alters[i].op == TR_CONFIG_OP_DELETE;

        for (j = 0; j < i; j++) {
            if (strcmp(alters[i].name, alters[j].name) == 0) {
                snprintf(errbuf, errlen,
                         "Error due to duplicate config keys: %s",
                         alters[i].name);
                goto out;
            }
        }
        if (deleting) {
            continue;
        }
        if (k == NULL && !tr_broker_config_known(alters[i].name)) {
            snprintf(errbuf, errlen, "Unknown broker config: %s",
                     alters[i].name);
            err = TR_ERR_CONFIG;
            goto out;
        }
        if (k == NULL) {
            add_name(readonly, sizeof(readonly), alters[i].name);
        } else if (scope == TR_DYNCONF_DEFAULT && (k->flags & K_PER_BROKER)) {
            add_name(perbroker, sizeof(perbroker), alters[i].name);
        }
    }
    if (readonly[0] != '\0') {
        snprintf(errbuf, errlen,
                 "Cannot update these configs dynamically: "
                 "Set(%s)",
                 readonly);
        goto out;
    }
    if (perbroker[0] != '\0') {
        snprintf(errbuf, errlen,
                 "Cannot update these configs at default cluster level, "
                 "broker id must be specified: Set(%s)",
                 perbroker);
        goto out;
    }
    set = replace ? tr_calloc(1, sizeof(*set)) : set_clone(dc->sets[scope]);
    if (set == NULL) {
        err = TR_ERR_NOMEM;
        snprintf(errbuf, errlen, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        if ((err = edit(dc, set, &alters[i], replace, errbuf, errlen)) !=
            TR_OK) {
            goto out;
        }
    }
    sets[0] = dc->sets[0];
    sets[1] = dc->sets[1];
    sets[scope] = set;
    err = build(dc, sets, 1, &candidate, errbuf, errlen);
    if (err != TR_OK) {
        err = err == TR_ERR_NOMEM ? err : TR_ERR_CONFIG;
        goto out;
    }
    what = changed(&dc->eff, &candidate);
    if (what != 0 && dc->hooks.check != NULL) {
        err = dc->hooks.check(dc->hooks.arg, what, &candidate, errbuf, errlen);
        err = err == TR_OK ? TR_OK : TR_ERR_CONFIG;
    }
    tr_broker_config_cleanup(&candidate);
    if (err == TR_OK) {
        *out = set;
        set = NULL;
    }
out:
    pthread_mutex_unlock(&dc->lock);
    tr_dynconf_set_free(set);
    return err;
}

tr_err_t
tr_dynconf_commit(struct tr_dynconf *dc, enum tr_dynconf_scope scope,
                  struct tr_dynconf_set *set, char *errbuf, size_t errlen)
{
    tr_err_t err = TR_OK;

    pthread_mutex_lock(&dc->lock);
    if (dc->dir != NULL) {
        err = persist(dc, scope, set, errbuf, errlen);
    }
    if (err == TR_OK) {
        /* Out of memory here leaves the file ahead of memory: it is what
           the next start reads, which is what was asked for. */
        err = install(dc, scope, set);
        set = NULL;
        if (err != TR_OK) {
            snprintf(errbuf, errlen, "out of memory");
        }
    }
    pthread_mutex_unlock(&dc->lock);
    tr_dynconf_set_free(set);
    return err;
}

tr_err_t
tr_dynconf_load_json(struct tr_dynconf *dc, enum tr_dynconf_scope scope,
                     const char *data, size_t len, const char *origin,
                     char *errbuf, size_t errlen)
{
    struct tr_dynconf_set *set = NULL;
    char reason[512];
    tr_err_t err;

    if (data == NULL) {
        set = tr_calloc(1, sizeof(*set));
        err = set != NULL ? TR_OK : TR_ERR_NOMEM;
    } else {
        err = parse_json(data, len, &set, reason, sizeof(reason));
        if (err != TR_OK) {
            snprintf(errbuf, errlen,
                     "%s: not Kafka's dynamic broker config JSON: %s", origin,
                     reason);
            return err;
        }
    }
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "out of memory");
        return err;
    }
    pthread_mutex_lock(&dc->lock);
    err = install(dc, scope, set);
    pthread_mutex_unlock(&dc->lock);
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "out of memory");
    }
    return err;
}

/* ---------------------------------------------------------- describe */

/* The synonyms of table key 'name' in precedence order; returns the count. */
static size_t
synonyms(const struct tr_dynconf *dc, const struct values *stat,
         const struct values *builtin, const char *name,
         struct tr_dynconf_synonym *out, size_t cap)
{
    const char *names[3] = { name, NULL, NULL };
    size_t g, i, j, n = 0;
    int sens = is_sensitive(name);

    for (g = 0; g < sizeof(synonym_groups) / sizeof(synonym_groups[0]); g++) {
        for (i = 0; i < 3 && synonym_groups[g][i] != NULL; i++) {
            if (strcmp(synonym_groups[g][i], name) == 0) {
                for (j = 0; i + j < 3; j++) {
                    names[j] = synonym_groups[g][i + j];
                }
            }
        }
    }
    for (i = 0; i < 3 && names[i] != NULL && n + 4 <= cap; i++) {
        int at;

        if (dc->sets[TR_DYNCONF_BROKER] != NULL &&
            (at = set_find(dc->sets[TR_DYNCONF_BROKER], names[i])) >= 0) {
            out[n++] = (struct tr_dynconf_synonym){
                names[i], dc->sets[TR_DYNCONF_BROKER]->values[at],
                TR_DYNCONF_SOURCE_DYNAMIC_BROKER
            };
        }
        if (dc->sets[TR_DYNCONF_DEFAULT] != NULL &&
            (at = set_find(dc->sets[TR_DYNCONF_DEFAULT], names[i])) >= 0) {
            out[n++] = (struct tr_dynconf_synonym){
                names[i], dc->sets[TR_DYNCONF_DEFAULT]->values[at],
                TR_DYNCONF_SOURCE_DYNAMIC_DEFAULT
            };
        }
        for (j = 0; j < stat->n; j++) {
            if (strcmp(stat->names[j], names[i]) != 0) {
                continue;
            }
            if (!stat->is_default[j]) {
                out[n++] =
                    (struct tr_dynconf_synonym){ names[i], stat->vals[j],
                                                 TR_DYNCONF_SOURCE_STATIC };
            }
            if (j < builtin->n && builtin->vals[j] != NULL) {
                out[n++] =
                    (struct tr_dynconf_synonym){ names[i], builtin->vals[j],
                                                 TR_DYNCONF_SOURCE_DEFAULT };
            }
        }
    }
    for (i = 0; sens && i < n; i++) {
        out[i].value = NULL;
    }
    return n;
}

void
tr_dynconf_describe(struct tr_dynconf *dc, enum tr_dynconf_scope scope,
                    tr_dynconf_describe_cb *cb, void *arg)
{
    struct tr_dynconf_synonym syn[12];
    struct values *eff = NULL, *stat = NULL, *builtin = NULL;
    size_t i, n;

    pthread_mutex_lock(&dc->lock);
    if (scope == TR_DYNCONF_DEFAULT) {
        const struct tr_dynconf_set *set = dc->sets[TR_DYNCONF_DEFAULT];

        for (i = 0; set != NULL && i < set->n; i++) {
            int sens = is_sensitive(set->keys[i]);

            syn[0] = (struct tr_dynconf_synonym){
                set->keys[i], sens ? NULL : set->values[i],
                TR_DYNCONF_SOURCE_DYNAMIC_DEFAULT
            };
            cb(set->keys[i], syn[0].value, TR_DYNCONF_SOURCE_DYNAMIC_DEFAULT,
               find_dyn(set->keys[i]) == NULL, sens, syn, 1, arg);
        }
        goto out;
    }
    eff = collect(&dc->eff);
    stat = collect(&dc->static_cfg);
    builtin = collect(&dc->builtin);
    if (eff == NULL || stat == NULL || builtin == NULL) {
        goto out;
    }
    for (i = 0; i < eff->n; i++) {
        int sens = is_sensitive(eff->names[i]);

        n = synonyms(dc, stat, builtin, eff->names[i], syn,
                     sizeof(syn) / sizeof(syn[0]));
        cb(eff->names[i], sens ? NULL : eff->vals[i],
           n > 0 ? syn[0].source : TR_DYNCONF_SOURCE_DEFAULT,
           find_dyn(eff->names[i]) == NULL, sens, syn, n, arg);
    }
out:
    pthread_mutex_unlock(&dc->lock);
    values_free(eff);
    values_free(stat);
    values_free(builtin);
}
