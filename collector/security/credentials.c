/*
 * credentials -- SCRAM credentials by user, in a 0600 file under log.dirs.
 * See credentials.h for the file's format.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "alloc.h"
#include "buf.h"
#include "credentials.h"
#include "fsutil.h"
#include "json.h"
#include "log.h"

/* The file is small; a bigger one is not ours. */
#define FILE_MAX (16u << 20)

struct entry {
    char *user;
    int has[3]; /* indexed by enum tr_scram_mech */
    struct tr_scram_cred cred[3];
};

struct tr_credentials {
    pthread_mutex_t lock;
    int remote_on;                       /* a cluster: ZooKeeper */
    struct tr_credentials_remote remote; /* valid when remote_on */
    char *dir;
    struct entry *entries; /* sorted by user */
    size_t count, cap;
};

/* ---- user names in the file ---- */

static int
plain_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

void
tr_credentials_sanitize(const char *user, char *out, size_t outlen)
{
    size_t o = 0;

    for (; *user && o + 4 <= outlen; user++) {
        unsigned char c = (unsigned char)*user;
        if (plain_char(c)) {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, outlen - o, "%%%02X", c);
            o += 3;
        }
    }
    if (outlen > 0) {
        out[o < outlen ? o : outlen - 1] = '\0';
    }
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Decodes %XX escapes into 'out' (size TR_CREDENTIALS_MAX_USER + 1). */
static tr_err_t
user_decode(const char *s, size_t len, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return TR_ERR_CORRUPT;
            }
            c = hi * 16 + lo;
            i += 2;
        } else if (!plain_char((unsigned char)c)) {
            return TR_ERR_CORRUPT;
        }
        if (o >= TR_CREDENTIALS_MAX_USER) {
            return TR_ERR_TOO_LARGE;
        }
        out[o++] = (char)c;
    }
    if (o == 0) {
        return TR_ERR_CORRUPT;
    }
    out[o] = '\0';
    return TR_OK;
}

tr_err_t
tr_credentials_desanitize(const char *s, size_t len, char *out, size_t outlen)
{
    char name[TR_CREDENTIALS_MAX_USER + 1];
    tr_err_t err = user_decode(s, len, name);

    if (err == TR_OK && strlen(name) >= outlen) {
        err = TR_ERR_TOO_LARGE;
    }
    if (err == TR_OK) {
        memcpy(out, name, strlen(name) + 1);
    }
    return err;
}

/* ---- the table ---- */

/* The index of 'user', or where it would go (*found 0). */
static size_t
find(const struct tr_credentials *creds, const char *user, int *found)
{
    size_t lo = 0, hi = creds->count;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(creds->entries[mid].user, user);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = 0;
    return lo;
}

/* Puts 'cred' in the table (the caller holds the lock). */
static tr_err_t
put(struct tr_credentials *creds, const char *user,
    const struct tr_scram_cred *cred)
{
    struct entry *e;
    int found;
    size_t at = find(creds, user, &found);
    tr_err_t err;

    if (!found) {
        char *copy = tr_strdup(user);
        if (copy == NULL) {
            return TR_ERR_NOMEM;
        }
        err = tr_array_reserve(&creds->entries, &creds->cap, creds->count + 1,
                               sizeof(*creds->entries));
        if (err != TR_OK) {
            tr_free(copy);
            return err;
        }
        memmove(&creds->entries[at + 1], &creds->entries[at],
                (creds->count - at) * sizeof(*creds->entries));
        memset(&creds->entries[at], 0, sizeof(*creds->entries));
        creds->entries[at].user = copy;
        creds->count++;
    }
    e = &creds->entries[at];
    e->cred[cred->mech] = *cred;
    e->has[cred->mech] = 1;
    return TR_OK;
}

static void
remove_at(struct tr_credentials *creds, size_t at)
{
    tr_free(creds->entries[at].user);
    memset(&creds->entries[at], 0, sizeof(creds->entries[at]));
    memmove(&creds->entries[at], &creds->entries[at + 1],
            (creds->count - at - 1) * sizeof(*creds->entries));
    creds->count--;
}

/* ---- the file ---- */

/*
 * Rewrites the file from the table, atomically and 0600 from the start
 * (common/fsutil.h), so no one ever sees the keys with looser
 * permissions. The caller holds the lock.
 */
