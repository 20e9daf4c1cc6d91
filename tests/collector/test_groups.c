/*
 * test_groups -- the group coordinator on a real temporary log directory:
 * the group partition hash, the __consumer_offsets record codec, the join /
 * sync / heartbeat / leave state machine with its errors, static
 * membership, session and rebalance timeouts, commits, and offsets that
 * survive a reopen and expire after the retention time; and, with a fake
 * cluster that moves the leadership of __consumer_offsets by hand, the
 * coordinator serving only the partitions it leads, waiting for commits to
 * be replicated, never writing as a follower, and replaying a partition
 * that grew by replication when it leads again.
 *
 * Time is passed in explicitly, so timeouts are tested without sleeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc.h"
#include "batch.h"
#include "buf.h"
#include "err.h"
#include "groups.h"
#include "partition.h"
#include "topics.h"

#define T0 1700000000000LL

#define FAKE_PARTITIONS 4

/*
 * A cluster as the coordinator sees it: the partition count of
 * __consumer_offsets, the leader epoch of each partition this broker leads
 * (-1: another broker leads it) and its high watermark.
 */
struct fake_cluster {
    int32_t partitions;
    int32_t epoch[FAKE_PARTITIONS];
    int64_t hw[FAKE_PARTITIONS];
    int appends;
};

struct fixture {
    char dir[64];
    struct tr_log_config defaults;
    struct tr_groups_config cfg;
    struct tr_topics *topics;
    struct tr_groups *groups;
    int clustered;
    struct fake_cluster fc;
    struct tr_groups_cluster calls;
};

static int32_t
fake_partitions(void *arg)
{
    struct fake_cluster *fc = arg;

    return fc->partitions;
}

static int16_t
fake_leader_epoch(void *arg, int32_t partition, int acks_all, int32_t *epoch)
{
    struct fake_cluster *fc = arg;

    (void)acks_all;
    assert_true(partition >= 0 && partition < FAKE_PARTITIONS);
    if (fc->epoch[partition] < 0) {
        return TR_KERR_NOT_LEADER_OR_FOLLOWER;
    }
    *epoch = fc->epoch[partition];
    return TR_KERR_NONE;
}

static void
fake_appended(void *arg, struct tr_partition *part)
{
    struct fake_cluster *fc = arg;

    (void)part;
    fc->appends++;
}

static int16_t
fake_acked(void *arg, int32_t partition, int32_t epoch, int64_t last_offset)
{
    struct fake_cluster *fc = arg;

    if (fc->epoch[partition] != epoch) {
        return TR_KERR_NOT_LEADER_OR_FOLLOWER;
    }
    return fc->hw[partition] > last_offset ? TR_KERR_NONE : -1;
}

static struct tr_str
S(const char *c) {
    struct tr_str s;

    s.ptr = c;
    s.len = c != NULL ? (int32_t)strlen(c) : -1;
    return s;
}

static void
open_all(struct fixture *fx, int64_t now)
{
    char errbuf[512];

    assert_int_equal(tr_topics_open(fx->dir, &fx->defaults, &fx->topics, errbuf,
                                    sizeof(errbuf)),
                     TR_OK);
    assert_int_equal(tr_groups_open(fx->topics, NULL,
                                    fx->clustered ? &fx->calls : NULL, &fx->cfg,
                                    now, &fx->groups, errbuf, sizeof(errbuf)),
                     TR_OK);
}

static void
close_all(struct fixture *fx)
{
    tr_groups_close(fx->groups);
    fx->groups = NULL;
    tr_topics_close(fx->topics);
    fx->topics = NULL;
}

/*
 * A fixture over a fresh log directory; 'clustered': a broker of a cluster
 * that leads no partition of __consumer_offsets and does not know its
 * partition count yet.
 */
static int
make_fixture(void **state, int clustered)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    int32_t p;

    if (fx == NULL) {
        return -1;
    }
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_groups_XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    tr_log_config_defaults(&fx->defaults);
    tr_groups_config_defaults(&fx->cfg);
    fx->cfg.offsets_partitions = FAKE_PARTITIONS;
    fx->cfg.initial_rebalance_delay_ms = 0;
    fx->clustered = clustered;
    fx->fc.partitions = -1;
    for (p = 0; p < FAKE_PARTITIONS; p++) {
        fx->fc.epoch[p] = -1;
        fx->fc.hw[p] = 0;
    }
    fx->calls.arg = &fx->fc;
    fx->calls.partitions = fake_partitions;
    fx->calls.leader_epoch = fake_leader_epoch;
    fx->calls.appended = fake_appended;
    fx->calls.acked = fake_acked;
    open_all(fx, T0);
    *state = fx;
    return 0;
}

static int
setup(void **state)
{
    return make_fixture(state, 0);
}

static int
setup_cluster(void **state)
{
    return make_fixture(state, 1);
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[128];

    close_all(fx);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0) {
        return -1;
    }
    free(fx);
    return 0;
}

/* A JoinGroup of protocol type "consumer" with one protocol. */
struct join_args {
    const char *group;
    const char *member;
    const char *instance;
    const char *protocol;
    const char *metadata;
    int16_t version;
    int32_t session_ms;
    int32_t rebalance_ms;
    const void *token;
};

static void
do_join(struct fixture *fx, const struct join_args *a, int final, int64_t now,
        struct tr_join_result *res)
{
    struct tr_group_protocol proto;
    struct tr_join_request jr;

    memset(&jr, 0, sizeof(jr));
    proto.name = S(a->protocol ? a->protocol : "range");
    proto.metadata = S(a->metadata ? a->metadata : "meta");
    jr.group_id = S(a->group);
    jr.member_id = S(a->member ? a->member : "");
    jr.instance_id = S(a->instance);
    jr.client_id = S("client");
    jr.client_host = "/127.0.0.1";
    jr.protocol_type = S("consumer");
    jr.session_timeout_ms = a->session_ms ? a->session_ms : 10000;
    jr.rebalance_timeout_ms = a->rebalance_ms ? a->rebalance_ms : 30000;
    jr.version = a->version;
    jr.nprotocols = 1;
    jr.protocols = &proto;
    jr.token = a->token;
    assert_int_equal(tr_groups_join(fx->groups, &jr, final, now, res), TR_OK);
}

