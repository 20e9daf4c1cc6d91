/*
 * quotas -- DescribeClientQuotas (48) and AlterClientQuotas (49), v0-1
 * (v1 flexible; KIP-546), over the client quotas of security/quota.h.
 *
 * Entities are made of "user" and "client-id" components, a null name
 * meaning <default>. Kafka's "ip" entities (connection_creation_rate)
 * are not supported: a filter or change naming one is INVALID_REQUEST,
 * as are a type given twice, an unknown type or key, and bad values.
 */
#include <string.h>

#include "api.h"
#include "log.h"
#include "quota.h"

/* Components of one entity or filter (user, client-id, and spares). */
#define MAX_COMPONENTS 8
/* Entries of one AlterClientQuotas; ops of one entry. */
#define MAX_ENTRIES 10000
#define MAX_OPS     64

enum comp_type {
    COMP_USER,
    COMP_CLIENT,
    COMP_UNKNOWN
};

static enum comp_type
comp_type(const struct tr_str *s)
{
    if (tr_str_eq(s, "user")) {
        return COMP_USER;
    }
    if (tr_str_eq(s, "client-id")) {
        return COMP_CLIENT;
    }
    return COMP_UNKNOWN;
}

static tr_err_t
get_f64(struct tr_slice *s, double *v)
{
    int64_t bits;
    tr_err_t err = tr_slice_get_i64(s, &bits);

    memcpy(v, &bits, sizeof(*v));
    return err;
}

static void
put_f64(struct tr_buf *b, double v)
{
    int64_t bits;

    memcpy(&bits, &v, sizeof(bits));
    tr_buf_put_i64(b, bits);
}

/* Writes an entity's components: user first, then client-id. */
static void
put_entity(struct tr_buf *b, int flex, const struct tr_quota_entity *e)
{
    tr_proto_put_quota_entity(b, flex, e->user, e->user_default, e->client_id,
                              e->client_default);
}

/* ---- DescribeClientQuotas ---- */

struct filter {
    int has[2];      /* by enum comp_type */
    int8_t match[2]; /* 0 exact, 1 default, 2 any */
    struct tr_str name[2];
    int strict;
};

struct described {
    const struct filter *f;
    int flex;
    struct tr_buf *entries;
    int32_t count;
};

static int
part_matches(const struct filter *f, int t, const char *name, int is_default)
{
    int present = name != NULL || is_default;

    if (!f->has[t]) {
        return !f->strict || !present;
    }
    switch (f->match[t]) {
    case 0:
        return name != NULL && tr_str_eq(&f->name[t], name);
    case 1:
        return is_default;
    default:
        return present;
    }
}

static void
describe_cb(const struct tr_quota_entity *e, const struct tr_quota_values *v,
            void *arg)
{
    struct described *d = arg;
    int k, n = 0;

    if (!part_matches(d->f, COMP_USER, e->user, e->user_default) ||
        !part_matches(d->f, COMP_CLIENT, e->client_id, e->client_default)) {
        return;
    }
    put_entity(d->entries, d->flex, e);
    for (k = 0; k < TR_QUOTA_NKEYS; k++) {
        n += (v->set >> k) & 1;
    }
    tr_proto_put_array_len_v(d->entries, d->flex, n);
    for (k = 0; k < TR_QUOTA_NKEYS; k++) {
        if (v->set & (1u << k)) {
            tr_proto_put_cstring_v(d->entries, d->flex,
                                   tr_quota_key_name((enum tr_quota_key)k));
            put_f64(d->entries, v->v[k]);
            tr_proto_put_tags_v(d->entries, d->flex);
        }
    }
    tr_proto_put_tags_v(d->entries, d->flex);
    d->count++;
}