static tr_err_t
save(struct tr_credentials *creds)
{
    static const char header[] =
        "# SCRAM credentials of this collector (tributary-collector "
        "--add-scram,\n# tributary users set): no passwords, only "
        "Kafka's salted keys.\n";
    char text[TR_SCRAM_CRED_TEXT_MAX], user[3 * TR_CREDENTIALS_MAX_USER + 1];
    const char *mech;
    struct tr_buf b;
    size_t i;
    int m;
    tr_err_t err = TR_OK;

    tr_buf_init(&b, FILE_MAX);
    tr_buf_put_bytes(&b, header, sizeof(header) - 1);
    for (i = 0; i < creds->count && err == TR_OK; i++) {
        for (m = TR_SCRAM_SHA_256; m <= TR_SCRAM_SHA_512; m++) {
            if (!creds->entries[i].has[m]) {
                continue;
            }
            err = tr_scram_cred_format(&creds->entries[i].cred[m], text,
                                       sizeof(text));
            if (err != TR_OK) {
                break;
            }
            tr_credentials_sanitize(creds->entries[i].user, user, sizeof(user));
            mech = tr_scram_mech_name(m);
            tr_buf_put_bytes(&b, user, strlen(user));
            tr_buf_put_bytes(&b, " ", 1);
            tr_buf_put_bytes(&b, mech, strlen(mech));
            tr_buf_put_bytes(&b, "=[", 2);
            tr_buf_put_bytes(&b, text, strlen(text));
            tr_buf_put_bytes(&b, "]\n", 2);
        }
    }
    if (err == TR_OK) {
        err = tr_buf_err(&b);
    }
    if (err == TR_OK) {
        err = tr_replace_file(creds->dir, &TR_CREDENTIALS_FILE[1],
                              tr_buf_data(&b), tr_buf_len(&b), 0600);
    }
    OPENSSL_cleanse(text, sizeof(text));
    if (tr_buf_len(&b) > 0) {
        OPENSSL_cleanse(tr_buf_data(&b), tr_buf_len(&b));
    }
    tr_buf_cleanup(&b);
    return err;
}

/* Parses one line "USER MECH=[TEXT]" into the table. */
static tr_err_t
load_line(struct tr_credentials *creds, const char *line, size_t len,
          const char **why)
{
    char user[TR_CREDENTIALS_MAX_USER + 1];
    const char *sp = memchr(line, ' ', len), *eq, *end = line + len;
    struct tr_scram_cred cred;
    enum tr_scram_mech mech;
    tr_err_t err;

    if (sp == NULL) {
        *why = "expected \"USER MECHANISM=[CREDENTIAL]\"";
        return TR_ERR_CORRUPT;
    }
    if (user_decode(line, (size_t)(sp - line), user) != TR_OK) {
        *why = "bad user name";
        return TR_ERR_CORRUPT;
    }
    eq = memchr(sp, '=', (size_t)(end - sp));
    if (eq == NULL || end - eq < 3 || eq[1] != '[' || end[-1] != ']') {
        *why = "expected MECHANISM=[CREDENTIAL]";
        return TR_ERR_CORRUPT;
    }
    mech = tr_scram_mech_parse(sp + 1, (size_t)(eq - sp - 1));
    if (mech == TR_SCRAM_UNKNOWN) {
        *why = "unknown mechanism";
        return TR_ERR_CORRUPT;
    }
    err = tr_scram_cred_parse(&cred, mech, eq + 2, (size_t)(end - eq - 3));
    if (err != TR_OK) {
        *why = "bad credential";
        return TR_ERR_CORRUPT;
    }
    err = put(creds, user, &cred);
    if (err != TR_OK) {
        *why = tr_err_str(err);
    }
    return err;
}

