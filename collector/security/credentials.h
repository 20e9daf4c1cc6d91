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
