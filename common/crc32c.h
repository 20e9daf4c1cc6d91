/*
 * crc32c -- CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2.
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at
 * first use) and a portable slicing-by-8 table otherwise.
 */
#ifndef TR_CRC32C_H
#define TR_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Extends 'crc' (0 to start) over 'len' bytes. The pre- and post-inversion
 * are handled inside, so tr_crc32c(tr_crc32c(0, a, n), b, m) equals the CRC
 * of a followed by b.
 */
uint32_t tr_crc32c(uint32_t crc, const void *data, size_t len);

/* Tests only: the portable implementation, whatever the CPU has. */
uint32_t tr_crc32c_portable(uint32_t crc, const void *data, size_t len);

#endif /* TR_CRC32C_H */