static tr_err_t
load(struct tr_credentials *creds, char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    char *data = NULL;
    size_t len = 0, lineno = 0;
    const char *p, *end, *why = "";
    struct stat st;
    FILE *f = NULL;
    tr_err_t err = TR_OK;

    snprintf(path, sizeof(path), "%s" TR_CREDENTIALS_FILE, creds->dir);
    f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT) {
            goto out;
        }
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        err = TR_ERR_IO;
        goto out;
    }
    if (fstat(fileno(f), &st) != 0 || st.st_size > (off_t)FILE_MAX) {
        snprintf(errbuf, errlen, "%s: unreadable or too large", path);
        err = TR_ERR_IO;
        goto out;
    }
    data = tr_malloc((size_t)st.st_size + 1);
    if (data == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    len = fread(data, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        err = TR_ERR_IO;
        goto out;
    }
    for (p = data, end = data + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;

        lineno++;
        if (eol > p && *p != '#') {
            err = load_line(creds, p, (size_t)(eol - p), &why);
            if (err != TR_OK) {
                snprintf(errbuf, errlen, "%s:%zu: %s", path, lineno, why);
                goto out;
            }
        }
        p = nl ? nl + 1 : end;
    }
out:
    if (f != NULL) {
        fclose(f);
    }
    if (data != NULL) {
        OPENSSL_cleanse(data, len);
        tr_free(data);
    }
    return err;
}

/* ---- a cluster: ZooKeeper's /config/users ---- */

#define SANITIZED_MAX (3 * TR_CREDENTIALS_MAX_USER + 1)

/*
 * Reads the user's znode into creds[] (by mechanism; has[] says which)
 * and, if 'others' is not NULL, copies the config members that are not
 * SCRAM credentials into it as JSON members ("k":"v",...).
 */
static tr_err_t
remote_read(struct tr_credentials *creds, const char *user, int has[3],
            struct tr_scram_cred cred[3], struct tr_buf *others)
{
    char sanitized[SANITIZED_MAX], key[64], text[TR_SCRAM_CRED_TEXT_MAX];
    struct tr_json_value root, cfg, k, v;
    struct tr_json_iter it;
    char *data = NULL;
    size_t len = 0;
    int first = 1;
    enum tr_scram_mech mech;
    tr_err_t err;

    has[0] = has[1] = has[2] = 0;
    tr_credentials_sanitize(user, sanitized, sizeof(sanitized));
    err = creds->remote.get(creds->remote.arg, sanitized, &data, &len);
    if (err != TR_OK) {
        return err;
    }
    if (tr_json_parse(data, len, &root) != TR_OK ||
        tr_json_get(&root, "config", &cfg) != TR_OK ||
        tr_json_iter_init(&it, &cfg) != TR_OK) {
        err = TR_ERR_CORRUPT;
        goto out;
    }
    while (tr_json_next(&it, &k, &v) == TR_OK) {
        if (tr_json_string(&k, key, sizeof(key)) != TR_OK) {
            continue;
        }
        mech = tr_scram_mech_parse(key, strlen(key));
        if (mech != TR_SCRAM_UNKNOWN) {
            if (tr_json_string(&v, text, sizeof(text)) == TR_OK &&
                tr_scram_cred_parse(&cred[mech], mech, text, strlen(text)) ==
                    TR_OK) {
                has[mech] = 1;
            }
        } else if (others != NULL) {
            char *value = tr_malloc(len + 1);
            if (value == NULL) {
                err = TR_ERR_NOMEM;
                goto out;
            }
            if (tr_json_string(&v, value, len + 1) == TR_OK) {
                if (!first) {
                    tr_buf_put_bytes(others, ",", 1);
                }
                (void)tr_json_put_string(others, key);
                tr_buf_put_bytes(others, ":", 1);
                (void)tr_json_put_string(others, value);
                first = 0;
            }
            tr_free(value);
        }
    }
    err = TR_OK;
out:
    free(data);
    return err;
}

/*
 * Replaces the user's credential for 'mech' with 'cred' (NULL: removes
 * it) in its znode, keeping everything else there.
 */
static tr_err_t
remote_write(struct tr_credentials *creds, const char *user,
             enum tr_scram_mech mech, const struct tr_scram_cred *cred)
{
    char sanitized[SANITIZED_MAX], text[TR_SCRAM_CRED_TEXT_MAX];
    struct tr_scram_cred have[3];
    struct tr_buf others, b;
    int has[3], m, first = 1;
    tr_err_t err;

