/*
 * plan -- reassignment plans; see plan.h.
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "json.h"

void
tr_plan_init(struct tr_plan *p)
{
    memset(p, 0, sizeof(*p));
}

void
tr_plan_free(struct tr_plan *p)
{
    tr_free(p->parts);
    tr_plan_init(p);
}

tr_err_t
tr_plan_add(struct tr_plan *p, const char *topic, int32_t partition,
            const int32_t *replicas, int32_t n)
{
    struct tr_plan_part *pp;

    if (n < 0 || n > TR_PLAN_MAX_REPLICAS ||
        strlen(topic) > TR_PLAN_TOPIC_MAX) {
        return TR_ERR_TOO_LARGE;
    }
    if (tr_array_reserve(&p->parts, &p->cap, p->n + 1, sizeof(*p->parts)) !=
        TR_OK) {
        return TR_ERR_NOMEM;
    }
    pp = &p->parts[p->n++];
    memset(pp, 0, sizeof(*pp));
    memcpy(pp->topic, topic, strlen(topic) + 1);
    pp->partition = partition;
    memcpy(pp->replicas, replicas, (size_t)n * sizeof(*replicas));
    pp->nreplicas = n;
    return TR_OK;
}

const struct tr_plan_part *
tr_plan_find(const struct tr_plan *p, const char *topic, int32_t partition)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        if (p->parts[i].partition == partition &&
            strcmp(p->parts[i].topic, topic) == 0) {
            return &p->parts[i];
        }
    }
    return NULL;
}

static int
has_id(const int32_t *ids, int32_t n, int32_t id)
{
    int32_t i;

    for (i = 0; i < n; i++) {
        if (ids[i] == id) {
            return 1;
        }
    }
    return 0;
}

tr_err_t
tr_plan_parse(const char *json, size_t len, struct tr_plan *out, char *errbuf,
              size_t errlen)
{
    struct tr_json_value root, parts, item, v;
    struct tr_json_iter it;
    char topic[TR_PLAN_TOPIC_MAX + 1];
    int32_t replicas[TR_PLAN_MAX_REPLICAS], r;
    int64_t partition;
    size_t n, index = 0;
    tr_err_t err;

    tr_plan_init(out);
    if (tr_json_parse(json, len, &root) != TR_OK ||
        root.type != TR_JSON_OBJECT) {
        snprintf(errbuf, errlen, "not a JSON object");
        return TR_ERR_CORRUPT;
    }
    if (tr_json_get(&root, "partitions", &parts) != TR_OK ||
        tr_json_iter_init(&it, &parts) != TR_OK ||
        parts.type != TR_JSON_ARRAY) {
        snprintf(errbuf, errlen, "no \"partitions\" array");
        return TR_ERR_CORRUPT;
    }
    while ((err = tr_json_next(&it, NULL, &item)) == TR_OK) {
        index++;
        if (tr_json_get(&item, "topic", &v) != TR_OK ||
            tr_json_string(&v, topic, sizeof(topic)) != TR_OK ||
            topic[0] == '\0') {
            snprintf(errbuf, errlen, "partitions[%zu]: no valid \"topic\"",
                     index - 1);
            goto fail;
        }
        if (tr_json_get(&item, "partition", &v) != TR_OK ||
            tr_json_as_int(&v, &partition) != TR_OK || partition < 0 ||
            partition > INT32_MAX) {
            snprintf(errbuf, errlen, "%s: no valid \"partition\"", topic);
            goto fail;
        }
        if (tr_json_get(&item, "replicas", &v) != TR_OK ||
            tr_json_int_array(&v, replicas, TR_PLAN_MAX_REPLICAS, &n) !=
                TR_OK ||
            n == 0) {
            snprintf(errbuf, errlen,
                     "%s-%d: \"replicas\" must list 1 to %d broker ids", topic,
                     (int)partition, TR_PLAN_MAX_REPLICAS);
            goto fail;
        }
        for (r = 1; r < (int32_t)n; r++) {
            if (has_id(replicas, r, replicas[r])) {
                snprintf(errbuf, errlen, "%s-%d: broker %d is listed twice",
                         topic, (int)partition, (int)replicas[r]);
                goto fail;
            }
        }
        if (tr_plan_find(out, topic, (int32_t)partition) != NULL) {
            snprintf(errbuf, errlen, "%s-%d is listed twice", topic,
                     (int)partition);
            goto fail;
        }
        if (tr_plan_add(out, topic, (int32_t)partition, replicas, (int32_t)n) !=
            TR_OK) {
            snprintf(errbuf, errlen, "out of memory");
            goto fail;
        }
    }
    if (err != TR_ERR_NOT_FOUND) {
        snprintf(errbuf, errlen, "malformed \"partitions\" array");
        goto fail;
    }
    return TR_OK;
fail:
    tr_plan_free(out);
    return TR_ERR_CORRUPT;
}

void
tr_plan_write(const struct tr_plan *p, FILE *out)
{
    size_t i;
    int32_t r;

    fprintf(out, "{\"version\":1,\"partitions\":[");
    for (i = 0; i < p->n; i++) {
        const struct tr_plan_part *pp = &p->parts[i];
        const char *c;

        fprintf(out, "%s\n  {\"topic\":\"", i ? "," : "");
        /* Topic names are [a-zA-Z0-9._-]; escape anyway. */
        for (c = pp->topic; *c; c++) {
            if (*c == '"' || *c == '\\') {
                fputc('\\', out);
            }
            fputc(*c, out);
        }
        fprintf(out, "\",\"partition\":%d,\"replicas\":[", (int)pp->partition);
        for (r = 0; r < pp->nreplicas; r++) {
            fprintf(out, "%s%d", r ? "," : "", (int)pp->replicas[r]);
        }
        fprintf(out, "]}");
    }
    fprintf(out, "%s]}\n", p->n ? "\n" : "");
}

