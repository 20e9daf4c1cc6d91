/*
 * assign -- where a new topic's replicas go; see assign.h.
 *
 * The rack-aware assignment follows Kafka 2.x's AdminUtils so that a
 * cluster of collectors places replicas as Kafka would given the same
 * brokers and random draws:
 *
 *   1. Order the brokers rack by rack, alternating: racks sorted by name,
 *      each rack's brokers by id, one broker of each rack in turn
 *      (a1 b1 c1 a2 b2 a3 ...). Neighbours are then on different racks.
 *   2. Partition p's leader is broker (start + p) of that list, so leaders
 *      go round the racks and the brokers.
 *   3. Its followers come from stepping along the list from the leader by
 *      a shift that moves on every full round of partitions (so that the
 *      same pairs do not always share partitions), skipping a broker whose
 *      rack already holds a replica of p while some rack holds none, and a
 *      broker that already holds one while some broker holds none.
 */
#include "assign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

struct ranked {
    int32_t id;
    const char *rack;
};

static int
has_rack(const char *rack)
{
    return rack != NULL && rack[0] != '\0';
}

static int
cmp_id(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
}

static int
cmp_rack_id(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    int c = strcmp(x->rack, y->rack);

    return c != 0 ? c : cmp_id(a, b);
}

/*
 * Kafka's replicaIndex: the position of a follower, 1..nb-1 steps after
 * the leader's, so that it is never the leader itself. nb >= 2.
 */
static size_t
follower_at(size_t first, uint64_t shift, uint64_t k, size_t nb)
{
    return (first + 1 + (size_t)((shift + k) % (nb - 1))) % nb;
}

/*
 * Step 1 above: 'sorted' (by rack, then id) becomes 'ids' and 'rack_of'
 * (a rack number per position) in alternating order. Returns the number
 * of racks. 'len' is scratch for nb counts.
 */
static size_t
alternate_racks(const struct ranked *sorted, size_t nb, int32_t *ids,
                size_t *rack_of, size_t *first, size_t *len)
{
    size_t nracks = 0, i, round, g, done = 0;

    for (i = 0; i < nb; i++) {
        if (i == 0 || strcmp(sorted[i].rack, sorted[i - 1].rack) != 0) {
            first[nracks] = i;
            len[nracks] = 0;
            nracks++;
        }
        len[nracks - 1]++;
    }
    for (round = 0; done < nb; round++) {
        for (g = 0; g < nracks; g++) {
            if (round < len[g]) {
                ids[done] = sorted[first[g] + round].id;
                rack_of[done] = g;
                done++;
            }
        }
    }
    return nracks;
}

tr_err_t
tr_assign_replicas(const struct tr_assign_broker *brokers, size_t nb,
                   int32_t partitions, int32_t rf, uint32_t start,
                   uint32_t shift, int32_t *out, char *errbuf, size_t errlen)
{
    struct ranked *sorted = NULL;
    int32_t *ids = NULL;
    size_t *rack_of = NULL, *first = NULL, *len = NULL, *chosen = NULL;
    unsigned char *rack_used = NULL, *broker_used = NULL;
    size_t i, nracked = 0, nracks, lead, nrack_used, pos;
    uint64_t next_shift, k;
    int32_t p, r;
    tr_err_t err = TR_ERR_INVALID;

    errbuf[0] = '\0';
    if (rf < 1 || nb == 0 || (size_t)rf > nb) {
        snprintf(errbuf, errlen,
                 "Replication factor: %d larger than available brokers: %zu.",
                 (int)rf, nb);
        goto out;
    }
    for (i = 0; i < nb; i++) {
        nracked += has_rack(brokers[i].rack);
    }
    if (nracked != 0 && nracked != nb) {
        snprintf(errbuf, errlen,
                 "Not all brokers have rack information for replica rack "
                 "aware assignment (%zu of %zu have broker.rack).",
                 nracked, nb);
        goto out;
    }
    err = TR_ERR_NOMEM;
    sorted = tr_malloc(nb * sizeof(*sorted));
    if (sorted == NULL) {
        goto out;
    }
    for (i = 0; i < nb; i++) {
        sorted[i].id = brokers[i].id;
        sorted[i].rack = has_rack(brokers[i].rack) ? brokers[i].rack : "";
    }
    if (nracked == 0) {
        /*
         * No racks: round-robin over the brokers by id from a random
         * first one, as the cluster always did (Kafka's rack-unaware
         * variant also shifts the followers; assignments written by
         * earlier versions stay comparable this way).
         */
        qsort(sorted, nb, sizeof(*sorted), cmp_id);
        for (p = 0; p < partitions; p++) {
            for (r = 0; r < rf; r++) {
                out[(size_t)p * (size_t)rf + (size_t)r] =
                    sorted[((size_t)start + (size_t)p + (size_t)r) % nb].id;
            }
        }
        err = TR_OK;
        goto out;
    }
    qsort(sorted, nb, sizeof(*sorted), cmp_rack_id);
    ids = tr_malloc(nb * sizeof(*ids));
    rack_of = tr_malloc(nb * sizeof(*rack_of));
    first = tr_malloc(nb * sizeof(*first));
    len = tr_malloc(nb * sizeof(*len));
    chosen = tr_malloc((size_t)rf * sizeof(*chosen));
    rack_used = tr_calloc(nb, 1);
    broker_used = tr_calloc(nb, 1);
    if (ids == NULL || rack_of == NULL || first == NULL || len == NULL ||
        chosen == NULL || rack_used == NULL || broker_used == NULL) {
        goto out;
    }
    nracks = alternate_racks(sorted, nb, ids, rack_of, first, len);
    start %= (uint32_t)nb;
    next_shift = shift % (uint32_t)nb;
    for (p = 0; p < partitions; p++) {
        if (p > 0 && (size_t)p % nb == 0) {
            next_shift++;
        }
        lead = ((size_t)p + start) % nb;
        chosen[0] = lead;
        rack_used[rack_of[lead]] = 1;
        broker_used[lead] = 1;
        nrack_used = 1;
        k = 0;
        for (r = 1; r < rf; r++) {
            /*
             * Ends within nb - 1 steps: rf <= nb leaves a broker without a
             * replica, and a rack without one holds such a broker.
             */
            for (;; k++) {
                pos = follower_at(lead, next_shift * nracks, k, nb);
                if ((!rack_used[rack_of[pos]] || nrack_used == nracks) &&
                    !broker_used[pos]) {
                    break;
                }
            }
            k++;
            chosen[r] = pos;
            nrack_used += !rack_used[rack_of[pos]];
            rack_used[rack_of[pos]] = 1;
            broker_used[pos] = 1;
        }
        for (r = 0; r < rf; r++) {
            out[(size_t)p * (size_t)rf + (size_t)r] = ids[chosen[r]];
            rack_used[rack_of[chosen[r]]] = 0;
            broker_used[chosen[r]] = 0;
        }
    }
    err = TR_OK;
out:
    if (err == TR_ERR_NOMEM) {
        snprintf(errbuf, errlen, "out of memory");
    }
    tr_free(sorted);
    tr_free(ids);
    tr_free(rack_of);
    tr_free(first);
    tr_free(len);
    tr_free(chosen);
    tr_free(rack_used);
    tr_free(broker_used);
    return err;
}