static void
do_sync(struct fixture *fx, const char *group, const char *member,
        int32_t generation, const struct tr_group_assignment *asg, int32_t n,
        int final, int64_t now, struct tr_sync_result *res)
{
    struct tr_sync_request sr;

    memset(&sr, 0, sizeof(sr));
    sr.group_id = S(group);
    sr.member_id = S(member);
    sr.instance_id = S(NULL);
    sr.generation = generation;
    sr.assignments = asg;
    sr.nassignments = n;
    assert_int_equal(tr_groups_sync(fx->groups, &sr, final, now, res), TR_OK);
}

static int16_t
heartbeat(struct fixture *fx, const char *group, const char *member,
          int32_t generation, int64_t now)
{
    struct tr_str g = S(group), m = S(member), i = S(NULL);

    return tr_groups_heartbeat(fx->groups, &g, &m, &i, generation, now);
}

/* An OffsetCommit of one partition; *ack (may be NULL) as the cluster's. */
static int16_t
commit_ack(struct fixture *fx, const char *group, const char *member,
           int32_t generation, const char *topic, int32_t partition,
           int64_t offset, int64_t now, struct tr_groups_ack *ack)
{
    struct tr_str g = S(group), m = S(member), i = S(NULL);
    struct tr_offset_commit oc;

    memset(&oc, 0, sizeof(oc));
    oc.topic = S(topic);
    oc.partition = partition;
    oc.offset = offset;
    oc.leader_epoch = 3;
    oc.metadata = S("md");
    assert_int_equal(
        tr_groups_commit(fx->groups, &g, &m, &i, generation, &oc, 1, now, ack),
        TR_OK);
    return oc.error;
}

static int16_t
commit_one(struct fixture *fx, const char *group, const char *member,
           int32_t generation, const char *topic, int32_t partition,
           int64_t offset, int64_t now)
{
    return commit_ack(fx, group, member, generation, topic, partition, offset,
                      now, NULL);
}

/* The committed offset of (topic, partition), or -1. */
static int64_t
fetch_one(struct fixture *fx, const char *group, const char *topic,
          int32_t partition)
{
    struct tr_str g = S(group);
    struct tr_group_offset *offs = NULL;
    size_t n = 0, i;
    int64_t found = -1;
    int16_t kerr;

    assert_int_equal(tr_groups_offsets(fx->groups, &g, T0, &offs, &n, &kerr),
                     TR_OK);
    assert_int_equal(kerr, TR_KERR_NONE);
    for (i = 0; i < n; i++) {
        if (strcmp(offs[i].topic, topic) == 0 &&
            offs[i].partition == partition) {
            found = offs[i].offset;
            assert_string_equal(offs[i].metadata, "md");
            assert_int_equal(offs[i].leader_epoch, 3);
        }
    }
    tr_group_offsets_free(offs, n);
    return found;
}

static enum tr_group_state
state_of(struct fixture *fx, const char *group, int32_t *generation)
{
    struct tr_group_description d;
    struct tr_str g = S(group);
    enum tr_group_state st;

    assert_int_equal(tr_groups_describe(fx->groups, &g, T0, &d), TR_OK);
    st = d.state;
    if (generation != NULL) {
        *generation = d.generation;
    }
    tr_group_description_cleanup(&d);
    return st;
}

static void
test_groups_partition_for_matches_java_hash(void **state)
{
    struct tr_str s;

    (void)state;
    s = S("");
    assert_int_equal(tr_groups_partition_for(&s, 50), 0);
    s = S("hello"); /* "hello".hashCode() == 99162322 */
    assert_int_equal(tr_groups_partition_for(&s, 1000000000), 99162322);
    assert_int_equal(tr_groups_partition_for(&s, 50), 99162322 % 50);
    s = S("\xc3\xa9"); /* U+00E9: one UTF-16 unit, 233 */
    assert_int_equal(tr_groups_partition_for(&s, 1000), 233);
    s = S("\xf0\x9f\x98\x80"); /* U+1F600: surrogates D83D DE00 */
    assert_int_equal(tr_groups_partition_for(&s, 100000000),
                     0xD83D * 31 + 0xDE00);
    s = S("polygenelubricants"); /* hashCode is Integer.MIN_VALUE */
    assert_int_equal(tr_groups_partition_for(&s, 50), 0);
}

static void
test_groups_offset_record_codec(void **state)
{
    static const uint8_t want_key[] = {
        0, 1,                /* version */
        0, 2, 'g', '1',      /* group */
        0, 3, 't', 'o', 'p', /* topic */
        0, 0, 0,   7,        /* partition */
    };
    struct tr_buf buf;
    struct tr_groups_key key;
    struct tr_groups_offset_value val;
    struct tr_str g = S("g1"), t = S("top"), md = S("meta");

    (void)state;
    tr_buf_init(&buf, 1024);
    tr_groups_put_offset_key(&buf, &g, &t, 7);
    assert_int_equal(tr_buf_len(&buf), sizeof(want_key));
    assert_memory_equal(tr_buf_data(&buf), want_key, sizeof(want_key));
    assert_int_equal(
        tr_groups_decode_key(tr_buf_data(&buf), tr_buf_len(&buf), &key), TR_OK);
    assert_int_equal(key.type, TR_GROUPS_KEY_OFFSET);
    assert_true(tr_str_eq(&key.group, "g1"));
    assert_true(tr_str_eq(&key.topic, "top"));
    assert_int_equal(key.partition, 7);
    /* Truncated keys are refused, not read past. */
    assert_int_equal(tr_groups_decode_key(tr_buf_data(&buf), 9, &key),
                     TR_ERR_CORRUPT);

    tr_buf_reset(&buf);
    tr_groups_put_offset_value(&buf, 4711, 5, &md, T0);
    /* version 2 + offset 8 + epoch 4 + string 2+4 + timestamp 8 */
    assert_int_equal(tr_buf_len(&buf), 28);
    assert_int_equal(tr_load_i16(tr_buf_data(&buf)), 3);
    assert_int_equal(tr_groups_decode_offset_value(tr_buf_data(&buf),
                                                   tr_buf_len(&buf), &val),
                     TR_OK);
    assert_int_equal(val.offset, 4711);
    assert_int_equal(val.leader_epoch, 5);
    assert_true(tr_str_eq(&val.metadata, "meta"));
    assert_int_equal(val.commit_ts, T0);
    assert_int_equal(tr_groups_decode_offset_value(tr_buf_data(&buf), 20, &val),
                     TR_ERR_CORRUPT);
    /* An unknown key version is reported as such. */
    tr_buf_reset(&buf);
    tr_buf_put_i16(&buf, 9);
    assert_int_equal(
        tr_groups_decode_key(tr_buf_data(&buf), tr_buf_len(&buf), &key),
        TR_ERR_UNSUPPORTED);
    tr_buf_cleanup(&buf);
}

