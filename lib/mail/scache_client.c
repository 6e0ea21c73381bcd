/*
 * scache_client: save and find cached connections through scache(8).
 *
 * Public functions (contracts in scache_client.h):
 *   scache_save(dest_label, endp_label, endp_prop, fd, ttl_sec, err):
 *     0 or -1 (err says why). The caller keeps fd.
 *   scache_find_dest(dest_label, endp_label, endp_prop): a descriptor the
 *     caller owns, or -1.
 *   scache_find_endp(endp_label, endp_prop): the same, by endpoint.
 *   scache_save_sock(sock, ...), scache_find_sock(sock, request, label,
 *     endp_label, endp_prop, err): the conversations over a connected
 *     socket (request is SCACHE_REQ_FIND_DEST or SCACHE_REQ_FIND_ENDP);
 *     the caller closes sock.
 *
 * SECURITY: the service runs as mail_owner like its clients; its replies
 * are still decoded strictly (scache_proto), a reply that claims success
 * without a descriptor, or carries one with a failure, is a protocol
 * error, and a descriptor from the service is checked to be a socket
 * before it is handed to the caller (anything else is closed).
 * LIMITS: labels up to SCACHE_LABEL_MAX bytes, endp_prop up to
 * SCACHE_PROP_MAX, ttl up to SCACHE_TTL_MAX seconds;
 * SCACHE_CLIENT_TIMEOUT_MS per wait.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attr.h"
#include "attr_names.h"
#include "mem.h"
#include "scache_client.h"
#include "scache_proto.h"
#include "strbuf.h"
#include "trigger.h"

/* scache_label_ok: a label or property text the protocol can carry. */
static int scache_label_ok(const char *text, size_t max, int may_be_empty)
{
    size_t  len;

    if (text == NULL)
        return may_be_empty;
    len = strlen(text);
    return len <= max && (len > 0 || may_be_empty);
}

/* scache_connect: connect to the service; -1 with err when absent. */
static int scache_connect(strbuf *err)
{
    int     sock = trigger_connect(SCACHE_SERVICE_PATH, SCACHE_CLIENT_TIMEOUT_MS);

    if (sock < 0)
        strbuf_setf(err, "connection cache unavailable: connect to %s: %s",
                    SCACHE_SERVICE_PATH, strerror(errno));
    return sock;
}

/* scache_greeting: read and check the protocol message. */
static int scache_greeting(scache_proto *p, attr_list *list, strbuf *err)
{
    const char *proto = NULL;
    const attr_spec specs[] = {
        ATTR_SPEC_STR(ATTR_NAME_PROTOCOL, 1, &proto),
    };

    if (scache_proto_read(p, list, SCACHE_CLIENT_TIMEOUT_MS, err) < 0
        || attr_scan(list, specs, 1, err) < 0)
        return -1;
    if (strcmp(proto, ATTR_PROTO_SCACHE) != 0)
        return strbuf_setf(err, "connection cache speaks \"%.64s\", not %s",
                           proto, ATTR_PROTO_SCACHE);
    return 0;
}

