/*
 * acls -- DescribeAcls (29), CreateAcls (30), DeleteAcls (31), and the
 * per-request authorization helpers every handler calls (api.h).
 *
 * The ACLs themselves live in security/acl (a file, or ZooKeeper in a
 * cluster, where any broker may take a change). Kafka's behaviour is
 * KafkaApis' (2.8): SECURITY_DISABLED without an authorizer, DESCRIBE on
 * the cluster to list, ALTER to change, INVALID_REQUEST for a binding or
 * filter with unknown parts.
 */
#include <stdio.h>
#include <string.h>

#include "acl.h"
#include "alloc.h"
#include "api.h"
#include "log.h"

/* Caps on the arrays of a request (nothing is sized by more). */
#define MAX_BINDINGS 10000

#define NO_AUTHORIZER "No Authorizer is configured on the broker"

/* ------------------------------------------------- authorization helpers */

static const char *
principal_of(const struct tr_request *req)
{
    return req->security != NULL ? req->security->principal : "User:ANONYMOUS";
}

int
tr_api_authorize_slow(struct tr_request *req, enum tr_acl_op op,
                      enum tr_acl_resource type, const char *name)
{
    char host[TR_ACL_HOST_MAX];

    tr_acl_host_from_peer(req->peer != NULL ? req->peer : "", host,
                          sizeof(host));
    return tr_acl_authorize(req->broker->acl, principal_of(req), host, op, type,
                            name, 1);
}

int
tr_api_authorize_str(struct tr_request *req, enum tr_acl_op op,
                     enum tr_acl_resource type, const struct tr_str *name)
{
    char buf[TR_API_ACL_NAME_MAX];

    if (req->broker->acl == NULL) {
        return 1;
    }
    /*
     * A null name, one holding a NUL, or one too long to look up is
     * denied: no ACL could name it, and "*" must not let it through a
     * DENY written for it.
     */
    if (tr_str_copy(name, buf, sizeof(buf)) != TR_OK) {
        return 0;
    }
    return tr_api_authorize_slow(req, op, type, buf);
}

int
tr_api_authorize_quiet(struct tr_request *req, enum tr_acl_op op,
                       enum tr_acl_resource type, const char *name)
{
    char host[TR_ACL_HOST_MAX];

    if (req->broker->acl == NULL) {
        return 1;
    }
    tr_acl_host_from_peer(req->peer != NULL ? req->peer : "", host,
                          sizeof(host));
    return tr_acl_authorize(req->broker->acl, principal_of(req), host, op, type,
                            name, 0);
}

int
tr_api_authorize_any(struct tr_request *req, enum tr_acl_op op,
                     enum tr_acl_resource type)
{
    char host[TR_ACL_HOST_MAX];

    if (req->broker->acl == NULL) {
        return 1;
    }
    tr_acl_host_from_peer(req->peer != NULL ? req->peer : "", host,
                          sizeof(host));
    return tr_acl_authorize_any(req->broker->acl, principal_of(req), host, op,
                                type, 1);
}

int32_t
tr_api_authorized_ops(struct tr_request *req, enum tr_acl_resource type,
                      const char *name)
{
    char host[TR_ACL_HOST_MAX];

    if (req->broker->acl == NULL) {
        /* Everything valid for the type is allowed. */
        return tr_acl_authorized_ops(NULL, "", "", type, name);
    }
    tr_acl_host_from_peer(req->peer != NULL ? req->peer : "", host,
                          sizeof(host));
    return tr_acl_authorized_ops(req->broker->acl, principal_of(req), host,
                                 type, name);
}

/* ------------------------------------------------------------ decoding */

/*
 * A binding or filter read from a request; the strings are owned (NULL for
 * a null string) and freed with binding_cleanup.
 */
static void
binding_cleanup(struct tr_acl_binding *b)
{
    tr_free((char *)b->name);
    tr_free((char *)b->principal);
    tr_free((char *)b->host);
    memset(b, 0, sizeof(*b));
}

/* Copies a wire string: NULL for null; *bad set when it holds a NUL. */
static tr_err_t
dup_str(const struct tr_str *s, const char **out, int *bad)
{
    char *copy;

    *out = NULL;
    if (s->len < 0) {
        return TR_OK;
    }
    if (memchr(s->ptr, '\0', (size_t)s->len) != NULL) {
        *bad = 1;
        return TR_OK;
    }
    copy = tr_strndup(s->ptr, (size_t)s->len);
    if (copy == NULL) {
        return TR_ERR_NOMEM;
    }
    *out = copy;
    return TR_OK;
}

/*
 * Reads one binding (CreateAcls' AclCreation) or filter (the others; the
 * same fields): type, name, pattern (v1+, else LITERAL), principal, host,
 * operation, permission. *bad is set for a string holding a NUL.
 */
