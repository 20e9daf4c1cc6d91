/*
 * murmur2 -- the keyed partitioner of Kafka's Java client.
 *
 * Kafka's default partitioner hashes a record key with this 32-bit MurmurHash2
 * variant (seed 0x9747b28c, little-endian 4-byte blocks, the tail mixed with
 * the same switch fall-through as Utils.murmur2) and masks the sign bit
 * before taking the remainder. Producers in other languages (librdkafka's
 * "murmur2" partitioner) copy it, so every client sends a given key to the
 * same partition. Declared in producer.h.
 */
#include "producer.h"

#define MURMUR2_SEED 0x9747b28cU
#define MURMUR2_M    0x5bd1e995U
#define MURMUR2_R    24

uint32_t
tr_murmur2(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t h = MURMUR2_SEED ^ (uint32_t)len;
    size_t nblocks = len / 4;
    size_t i;

    for (i = 0; i < nblocks; i++) {
        const uint8_t *b = p + i * 4;
        uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
                     (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;

        k *= MURMUR2_M;
        k ^= k >> MURMUR2_R;
        k *= MURMUR2_M;
        h *= MURMUR2_M;
        h ^= k;
    }

    p += nblocks * 4;
    switch (len & 3) {
    case 3:
        h ^= (uint32_t)p[2] << 16;
        /* FALLTHROUGH */
    case 2:
        h ^= (uint32_t)p[1] << 8;
        /* FALLTHROUGH */
    case 1:
        h ^= (uint32_t)p[0];
        h *= MURMUR2_M;
        break;
    default:
        break;
    }

    h ^= h >> 13;
    h *= MURMUR2_M;
    h ^= h >> 15;
    return h;
}

/*
 * Java's Utils.toPositive(murmur2(key)) % numPartitions: the mask (not abs())
 * matters, since abs(INT_MIN) is negative.
 */
int32_t
tr_murmur2_partition(const void *key, size_t len, int32_t n)
{
    if (n <= 0) {
        return -1;
    }
    return (int32_t)((tr_murmur2(key, len) & 0x7fffffffU) % (uint32_t)n);
}
