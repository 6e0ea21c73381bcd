/*
 * flush_client: requests to the flush service (postqueue -f/-s/-i,
 * sendmail -q/-qR, postern flush, smtpd ETRN).
 *
 * Conversation on public/$flush_service_name:
 *   server: protocol=flush_protocol
 *   client: request=send_all
 *         | request=send_site site=DOMAIN
 *         | request=send_file queue_id=ID
 *   server: status=N [reason=TEXT]   (FLUSH_STAT_*)
 *
 * send_all asks qmgr to retry every deferred message now; send_site
 * makes the deferred messages with a pending recipient in DOMAIN due and
 * asks qmgr to scan; send_file does that for one deferred message.
 *
 * Each function returns a FLUSH_STAT_* value and, unless FLUSH_STAT_OK,
 * sets reason. An unreachable service or a broken reply is
 * FLUSH_STAT_FAIL. See flush_client.c for details.
 */
#ifndef POSTERN_FLUSH_CLIENT_H
#define POSTERN_FLUSH_CLIENT_H

#include "strbuf.h"

/* Request names (attribute request=). */
#define FLUSH_REQ_SEND_ALL      "send_all"
#define FLUSH_REQ_SEND_SITE     "send_site"
#define FLUSH_REQ_SEND_FILE     "send_file"

/* Reply status values. */
#define FLUSH_STAT_OK       0           /* done */
#define FLUSH_STAT_FAIL     1           /* could not be done: try later */
#define FLUSH_STAT_BAD      2           /* bad request: bad site or queue ID,
                                         * or no such message */
#define FLUSH_STAT_DENY     3           /* site not in fast_flush_domains */

/* Longest site name accepted. */
#define FLUSH_SITE_MAX      255

/* Milliseconds a request may take (a site flush reads deferred/). */
#define FLUSH_TIMEOUT_MS    100000

int     flush_send_all(strbuf *reason);
int     flush_send_site(const char *site, strbuf *reason);
int     flush_send_file(const char *queue_id, strbuf *reason);

#endif