tr_err_t
tr_api_describe_client_quotas(struct tr_request *req)
{
    int flex = req->hdr.flexible;
    struct filter f;
    struct described d;
    struct tr_buf entries;
    const char *why = NULL;
    int32_t n, i;
    tr_err_t err;

    memset(&f, 0, sizeof(f));
    err = tr_proto_get_array_len_v(&req->body, flex, &n, 4, MAX_COMPONENTS);
    for (i = 0; err == TR_OK && i < n; i++) {
        struct tr_str type, match;
        int8_t match_type;
        enum comp_type t;

        if ((err = tr_proto_get_string_v(&req->body, flex, &type)) != TR_OK ||
            (err = tr_slice_get_i8(&req->body, &match_type)) != TR_OK ||
            (err = tr_proto_get_string_v(&req->body, flex, &match)) != TR_OK ||
            (flex && (err = tr_proto_skip_tags(&req->body)) != TR_OK)) {
            break;
        }
        t = comp_type(&type);
        if (t == COMP_UNKNOWN) {
            why = tr_str_eq(&type, "ip") ? "ip quotas are not supported"
                                         : "unknown entity type";
        } else if (f.has[t]) {
            why = "duplicate filter component entity type";
        } else if (match_type < 0 || match_type > 2 ||
                   (match_type == 0 && match.len < 0)) {
            why = "bad match type or a missing match";
        } else {
            f.has[t] = 1;
            f.match[t] = match_type;
            f.name[t] = match;
        }
    }
    if (err == TR_OK) {
        err = tr_proto_get_bool(&req->body, &f.strict);
    }
    if (err == TR_OK && flex) {
        err = tr_proto_skip_tags(&req->body);
    }
    if (err != TR_OK) {
        return err;
    }
    tr_request_put_throttle(req);
    if (!tr_api_authorize(req, TR_ACL_OP_DESCRIBE_CONFIGS, TR_ACL_CLUSTER,
                          TR_ACL_CLUSTER_NAME)) {
        tr_buf_put_i16(req->out, TR_KERR_CLUSTER_AUTHORIZATION_FAILED);
        tr_proto_put_cstring_v(req->out, flex, "Cluster authorization failed.");
        tr_proto_put_array_len_v(req->out, flex, -1);
        tr_proto_put_tags_v(req->out, flex);
        return TR_OK;
    }
    if (why != NULL || req->broker->quotas == NULL) {
        tr_buf_put_i16(req->out, TR_KERR_INVALID_REQUEST);
        tr_proto_put_cstring_v(req->out, flex,
                               why != NULL ? why : "no quota store");
        tr_proto_put_array_len_v(req->out, flex, -1);
        tr_proto_put_tags_v(req->out, flex);
        return TR_OK;
    }
    tr_buf_init(&entries, 64u << 20);
    d.f = &f;
    d.flex = flex;
    d.entries = &entries;
    d.count = 0;
    tr_quotas_each(req->broker->quotas, describe_cb, &d);
    tr_buf_put_i16(req->out, TR_KERR_NONE);
    tr_proto_put_cstring_v(req->out, flex, NULL);
    tr_proto_put_array_len_v(req->out, flex, d.count);
    tr_buf_put_bytes(req->out, tr_buf_data(&entries), tr_buf_len(&entries));
    tr_proto_put_tags_v(req->out, flex);
    err = tr_buf_err(&entries);
    tr_buf_cleanup(&entries);
    return err;
}

/* ---- AlterClientQuotas ---- */

/*
 * Decodes one entry's entity into 'e' (names copied into 'user' and
 * 'client', TR_QUOTA_NAME_MAX + 1 bytes each, when they fit). '*why' is
 * set for a well-formed but unacceptable entity.
 */
static tr_err_t
get_entity(struct tr_slice *in, int flex, struct tr_quota_entity *e, char *user,
           char *client, const char **why)
{
    int32_t n, i;
    tr_err_t err;

    memset(e, 0, sizeof(*e));
    err = tr_proto_get_array_len_v(in, flex, &n, 2, MAX_COMPONENTS);
    for (i = 0; err == TR_OK && i < n; i++) {
        struct tr_str type, name;
        enum comp_type t;
        char *buf;

        if ((err = tr_proto_get_string_v(in, flex, &type)) != TR_OK ||
            (err = tr_proto_get_string_v(in, flex, &name)) != TR_OK ||
            (flex && (err = tr_proto_skip_tags(in)) != TR_OK)) {
            break;
        }
        t = comp_type(&type);
        if (t == COMP_UNKNOWN) {
            *why = tr_str_eq(&type, "ip") ? "ip quotas are not supported"
                                          : "unknown entity type";
            continue;
        }
        if ((t == COMP_USER && (e->user != NULL || e->user_default)) ||
            (t == COMP_CLIENT && (e->client_id != NULL || e->client_default))) {
            *why = "duplicate entity type";
            continue;
        }
        buf = t == COMP_USER ? user : client;
        if (name.len >= 0 &&
            tr_str_copy(&name, buf, TR_QUOTA_NAME_MAX + 1) != TR_OK) {
            *why = "entity name too long";
            continue;
        }
        if (t == COMP_USER) {
            e->user = name.len >= 0 ? user : NULL;
            e->user_default = name.len < 0;
        } else {
            e->client_id = name.len >= 0 ? client : NULL;
            e->client_default = name.len < 0;
        }
    }
    if (err == TR_OK && n <= 0 && *why == NULL) {
        *why = "empty entity";
    }
    return err;
}

/*
 * Decodes one entry (entity and ops) and, when 'apply' is set, applies it
 * and encodes its result. The first pass (apply 0) only checks that the
 * whole request is well formed, so that nothing is changed by a request
 * that will be refused.
 */
