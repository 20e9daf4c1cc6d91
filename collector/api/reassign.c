/*
 * reassign -- the controller's admin APIs: AlterPartitionReassignments
 * (v0), ListPartitionReassignments (v0) and ElectLeaders (v0-2).
 *
 * All three are answered by the controller (the cluster thread carries
 * them out; see cluster/controller.c); another broker answers
 * NOT_CONTROLLER, and clients send them to the controller Metadata names.
 * Alter and List are flexible in every version, ElectLeaders from v2
 * (compact lengths and a tagged-field section closing each structure).
 *
 * A single collector has nothing to move or elect: a reassignment onto
 * itself alone is accepted and done, any other is INVALID_REPLICA_ASSIGNMENT,
 * none is ever in progress, and every election is ELECTION_NOT_NEEDED.
 */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "build-config.h"
#include "log.h"
#include "topics.h"
#ifdef HAVE_ZOOKEEPER
#include "cluster.h"
#endif

/* Partitions one request may name. */
#define MAX_OPS 100000

static void
put_ids(struct tr_buf *out, int flex, const int32_t *ids, int32_t n)
{
    int32_t i;

    tr_proto_put_array_len_v(out, flex, n);
    for (i = 0; i < n; i++) {
        tr_buf_put_i32(out, ids[i]);
    }
}

/* Appends one op to a growing array. */
static struct tr_partition_op *
add_op(struct tr_partition_op **ops, size_t *n, size_t *cap,
       const struct tr_str *topic, int32_t partition)
{
    struct tr_partition_op *op;

    if (*n >= MAX_OPS ||
        tr_array_reserve(ops, cap, *n + 1, sizeof(**ops)) != TR_OK) {
        return NULL;
    }
    op = &(*ops)[(*n)++];
    memset(op, 0, sizeof(*op));
    if (tr_str_copy(topic, op->topic, sizeof(op->topic)) != TR_OK) {
        op->error = TR_KERR_INVALID_TOPIC_EXCEPTION;
    }
    op->partition = partition;
    return op;
}

/*
 * Results grouped by topic in request order: ops of one topic are
 * consecutive, as the request listed them.
 */
static size_t
topic_run(const struct tr_partition_op *ops, size_t n, size_t from)
{
    size_t i = from + 1;

    while (i < n && strcmp(ops[i].topic, ops[from].topic) == 0) {
        i++;
    }
    return i - from;
}

static int32_t
count_topics(const struct tr_partition_op *ops, size_t n)
{
    size_t i;
    int32_t k = 0;

    for (i = 0; i < n; i += topic_run(ops, n, i)) {
        k++;
    }
    return k;
}

