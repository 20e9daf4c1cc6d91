/*
 * clock -- wall-clock and monotonic milliseconds.
 *
 * Record timestamps and retention use wall time (milliseconds since the
 * epoch, as Kafka does); timeouts and intervals use the monotonic clock so
 * that a clock step never fires or starves them.
 */
#ifndef TR_CLOCK_H
#define TR_CLOCK_H

#include <stdint.h>

int64_t tr_clock_wall_ms(void);
int64_t tr_clock_mono_ms(void);
int64_t tr_clock_mono_us(void);

#endif /* TR_CLOCK_H */
