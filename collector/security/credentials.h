/*
 * credentials -- the collector's store of SASL/SCRAM credentials: one
 * struct tr_scram_cred per user and mechanism, never a password.
 *
 * On a single collector the store is the file '.scram-credentials' in
 * log.dirs (mode 0600), one line per user and mechanism:
 *
 *   # comment
 *   alice
 * SCRAM-SHA-256=[salt=...,stored_key=...,server_key=...,iterations=4096]
 *
 * the user URL-encoded as Kafka's Sanitizer does (anything but letters,
 * digits, '.', '_' and '-' as %XX), the bracketed part Kafka's own
 * serialized form (ScramCredentialUtils), as kafka-configs and
 * kafka-storage print it. Every change rewrites the whole file atomically
 * (temporary file, fsync, rename, directory fsync). Lookups are in memory;
 * the store is locked, so any network thread may use it.
 *
 * In a cluster the store is ZooKeeper, as in Kafka 2.x: /config/users/<user
 * sanitized as above> holds {"version":1,"config":{"SCRAM-SHA-256":"salt=
 * ...,stored_key=...,server_key=...,iterations=4096"}}, read at each lookup
 * so that every broker sees a change at once; other members of "config"
 * (Kafka's quotas) are kept as they are. tr_credentials_set_remote() turns
 * this on and publishes the local file's credentials a user does not have
 * there yet, so that --add-scram works for a cluster's first user too.
 *
 * PLAIN logins are checked against the SCRAM-SHA-256 credential, or the
 * SCRAM-SHA-512 one for a user who has only that (see api/sasl.c).
 */
#ifndef TR_CREDENTIALS_H
#define TR_CREDENTIALS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "scram.h"

#define TR_CREDENTIALS_FILE "/.scram-credentials"
/* Longest user name kept (Kafka has no limit; ZooKeeper node names do). */
#define TR_CREDENTIALS_MAX_USER 255

struct tr_credentials;

/*
 * Opens the store of log directory 'dir', reading its file if there is one.
 * A malformed file is TR_ERR_CORRUPT with "FILE:LINE: reason" in 'errbuf'.
 */
tr_err_t tr_credentials_open(const char *dir, struct tr_credentials **out,
                             char *errbuf, size_t errlen);
/* NULL is a no-op. */
void tr_credentials_free(struct tr_credentials *creds);

/* Copies the user's credential for 'mech' into 'cred'; TR_ERR_NOT_FOUND. */
tr_err_t tr_credentials_get(struct tr_credentials *creds, const char *user,
                            enum tr_scram_mech mech,
                            struct tr_scram_cred *cred);

/* Adds or replaces the user's credential for cred->mech, and saves. */
tr_err_t tr_credentials_set(struct tr_credentials *creds, const char *user,
                            const struct tr_scram_cred *cred);

/* Removes the user's credential for 'mech' and saves; TR_ERR_NOT_FOUND. */
tr_err_t tr_credentials_delete(struct tr_credentials *creds, const char *user,
                               enum tr_scram_mech mech);

/*
 * The iterations of each of the user's credentials: iterations[mech] for
 * TR_SCRAM_SHA_256 and TR_SCRAM_SHA_512, 0 where there is none. Returns
 * TR_ERR_NOT_FOUND for a user with no credential at all.
 */
tr_err_t tr_credentials_describe(struct tr_credentials *creds, const char *user,
                                 int32_t iterations[3]);

/*
 * The names of every user with a credential, sorted: an owned array of
 * owned strings (free each and the array with tr_free).
 */
tr_err_t tr_credentials_users(struct tr_credentials *creds, char ***names,
                              size_t *count);

/* Where a cluster keeps credentials (cluster/cluster.h's user functions). */
struct tr_credentials_remote {
    /* The user's znode: owned data (free()) or TR_ERR_NOT_FOUND. */
    tr_err_t (*get)(void *arg, const char *sanitized, char **data, size_t *len);
    tr_err_t (*put)(void *arg, const char *sanitized, const char *data,
                    size_t len);
    /* The sanitized names; freed with free_names. */
    tr_err_t (*names)(void *arg, char ***names, int *count);
    void (*free_names)(char **names, int count);
    void *arg;
};

/*
 * From now on reads and writes go to 'remote' (copied; 'arg' must outlive
 * the store). Credentials of the local file that 'remote' lacks are
 * published to it first; failures there are logged, not fatal.
 */
void tr_credentials_set_remote(struct tr_credentials *creds,
                               const struct tr_credentials_remote *remote);

/*
 * Writes 'user' sanitized as Kafka's Sanitizer does into 'out'
 * (3 * TR_CREDENTIALS_MAX_USER + 1 bytes is always enough).
 */
void tr_credentials_sanitize(const char *user, char *out, size_t outlen);

/*
 * The reverse: decodes 'len' bytes of sanitized 's' into 'out'. Names that
 * are empty, hold a NUL, are longer than TR_CREDENTIALS_MAX_USER or
 * 'outlen' - 1, or are not sanitized text are refused.
 */
tr_err_t tr_credentials_desanitize(const char *s, size_t len, char *out,
                                   size_t outlen);

/*
 * Parses one --add-scram value, Kafka's kafka-storage syntax:
 * 'MECH=[name=N,password=P]' with optional iterations=, salt= (base64), or
 * saltedpassword= (base64, with salt=) instead of password=; values may be
 * double-quoted. Fills 'user' (size TR_CREDENTIALS_MAX_USER + 1) and
 * 'cred'. Errors are explained in 'errbuf'.
 */
tr_err_t tr_credentials_parse_add_scram(const char *arg, char *user,
                                        struct tr_scram_cred *cred,
                                        char *errbuf, size_t errlen);

#endif /* TR_CREDENTIALS_H */
