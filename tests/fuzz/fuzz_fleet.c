/*
 * fuzz_fleet -- libFuzzer target for the fleet view's reader of agent
 * status records (collector/metrics/fleet.c).
 *
 * Input: the first byte is the key's length (mod 64), then the key (the
 * host), then the value (the status record's JSON). It is applied to an
 * empty fleet, then again as a newer record of the same host, then as a
 * record of a second host, and the /api/agents document is written after
 * each step; a last step applies a tombstone. Nothing may crash, leak or
 * overrun, whatever the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fleet.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    tr_log_init(TR_LOG_ERROR, 2);
    return 0;
}

static void
render(struct tr_fleet *fl, int64_t now)
{
    struct tr_buf b;
    size_t active, silent;

    tr_buf_init(&b, 64u << 20);
    tr_fleet_json(fl, now, &b);
    tr_buf_cleanup(&b);
    tr_fleet_counts(fl, now, &active, &silent);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_fleet *fl = NULL;
    size_t klen;
    const uint8_t *value;
    size_t vlen;

    if (size < 1) {
        return 0;
    }
    klen = data[0] % 64;
    if (klen > size - 1) {
        klen = size - 1;
    }
    value = data + 1 + klen;
    vlen = size - 1 - klen;
    if (tr_fleet_new(NULL, 30000, &fl) != TR_OK) {
        return 0;
    }
    tr_fleet_apply(fl, data + 1, klen, value, vlen, 1000, 2000);
    render(fl, 2000);
    tr_fleet_apply(fl, data + 1, klen, value, vlen, 1500, 2000);
    render(fl, 40000);
    tr_fleet_apply(fl, "other", 5, value, vlen, 1500, 2000);
    render(fl, 2000);
    tr_fleet_apply(fl, data + 1, klen, NULL, 0, 1600, 2000);
    render(fl, 2000);
    tr_fleet_free(fl);
    return 0;
}
