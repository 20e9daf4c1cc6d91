/*
 * httpauth -- HTTP Basic authentication (RFC 7617) for the console and
 * its JSON API, checked against the collector's SCRAM credential store
 * (security/credentials.h), the same users and passwords as SASL.
 *
 * A password is verified as SASL PLAIN verifies it: SaltedPassword is
 * computed with the stored salt and iterations (one PBKDF2), StoredKey
 * derived from it and compared with the stored one in constant time
 * (scram.h's tr_scram_cred_check_password). An unknown user costs the same
 * PBKDF2, so the answer's timing does not tell which users exist.
 */
#ifndef TR_HTTPAUTH_H
#define TR_HTTPAUTH_H

#include <stddef.h>

#include "credentials.h"
#include "err.h"

/* The longest password accepted (Kafka has no limit; this bounds work). */
#define TR_HTTPAUTH_MAX_PASSWORD 1024

/*
 * Parses the value of an Authorization header ('header', NUL-terminated,
 * borrowed; NULL is "absent"): scheme "Basic" (any case), spaces, then
 * base64 of "user:password". Copies the user (at most
 * TR_CREDENTIALS_MAX_USER bytes, not empty) and the password (at most
 * TR_HTTPAUTH_MAX_PASSWORD) NUL-terminated into 'user' and 'password',
 * which have room for those limits plus one. TR_ERR_NOT_FOUND when there
 * is no header, TR_ERR_UNSUPPORTED for another scheme, TR_ERR_CORRUPT for
 * bad base64, no colon, a NUL or a control character in the user, and
 * TR_ERR_TOO_LARGE past a limit.
 */
tr_err_t tr_httpauth_parse_basic(const char *header, char *user,
                                 char *password);

/*
 * TR_OK if 'password' is the password of 'user' in 'creds' (its
 * SCRAM-SHA-256 credential, or SCRAM-SHA-512 for a user with only that),
 * TR_ERR_INVALID if not or if there is no such user.
 */
tr_err_t tr_httpauth_check(struct tr_credentials *creds, const char *user,
                           const char *password);

#endif /* TR_HTTPAUTH_H */
