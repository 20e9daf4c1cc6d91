/*
 * log -- leveled logging to stderr (or a file), one line per event.
 *
 * The level is the module's one singleton, set once by main() before any
 * thread starts. Lines are written with a single write(2) so that lines from
 * several threads never interleave.
 *
 * A second, documented singleton is the hook (tr_log_set_hook): a function
 * that also sees every WARN and ERROR line, so the collector can keep the
 * last few for its console (common/logring.h) without the logger knowing
 * where they go.
 */
#ifndef TR_LOG_H
#define TR_LOG_H

#include <stddef.h>
#include <stdint.h>

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

/*
 * Called for each WARN or ERROR line written, from the thread that logs,
 * with the wall-clock time in ms and the message (escaped as written,
 * without time, level or newline; 'text' is valid during the call). It
 * must not log.
 */
typedef void tr_log_hook_cb(void *arg, enum tr_log_level level, int64_t time_ms,
                            const char *text, size_t len);
/*
 * Sets the hook ('cb' NULL removes it). Call it from main() while no other
 * thread logs: when setting, before the threads start; when removing,
 * after they have stopped ('arg' must live until then).
 */
void tr_log_set_hook(tr_log_hook_cb *cb, void *arg);

/*
 * Writes 'len' bytes of 's', which a client chose (a group, member or
 * client id, a topic name), into 'out' as printable ASCII for a log line:
 * bytes outside 0x20-0x7e as \xNN and '\' as \\, so no client can end a
 * line early, fake one, or send escape sequences to a terminal. Cuts the
 * text with "..." to fit 'outlen' (TR_LOG_ESCAPE_LEN suits a log field).
 * Returns 'out', always NUL-terminated ('outlen' >= 4).
 */
const char *tr_log_escape(const char *s, size_t len, char *out, size_t outlen);

#define TR_LOG_ESCAPE_LEN 256

/*
 * tr_log_escape of NUL-terminated 's' (NULL reads "(null)") into a
 * temporary that lives until the end of the enclosing block: for log
 * arguments only. Evaluates 's' twice.
 */
#define TR_LOG_ESC(s)                                                          \
    ((s) == NULL                                                               \
         ? "(null)"                                                            \
         : tr_log_escape((s), strlen(s), (char[TR_LOG_ESCAPE_LEN]){ 0 },       \
                         TR_LOG_ESCAPE_LEN))

/*
 * Formats and writes one line. Control and non-ASCII bytes that reach the
 * formatted text anyway are written as \xNN too, the last line of defence
 * for a call site that forgot tr_log_escape.
 */
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
