/*
 * local_result: fill in a delivery outcome.
 *
 *   local_result_set(res, status, dsn, fmt, ...): status 0/4/5, enhanced
 *     status code dsn (copied, truncated to fit), reason text (replaces
 *     res->reason, which the caller allocates and frees).
 *
 * SECURITY: reason texts end up in logs and DSNs; callers pass only
 * bounded text. LIMITS: dsn up to 15 bytes.
 */
#include <stdarg.h>

#include "local.h"
#include "strbuf.h"
#include "strutil.h"

/* local_result_set: record an outcome. */
void    local_result_set(local_result *res, int status, const char *dsn,
                         const char *fmt, ...)
{
    va_list ap;

    res->status = status;
    if (str_copy(res->dsn, sizeof(res->dsn), dsn) < 0)
        (void) str_copy(res->dsn, sizeof(res->dsn), status == 5 ? "5.0.0" : "4.0.0");
    strbuf_reset(res->reason);
    va_start(ap, fmt);
    (void) strbuf_vprintf(res->reason, fmt, ap);
    va_end(ap);
}