static tr_err_t
read_binding(struct tr_request *req, struct tr_acl_binding *b, int *bad)
{
    struct tr_slice *s = &req->body;
    int flex = req->hdr.flexible;
    struct tr_str name, principal, host;
    tr_err_t err;

    memset(b, 0, sizeof(*b));
    *bad = 0;
    b->pattern_type = TR_ACL_PAT_LITERAL;
    if ((err = tr_slice_get_i8(s, &b->resource_type)) != TR_OK ||
        (err = tr_proto_get_string_v(s, flex, &name)) != TR_OK ||
        (req->hdr.api_version >= 1 &&
         (err = tr_slice_get_i8(s, &b->pattern_type)) != TR_OK) ||
        (err = tr_proto_get_string_v(s, flex, &principal)) != TR_OK ||
        (err = tr_proto_get_string_v(s, flex, &host)) != TR_OK ||
        (err = tr_slice_get_i8(s, &b->operation)) != TR_OK ||
        (err = tr_slice_get_i8(s, &b->permission)) != TR_OK ||
        (flex && (err = tr_proto_skip_tags(s)) != TR_OK)) {
        return err;
    }
    if ((err = dup_str(&name, &b->name, bad)) != TR_OK ||
        (err = dup_str(&principal, &b->principal, bad)) != TR_OK ||
        (err = dup_str(&host, &b->host, bad)) != TR_OK) {
        return err;
    }
    return TR_OK;
}

/* NULL if filter 'f' is usable, else why not (INVALID_REQUEST). */
static const char *
filter_invalid(const struct tr_acl_binding *f, int bad)
{
    if (bad) {
        return "Invalid string in the ACL filter";
    }
    /* v3's USER (7) filters are fine: no binding has that type. */
    if (f->resource_type < TR_ACL_RES_ANY || f->resource_type > 7 ||
        f->pattern_type < TR_ACL_PAT_ANY ||
        f->pattern_type > TR_ACL_PAT_PREFIXED || f->operation < TR_ACL_OP_ANY ||
        f->operation > TR_ACL_OP_IDEMPOTENT_WRITE ||
        f->permission < TR_ACL_PERM_ANY || f->permission > TR_ACL_PERM_ALLOW) {
        return "The ACL filter contains UNKNOWN elements";
    }
    return NULL;
}

/* ------------------------------------------------------------ encoding */

static void
put_resource_head(struct tr_request *req, const struct tr_acl_binding *b)
{
    int flex = req->hdr.flexible;

    tr_buf_put_i8(req->out, b->resource_type);       /* ResourceType */
    tr_proto_put_cstring_v(req->out, flex, b->name); /* ResourceName */
    if (req->hdr.api_version >= 1) {
        tr_buf_put_i8(req->out, b->pattern_type); /* PatternType */
    }
}

static void
put_acl_tail(struct tr_request *req, const struct tr_acl_binding *b)
{
    int flex = req->hdr.flexible;

    tr_proto_put_cstring_v(req->out, flex, b->principal); /* Principal */
    tr_proto_put_cstring_v(req->out, flex, b->host);      /* Host */
    tr_buf_put_i8(req->out, b->operation);                /* Operation */
    tr_buf_put_i8(req->out, b->permission);               /* PermissionType */
}

static int
same_resource(const struct tr_acl_binding *a, const struct tr_acl_binding *b)
{
    return a->resource_type == b->resource_type &&
           a->pattern_type == b->pattern_type && strcmp(a->name, b->name) == 0;
}

/* ------------------------------------------------------------ handlers */