/*
 * Two members: A forms generation 1 alone; B's arrival parks B and makes
 * A's heartbeat answer REBALANCE_IN_PROGRESS; A's rejoin completes
 * generation 2; B's parked join, run again, collects it; B's sync parks
 * until the leader's assignment; then commits, expiry and leave.
 */
static void
test_groups_join_sync_rebalance(void **state)
{
    struct fixture *fx = *state;
    struct join_args a = { .group = "g", .version = 2, .token = &a };
    struct join_args b = { .group = "g", .version = 2, .token = &b };
    struct tr_join_result ra, rb;
    struct tr_sync_result sa, sb;
    struct tr_group_assignment asg[2];
    char ida[128], idb[128];
    int32_t gen;

    do_join(fx, &a, 0, T0, &ra);
    assert_int_equal(ra.error, TR_KERR_NONE);
    assert_int_equal(ra.park_ms, 0);
    assert_int_equal(ra.generation, 1);
    assert_string_equal(ra.protocol, "range");
    assert_string_equal(ra.leader, ra.member_id);
    assert_int_equal(ra.nmembers, 1);
    assert_memory_equal(ra.members[0].metadata, "meta", 4);
    snprintf(ida, sizeof(ida), "%s", ra.member_id);
    tr_join_result_cleanup(&ra);
    assert_int_equal(state_of(fx, "g", &gen), TR_GROUP_COMPLETING_REBALANCE);

    do_join(fx, &b, 0, T0 + 10, &rb);
    assert_true(rb.park_ms > 0);
    assert_int_equal(heartbeat(fx, "g", ida, 1, T0 + 20),
                     TR_KERR_REBALANCE_IN_PROGRESS);
    /* A re-run of B's join before A rejoined parks again. */
    do_join(fx, &b, 0, T0 + 30, &rb);
    assert_true(rb.park_ms > 0);

    a.member = ida;
    a.token = &ida;
    do_join(fx, &a, 0, T0 + 40, &ra);
    assert_int_equal(ra.error, TR_KERR_NONE);
    assert_int_equal(ra.generation, 2);
    assert_string_equal(ra.leader, ida);
    assert_int_equal(ra.nmembers, 2);
    tr_join_result_cleanup(&ra);

    do_join(fx, &b, 0, T0 + 50, &rb); /* the parked join, run again */
    assert_int_equal(rb.error, TR_KERR_NONE);
    assert_int_equal(rb.park_ms, 0);
    assert_int_equal(rb.generation, 2);
    assert_int_equal(rb.nmembers, 0); /* followers get no member list */
    assert_string_equal(rb.leader, ida);
    snprintf(idb, sizeof(idb), "%s", rb.member_id);
    tr_join_result_cleanup(&rb);

    do_sync(fx, "g", idb, 1, NULL, 0, 0, T0 + 60, &sb);
    assert_int_equal(sb.error, TR_KERR_ILLEGAL_GENERATION);
    tr_sync_result_cleanup(&sb);
    do_sync(fx, "g", idb, 2, NULL, 0, 0, T0 + 60, &sb);
    assert_true(sb.park_ms > 0);
    assert_int_equal(commit_one(fx, "g", ida, 2, "t", 0, 5, T0 + 65),
                     TR_KERR_REBALANCE_IN_PROGRESS);
    asg[0].member_id = S(ida);
    asg[0].assignment = S("for-a");
    asg[1].member_id = S(idb);
    asg[1].assignment = S("for-b");
    do_sync(fx, "g", ida, 2, asg, 2, 0, T0 + 70, &sa);
    assert_int_equal(sa.error, TR_KERR_NONE);
    assert_int_equal(sa.assignment_len, 5);
    assert_memory_equal(sa.assignment, "for-a", 5);
    tr_sync_result_cleanup(&sa);
    do_sync(fx, "g", idb, 2, NULL, 0, 0, T0 + 80, &sb);
    assert_int_equal(sb.error, TR_KERR_NONE);
    assert_memory_equal(sb.assignment, "for-b", 5);
    tr_sync_result_cleanup(&sb);
    assert_int_equal(state_of(fx, "g", NULL), TR_GROUP_STABLE);

    /* Commits: only the current generation's members. */
    assert_int_equal(commit_one(fx, "g", ida, 2, "t", 0, 5, T0 + 90),
                     TR_KERR_NONE);
    assert_int_equal(commit_one(fx, "g", ida, 1, "t", 0, 6, T0 + 90),
                     TR_KERR_ILLEGAL_GENERATION);
    assert_int_equal(commit_one(fx, "g", "nobody", 2, "t", 0, 6, T0 + 90),
                     TR_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(commit_one(fx, "g", "", -1, "t", 0, 6, T0 + 90),
                     TR_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(fetch_one(fx, "g", "t", 0), 5);
    assert_int_equal(heartbeat(fx, "g", "nobody", 2, T0 + 90),
                     TR_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(heartbeat(fx, "g", idb, 2, T0 + 100), TR_KERR_NONE);

    /* A stops heartbeating: after its session timeout it is removed. */
    assert_int_equal(heartbeat(fx, "g", idb, 2, T0 + 9000), TR_KERR_NONE);
    tr_groups_tick(fx->groups, T0 + 10500);
    assert_int_equal(heartbeat(fx, "g", ida, 2, T0 + 10500),
                     TR_KERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(heartbeat(fx, "g", idb, 2, T0 + 10500),
                     TR_KERR_REBALANCE_IN_PROGRESS);
    /* A commit of the old generation is still taken while preparing. */
    assert_int_equal(commit_one(fx, "g", idb, 2, "t", 1, 9, T0 + 10600),
                     TR_KERR_NONE);

    /* B leaves: the group is empty, one generation on. */
    {
        struct tr_str g = S("g"), m = S(idb), i = S(NULL);

        assert_int_equal(tr_groups_leave(fx->groups, &g, &m, &i, T0 + 11000),
                         TR_KERR_NONE);
        assert_int_equal(tr_groups_leave(fx->groups, &g, &m, &i, T0 + 11000),
                         TR_KERR_UNKNOWN_MEMBER_ID);
    }
    assert_int_equal(state_of(fx, "g", &gen), TR_GROUP_EMPTY);
    assert_int_equal(gen, 3);
    /* An empty group takes "simple" commits (generation -1, no member). */
    assert_int_equal(commit_one(fx, "g", "", -1, "t", 2, 11, T0 + 11100),
                     TR_KERR_NONE);
}

static void
test_groups_join_errors(void **state)
{
    struct fixture *fx = *state;
    struct join_args a = { .group = "e", .version = 4, .token = &a };
    struct join_args b = { .group = "e", .version = 2, .token = &b };
    struct tr_join_result r;
    char id[128];

    /* v4 without a member id: MEMBER_ID_REQUIRED with one to come back with */
    do_join(fx, &a, 0, T0, &r);
    assert_int_equal(r.error, TR_KERR_MEMBER_ID_REQUIRED);
    assert_non_null(r.member_id);
    assert_true(strncmp(r.member_id, "client-", 7) == 0);
    snprintf(id, sizeof(id), "%s", r.member_id);
    tr_join_result_cleanup(&r);
    a.member = "made-up";
    do_join(fx, &a, 0, T0, &r);
    assert_int_equal(r.error, TR_KERR_UNKNOWN_MEMBER_ID);
    tr_join_result_cleanup(&r);
    a.member = id;
    do_join(fx, &a, 0, T0 + 1, &r);
    assert_int_equal(r.error, TR_KERR_NONE);
    assert_int_equal(r.generation, 1);
    assert_string_equal(r.member_id, id);
    tr_join_result_cleanup(&r);

    /* No protocol in common with the group. */
    b.protocol = "roundrobin";
    do_join(fx, &b, 0, T0 + 2, &r);
    assert_int_equal(r.error, TR_KERR_INCONSISTENT_GROUP_PROTOCOL);
    tr_join_result_cleanup(&r);
    /* Session timeout outside group.min/max.session.timeout.ms. */
    b.protocol = NULL;
    b.session_ms = 1000;
    do_join(fx, &b, 0, T0 + 2, &r);
    assert_int_equal(r.error, TR_KERR_INVALID_SESSION_TIMEOUT);
    tr_join_result_cleanup(&r);
    b.session_ms = 1800001;
    do_join(fx, &b, 0, T0 + 2, &r);
    assert_int_equal(r.error, TR_KERR_INVALID_SESSION_TIMEOUT);
    tr_join_result_cleanup(&r);
    b.session_ms = 0;
    b.group = "";
    do_join(fx, &b, 0, T0 + 2, &r);
    assert_int_equal(r.error, TR_KERR_INVALID_GROUP_ID);
    tr_join_result_cleanup(&r);
    /* A commit with a generation to a group nobody joined is refused. */
    assert_int_equal(commit_one(fx, "nogroup", "m", 4, "t", 0, 1, T0),
                     TR_KERR_ILLEGAL_GENERATION);
    assert_int_equal(commit_one(fx, "nogroup", "", -1, "t", 0, 1, T0),
                     TR_KERR_NONE);
}

/*
 * group.max.size counts members and the ids given out to joiners still to
 * come back; a newcomer past it gets GROUP_MAX_SIZE_REACHED, a pending one
 * coming back is let in.
 */
static void
test_groups_max_size(void **state)
{
    struct fixture *fx = *state;
    struct join_args a = { .group = "full", .version = 4, .token = &a };
    struct join_args b = { .group = "full", .version = 4, .token = &b };
    struct join_args c = { .group = "full", .version = 2, .token = &c };
    struct join_args other = { .group = "other",
                               .version = 2,
                               .token = &other };
    struct tr_join_result r;
    char id[128];

    close_all(fx);
    fx->cfg.max_size = 2;
    open_all(fx, T0);
    do_join(fx, &a, 0, T0, &r);
    assert_int_equal(r.error, TR_KERR_MEMBER_ID_REQUIRED);
    snprintf(id, sizeof(id), "%s", r.member_id);
    tr_join_result_cleanup(&r);
    do_join(fx, &b, 0, T0, &r);
    assert_int_equal(r.error, TR_KERR_MEMBER_ID_REQUIRED);
    tr_join_result_cleanup(&r);
    do_join(fx, &c, 0, T0, &r);
    assert_int_equal(r.error, TR_KERR_GROUP_MAX_SIZE_REACHED);
    assert_null(r.member_id);
    tr_join_result_cleanup(&r);
    /* Another group has room of its own. */
    do_join(fx, &other, 0, T0, &r);
    assert_int_equal(r.error, TR_KERR_NONE);
    tr_join_result_cleanup(&r);
    a.member = id;
    do_join(fx, &a, 0, T0 + 1, &r);
    assert_int_equal(r.error, TR_KERR_NONE);
    assert_string_equal(r.member_id, id);
    tr_join_result_cleanup(&r);
    do_join(fx, &c, 0, T0 + 1, &r);
    assert_int_equal(r.error, TR_KERR_GROUP_MAX_SIZE_REACHED);
    tr_join_result_cleanup(&r);
}

/* A member that does not rejoin within the rebalance timeout is dropped. */
static void
test_groups_rebalance_timeout_drops_member(void **state)
{
    struct fixture *fx = *state;
    struct join_args a = { .group = "r", .version = 1, .token = &a };
    struct join_args b = { .group = "r", .version = 1, .token = &b };
    struct tr_join_result r;
    int32_t gen;

    a.rebalance_ms = 5000;
    b.rebalance_ms = 5000;
    do_join(fx, &a, 0, T0, &r);
    assert_int_equal(r.generation, 1);
    tr_join_result_cleanup(&r);
    do_join(fx, &b, 0, T0 + 100, &r);
    assert_true(r.park_ms > 5000 - 100);
    tr_groups_tick(fx->groups, T0 + 2000);
    assert_int_equal(state_of(fx, "r", NULL), TR_GROUP_PREPARING_REBALANCE);
    tr_groups_tick(fx->groups, T0 + 5200);
    assert_int_equal(state_of(fx, "r", &gen), TR_GROUP_COMPLETING_REBALANCE);
    assert_int_equal(gen, 2);
    do_join(fx, &b, 0, T0 + 5300, &r);
    assert_int_equal(r.error, TR_KERR_NONE);
    assert_int_equal(r.generation, 2);
    assert_int_equal(r.nmembers, 1); /* B leads the one-member group */
    assert_string_equal(r.leader, r.member_id);
    tr_join_result_cleanup(&r);
}

/* The initial delay holds the first join so that several members arrive. */
static void
test_groups_initial_delay(void **state)
{
    struct fixture *fx = *state;
    struct join_args a = { .group = "d", .version = 2, .token = &a };
    struct join_args b = { .group = "d", .version = 2, .token = &b };
    struct tr_join_result r;

    close_all(fx);
    fx->cfg.initial_rebalance_delay_ms = 3000;
    open_all(fx, T0);
    do_join(fx, &a, 0, T0, &r);
    assert_true(r.park_ms > 0);
    do_join(fx, &b, 0, T0 + 1000, &r);
    assert_true(r.park_ms > 0);
    tr_groups_tick(fx->groups, T0 + 3500); /* extended to T0 + 4000 */
    do_join(fx, &a, 0, T0 + 3500, &r);
    assert_true(r.park_ms > 0);
    tr_groups_tick(fx->groups, T0 + 4000);
    do_join(fx, &a, 0, T0 + 4000, &r);
    assert_int_equal(r.error, TR_KERR_NONE);
    assert_int_equal(r.generation, 1);
    assert_int_equal(r.nmembers, 2);
    tr_join_result_cleanup(&r);
}

static void
test_groups_static_member_rejoins_without_rebalance(void **state)
{
    struct fixture *fx = *state;
    struct join_args a = { .group = "s", .version = 5, .token = &a };
    struct tr_join_result r;
    struct tr_sync_result sr;
    struct tr_group_assignment asg;
    struct tr_str g = S("s"), old, inst = S("inst-1");
    char id[128], id2[128];
    int32_t gen;

    a.instance = "inst-1";
    do_join(fx, &a, 0, T0, &r); /* no MEMBER_ID_REQUIRED for static */
    assert_int_equal(r.error, TR_KERR_NONE);
    assert_true(strncmp(r.member_id, "inst-1-", 7) == 0);
    snprintf(id, sizeof(id), "%s", r.member_id);
    tr_join_result_cleanup(&r);
    asg.member_id = S(id);
    asg.assignment = S("parts");
    do_sync(fx, "s", id, 1, &asg, 1, 0, T0 + 1, &sr);
    assert_int_equal(sr.error, TR_KERR_NONE);
    tr_sync_result_cleanup(&sr);

    /* Restarted with the same instance id and metadata: new id, same gen. */
    a.token = &id;
    do_join(fx, &a, 0, T0 + 100, &r);
    assert_int_equal(r.error, TR_KERR_NONE);
    assert_int_equal(r.generation, 1);
    assert_string_not_equal(r.member_id, id);
    snprintf(id2, sizeof(id2), "%s", r.member_id);
    tr_join_result_cleanup(&r);
    assert_int_equal(state_of(fx, "s", &gen), TR_GROUP_STABLE);
    assert_int_equal(gen, 1);
    do_sync(fx, "s", id2, 1, NULL, 0, 0, T0 + 101, &sr);
    assert_int_equal(sr.error, TR_KERR_NONE);
    assert_memory_equal(sr.assignment, "parts", 5);
    tr_sync_result_cleanup(&sr);

    /* The old incarnation is fenced. */
    old = S(id);
    assert_int_equal(
        tr_groups_heartbeat(fx->groups, &g, &old, &inst, 1, T0 + 200),
        TR_KERR_FENCED_INSTANCE_ID);
    a.member = id;
    do_join(fx, &a, 0, T0 + 200, &r);
    assert_int_equal(r.error, TR_KERR_FENCED_INSTANCE_ID);
    tr_join_result_cleanup(&r);
}

/* Commits and generations survive a close and reopen (the log replay). */
static void
test_groups_offsets_survive_reopen(void **state)
{
    struct fixture *fx = *state;
    struct join_args a = { .group = "p", .version = 2, .token = &a };
    struct tr_join_result r;
    struct tr_sync_result sr;
    struct tr_str g = S("p");
    char id[128];
    int32_t gen, i;

    do_join(fx, &a, 0, T0, &r);
    snprintf(id, sizeof(id), "%s", r.member_id);
    tr_join_result_cleanup(&r);
    do_sync(fx, "p", id, 1, NULL, 0, 0, T0, &sr);
    tr_sync_result_cleanup(&sr);
    for (i = 0; i < 20; i++) {
        assert_int_equal(
            commit_one(fx, "p", id, 1, "topic-a", i % 4, 100 + i, T0 + i),
            TR_KERR_NONE);
    }
    assert_int_equal(commit_one(fx, "q", "", -1, "topic-b", 0, 42, T0),
                     TR_KERR_NONE);
    close_all(fx);
    open_all(fx, T0 + 1000);
    for (i = 0; i < 4; i++) {
        assert_int_equal(fetch_one(fx, "p", "topic-a", i), 116 + i);
    }
    assert_int_equal(fetch_one(fx, "q", "topic-b", 0), 42);
    /* The member is restored and may carry on with its generation. */
    assert_int_equal(state_of(fx, "p", &gen), TR_GROUP_STABLE);
    assert_int_equal(gen, 1);
    assert_int_equal(heartbeat(fx, "p", id, 1, T0 + 1100), TR_KERR_NONE);

    /* Deleting needs an empty group; then its offsets are gone for good. */
    assert_int_equal(tr_groups_delete(fx->groups, &g, T0 + 1200),
                     TR_KERR_NON_EMPTY_GROUP);
    {
        struct tr_str m = S(id), none = S(NULL);

        assert_int_equal(tr_groups_leave(fx->groups, &g, &m, &none, T0 + 1300),
                         TR_KERR_NONE);
    }
    assert_int_equal(tr_groups_delete(fx->groups, &g, T0 + 1400), TR_KERR_NONE);
    assert_int_equal(tr_groups_delete(fx->groups, &g, T0 + 1400),
                     TR_KERR_GROUP_ID_NOT_FOUND);
    close_all(fx);
    open_all(fx, T0 + 2000);
    assert_int_equal(fetch_one(fx, "p", "topic-a", 0), -1);
    assert_int_equal(state_of(fx, "p", NULL), TR_GROUP_DEAD);
    assert_int_equal(fetch_one(fx, "q", "topic-b", 0), 42);
}

/* Offsets of a group empty for offsets.retention.minutes are tombstoned. */
static void
test_groups_offsets_expire(void **state)
{
    struct fixture *fx = *state;
    int64_t retention = fx->cfg.offsets_retention_ms;
    struct tr_group_listing *list = NULL;
    size_t n = 0;

    assert_int_equal(commit_one(fx, "x", "", -1, "t", 0, 1, T0), TR_KERR_NONE);
    assert_int_equal(commit_one(fx, "x", "", -1, "t", 1, 2, T0 + 60000),
                     TR_KERR_NONE);
    tr_groups_tick(fx->groups, T0 + retention + 30000);
    assert_int_equal(fetch_one(fx, "x", "t", 0), -1);
    assert_int_equal(fetch_one(fx, "x", "t", 1), 2);
    tr_groups_tick(fx->groups, T0 + retention + 90000);
    assert_int_equal(fetch_one(fx, "x", "t", 1), -1);
    assert_int_equal(tr_groups_list(fx->groups, T0, &list, &n), TR_OK);
    assert_int_equal(n, 0); /* nothing left: the group is forgotten */
    tr_group_listing_free(list, n);
    close_all(fx);
    open_all(fx, T0 + retention + 100000);
    assert_int_equal(fetch_one(fx, "x", "t", 0), -1);
    assert_int_equal(fetch_one(fx, "x", "t", 1), -1);
}

/*
 * Out of memory at every allocation of a join, a sync and a commit: each
 * call fails cleanly (TR_ERR_NOMEM or a Kafka error) and leaks nothing;
 * once allocation works again the group forms normally.
 */
static void
test_groups_oom_loop(void **state)
{
    struct fixture *fx = *state;
    struct tr_group_protocol proto = { { "range", 5 }, { "meta", 4 } };
    struct tr_join_request jr;
    struct tr_join_result r;
    struct tr_sync_result sr;
    struct tr_sync_request sq;
    struct tr_offset_commit oc;
    struct tr_str g, none = S(NULL), mid;
    char name[32];
    long n;
    int done = 0;

    for (n = 0; !done && n < 10000; n++) {
        tr_err_t e1, e2 = TR_ERR_NOMEM, e3 = TR_ERR_NOMEM;

        /* A fresh group each time: a failed step may leave a member behind. */
        snprintf(name, sizeof(name), "oom-%ld", n);
        g = S(name);

        memset(&jr, 0, sizeof(jr));
        jr.group_id = g;
        jr.member_id = S("");
        jr.instance_id = none;
        jr.client_id = S("c");
        jr.client_host = "/h";
        jr.protocol_type = S("consumer");
        jr.session_timeout_ms = 10000;
        jr.rebalance_timeout_ms = 10000;
        jr.version = 1;
        jr.nprotocols = 1;
        jr.protocols = &proto;
        jr.token = &n;
        tr_alloc_fail_after(n);
        e1 = tr_groups_join(fx->groups, &jr, 0, T0 + n, &r);
        if (e1 == TR_OK && r.error == TR_KERR_NONE && r.member_id != NULL) {
            memset(&sq, 0, sizeof(sq));
            sq.group_id = g;
            mid = S(r.member_id);
            sq.member_id = mid;
            sq.instance_id = none;
            sq.generation = r.generation;
            e2 = tr_groups_sync(fx->groups, &sq, 0, T0 + n, &sr);
            if (e2 == TR_OK) {
                tr_sync_result_cleanup(&sr);
            }
            memset(&oc, 0, sizeof(oc));
            oc.topic = S("t");
            oc.offset = n;
            oc.metadata = none;
            e3 = tr_groups_commit(fx->groups, &g, &mid, &none, r.generation,
                                  &oc, 1, T0 + n, NULL);
            done = e2 == TR_OK && e3 == TR_OK && oc.error == TR_KERR_NONE;
            tr_groups_leave(fx->groups, &g, &mid, &none, T0 + n);
        }
        tr_alloc_fail_after(-1);
        if (e1 == TR_OK) {
            tr_join_result_cleanup(&r);
        }
    }
    assert_true(done);
    assert_true(n > 3);
}

/* ---- in a cluster ----------------------------------------------------- */

/* The log end of partition 'p' of __consumer_offsets. */
static int64_t
offsets_log_end(struct fixture *fx, int32_t p)
{
    struct tr_partition *part =
        tr_topics_partition(fx->topics, TR_GROUPS_TOPIC, p);
    struct tr_partition_offsets offs;

    assert_non_null(part);
    tr_partition_offsets(part, &offs);
    tr_partition_unref(part);
    return offs.log_end;
}

/* Joins 'group' alone and syncs; the caller makes the write committed. */
static void
join_alone(struct fixture *fx, const char *group, char *id, size_t idlen)
{
    struct join_args a = { .group = group, .version = 2, .token = fx };
    struct tr_join_result r;

    do_join(fx, &a, 0, T0, &r);
    assert_int_equal(r.error, TR_KERR_NONE);
    assert_int_equal(r.generation, 1);
    snprintf(id, idlen, "%s", r.member_id);
    tr_join_result_cleanup(&r);
}

/*
 * Only the leader of the group's partition serves it, and the leader's
 * SyncGroup and OffsetCommit are answered once their records are committed.
 */
static void
test_groups_cluster_serves_led_partitions(void **state)
{
    struct fixture *fx = *state;
    struct join_args a = { .group = "c", .version = 2, .token = &a };
    struct tr_str g = S("c"), none = S(NULL);
    struct tr_join_result r;
    struct tr_sync_result sr;
    struct tr_group_description d;
    struct tr_group_offset *offs = NULL;
    struct tr_group_listing *list = NULL;
    struct tr_groups_ack ack;
    size_t n = 0;
    int16_t kerr;
    int32_t p, gen;
    char id[128];

    /* The cluster does not know __consumer_offsets yet. */
    assert_int_equal(tr_groups_coordinator_partition(fx->groups, &g), -1);
    do_join(fx, &a, 0, T0, &r);
    assert_int_equal(r.error, TR_KERR_NOT_COORDINATOR);
    tr_join_result_cleanup(&r);

    /* It does; another broker leads the group's partition. */
    fx->fc.partitions = FAKE_PARTITIONS;
    p = tr_groups_coordinator_partition(fx->groups, &g);
    assert_int_equal(p, tr_groups_partition_for(&g, FAKE_PARTITIONS));
    do_join(fx, &a, 0, T0, &r);
    assert_int_equal(r.error, TR_KERR_NOT_COORDINATOR);
    tr_join_result_cleanup(&r);
    assert_int_equal(heartbeat(fx, "c", "m", 1, T0), TR_KERR_NOT_COORDINATOR);
    assert_int_equal(commit_ack(fx, "c", "", -1, "t", 0, 5, T0, &ack),
                     TR_KERR_NOT_COORDINATOR);
    assert_int_equal(ack.partition, -1);
    assert_int_equal(tr_groups_offsets(fx->groups, &g, T0, &offs, &n, &kerr),
                     TR_OK);
    assert_int_equal(kerr, TR_KERR_NOT_COORDINATOR);
    assert_int_equal(n, 0);
    tr_group_offsets_free(offs, n);
    assert_int_equal(tr_groups_describe(fx->groups, &g, T0, &d), TR_OK);
    assert_int_equal(d.error, TR_KERR_NOT_COORDINATOR);
    tr_group_description_cleanup(&d);
    assert_int_equal(tr_groups_delete(fx->groups, &g, T0),
                     TR_KERR_NOT_COORDINATOR);
    assert_int_equal(offsets_log_end(fx, p), 0);

    /* This broker leads it: the group forms; its sync waits for the HW. */
    fx->fc.epoch[p] = 1;
    join_alone(fx, "c", id, sizeof(id));
    do_sync(fx, "c", id, 1, NULL, 0, 0, T0, &sr);
    assert_int_equal(sr.error, TR_KERR_NONE);
    assert_true(sr.park_ms > 0);
    tr_sync_result_cleanup(&sr);
    assert_int_equal(state_of(fx, "c", &gen), TR_GROUP_COMPLETING_REBALANCE);
    assert_int_equal(fx->fc.appends, 1);
    fx->fc.hw[p] = offsets_log_end(fx, p);
    do_sync(fx, "c", id, 1, NULL, 0, 0, T0 + 10, &sr);
    assert_int_equal(sr.error, TR_KERR_NONE);
    assert_int_equal(sr.park_ms, 0);
    tr_sync_result_cleanup(&sr);
    assert_int_equal(state_of(fx, "c", &gen), TR_GROUP_STABLE);

    /* A commit is visible here at once but acknowledged at the HW. */
    assert_int_equal(commit_ack(fx, "c", id, 1, "t", 0, 5, T0 + 20, &ack),
                     TR_KERR_NONE);
    assert_int_equal(ack.partition, p);
    assert_int_equal(ack.epoch, 1);
    assert_int_equal(ack.last_offset, offsets_log_end(fx, p) - 1);
    assert_int_equal(tr_groups_acked(fx->groups, &ack), -1);
    fx->fc.hw[p] = ack.last_offset + 1;
    assert_int_equal(tr_groups_acked(fx->groups, &ack), TR_KERR_NONE);
    assert_int_equal(fetch_one(fx, "c", "t", 0), 5);
    assert_int_equal(tr_groups_list(fx->groups, T0 + 30, &list, &n), TR_OK);
    assert_int_equal(n, 1);
    tr_group_listing_free(list, n);

    /* The leadership moves on before the next commit is replicated. */
    assert_int_equal(commit_ack(fx, "c", id, 1, "t", 0, 6, T0 + 40, &ack),
                     TR_KERR_NONE);
    fx->fc.epoch[p] = -1;
    assert_int_equal(tr_groups_acked(fx->groups, &ack),
                     TR_KERR_NOT_COORDINATOR);
    assert_int_equal(tr_groups_list(fx->groups, T0 + 50, &list, &n), TR_OK);
    assert_int_equal(n, 0);
    tr_group_listing_free(list, n);
    {
        struct tr_str m = S(id);

        assert_int_equal(tr_groups_leave(fx->groups, &g, &m, &none, T0 + 60),
                         TR_KERR_NOT_COORDINATOR);
    }
}

/*
 * A broker that lost the leadership drops its groups and writes nothing,
 * not even when their sessions expire; when it leads again at a newer
 * epoch it replays what it got by replication meanwhile.
 */
static void
test_groups_cluster_reloads_at_new_epoch(void **state)
{
    struct fixture *fx = *state;
    struct tr_str g = S("c"), t = S("t"), md = S("md");
    struct tr_sync_result sr;
    struct tr_groups_ack ack;
    struct tr_batch_builder *bb;
    struct tr_partition *part;
    struct tr_append_result res;
    struct tr_buf key, value, batch;
    int64_t end;
    int32_t p, gen;
    char id[128];

    fx->fc.partitions = FAKE_PARTITIONS;
    p = tr_groups_partition_for(&g, FAKE_PARTITIONS);
    fx->fc.epoch[p] = 1;
    fx->fc.hw[p] = INT64_MAX;
    join_alone(fx, "c", id, sizeof(id));
    do_sync(fx, "c", id, 1, NULL, 0, 0, T0, &sr);
    assert_int_equal(sr.park_ms, 0);
    tr_sync_result_cleanup(&sr);
    assert_int_equal(commit_ack(fx, "c", id, 1, "t", 0, 5, T0, &ack),
                     TR_KERR_NONE);
    assert_int_equal(tr_groups_acked(fx->groups, &ack), TR_KERR_NONE);

    /* Another broker leads now: the tick unloads, later ticks write nothing. */
    fx->fc.epoch[p] = -1;
    end = offsets_log_end(fx, p);
    tr_groups_tick(fx->groups, T0 + 100);
    tr_groups_tick(fx->groups, T0 + 3600000); /* sessions long expired */
    assert_int_equal(offsets_log_end(fx, p), end);
    assert_int_equal(heartbeat(fx, "c", id, 1, T0 + 3600000),
                     TR_KERR_NOT_COORDINATOR);

    /* Meanwhile the new leader took a commit, which replication brings. */
    tr_buf_init(&key, 1024);
    tr_buf_init(&value, 1024);
    tr_buf_init(&batch, 4096);
    tr_groups_put_offset_key(&key, &g, &t, 0);
    tr_groups_put_offset_value(&value, 9, 3, &md, T0 + 200);
    bb = tr_batch_builder_new(TR_CODEC_NONE, 4096);
    assert_non_null(bb);
    assert_int_equal(tr_batch_builder_add(bb, T0 + 200, tr_buf_data(&key),
                                          (int32_t)tr_buf_len(&key),
                                          tr_buf_data(&value),
                                          (int32_t)tr_buf_len(&value), NULL, 0),
                     TR_OK);
    assert_int_equal(tr_batch_builder_finish(bb, &batch), TR_OK);
    part = tr_topics_partition(fx->topics, TR_GROUPS_TOPIC, p);
    assert_non_null(part);
    assert_int_equal(tr_partition_append(part, tr_buf_data(&batch),
                                         tr_buf_len(&batch), &res),
                     TR_OK);
    tr_partition_unref(part);
    tr_batch_builder_free(bb);
    tr_buf_cleanup(&key);
    tr_buf_cleanup(&value);
    tr_buf_cleanup(&batch);

    /* Leader again, two epochs on: the tick replays the partition. */
    fx->fc.epoch[p] = 3;
    end = offsets_log_end(fx, p);
    tr_groups_tick(fx->groups, T0 + 3600050);
    assert_int_equal(offsets_log_end(fx, p), end);
    assert_int_equal(fetch_one(fx, "c", "t", 0), 9);
    assert_int_equal(state_of(fx, "c", &gen), TR_GROUP_STABLE);
    assert_int_equal(gen, 1);
    assert_int_equal(heartbeat(fx, "c", id, 1, T0 + 3600100), TR_KERR_NONE);
}

/*
 * A leader's SyncGroup whose record is not committed within the commit
 * timeout withdraws the assignment and the group rebalances; a write
 * refused because the leadership moved makes it NOT_COORDINATOR.
 */
static void
test_groups_cluster_sync_not_committed(void **state)
{
    struct fixture *fx = *state;
    struct tr_str g = S("c");
    struct tr_sync_result sr;
    int32_t p, gen;
    char id[128];

    fx->fc.partitions = FAKE_PARTITIONS;
    p = tr_groups_partition_for(&g, FAKE_PARTITIONS);
    fx->fc.epoch[p] = 1;
    join_alone(fx, "c", id, sizeof(id));
    do_sync(fx, "c", id, 1, NULL, 0, 0, T0, &sr);
    assert_true(sr.park_ms > 0);
    tr_sync_result_cleanup(&sr);
    tr_groups_tick(fx->groups, T0 + fx->cfg.commit_timeout_ms - 1);
    assert_int_equal(state_of(fx, "c", &gen), TR_GROUP_COMPLETING_REBALANCE);
    tr_groups_tick(fx->groups, T0 + fx->cfg.commit_timeout_ms);
    assert_int_equal(state_of(fx, "c", &gen), TR_GROUP_PREPARING_REBALANCE);
    do_sync(fx, "c", id, 1, NULL, 0, 1, T0 + fx->cfg.commit_timeout_ms, &sr);
    assert_int_equal(sr.error, TR_KERR_REBALANCE_IN_PROGRESS);
    tr_sync_result_cleanup(&sr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_partition_for_matches_java_hash),
        cmocka_unit_test(test_groups_offset_record_codec),
        cmocka_unit_test_setup_teardown(test_groups_join_sync_rebalance, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_groups_join_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_groups_max_size, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_groups_rebalance_timeout_drops_member, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_initial_delay, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_groups_static_member_rejoins_without_rebalance, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_groups_offsets_survive_reopen,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_offsets_expire, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_groups_oom_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_groups_cluster_serves_led_partitions, setup_cluster, teardown),
        cmocka_unit_test_setup_teardown(
            test_groups_cluster_reloads_at_new_epoch, setup_cluster, teardown),
        cmocka_unit_test_setup_teardown(test_groups_cluster_sync_not_committed,
                                        setup_cluster, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