    tr_buf_init(&others, 1 << 20);
    tr_buf_init(&b, 1 << 20);
    err = remote_read(creds, user, has, have, &others);
    if (err == TR_ERR_NOT_FOUND) {
        err = TR_OK;
    }
    if (err != TR_OK) {
        goto out;
    }
    if (cred == NULL && !has[mech]) {
        err = TR_ERR_NOT_FOUND;
        goto out;
    }
    has[mech] = cred != NULL;
    if (cred != NULL) {
        have[mech] = *cred;
    }
    tr_buf_put_bytes(&b, "{\"version\":1,\"config\":{", 23);
    if (tr_buf_len(&others) > 0) {
        tr_buf_put_bytes(&b, tr_buf_data(&others), tr_buf_len(&others));
        first = 0;
    }
    for (m = TR_SCRAM_SHA_256; m <= TR_SCRAM_SHA_512; m++) {
        if (!has[m]) {
            continue;
        }
        err = tr_scram_cred_format(&have[m], text, sizeof(text));
        if (err != TR_OK) {
            goto out;
        }
        if (!first) {
            tr_buf_put_bytes(&b, ",", 1);
        }
        (void)tr_json_put_string(&b, tr_scram_mech_name(m));
        tr_buf_put_bytes(&b, ":", 1);
        (void)tr_json_put_string(&b, text);
        first = 0;
    }
    tr_buf_put_bytes(&b, "}}", 2);
    err = tr_buf_err(&b);
    if (err == TR_OK) {
        tr_credentials_sanitize(user, sanitized, sizeof(sanitized));
        err = creds->remote.put(creds->remote.arg, sanitized,
                                (const char *)tr_buf_data(&b), tr_buf_len(&b));
    }
out:
    memset(have, 0, sizeof(have));
    tr_buf_cleanup(&others);
    tr_buf_cleanup(&b);
    return err;
}