/* Single node: the only possible assignment is this broker alone. */
static void
single_node_reassign(struct tr_request *req, struct tr_partition_op *op)
{
    struct tr_partition *part;

    part = tr_topics_partition(req->broker->topics, op->topic, op->partition);
    if (part == NULL) {
        op->error = TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    tr_partition_unref(part);
    if (op->nreplicas < 0) {
        op->error = TR_KERR_NO_REASSIGNMENT_IN_PROGRESS;
    } else if (op->nreplicas != 1 || op->replicas[0] != req->broker->node_id) {
        op->error = TR_KERR_INVALID_REPLICA_ASSIGNMENT;
        snprintf(op->message, sizeof(op->message),
                 "a single collector (broker %d) has no other broker to "
                 "move replicas to",
                 (int)req->broker->node_id);
    }
}

tr_err_t
tr_api_alter_partition_reassignments(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    struct tr_partition_op *ops = NULL;
    size_t nops = 0, cap = 0, i, j, run;
    int32_t timeout_ms, nt, np, nr, t, p, r;
    int16_t top = TR_KERR_NONE;
    tr_err_t err;

    if ((err = tr_slice_get_i32(in, &timeout_ms)) != TR_OK ||
        (err = tr_proto_get_array_len_v(in, 1, &nt, 3, MAX_OPS)) != TR_OK) {
        goto out;
    }
    for (t = 0; t < nt; t++) {
        struct tr_str name;

        if ((err = tr_proto_get_string_v(in, 1, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 1, &np, 6, MAX_OPS)) != TR_OK) {
            goto out;
        }
        for (p = 0; p < np; p++) {
            struct tr_partition_op *op;
            int32_t index;

            if ((err = tr_slice_get_i32(in, &index)) != TR_OK ||
                (err = tr_proto_get_array_len_v(in, 1, &nr, 4, 1000)) !=
                    TR_OK) {
                goto out;
            }
            op = add_op(&ops, &nops, &cap, &name, index);
            if (op == NULL) {
                err = TR_ERR_TOO_LARGE;
                goto out;
            }
            op->nreplicas = nr; /* -1: cancel */
            for (r = 0; r < nr; r++) {
                int32_t id;
                if ((err = tr_slice_get_i32(in, &id)) != TR_OK) {
                    goto out;
                }
                if (r < TR_MAX_REPLICAS) {
                    op->replicas[r] = id;
                } else {
                    op->nreplicas = TR_MAX_REPLICAS + 1; /* refused below */
                }
            }
            if ((err = tr_proto_skip_tags(in)) != TR_OK) {
                goto out;
            }
        }
        if ((err = tr_proto_skip_tags(in)) != TR_OK) {
            goto out;
        }
    }
    if ((err = tr_proto_skip_tags(in)) != TR_OK) {
        goto out;
    }
    for (i = 0; i < nops; i++) {
        if (ops[i].nreplicas > TR_MAX_REPLICAS) {
            ops[i].error = TR_KERR_INVALID_REPLICA_ASSIGNMENT;
            snprintf(ops[i].message, sizeof(ops[i].message),
                     "at most %d replicas", TR_MAX_REPLICAS);
        }
    }
    if (!tr_api_authorize(req, TR_ACL_OP_ALTER, TR_ACL_CLUSTER,
                          TR_ACL_CLUSTER_NAME)) {
        top = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
    } else
#ifdef HAVE_ZOOKEEPER
        if (req->broker->cluster != NULL) {
        /* Only the well-formed ones go to the controller. */
        struct tr_partition_op *ok = tr_calloc(nops + 1, sizeof(*ok));
        size_t nok = 0;
        if (ok == NULL) {
            err = TR_ERR_NOMEM;
            goto out;
        }
        for (i = 0; i < nops; i++) {
            if (ops[i].error == TR_KERR_NONE) {
                ok[nok++] = ops[i];
            }
        }
        if (nok > 0) {
            top = tr_cluster_alter_reassignments(req->broker->cluster, ok, nok,
                                                 timeout_ms);
        }
        for (i = 0, j = 0; i < nops && top == TR_KERR_NONE; i++) {
            if (ops[i].error == TR_KERR_NONE) {
                ops[i] = ok[j++];
            }
        }
        tr_free(ok);
    } else
#endif
    {
        for (i = 0; i < nops; i++) {
            if (ops[i].error == TR_KERR_NONE) {
                single_node_reassign(req, &ops[i]);
            }
        }
    }
    tr_request_put_throttle(req);
    tr_buf_put_i16(out, top);
    tr_proto_put_cstring_v(out, 1, NULL);
    if (top != TR_KERR_NONE) {
        tr_proto_put_array_len_v(out, 1, 0);
        tr_proto_put_tags_v(out, 1);
        goto out;
    }
    tr_proto_put_array_len_v(out, 1, count_topics(ops, nops));
    for (i = 0; i < nops; i += run) {
        run = topic_run(ops, nops, i);
        tr_proto_put_cstring_v(out, 1, ops[i].topic);
        tr_proto_put_array_len_v(out, 1, (int32_t)run);
        for (j = i; j < i + run; j++) {
            tr_buf_put_i32(out, ops[j].partition);
            tr_buf_put_i16(out, ops[j].error);
            tr_proto_put_cstring_v(out, 1,
                                   ops[j].message[0] ? ops[j].message : NULL);
            tr_proto_put_tags_v(out, 1);
        }
        tr_proto_put_tags_v(out, 1);
    }
    tr_proto_put_tags_v(out, 1);
out:
    tr_free(ops);
    return err;
}

tr_err_t
tr_api_list_partition_reassignments(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    struct tr_partition_op *wanted = NULL, *found = NULL;
    size_t nwanted = 0, cap = 0, nfound = 0, i, j, run;
    int32_t timeout_ms, nt, np, t, p;
    int16_t top = TR_KERR_NONE;
    int all;
    tr_err_t err;

    if ((err = tr_slice_get_i32(in, &timeout_ms)) != TR_OK ||
        (err = tr_proto_get_array_len_v(in, 1, &nt, 3, MAX_OPS)) != TR_OK) {
        goto out;
    }
    all = nt < 0;
    for (t = 0; t < nt; t++) {
        struct tr_str name;

        if ((err = tr_proto_get_string_v(in, 1, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, 1, &np, 4, MAX_OPS)) != TR_OK) {
            goto out;
        }
        for (p = 0; p < np; p++) {
            int32_t index;
            if ((err = tr_slice_get_i32(in, &index)) != TR_OK) {
                goto out;
            }
            if (add_op(&wanted, &nwanted, &cap, &name, index) == NULL) {
                err = TR_ERR_TOO_LARGE;
                goto out;
            }
        }
        if ((err = tr_proto_skip_tags(in)) != TR_OK) {
            goto out;
        }
    }
    if ((err = tr_proto_skip_tags(in)) != TR_OK) {
        goto out;
    }
    if (!tr_api_authorize(req, TR_ACL_OP_DESCRIBE, TR_ACL_CLUSTER,
                          TR_ACL_CLUSTER_NAME)) {
        top = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
    }
#ifdef HAVE_ZOOKEEPER
    else if (req->broker->cluster != NULL) {
        top = tr_cluster_list_reassignments(req->broker->cluster, &found,
                                            &nfound, timeout_ms);
    }
#endif
    /* Keep the ones asked for (all of them for a null list). */
    for (i = 0, j = 0; i < nfound && !all; i++) {
        size_t k;
        for (k = 0; k < nwanted; k++) {
            if (wanted[k].partition == found[i].partition &&
                strcmp(wanted[k].topic, found[i].topic) == 0) {
                found[j++] = found[i];
                break;
            }
        }
    }
    if (!all) {
        nfound = j;
    }
    tr_request_put_throttle(req);
    tr_buf_put_i16(out, top);
    tr_proto_put_cstring_v(out, 1, NULL);
    tr_proto_put_array_len_v(out, 1, count_topics(found, nfound));
    for (i = 0; i < nfound; i += run) {
        run = topic_run(found, nfound, i);
        tr_proto_put_cstring_v(out, 1, found[i].topic);
        tr_proto_put_array_len_v(out, 1, (int32_t)run);
        for (j = i; j < i + run; j++) {
            tr_buf_put_i32(out, found[j].partition);
            put_ids(out, 1, found[j].replicas, found[j].nreplicas);
            put_ids(out, 1, found[j].adding, found[j].nadding);
            put_ids(out, 1, found[j].removing, found[j].nremoving);
            tr_proto_put_tags_v(out, 1);
        }
        tr_proto_put_tags_v(out, 1);
    }
    tr_proto_put_tags_v(out, 1);
out:
    tr_free(wanted);
    tr_free(found);
    return err;
}

tr_err_t
tr_api_elect_leaders(struct tr_request *req)
{
    struct tr_slice *in = &req->body;
    struct tr_buf *out = req->out;
    int16_t v = req->hdr.api_version;
    int flex = req->hdr.flexible;
    struct tr_partition_op *ops = NULL, *found = NULL, *res;
    size_t nops = 0, cap = 0, nfound = 0, nres, i, j, run;
    int32_t timeout_ms, nt, np, t, p;
    int8_t type = TR_ELECTION_PREFERRED;
    int16_t top = TR_KERR_NONE;
    tr_err_t err;

    if ((v >= 1 && (err = tr_slice_get_i8(in, &type)) != TR_OK) ||
        (err = tr_proto_get_array_len_v(in, flex, &nt, 3, MAX_OPS)) != TR_OK) {
        goto out;
    }
    for (t = 0; t < nt; t++) {
        struct tr_str name;

        if ((err = tr_proto_get_string_v(in, flex, &name)) != TR_OK ||
            (err = tr_proto_get_array_len_v(in, flex, &np, 4, MAX_OPS)) !=
                TR_OK) {
            goto out;
        }
        for (p = 0; p < np; p++) {
            int32_t index;
            if ((err = tr_slice_get_i32(in, &index)) != TR_OK) {
                goto out;
            }
            if (add_op(&ops, &nops, &cap, &name, index) == NULL) {
                err = TR_ERR_TOO_LARGE;
                goto out;
            }
        }
        if (flex && (err = tr_proto_skip_tags(in)) != TR_OK) {
            goto out;
        }
    }
    if ((err = tr_slice_get_i32(in, &timeout_ms)) != TR_OK ||
        (flex && (err = tr_proto_skip_tags(in)) != TR_OK)) {
        goto out;
    }
    if (!tr_api_authorize(req, TR_ACL_OP_ALTER, TR_ACL_CLUSTER,
                          TR_ACL_CLUSTER_NAME)) {
        /* Kafka's code asks ALTER (its documentation ClusterAction). */
        top = TR_KERR_CLUSTER_AUTHORIZATION_FAILED;
    } else if (type != TR_ELECTION_PREFERRED && type != TR_ELECTION_UNCLEAN) {
        top = TR_KERR_INVALID_REQUEST;
    }
#ifdef HAVE_ZOOKEEPER
    else if (req->broker->cluster != NULL && (nt < 0 || nops > 0)) {
        top = tr_cluster_elect_leaders(req->broker->cluster, type, ops,
                                       nt < 0 ? 0 : nops, &found, &nfound,
                                       timeout_ms);
    }
#endif
    else {
        for (i = 0; i < nops; i++) {
            struct tr_partition *part = tr_topics_partition(
                req->broker->topics, ops[i].topic, ops[i].partition);
            ops[i].error = part != NULL ? TR_KERR_ELECTION_NOT_NEEDED
                                        : TR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            tr_partition_unref(part);
        }
    }
    res = nt < 0 ? found : ops;
    nres = nt < 0 ? nfound : nops;
    tr_request_put_throttle(req);
    if (v >= 1) {
        tr_buf_put_i16(out, top);
    } else if (top != TR_KERR_NONE) {
        /* v0 has no top-level error: put it on every partition. */
        for (i = 0; i < nres; i++) {
            res[i].error = top;
        }
    }
    if (v >= 1 && top != TR_KERR_NONE) {
        nres = 0;
    }
    tr_proto_put_array_len_v(out, flex, count_topics(res, nres));
    for (i = 0; i < nres; i += run) {
        run = topic_run(res, nres, i);
        tr_proto_put_cstring_v(out, flex, res[i].topic);
        tr_proto_put_array_len_v(out, flex, (int32_t)run);
        for (j = i; j < i + run; j++) {
            tr_buf_put_i32(out, res[j].partition);
            tr_buf_put_i16(out, res[j].error);
            tr_proto_put_cstring_v(out, flex,
                                   res[j].message[0] ? res[j].message : NULL);
            tr_proto_put_tags_v(out, flex);
        }
        tr_proto_put_tags_v(out, flex);
    }
    tr_proto_put_tags_v(out, flex);
out:
    tr_free(ops);
    tr_free(found);
    return err;
}