/* alter_entry's 'apply': parse only, apply, or refuse (no ALTER_CONFIGS). */
enum {
    PARSE_ONLY = 0,
    APPLY = 1,
    APPLY_DENIED = 2
};

static tr_err_t
alter_entry(struct tr_request *req, struct tr_slice *in, int apply,
            int validate_only)
{
    int flex = req->hdr.flexible;
    char user[TR_QUOTA_NAME_MAX + 1], client[TR_QUOTA_NAME_MAX + 1];
    char msg[256];
    struct tr_quota_entity e;
    struct tr_quota_op ops[MAX_OPS];
    const char *why = NULL;
    int32_t n = 0, i;
    int16_t kerr = TR_KERR_NONE;
    tr_err_t err;

    err = get_entity(in, flex, &e, user, client, &why);
    if (err == TR_OK) {
        err = tr_proto_get_array_len_v(in, flex, &n, 11, MAX_OPS);
        n = n < 0 ? 0 : n; /* a null list changes nothing */
    }
    for (i = 0; err == TR_OK && i < n; i++) {
        struct tr_str key;
        int remove, k;

        if ((err = tr_proto_get_string_v(in, flex, &key)) != TR_OK ||
            (err = get_f64(in, &ops[i].value)) != TR_OK ||
            (err = tr_proto_get_bool(in, &remove)) != TR_OK ||
            (flex && (err = tr_proto_skip_tags(in)) != TR_OK)) {
            break;
        }
        k = key.len > 0 ? tr_quota_key_parse(key.ptr, (size_t)key.len) : -1;
        if (k < 0 && why == NULL) {
            why = "unknown quota key";
        }
        ops[i].key = k < 0 ? TR_QUOTA_PRODUCER_BYTE_RATE : (enum tr_quota_key)k;
        ops[i].remove = remove;
    }
    if (err == TR_OK && flex) {
        err = tr_proto_skip_tags(in);
    }
    if (err != TR_OK || !apply) {
        return err;
    }
    msg[0] = '\0';
    if (apply == APPLY_DENIED) {
        kerr = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
        snprintf(msg, sizeof(msg), "Cluster authorization failed.");
    } else if (why != NULL) {
        kerr = TR_KERR_INVALID_REQUEST;
        snprintf(msg, sizeof(msg), "%s", why);
    } else if (req->broker->quotas == NULL) {
        kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
    } else {
        kerr = tr_quotas_alter(req->broker->quotas, &e, ops, (size_t)n,
                               validate_only, msg, sizeof(msg));
    }
    if (kerr == TR_KERR_NONE && !validate_only) {
        tr_log_info("%s: %s changed client quotas of %s%s%s%s", req->peer,
                    req->security != NULL ? req->security->principal : "-",
                    e.user_default ? "user <default>"
                    : e.user       ? "user "
                                   : "",
                    e.user != NULL ? TR_LOG_ESC(e.user) : "",
                    e.client_default ? " client-id <default>"
                    : e.client_id    ? " client-id "
                                     : "",
                    e.client_id != NULL ? TR_LOG_ESC(e.client_id) : "");
    }
    tr_buf_put_i16(req->out, kerr);
    tr_proto_put_cstring_v(req->out, flex, kerr != TR_KERR_NONE ? msg : NULL);
    put_entity(req->out, flex, &e);
    tr_proto_put_tags_v(req->out, flex);
    return TR_OK;
}

tr_err_t
tr_api_alter_client_quotas(struct tr_request *req)
{
    int flex = req->hdr.flexible;
    struct tr_slice entries_at;
    int validate_only, allowed;
    int32_t n, i;
    tr_err_t err;

    err = tr_proto_get_array_len_v(&req->body, flex, &n, 3, MAX_ENTRIES);
    entries_at = req->body;
    for (i = 0; err == TR_OK && i < n; i++) {
        err = alter_entry(req, &req->body, PARSE_ONLY, 0);
    }
    if (err == TR_OK) {
        err = tr_proto_get_bool(&req->body, &validate_only);
    }
    if (err == TR_OK && flex) {
        err = tr_proto_skip_tags(&req->body);
    }
    if (err != TR_OK) {
        return err;
    }
    allowed = tr_api_authorize(req, TR_ACL_OP_ALTER_CONFIGS, TR_ACL_CLUSTER,
                               TR_ACL_CLUSTER_NAME);
    tr_request_put_throttle(req);
    tr_proto_put_array_len_v(req->out, flex, n < 0 ? 0 : n);
    for (i = 0; i < n; i++) {
        (void)alter_entry(req, &entries_at, allowed ? APPLY : APPLY_DENIED,
                          validate_only);
    }
    tr_proto_put_tags_v(req->out, flex);
    return TR_OK;
}