tr_err_t
tr_api_describe_acls(struct tr_request *req)
{
    struct tr_acl *acl = req->broker->acl;
    struct tr_acl_binding f, *list = NULL;
    size_t n = 0, i, j, nres = 0;
    int flex = req->hdr.flexible, bad;
    int16_t kerr = TR_KERR_NONE;
    const char *msg = NULL;
    tr_err_t err;

    /* One filter; in v2 its tagged fields are the request's own. */
    err = read_binding(req, &f, &bad);
    if (err != TR_OK) {
        goto out;
    }
    if (acl == NULL) {
        kerr = TR_KERR_SECURITY_DISABLED;
        msg = NO_AUTHORIZER;
    } else if (!tr_api_authorize(req, TR_ACL_OP_DESCRIBE, TR_ACL_CLUSTER,
                                 TR_ACL_CLUSTER_NAME)) {
        kerr = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
        msg = "Cluster authorization failed.";
    } else if ((msg = filter_invalid(&f, bad)) != NULL) {
        kerr = TR_KERR_INVALID_REQUEST;
    } else if (tr_acl_describe(acl, &f, &list, &n) != TR_OK) {
        kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
        msg = "Cannot list the ACLs";
    }
    tr_request_put_throttle(req);
    tr_buf_put_i16(req->out, kerr);              /* ErrorCode */
    tr_proto_put_cstring_v(req->out, flex, msg); /* ErrorMessage */
    for (i = 0; i < n; i++) {
        nres += i == 0 || !same_resource(&list[i - 1], &list[i]);
    }
    tr_proto_put_array_len_v(req->out, flex, (int32_t)nres); /* Resources */
    for (i = 0; i < n; i = j) {
        for (j = i; j < n && same_resource(&list[i], &list[j]); j++) {
        }
        put_resource_head(req, &list[i]);
        tr_proto_put_array_len_v(req->out, flex, (int32_t)(j - i)); /* Acls */
        for (; i < j; i++) {
            put_acl_tail(req, &list[i]);
            tr_proto_put_tags_v(req->out, flex);
        }
        tr_proto_put_tags_v(req->out, flex);
    }
    tr_proto_put_tags_v(req->out, flex);
    err = TR_OK;
out:
    binding_cleanup(&f);
    tr_acl_bindings_free(list, n);
    return err;
}

/* Reads the request's array of bindings or filters; *bad per element. */
static tr_err_t
read_bindings(struct tr_request *req, struct tr_acl_binding **out, int **bad,
              int32_t *count)
{
    int32_t n, i;
    tr_err_t err;

    *out = NULL;
    *bad = NULL;
    *count = 0;
    err = tr_proto_get_array_len_v(&req->body, req->hdr.flexible, &n, 9,
                                   MAX_BINDINGS);
    if (err != TR_OK) {
        return err;
    }
    if (n <= 0) {
        return req->hdr.flexible ? tr_proto_skip_tags(&req->body) : TR_OK;
    }
    *out = tr_calloc((size_t)n, sizeof(**out));
    *bad = tr_calloc((size_t)n, sizeof(**bad));
    if (*out == NULL || *bad == NULL) {
        return TR_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        err = read_binding(req, &(*out)[i], &(*bad)[i]);
        *count = i + 1;
        if (err != TR_OK) {
            return err;
        }
    }
    return req->hdr.flexible ? tr_proto_skip_tags(&req->body) : TR_OK;
}

static void
free_bindings(struct tr_acl_binding *b, int *bad, int32_t n)
{
    int32_t i;

    for (i = 0; b != NULL && i < n; i++) {
        binding_cleanup(&b[i]);
    }
    tr_free(b);
    tr_free(bad);
}

tr_err_t
tr_api_create_acls(struct tr_request *req)
{
    struct tr_acl *acl = req->broker->acl;
    struct tr_acl_binding *b = NULL, *good = NULL;
    int *bad = NULL, flex = req->hdr.flexible, allowed;
    int16_t *kerr = NULL;
    const char **msg = NULL;
    int32_t n = 0, i, ngood = 0;
    tr_err_t err;

    err = read_bindings(req, &b, &bad, &n);
    if (err != TR_OK) {
        goto out;
    }
    err = TR_ERR_NOMEM;
    kerr = tr_calloc((size_t)n + 1, sizeof(*kerr));
    msg = tr_calloc((size_t)n + 1, sizeof(*msg));
    good = tr_calloc((size_t)n + 1, sizeof(*good));
    if (kerr == NULL || msg == NULL || good == NULL) {
        goto out;
    }
    allowed =
        acl != NULL && tr_api_authorize(req, TR_ACL_OP_ALTER, TR_ACL_CLUSTER,
                                        TR_ACL_CLUSTER_NAME);
    for (i = 0; i < n; i++) {
        if (acl == NULL) {
            kerr[i] = TR_KERR_SECURITY_DISABLED;
            msg[i] = NO_AUTHORIZER;
        } else if (!allowed) {
            kerr[i] = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
            msg[i] = "Cluster authorization failed.";
        } else if (bad[i] || (msg[i] = tr_acl_binding_invalid(&b[i])) != NULL) {
            kerr[i] = TR_KERR_INVALID_REQUEST;
            if (msg[i] == NULL) {
                msg[i] = "Invalid string in the ACL binding";
            }
        } else {
            good[ngood++] = b[i];
        }
    }
    if (ngood > 0 && tr_acl_add(acl, good, (size_t)ngood) != TR_OK) {
        for (i = 0; i < n; i++) {
            if (kerr[i] == TR_KERR_NONE) {
                kerr[i] = TR_KERR_UNKNOWN_SERVER_ERROR;
                msg[i] = "The ACLs could not be stored";
            }
        }
    } else if (ngood > 0) {
        tr_log_info("authorizer: %s created %d ACL(s)",
                    TR_LOG_ESC(principal_of(req)), (int)ngood);
    }
    tr_request_put_throttle(req);
    tr_proto_put_array_len_v(req->out, flex, (int32_t)n); /* Results */
    for (i = 0; i < n; i++) {
        tr_buf_put_i16(req->out, kerr[i]);              /* ErrorCode */
        tr_proto_put_cstring_v(req->out, flex, msg[i]); /* ErrorMessage */
        tr_proto_put_tags_v(req->out, flex);
    }
    tr_proto_put_tags_v(req->out, flex);
    err = TR_OK;
out:
    free_bindings(b, bad, n);
    tr_free(good); /* its strings belonged to 'b' */
    tr_free(kerr);
    tr_free(msg);
    return err;
}