tr_err_t
tr_assign_explicit(const int32_t *partition_of, const int32_t *count_of,
                   const int32_t *ids, int32_t n, int32_t *out, int32_t *rf,
                   char *errbuf, size_t errlen)
{
    const int32_t *list = ids;
    unsigned char *seen = NULL;
    int32_t i, j, k, p;
    tr_err_t err = TR_ERR_INVALID;

    errbuf[0] = '\0';
    if (n <= 0) {
        snprintf(errbuf, errlen, "the assignment lists no partitions");
        goto out;
    }
    seen = tr_calloc((size_t)n, 1);
    if (seen == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        err = TR_ERR_NOMEM;
        goto out;
    }
    *rf = count_of[0];
    for (i = 0; i < n; list += count_of[i], i++) {
        p = partition_of[i];
        if (p < 0 || p >= n || seen[p]) {
            snprintf(errbuf, errlen,
                     "partitions should be a consecutive 0-based integer "
                     "sequence (partition %d of %d)",
                     (int)p, (int)n);
            goto out;
        }
        seen[p] = 1;
        if (count_of[i] != *rf) {
            snprintf(errbuf, errlen,
                     "All partitions should have the same number of replicas "
                     "(partition %d has %d, partition %d has %d)",
                     (int)partition_of[0], (int)*rf, (int)p, (int)count_of[i]);
            goto out;
        }
        if (count_of[i] == 0) {
            snprintf(errbuf, errlen, "partition %d has no replicas", (int)p);
            goto out;
        }
        for (j = 0; j < count_of[i]; j++) {
            for (k = 0; k < j; k++) {
                if (list[k] == list[j]) {
                    snprintf(errbuf, errlen,
                             "Duplicate replica assignment found: partition "
                             "%d lists broker %d twice",
                             (int)p, (int)list[j]);
                    goto out;
                }
            }
        }
    }
    /*
     * Written only once every list is known to have *rf ids: 'out' has
     * room for the ids there are, and a long first list naming a high
     * partition would otherwise write past it (found by fuzz_request).
     */
    for (list = ids, i = 0; i < n; list += count_of[i], i++) {
        for (j = 0; j < count_of[i]; j++) {
            out[(size_t)partition_of[i] * (size_t)*rf + (size_t)j] = list[j];
        }
    }
    err = TR_OK;
out:
    tr_free(seen);
    return err;
}

tr_err_t
tr_assign_check_live(const int32_t *replicas, size_t n, const int32_t *live,
                     size_t nlive, char *errbuf, size_t errlen)
{
    size_t i, j;

    errbuf[0] = '\0';
    for (i = 0; i < n; i++) {
        for (j = 0; j < nlive && live[j] != replicas[i]; j++) {
        }
        if (j == nlive) {
            snprintf(errbuf, errlen,
                     "Unknown broker %d in the replica assignment: it is not "
                     "a live broker",
                     (int)replicas[i]);
            return TR_ERR_NOT_FOUND;
        }
    }
    return TR_OK;
}