/* scache_is_socket: whether fd is a socket. */
static int scache_is_socket(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* scache_save_sock: the save conversation over a connected socket. */
int     scache_save_sock(int sock, const char *dest_label,
                         const char *endp_label, const char *endp_prop,
                         int fd, int ttl_sec, strbuf *err)
{
    scache_proto *p;
    attr_list *list;
    const char *reason = "";
    long    status = -1;
    int     ret = -1;

    if (fd < 0 || !scache_label_ok(dest_label, SCACHE_LABEL_MAX, 1)
        || !scache_label_ok(endp_label, SCACHE_LABEL_MAX, 0)
        || !scache_label_ok(endp_prop, SCACHE_PROP_MAX, 1))
        return strbuf_setf(err, "connection cache: bad save arguments");
    if (ttl_sec < 0)
        ttl_sec = 0;
    if (ttl_sec > SCACHE_TTL_MAX)
        ttl_sec = SCACHE_TTL_MAX;
    p = scache_proto_new(sock);
    list = attr_list_new();
    if (scache_greeting(p, list, err) < 0)
        goto out;
    attr_list_reset(list);
    attr_list_add_str(list, ATTR_NAME_REQUEST, SCACHE_REQ_SAVE);
    attr_list_add_str(list, ATTR_NAME_DEST_LABEL, dest_label ? dest_label : "");
    attr_list_add_str(list, ATTR_NAME_ENDP_LABEL, endp_label);
    attr_list_add_str(list, ATTR_NAME_ENDP_PROP, endp_prop ? endp_prop : "");
    attr_list_add_long(list, ATTR_NAME_TTL, ttl_sec);
    if (scache_proto_write(sock, list, fd, SCACHE_CLIENT_TIMEOUT_MS) < 0) {
        strbuf_setf(err, "connection cache: send save request: %s", strerror(errno));
        goto out;
    }
    if (scache_proto_read(p, list, SCACHE_CLIENT_TIMEOUT_MS, err) < 0)
        goto out;
    {
        const attr_spec specs[] = {
            ATTR_SPEC_LONG(ATTR_NAME_STATUS, 1, 0, 1, &status),
            ATTR_SPEC_STR(ATTR_NAME_REASON, 0, &reason),
        };

        if (attr_scan(list, specs, 2, err) < 0)
            goto out;
    }
    {
        int     stray = scache_proto_take_fd(p);

        if (stray >= 0) {
            (void) close(stray);
            strbuf_setf(err, "connection cache: unexpected descriptor in save reply");
            goto out;
        }
    }
    if (status != SCACHE_STAT_OK) {
        strbuf_setf(err, "connection cache refused: %.200s", reason);
        goto out;
    }
    ret = 0;
out:
    attr_list_free(list);
    scache_proto_free(p);
    return ret;
}

/* scache_find_sock: a find_dest or find_endp conversation. */
int     scache_find_sock(int sock, const char *request, const char *label,
                         strbuf *endp_label, strbuf *endp_prop, strbuf *err)
{
    scache_proto *p;
    attr_list *list;
    const char *got_endp = NULL, *got_prop = "", *reason = "";
    long    status = -1;
    int     by_dest, fd = -1;

    by_dest = strcmp(request, SCACHE_REQ_FIND_DEST) == 0;
    if ((!by_dest && strcmp(request, SCACHE_REQ_FIND_ENDP) != 0)
        || !scache_label_ok(label, SCACHE_LABEL_MAX, 0))
        return strbuf_setf(err, "connection cache: bad find arguments");
    p = scache_proto_new(sock);
    list = attr_list_new();
    if (scache_greeting(p, list, err) < 0)
        goto out;
    attr_list_reset(list);
    attr_list_add_str(list, ATTR_NAME_REQUEST, request);
    attr_list_add_str(list, by_dest ? ATTR_NAME_DEST_LABEL : ATTR_NAME_ENDP_LABEL,
                      label);
    if (scache_proto_write(sock, list, -1, SCACHE_CLIENT_TIMEOUT_MS) < 0) {
        strbuf_setf(err, "connection cache: send find request: %s", strerror(errno));
        goto out;
    }
    if (scache_proto_read(p, list, SCACHE_CLIENT_TIMEOUT_MS, err) < 0)
        goto out;
    {
        const attr_spec specs[] = {
            ATTR_SPEC_LONG(ATTR_NAME_STATUS, 1, 0, 1, &status),
            ATTR_SPEC_STR(ATTR_NAME_REASON, 0, &reason),
            ATTR_SPEC_STR(ATTR_NAME_ENDP_LABEL, 0, &got_endp),
            ATTR_SPEC_STR(ATTR_NAME_ENDP_PROP, 0, &got_prop),
        };

        if (attr_scan(list, specs, 4, err) < 0)
            goto out;
    }
    fd = scache_proto_take_fd(p);
    if (status != SCACHE_STAT_OK) {
        if (fd >= 0) {
            (void) close(fd);
            fd = -1;
            strbuf_setf(err, "connection cache: descriptor with a failure reply");
        } else {
            strbuf_setf(err, "connection cache: %.200s", *reason ? reason : "not found");
        }
        goto out;
    }
    if (fd < 0) {
        strbuf_setf(err, "connection cache: success reply without a descriptor");
        goto out;
    }
    if (!scache_is_socket(fd)) {
        (void) close(fd);
        fd = -1;
        strbuf_setf(err, "connection cache: passed descriptor is not a socket");
        goto out;
    }
    if (by_dest && (got_endp == NULL || *got_endp == 0)) {
        (void) close(fd);
        fd = -1;
        strbuf_setf(err, "connection cache: find_dest reply without endp_label");
        goto out;
    }
    if (endp_label != NULL)
        (void) strbuf_set(endp_label, by_dest ? got_endp : label,
                          strlen(by_dest ? got_endp : label));
    if (endp_prop != NULL)
        (void) strbuf_set(endp_prop, got_prop, strlen(got_prop));
out:
    attr_list_free(list);
    scache_proto_free(p);
    return fd;
}

/* scache_save: hand a duplicate of fd to the cache service. */
int     scache_save(const char *dest_label, const char *endp_label,
                    const char *endp_prop, int fd, int ttl_sec, strbuf *err)
{
    int     sock, ret;

    if ((sock = scache_connect(err)) < 0)
        return -1;
    ret = scache_save_sock(sock, dest_label, endp_label, endp_prop, fd,
                           ttl_sec, err);
    (void) close(sock);
    return ret;
}

/* scache_find: connect and run one find conversation. */
static int scache_find(const char *request, const char *label,
                       strbuf *endp_label, strbuf *endp_prop)
{
    int     sock, fd;

    if ((sock = scache_connect(NULL)) < 0)
        return -1;
    fd = scache_find_sock(sock, request, label, endp_label, endp_prop, NULL);
    (void) close(sock);
    return fd;
}

/* scache_find_dest: take a cached connection by destination. */
int     scache_find_dest(const char *dest_label, strbuf *endp_label,
                         strbuf *endp_prop)
{
    return scache_find(SCACHE_REQ_FIND_DEST, dest_label, endp_label, endp_prop);
}

/* scache_find_endp: take a cached connection by endpoint. */
int     scache_find_endp(const char *endp_label, strbuf *endp_prop)
{
    return scache_find(SCACHE_REQ_FIND_ENDP, endp_label, NULL, endp_prop);
}
