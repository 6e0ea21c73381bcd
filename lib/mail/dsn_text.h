/*
 * dsn_text: split an administrator's "X.Y.Z text" into a DSN status and
 * a reason, as the error, retry and discard transports take them from
 * their nexthop ("error:5.1.1 User unknown", "retry:4.3.2 wait",
 * "discard:silently").
 *
 *   dsn_text_status_len(text): the length of a valid RFC 3463 status at
 *     the start of text ("class.subject.detail": class 2, 4 or 5, subject
 *     and detail 1-3 digits) when it is followed by white space or the
 *     end of text; 0 otherwise.
 *   dsn_text_split(text, def_status, classes, status, reason): when text
 *     starts with a valid status whose class is one of the characters in
 *     classes ("45", "2", ...), put it in status and the rest (white
 *     space trimmed) in reason; otherwise status = def_status and reason
 *     = the whole text, trimmed. Control characters (0x00-0x1F, 0x7F) in
 *     the reason become '?', so the result is safe for a log line or a
 *     DSN. Returns 1 when text carried the status, 0 when the default
 *     was used. Both strbufs are reset first; text may be NULL ("").
 *
 * See dsn_text.c for details.
 */
#ifndef POSTERN_DSN_TEXT_H
#define POSTERN_DSN_TEXT_H

#include <stddef.h>

#include "strbuf.h"

#define DSN_TEXT_STATUS_MAX 9           /* "5.123.123" */

size_t  dsn_text_status_len(const char *text);
int     dsn_text_split(const char *text, const char *def_status,
                       const char *classes, strbuf *status, strbuf *reason);

#endif