/* ------------------------------------------------------------ rebalance */

static int
broker_index(const int32_t *brokers, size_t n, int32_t id)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (brokers[i] == id) {
            return (int)i;
        }
    }
    return -1;
}

/*
 * Load of broker b: within the topic first (what must be even), then over
 * the whole cluster (what breaks ties, so the totals stay even as well).
 */
static int
lighter(const int64_t *topic, const int64_t *all, int a, int b)
{
    return topic[a] != topic[b] ? topic[a] < topic[b] : all[a] < all[b];
}

/* The least loaded broker not in 'exclude', or -1. */
static int
least_loaded(const int64_t *topic, const int64_t *all, size_t n,
             const int32_t *brokers, const int32_t *exclude, int32_t nexclude)
{
    size_t i;
    int best = -1;

    for (i = 0; i < n; i++) {
        if (!has_id(exclude, nexclude, brokers[i]) &&
            (best < 0 || lighter(topic, all, (int)i, best))) {
            best = (int)i;
        }
    }
    return best;
}

static int
cmp_part(const void *a, const void *b)
{
    const struct tr_plan_part *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);

    if (c != 0) {
        return c;
    }
    return (x->partition > y->partition) - (x->partition < y->partition);
}

/*
 * Balances one topic's partitions work[from, to): replicas, then
 * preferred leaders. 'load' and 'lead' are cluster-wide counts, kept up to
 * date; 'tload' and 'tlead' are scratch for the topic's own.
 */
static void
balance_topic(struct tr_plan_part *work, size_t from, size_t to,
              const int32_t *brokers, size_t nbrokers, int64_t *load,
              int64_t *lead, int64_t *tload, int64_t *tlead)
{
    size_t i;
    int32_t r;
    int b, moved;

    memset(tload, 0, nbrokers * sizeof(*tload));
    memset(tlead, 0, nbrokers * sizeof(*tlead));
    for (i = from; i < to; i++) {
        for (r = 0; r < work[i].nreplicas; r++) {
            b = broker_index(brokers, nbrokers, work[i].replicas[r]);
            tload[b]++;
        }
        tlead[broker_index(brokers, nbrokers, work[i].replicas[0])]++;
    }
    /*
     * Move one replica at a time from the most to the least loaded broker
     * while they differ by more than one: each move narrows the gap, and no
     * replica moves that does not have to.
     */
    do {
        int hi = 0, lo = 0;
        moved = 0;
        for (b = 1; b < (int)nbrokers; b++) {
            hi = lighter(tload, load, hi, b) ? b : hi;
            lo = lighter(tload, load, b, lo) ? b : lo;
        }
        if (tload[hi] - tload[lo] <= 1) {
            break;
        }
        for (i = from; i < to && !moved; i++) {
            if (has_id(work[i].replicas, work[i].nreplicas, brokers[lo])) {
                continue;
            }
            for (r = 0; r < work[i].nreplicas && !moved; r++) {
                if (work[i].replicas[r] != brokers[hi]) {
                    continue;
                }
                work[i].replicas[r] = brokers[lo];
                tload[hi]--, load[hi]--;
                tload[lo]++, load[lo]++;
                if (r == 0) {
                    tlead[hi]--, lead[hi]--;
                    tlead[lo]++, lead[lo]++;
                }
                moved = 1;
            }
        }
    } while (moved);
    /* Preferred leaders, by swapping replicas within a list. */
    do {
        int hi = 0, lo = 0;
        moved = 0;
        for (b = 1; b < (int)nbrokers; b++) {
            hi = lighter(tlead, lead, hi, b) ? b : hi;
            lo = lighter(tlead, lead, b, lo) ? b : lo;
        }
        if (tlead[hi] - tlead[lo] <= 1) {
            break;
        }
        for (i = from; i < to && !moved; i++) {
            if (work[i].replicas[0] != brokers[hi]) {
                continue;
            }
            for (r = 1; r < work[i].nreplicas && !moved; r++) {
                if (work[i].replicas[r] == brokers[lo]) {
                    work[i].replicas[r] = brokers[hi];
                    work[i].replicas[0] = brokers[lo];
                    tlead[hi]--, lead[hi]--;
                    tlead[lo]++, lead[lo]++;
                    moved = 1;
                }
            }
        }
    } while (moved);
}