tr_err_t
tr_api_delete_acls(struct tr_request *req)
{
    struct tr_acl *acl = req->broker->acl;
    struct tr_acl_binding *f = NULL, *good = NULL, **deleted = NULL;
    size_t *ndeleted = NULL;
    int *bad = NULL, flex = req->hdr.flexible, allowed, store_failed = 0;
    int32_t n = 0, i, ngood = 0, k;
    int16_t kerr;
    const char *msg;
    tr_err_t err;

    err = read_bindings(req, &f, &bad, &n);
    if (err != TR_OK) {
        goto out;
    }
    err = TR_ERR_NOMEM;
    good = tr_calloc((size_t)n + 1, sizeof(*good));
    deleted = tr_calloc((size_t)n + 1, sizeof(*deleted));
    ndeleted = tr_calloc((size_t)n + 1, sizeof(*ndeleted));
    if (good == NULL || deleted == NULL || ndeleted == NULL) {
        goto out;
    }
    allowed =
        acl != NULL && tr_api_authorize(req, TR_ACL_OP_ALTER, TR_ACL_CLUSTER,
                                        TR_ACL_CLUSTER_NAME);
    for (i = 0; allowed && i < n; i++) {
        if (filter_invalid(&f[i], bad[i]) == NULL) {
            good[ngood++] = f[i];
        }
    }
    if (ngood > 0) {
        store_failed =
            tr_acl_delete(acl, good, (size_t)ngood, deleted, ndeleted) != TR_OK;
    }
    tr_request_put_throttle(req);
    tr_proto_put_array_len_v(req->out, flex, (int32_t)n); /* FilterResults */
    for (i = 0, k = 0; i < n; i++) {
        struct tr_acl_binding *list = NULL;
        size_t count = 0, j;

        kerr = TR_KERR_NONE;
        msg = NULL;
        if (acl == NULL) {
            kerr = TR_KERR_SECURITY_DISABLED;
            msg = NO_AUTHORIZER;
        } else if (!allowed) {
            kerr = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
            msg = "Cluster authorization failed.";
        } else if ((msg = filter_invalid(&f[i], bad[i])) != NULL) {
            kerr = TR_KERR_INVALID_REQUEST;
        } else {
            list = deleted[k];
            count = ndeleted[k];
            k++;
            if (store_failed) {
                kerr = TR_KERR_UNKNOWN_SERVER_ERROR;
                msg = "The ACLs could not be stored";
                count = 0;
            }
        }
        tr_buf_put_i16(req->out, kerr);              /* ErrorCode */
        tr_proto_put_cstring_v(req->out, flex, msg); /* ErrorMessage */
        tr_proto_put_array_len_v(req->out, flex, (int32_t)count);
        for (j = 0; j < count; j++) {                     /* MatchingAcls */
            tr_buf_put_i16(req->out, TR_KERR_NONE);       /* ErrorCode */
            tr_proto_put_cstring_v(req->out, flex, NULL); /* ErrorMessage */
            put_resource_head(req, &list[j]);
            put_acl_tail(req, &list[j]);
            tr_proto_put_tags_v(req->out, flex);
        }
        tr_proto_put_tags_v(req->out, flex);
    }
    tr_proto_put_tags_v(req->out, flex);
    if (ngood > 0 && !store_failed) {
        size_t total = 0;
        for (i = 0; i < ngood; i++) {
            total += ndeleted[i];
        }
        tr_log_info("authorizer: %s deleted %zu ACL(s)",
                    TR_LOG_ESC(principal_of(req)), total);
    }
    err = TR_OK;
out:
    for (i = 0; deleted != NULL && i < ngood; i++) {
        tr_acl_bindings_free(deleted[i], ndeleted[i]);
    }
    free_bindings(f, bad, n);
    tr_free(good);
    tr_free(deleted);
    tr_free(ndeleted);
    return err;
}
