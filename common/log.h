/*
 * log -- leveled logging to stderr (or a file), one line per event.
 *
 * The level is the module's one singleton, set once by main() before any
 * thread starts. Lines are written with a single write(2) so that lines from
 * several threads never interleave.
 */
#ifndef TR_LOG_H
#define TR_LOG_H

enum tr_log_level {
    TR_LOG_ERROR = 0,
    TR_LOG_WARN = 1,
    TR_LOG_INFO = 2,
    TR_LOG_DEBUG = 3,
};

/* Sets the threshold and the file descriptor lines go to (2 for stderr). */
void tr_log_init(enum tr_log_level level, int fd);
/* Parses "error", "warn", "info" or "debug"; returns -1 if unknown. */
int tr_log_level_parse(const char *name);
int tr_log_enabled(enum tr_log_level level);

void tr_log_msg(enum tr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define tr_log_error(...) tr_log_msg(TR_LOG_ERROR, __VA_ARGS__)
#define tr_log_warn(...)  tr_log_msg(TR_LOG_WARN, __VA_ARGS__)
#define tr_log_info(...)  tr_log_msg(TR_LOG_INFO, __VA_ARGS__)
#define tr_log_debug(...)                                                      \
    do {                                                                       \
        if (tr_log_enabled(TR_LOG_DEBUG)) {                                    \
            tr_log_msg(TR_LOG_DEBUG, __VA_ARGS__);                             \
        }                                                                      \
    } while (0)

#endif /* TR_LOG_H */
