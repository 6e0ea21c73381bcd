/*
 * flush_client: the client side of the flush protocol (grammar in
 * flush_client.h).
 *
 *   flush_send_all(reason): request=send_all.
 *   flush_send_site(site, reason): request=send_site site=SITE.
 *   flush_send_file(queue_id, reason): request=send_file queue_id=ID.
 * Each connects to public/$flush_service_name (in the current directory
 * when it is there, as for a chrooted smtpd, else below queue_directory;
 * see trigger_connect), checks
 * the protocol name, sends the request and reads status (0..3) and the
 * optional reason. Returns the FLUSH_STAT_* status; on anything but
 * FLUSH_STAT_OK reason holds a text for the user (the server's, or
 * "cannot reach the flush service: PATH: why", or the protocol error).
 *
 * SECURITY: callers may be unprivileged (postqueue, sendmail) or face
 *   the network (smtpd passes the ETRN argument): the site and the ID are
 *   sent as attribute values (escaped by attr), and the server checks
 *   them again. Replies are decoded strictly with small limits.
 * LIMITS: FLUSH_TIMEOUT_MS per request; replies 4 attributes, 1024
 *   bytes per value.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "attr_names.h"
#include "flush_client.h"
#include "master_proto.h"
#include "mem.h"
#include "param.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"
#include "trigger.h"

static const attr_limits flush_reply_limits = {4, 1024, 4096};

/* flush_request: one request/reply exchange; a FLUSH_STAT_* value */
static int flush_request(const char *request, const char *name,
                         const char *value, strbuf *reason)
{
    /* Relative: found in the current directory first, so that a chrooted
     * smtpd (cwd = the spool) reaches it too; then below queue_directory. */
    char   *path = str_concat(MASTER_DIR_PUBLIC, "/",
                              param_str(PARAM_FLUSH_SERVICE_NAME), (char *) NULL);
    attr_list *list = attr_list_new();
    strbuf *err = strbuf_new(64);
    const char *text = NULL;
    long    status = FLUSH_STAT_FAIL;
    attr_spec specs[] = {
        ATTR_SPEC_LONG(ATTR_NAME_STATUS, 1, FLUSH_STAT_OK, FLUSH_STAT_DENY, &status),
        ATTR_SPEC_STR(ATTR_NAME_REASON, 0, &text),
    };
    stream *s = NULL;
    int     fd;

    if ((fd = trigger_connect(path, FLUSH_TIMEOUT_MS)) < 0) {
        strbuf_setf(reason, "cannot reach the flush service: the mail system is "
                    "not running, or master.cf has no flush service (%s: %s)",
                    path, strerror(errno));
        goto done;
    }
    s = stream_fdopen(fd, STREAM_F_RDWR);
    stream_set_timeout(s, FLUSH_TIMEOUT_MS);
    if (attr_expect_protocol(s, ATTR_PROTO_FLUSH, err) < 0)
        goto proto_error;
    attr_list_add_str(list, ATTR_NAME_REQUEST, request);
    if (name)
        attr_list_add_str(list, name, value);
    if (attr_write(s, list) < 0) {
        strbuf_setf(err, "write error: %s", strerror(errno));
        goto proto_error;
    }
    if (attr_read(s, &flush_reply_limits, list, err) < 0
        || attr_scan(list, specs, 2, err) < 0)
        goto proto_error;
    if (status != FLUSH_STAT_OK)
        strbuf_setf(reason, "%s", text ? text : "request failed");
    goto done;
proto_error:
    status = FLUSH_STAT_FAIL;
    strbuf_setf(reason, "flush service %s: %s", path, strbuf_str(err));
done:
    if (s)
        (void) stream_close(s);
    attr_list_free(list);
    strbuf_free(err);
    mem_free(path);
    return (int) status;
}

/* flush_send_all: ask for every deferred message now */
int     flush_send_all(strbuf *reason)
{
    return flush_request(FLUSH_REQ_SEND_ALL, NULL, NULL, reason);
}

/* flush_send_site: ask for the deferred mail of one site now */
int     flush_send_site(const char *site, strbuf *reason)
{
    return flush_request(FLUSH_REQ_SEND_SITE, ATTR_NAME_SITE, site, reason);
}

/* flush_send_file: ask for one deferred message now */
int     flush_send_file(const char *queue_id, strbuf *reason)
{
    return flush_request(FLUSH_REQ_SEND_FILE, ATTR_NAME_QUEUE_ID, queue_id, reason);
}
