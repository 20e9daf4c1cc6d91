/*
 * bench_main -- tributary-bench, the bench subcommand as its own program,
 * for building and running it without the `tributary` front end.
 */
#include "bench.h"

int
main(int argc, char **argv)
{
    return tr_cmd_bench(argc, argv);
}