tr_err_t
tr_plan_rebalance(const struct tr_plan *current, const int32_t *brokers,
                  size_t nbrokers, struct tr_plan *moves)
{
    struct tr_plan_part *work = NULL;
    int64_t *load = NULL, *lead = NULL, *tload = NULL, *tlead = NULL;
    size_t i, j, k, n = current->n;
    int32_t r;
    int b;
    tr_err_t err = TR_OK;

    tr_plan_init(moves);
    if (nbrokers == 0) {
        return TR_ERR_INVALID;
    }
    work = tr_calloc(n + 1, sizeof(*work));
    load = tr_calloc(nbrokers, sizeof(*load));
    lead = tr_calloc(nbrokers, sizeof(*lead));
    tload = tr_calloc(nbrokers, sizeof(*tload));
    tlead = tr_calloc(nbrokers, sizeof(*tlead));
    if (work == NULL || load == NULL || lead == NULL || tload == NULL ||
        tlead == NULL) {
        err = TR_ERR_NOMEM;
        goto out;
    }
    memcpy(work, current->parts, n * sizeof(*work));
    /* A stable order, so that the same input gives the same plan. */
    qsort(work, n, sizeof(*work), cmp_part);
    for (i = 0; i < n; i++) {
        if ((size_t)work[i].nreplicas > nbrokers || work[i].nreplicas == 0) {
            err = TR_ERR_INVALID;
            goto out;
        }
        for (r = 0; r < work[i].nreplicas; r++) {
            b = broker_index(brokers, nbrokers, work[i].replicas[r]);
            if (b >= 0) {
                load[b]++;
                lead[b] += r == 0;
            }
        }
    }
    /*
     * Topic by topic: replicas on brokers not in the list move first (to
     * the least loaded), then the topic is balanced.
     */
    for (i = 0; i < n; i = j) {
        for (j = i; j < n && strcmp(work[j].topic, work[i].topic) == 0; j++) {
        }
        memset(tload, 0, nbrokers * sizeof(*tload));
        for (k = i; k < j; k++) {
            for (r = 0; r < work[k].nreplicas; r++) {
                b = broker_index(brokers, nbrokers, work[k].replicas[r]);
                if (b >= 0) {
                    tload[b]++;
                }
            }
        }
        for (k = i; k < j; k++) {
            for (r = 0; r < work[k].nreplicas; r++) {
                if (broker_index(brokers, nbrokers, work[k].replicas[r]) >= 0) {
                    continue;
                }
                b = least_loaded(tload, load, nbrokers, brokers,
                                 work[k].replicas, work[k].nreplicas);
                work[k].replicas[r] = brokers[b];
                tload[b]++;
                load[b]++;
                lead[b] += r == 0;
            }
        }
        balance_topic(work, i, j, brokers, nbrokers, load, lead, tload, tlead);
    }
    for (i = 0; i < n && err == TR_OK; i++) {
        const struct tr_plan_part *was =
            tr_plan_find(current, work[i].topic, work[i].partition);
        if (was != NULL && was->nreplicas == work[i].nreplicas &&
            memcmp(was->replicas, work[i].replicas,
                   (size_t)was->nreplicas * sizeof(int32_t)) == 0) {
            continue;
        }
        err = tr_plan_add(moves, work[i].topic, work[i].partition,
                          work[i].replicas, work[i].nreplicas);
    }
out:
    if (err != TR_OK) {
        tr_plan_free(moves);
    }
    tr_free(work);
    tr_free(load);
    tr_free(lead);
    tr_free(tload);
    tr_free(tlead);
    return err;
}