void
tr_credentials_set_remote(struct tr_credentials *creds,
                          const struct tr_credentials_remote *remote)
{
    struct tr_scram_cred have[3];
    int has[3], m;
    size_t i;
    tr_err_t err;

    pthread_mutex_lock(&creds->lock);
    creds->remote = *remote;
    creds->remote_on = 1;
    /* --add-scram wrote to the local file: publish what ZooKeeper lacks. */
    for (i = 0; i < creds->count; i++) {
        const struct entry *e = &creds->entries[i];
        err = remote_read(creds, e->user, has, have, NULL);
        if (err != TR_OK && err != TR_ERR_NOT_FOUND) {
            continue;
        }
        for (m = TR_SCRAM_SHA_256; m <= TR_SCRAM_SHA_512; m++) {
            if (e->has[m] && (err == TR_ERR_NOT_FOUND || !has[m])) {
                if (remote_write(creds, e->user, (enum tr_scram_mech)m,
                                 &e->cred[m]) == TR_OK) {
                    tr_log_info("published the %s credential of %s to "
                                "ZooKeeper",
                                tr_scram_mech_name(m), TR_LOG_ESC(e->user));
                } else {
                    tr_log_warn("cannot publish the %s credential of %s to "
                                "ZooKeeper",
                                tr_scram_mech_name(m), TR_LOG_ESC(e->user));
                }
            }
        }
    }
    memset(have, 0, sizeof(have));
    pthread_mutex_unlock(&creds->lock);
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every user in ZooKeeper with a SCRAM credential, sorted. */
static tr_err_t
remote_users(struct tr_credentials *creds, char ***names, size_t *count)
{
    char **znodes = NULL, **list = NULL, user[TR_CREDENTIALS_MAX_USER + 1];
    struct tr_scram_cred have[3];
    int nz = 0, i, has[3];
    size_t n = 0;
    tr_err_t err;

    err = creds->remote.names(creds->remote.arg, &znodes, &nz);
    if (err != TR_OK) {
        return err;
    }
    list = tr_calloc((size_t)nz + 1, sizeof(*list));
    if (list == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < nz; i++) {
        if (user_decode(znodes[i], strlen(znodes[i]), user) != TR_OK ||
            remote_read(creds, user, has, have, NULL) != TR_OK ||
            (!has[TR_SCRAM_SHA_256] && !has[TR_SCRAM_SHA_512])) {
            continue;
        }
        list[n] = tr_strdup(user);
        if (list[n] == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
        n++;
    }
    qsort(list, n, sizeof(*list), name_cmp);
out:
    memset(have, 0, sizeof(have));
    if (znodes != NULL) {
        creds->remote.free_names(znodes, nz);
    }
    if (err != TR_OK && list != NULL) {
        size_t j;
        for (j = 0; j < n; j++) {
            tr_free(list[j]);
        }
        tr_free(list);
        list = NULL;
        n = 0;
    }
    *names = list;
    *count = n;
    return err;
}

tr_err_t
tr_credentials_open(const char *dir, struct tr_credentials **out, char *errbuf,
                    size_t errlen)
{
    struct tr_credentials *creds;
    tr_err_t err;

    creds = tr_calloc(1, sizeof(*creds));
    if (creds == NULL) {
        return TR_ERR_NOMEM;
    }
    pthread_mutex_init(&creds->lock, NULL);
    creds->dir = tr_strdup(dir);
    if (creds->dir == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    err = load(creds, errbuf, errlen);
out:
    if (err != TR_OK) {
        tr_credentials_free(creds);
        creds = NULL;
    }
    *out = creds;
    return err;
}

void
tr_credentials_free(struct tr_credentials *creds)
{
    size_t i;

    if (creds == NULL) {
        return;
    }
    for (i = 0; i < creds->count; i++) {
        tr_free(creds->entries[i].user);
    }
    if (creds->entries != NULL) {
        memset(creds->entries, 0, creds->cap * sizeof(*creds->entries));
    }
    tr_free(creds->entries);
    tr_free(creds->dir);
    pthread_mutex_destroy(&creds->lock);
    tr_free(creds);
}

static int
mech_ok(enum tr_scram_mech mech)
{
    return mech == TR_SCRAM_SHA_256 || mech == TR_SCRAM_SHA_512;
}

tr_err_t
tr_credentials_get(struct tr_credentials *creds, const char *user,
                   enum tr_scram_mech mech, struct tr_scram_cred *cred)
{
    tr_err_t err = TR_ERR_NOT_FOUND;
    int found;
    size_t at;

    if (!mech_ok(mech)) {
        return TR_ERR_INVALID;
    }
    pthread_mutex_lock(&creds->lock);
    if (creds->remote_on) {
        struct tr_scram_cred have[3];
        int has[3];
        /* The store's lock keeps this broker's writes in order. */
        err = remote_read(creds, user, has, have, NULL);
        if (err == TR_OK && !has[mech]) {
            err = TR_ERR_NOT_FOUND;
        }
        if (err == TR_OK) {
            *cred = have[mech];
        }
        memset(have, 0, sizeof(have));
        pthread_mutex_unlock(&creds->lock);
        return err;
    }
    at = find(creds, user, &found);
    if (found && creds->entries[at].has[mech]) {
        *cred = creds->entries[at].cred[mech];
        err = TR_OK;
    }
    pthread_mutex_unlock(&creds->lock);
    return err;
}

tr_err_t
tr_credentials_set(struct tr_credentials *creds, const char *user,
                   const struct tr_scram_cred *cred)
{
    tr_err_t err;

    if (!mech_ok(cred->mech) || user[0] == '\0' ||
        strlen(user) > TR_CREDENTIALS_MAX_USER) {
        return TR_ERR_INVALID;
    }
    pthread_mutex_lock(&creds->lock);
    if (creds->remote_on) {
        err = remote_write(creds, user, cred->mech, cred);
        pthread_mutex_unlock(&creds->lock);
        return err;
    }
    err = put(creds, user, cred);
    if (err == TR_OK) {
        err = save(creds);
    }
    pthread_mutex_unlock(&creds->lock);
    return err;
}

tr_err_t
tr_credentials_delete(struct tr_credentials *creds, const char *user,
                      enum tr_scram_mech mech)
{
    tr_err_t err = TR_ERR_NOT_FOUND;
    struct entry *e;
    int found;
    size_t at;

    if (!mech_ok(mech)) {
        return TR_ERR_INVALID;
    }
    pthread_mutex_lock(&creds->lock);
    if (creds->remote_on) {
        err = remote_write(creds, user, mech, NULL);
        pthread_mutex_unlock(&creds->lock);
        return err;
    }
    at = find(creds, user, &found);
    if (found && creds->entries[at].has[mech]) {
        e = &creds->entries[at];
        e->has[mech] = 0;
        memset(&e->cred[mech], 0, sizeof(e->cred[mech]));
        if (!e->has[TR_SCRAM_SHA_256] && !e->has[TR_SCRAM_SHA_512]) {
            remove_at(creds, at);
        }
        err = save(creds);
    }
    pthread_mutex_unlock(&creds->lock);
    return err;
}

tr_err_t
tr_credentials_describe(struct tr_credentials *creds, const char *user,
                        int32_t iterations[3])
{
    tr_err_t err = TR_ERR_NOT_FOUND;
    int found, m;
    size_t at;

    memset(iterations, 0, 3 * sizeof(*iterations));
    pthread_mutex_lock(&creds->lock);
    if (creds->remote_on) {
        struct tr_scram_cred have[3];
        int has[3];
        err = remote_read(creds, user, has, have, NULL);
        if (err == TR_OK && !has[TR_SCRAM_SHA_256] && !has[TR_SCRAM_SHA_512]) {
            err = TR_ERR_NOT_FOUND;
        }
        for (m = TR_SCRAM_SHA_256; err == TR_OK && m <= TR_SCRAM_SHA_512; m++) {
            iterations[m] = has[m] ? have[m].iterations : 0;
        }
        memset(have, 0, sizeof(have));
        pthread_mutex_unlock(&creds->lock);
        return err;
    }
    at = find(creds, user, &found);
    if (found) {
        for (m = TR_SCRAM_SHA_256; m <= TR_SCRAM_SHA_512; m++) {
            if (creds->entries[at].has[m]) {
                iterations[m] = creds->entries[at].cred[m].iterations;
            }
        }
        err = TR_OK;
    }
    pthread_mutex_unlock(&creds->lock);
    return err;
}

tr_err_t
tr_credentials_users(struct tr_credentials *creds, char ***names, size_t *count)
{
    char **list = NULL;
    size_t i, n = 0;
    tr_err_t err = TR_OK;

    pthread_mutex_lock(&creds->lock);
    if (creds->remote_on) {
        err = remote_users(creds, names, count);
        pthread_mutex_unlock(&creds->lock);
        return err;
    }
    list = tr_calloc(creds->count + 1, sizeof(*list));
    if (list == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < creds->count; i++) {
        list[n] = tr_strdup(creds->entries[i].user);
        if (list[n] == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
        n++;
    }
out:
    pthread_mutex_unlock(&creds->lock);
    if (err != TR_OK && list != NULL) {
        for (i = 0; i < n; i++) {
            tr_free(list[i]);
        }
        tr_free(list);
        list = NULL;
        n = 0;
    }
    *names = list;
    *count = n;
    return err;
}

/* ---- --add-scram ---- */

/*
 * Takes the next "key=value" of an --add-scram list, the value possibly
 * double-quoted. Moves *p past it and its comma.
 */
static int
next_kv(const char **p, const char *end, const char **key, size_t *klen,
        const char **val, size_t *vlen)
{
    const char *s = *p, *eq, *comma;

    eq = memchr(s, '=', (size_t)(end - s));
    if (eq == NULL || eq == s) {
        return -1;
    }
    *key = s;
    *klen = (size_t)(eq - s);
    s = eq + 1;
    if (s < end && *s == '"') {
        const char *q = memchr(s + 1, '"', (size_t)(end - s - 1));
        if (q == NULL) {
            return -1;
        }
        *val = s + 1;
        *vlen = (size_t)(q - s - 1);
        s = q + 1;
        if (s < end && *s != ',') {
            return -1;
        }
    } else {
        comma = memchr(s, ',', (size_t)(end - s));
        *val = s;
        *vlen = (size_t)((comma ? comma : end) - s);
        s += *vlen;
    }
    *p = s < end ? s + 1 : end;
    return 0;
}

static int
key_is(const char *k, size_t klen, const char *name)
{
    return klen == strlen(name) && memcmp(k, name, klen) == 0;
}

tr_err_t
tr_credentials_parse_add_scram(const char *arg, char *user,
                               struct tr_scram_cred *cred, char *errbuf,
                               size_t errlen)
{
    const char *open = strchr(arg, '='), *p, *end, *k, *v;
    char *password = NULL;
    uint8_t salt[TR_SCRAM_MAX_SALT], salted[TR_SCRAM_MAX_KEY];
    size_t klen, vlen, salt_len = 0, salted_len = 0;
    int have_salt = 0, have_salted = 0;
    int32_t iterations = TR_SCRAM_MIN_ITERATIONS;
    enum tr_scram_mech mech;
    tr_err_t err = TR_ERR_CONFIG;

    user[0] = '\0';
    if (open == NULL || open[1] != '[' || arg[strlen(arg) - 1] != ']') {
        snprintf(errbuf, errlen,
                 "--add-scram: expected MECHANISM=[name=NAME,password=...]");
        goto out;
    }
    mech = tr_scram_mech_parse(arg, (size_t)(open - arg));
    if (mech == TR_SCRAM_UNKNOWN) {
        snprintf(errbuf, errlen,
                 "--add-scram: unknown mechanism '%.*s' (SCRAM-SHA-256 or "
                 "SCRAM-SHA-512)",
                 (int)(open - arg), arg);
        goto out;
    }
    p = open + 2;
    end = arg + strlen(arg) - 1;
    while (p < end) {
        if (next_kv(&p, end, &k, &klen, &v, &vlen) != 0) {
            snprintf(errbuf, errlen, "--add-scram: malformed key=value list");
            goto out;
        }
        if (key_is(k, klen, "name")) {
            if (vlen == 0 || vlen > TR_CREDENTIALS_MAX_USER) {
                snprintf(errbuf, errlen, "--add-scram: bad name");
                goto out;
            }
            memcpy(user, v, vlen);
            user[vlen] = '\0';
        } else if (key_is(k, klen, "password")) {
            tr_free(password);
            password = tr_strndup(v, vlen);
            if (password == NULL) {
                err = TR_ERR_NOMEM;
                goto out;
            }
        } else if (key_is(k, klen, "iterations")) {
            char num[16];
            char *nend;
            long n;
            snprintf(num, sizeof(num), "%.*s", (int)vlen, v);
            n = strtol(num, &nend, 10);
            if (vlen == 0 || vlen >= sizeof(num) || *nend != '\0' ||
                n < TR_SCRAM_MIN_ITERATIONS || n > TR_SCRAM_MAX_ITERATIONS) {
                snprintf(errbuf, errlen,
                         "--add-scram: iterations must be %d..%d",
                         TR_SCRAM_MIN_ITERATIONS, TR_SCRAM_MAX_ITERATIONS);
                goto out;
            }
            iterations = (int32_t)n;
        } else if (key_is(k, klen, "salt")) {
            if (tr_scram_b64_decode(v, vlen, salt, sizeof(salt), &salt_len) !=
                    TR_OK ||
                salt_len == 0) {
                snprintf(errbuf, errlen, "--add-scram: salt is not base64");
                goto out;
            }
            have_salt = 1;
        } else if (key_is(k, klen, "saltedpassword")) {
            if (tr_scram_b64_decode(v, vlen, salted, sizeof(salted),
                                    &salted_len) != TR_OK ||
                salted_len != tr_scram_key_len(mech)) {
                snprintf(errbuf, errlen,
                         "--add-scram: saltedpassword is not a base64 %s key",
                         tr_scram_mech_name(mech));
                goto out;
            }
            have_salted = 1;
        } else {
            snprintf(errbuf, errlen, "--add-scram: unknown key '%.*s'",
                     (int)klen, k);
            goto out;
        }
    }
    if (user[0] == '\0') {
        snprintf(errbuf, errlen, "--add-scram: name= is required");
        goto out;
    }
    if ((password == NULL) == !have_salted) {
        snprintf(errbuf, errlen,
                 "--add-scram: give password= or saltedpassword= (with "
                 "salt=), not both");
        goto out;
    }
    if (have_salted) {
        if (!have_salt) {
            snprintf(errbuf, errlen, "--add-scram: saltedpassword needs salt");
            goto out;
        }
        err = tr_scram_cred_from_salted(cred, mech, salt, salt_len, iterations,
                                        salted, salted_len);
    } else {
        err = tr_scram_cred_make(cred, mech, password, strlen(password),
                                 iterations, have_salt ? salt : NULL, salt_len);
    }
    if (err != TR_OK) {
        snprintf(errbuf, errlen, "--add-scram: %s", tr_err_str(err));
    }
out:
    if (password != NULL) {
        OPENSSL_cleanse(password, strlen(password));
        tr_free(password);
    }
    return err;
}
