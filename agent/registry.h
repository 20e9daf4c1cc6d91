/*
 * registry -- the agent's file positions on disk, in STATE_DIR/registry.
 *
 * One line per file, positions being offsets the collector acknowledged:
 *
 *   # tributary-agent registry v1
 *   DEV INO FP_LEN FP_CRC OFFSET PATH\n
 *
 * DEV and INO identify the file with FP_CRC, the CRC-32C of its first
 * FP_LEN bytes (so a reused inode is not taken for the old file); PATH is
 * informative (the last name it was seen under, to the end of the line).
 *
 * Writes are atomic: registry.tmp is written (one write(2) of the whole
 * preformatted file), fsync'ed and renamed over registry, then the
 * directory is fsync'ed, so a crash at any moment leaves either the old or
 * the new file, never a torn one. The agent saves after acknowledgements
 * (agent.c), so the two fsyncs are the price of each save.
 */
#ifndef TR_AGENT_REGISTRY_H
#define TR_AGENT_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct tr_registry_entry {
    uint64_t dev, ino;
    uint32_t fp_len, fp_crc;
    uint64_t offset;
    const char
        *path; /* borrowed when saving; owned by the registry after load */
};

struct tr_registry;

/*
 * Reads DIR/registry into an owned *out (empty when there is none). A line
 * that does not parse is TR_ERR_CORRUPT with errbuf "FILE:LINE: reason".
 */
tr_err_t tr_registry_load(const char *dir, struct tr_registry **out,
                          char *errbuf, size_t errlen);
void tr_registry_free(struct tr_registry *reg);

size_t tr_registry_count(const struct tr_registry *reg);
/* Entry 'i' (< count), valid until tr_registry_free. */
const struct tr_registry_entry *
tr_registry_entry_at(const struct tr_registry *reg, size_t i);
/* The entry for (dev, ino), or NULL. Valid until tr_registry_free. */
const struct tr_registry_entry *tr_registry_find(const struct tr_registry *reg,
                                                 uint64_t dev, uint64_t ino);

/*
 * Atomically replaces DIR/registry with 'n' entries (borrowed). Creates DIR
 * if it is missing. TR_ERR_IO / TR_ERR_NOSPACE with errbuf naming the file
 * and errno, or TR_ERR_NOMEM; the old registry is then intact.
 */
tr_err_t tr_registry_save(const char *dir,
                          const struct tr_registry_entry *entries, size_t n,
                          char *errbuf, size_t errlen);

#endif /* TR_AGENT_REGISTRY_H */
