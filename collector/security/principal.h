/*
 * principal -- ssl.principal.mapping.rules: from a client certificate's
 * subject to the principal's name.
 *
 * On an SSL listener the principal of a client that presented a
 * certificate is "User:" plus a name made from the certificate's subject
 * (net/tls.c prints it in RFC 2253 form, as Java does). Kafka lets the
 * operator shorten that name with rules (KIP-371), tried in order, the
 * first that matches deciding:
 *
 *   DEFAULT                      the subject as it is
 *   RULE:<regex>/<replacement>/  if <regex> matches the whole subject, the
 *                                subject with every match replaced by
 *                                <replacement> ($1, $2... name the groups)
 *   RULE:<regex>/<replacement>/L the same, lowercased (U: uppercased)
 *
 * separated by commas, e.g.
 * "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=.*$/$1@$2/L,DEFAULT".
 * A '/' inside a regex or replacement is written "\/". A subject no rule
 * matches is refused: the connection is closed, as Kafka does.
 *
 * The regular expressions are PCRE2's, which agree with Java's on what such
 * rules use (groups, lazy quantifiers, anchors, classes). A group number in
 * a replacement that the regex does not have is an error when the rules
 * are parsed, so that a mistake shows at start-up rather than at the first
 * connection.
 *
 * A parsed rule set is immutable and may be shared by every thread.
 */
#ifndef TR_PRINCIPAL_H
#define TR_PRINCIPAL_H

#include <stddef.h>

#include "err.h"

struct tr_principal_rules;

/*
 * Parses 'text' (NULL or empty: the single rule DEFAULT). On error writes
 * the reason, naming the rule, to 'errbuf' and returns TR_ERR_CONFIG. The
 * caller owns '*out' and frees it with tr_principal_rules_free().
 */
tr_err_t tr_principal_rules_parse(const char *text,
                                  struct tr_principal_rules **out, char *errbuf,
                                  size_t errlen);

/* NULL is a no-op. */
void tr_principal_rules_free(struct tr_principal_rules *rules);

/*
 * Writes the name 'dn' maps to, NUL-terminated, to 'out'. Returns
 * TR_ERR_INVALID when no rule matches, TR_ERR_TOO_LARGE when the name does
 * not fit in 'outlen' bytes.
 */
tr_err_t tr_principal_map(const struct tr_principal_rules *rules,
                          const char *dn, char *out, size_t outlen);

#endif /* TR_PRINCIPAL_H */
