/*
 * bench -- `tributary bench`: produce, consume and end-to-end load against
 * a Kafka-protocol broker, on the client core (producer.h, consumer.h).
 *
 * It prints records/s, MB/s (value bytes, 10^6) and latency percentiles
 * from an HDR-style histogram (hdr.h); with --json the last line of stdout
 * is one JSON object, which bench/ scripts parse.
 */
#ifndef TR_BENCH_H
#define TR_BENCH_H

/*
 * Runs `bench MODE [options]`; argv[0] is the command name ("bench"),
 * argv[1] the mode. Returns the process exit status: 0 when every record
 * was delivered, 1 on errors during the run, 2 on bad usage.
 */
int tr_cmd_bench(int argc, char **argv);

#endif /* TR_BENCH_H */
