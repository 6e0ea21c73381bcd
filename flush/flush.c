/*
 * flush: the service behind postqueue -f/-s/-i, sendmail -q/-qR,
 * "postern flush" and smtpd's ETRN.
 *
 * A mail_server in SINGLE mode (master.cf: "flush unix n - n 1000? 0
 * flush", a public socket: unprivileged users reach it through the
 * postdrop group). It runs as mail_owner. Requests (flush_client.h):
 *   send_all         ask qmgr to retry every deferred message now and to
 *                    forget which destinations it thinks are dead: the
 *                    trigger bytes "FIA" to public/qmgr.
 *   send_site SITE   SITE must match fast_flush_domains (else
 *                    FLUSH_STAT_DENY). Every message in deferred/ with a
 *                    pending recipient whose domain is SITE (the part
 *                    after the last '@', compared without regard to
 *                    case) gets its modification time, which is qmgr's
 *                    next retry time, set to one second ago; then "FD"
 *                    asks qmgr to scan deferred/ for due files. Mail for
 *                    subdomains of SITE is not included.
 *   send_file ID     the same for one message in deferred/. A message in
 *                    incoming/ or active/ is already being handled
 *                    (FLUSH_STAT_OK); one in hold/ or nowhere is
 *                    FLUSH_STAT_BAD with a reason.
 * Messages held, in incoming/ or active/ are never touched. Nothing is
 * moved: qmgr does that, so a file that vanishes under us (qmgr took it,
 * postsuper deleted it) is simply skipped.
 *
 * fast_flush_domains entries: a name matches that domain; ".name"
 * matches its subdomains; a type:table entry is looked up with the site
 * and then each parent domain with a leading dot (".example.com"), any
 * value meaning "eligible". A table that fails makes the request
 * FLUSH_STAT_FAIL (try again), never a denial.
 *
 * SECURITY: requests come from any local user (postqueue) or, through
 *   smtpd, from SMTP clients: the site is checked for syntax (letters,
 *   digits, '-', '.', '_', at most FLUSH_SITE_MAX bytes, or an address
 *   literal in brackets) and the queue ID with mail_queue_id_ok before
 *   either is used. The only effect of a request is earlier delivery.
 *   Queue files are opened O_NOFOLLOW|O_NONBLOCK, parsed strictly with
 *   the content skipped.
 * LIMITS: requests of FLUSH_REQ_ATTRS attributes, FLUSH_REQ_VALUE_MAX
 *   bytes per value; client reads FLUSH_READ_TIMEOUT ms; records
 *   FLUSH_RECORD_MAX bytes; directory depth MAIL_QUEUE_HASH_MAX.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "attr_names.h"
#include "dict.h"
#include "flush_client.h"
#include "mail_queue.h"
#include "mail_server.h"
#include "maps.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "qfile.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"
#include "trigger.h"

#define FLUSH_REQ_ATTRS     4
#define FLUSH_REQ_VALUE_MAX 1024
#define FLUSH_READ_TIMEOUT  10000       /* ms */
#define FLUSH_RECORD_MAX    (1024 * 1024)

/* fast_flush_domains, split once at start-up (configuration). */
static char **flush_names;              /* "name" or ".name", lower case */
static size_t flush_nnames;
static maps *flush_maps;                /* the type:table entries, or NULL */

/* flush_site_ok: syntax of a site name; 1 or 0 */
static int flush_site_ok(const char *site)
{
    size_t  len = strlen(site);
    const char *p;

    if (len == 0 || len > FLUSH_SITE_MAX)
        return 0;
    if (site[0] == '[')
        return site[len - 1] == ']' && strspn(site + 1, "0123456789abcdefABCDEF.:") == len - 2
            && len > 2;
    for (p = site; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
            return 0;
    return site[0] != '.';
}

/* flush_eligible: is site in fast_flush_domains? 1, 0, or -1 (retry) */
static int flush_eligible(const char *site, strbuf *why)
{
    strbuf *value;
    const char *p;
    size_t  i, slen = strlen(site), nlen;
    int     rc;

    for (i = 0; i < flush_nnames; i++) {
        const char *n = flush_names[i];

        nlen = strlen(n);
        if (n[0] == '.') {
            if (slen > nlen && str_casecmp(site + slen - nlen, n) == 0)
                return 1;
        } else if (str_casecmp(site, n) == 0) {
            return 1;
        }
    }
    if (flush_maps == NULL)
        return 0;
    value = strbuf_new(64);
    rc = maps_find(flush_maps, site, value);
    for (p = strchr(site, '.'); rc == DICT_NOTFOUND && p != NULL; p = strchr(p + 1, '.'))
        rc = maps_find(flush_maps, p, value);
    strbuf_free(value);
    if (rc == DICT_RETRY) {
        strbuf_setf(why, "%s lookup failed: %s", PARAM_FAST_FLUSH_DOMAINS,
                    maps_error(flush_maps));
        return -1;
    }
    return rc == DICT_FOUND;
}

/* flush_make_due: set a deferred file's retry time to one second ago;
 * 1 done, 0 the file is gone */
static int flush_make_due(const char *path)
{
    struct timeval tv[2];

    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 1;
    tv[0].tv_usec = 0;
    tv[1] = tv[0];
    if (utimes(path, tv) < 0) {
        if (errno != ENOENT)
            msg_warn("set the retry time of %s: %m", path);
        return 0;
    }
    return 1;
}

/* flush_has_site: does the queue file at path have a pending recipient
 * in site? 1 yes, 0 no (or unreadable, or gone) */
static int flush_has_site(const char *path, const char *site)
{
    qfile_reader *rd;
    qfile_envelope *env;
    strbuf *err;
    const char *dom;
    struct stat sb;
    size_t  i;
    int     fd, found = 0;

    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
        return 0;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        (void) close(fd);
        return 0;
    }
    err = strbuf_new(64);
    rd = qfile_reader_fd(fd, FLUSH_RECORD_MAX);
    if ((env = qfile_read_envelope(rd, QFILE_ENV_SKIP_CONTENT, err)) != NULL) {
        for (i = 0; i < env->nrcpts && !found; i++) {
            if (env->rcpts[i].done)
                continue;
            dom = strrchr(env->rcpts[i].address, '@');
            if (dom && str_casecmp(dom + 1, site) == 0)
                found = 1;
        }
        qfile_envelope_free(env);
    } else if (access(path, F_OK) == 0) {
        msg_warn("%s: %s", path, strbuf_str(err));
    }
    qfile_reader_free(rd);
    strbuf_free(err);
    (void) close(fd);
    return found;
}

/* flush_scan: make the deferred files for site due; returns how many */
static long flush_scan(const char *dir, const char *site, int depth)
{
    char  **names;
    size_t  count, i;
    long    done = 0;
    char   *sub;

    if ((names = mail_queue_scan(dir, depth, &count)) == NULL) {
        if (errno != ENOENT)
            msg_warn("open directory %s: %m", dir);
        return 0;
    }
    for (i = 0; i < count; i++) {
        sub = str_concat(dir, "/", names[i], (char *) NULL);
        if (!mail_queue_id_ok(names[i]))
            done += flush_scan(sub, site, depth + 1);
        else if (flush_has_site(sub, site))
            done += flush_make_due(sub);
        mem_free(sub);
    }
    names = mail_queue_scan_free(names, count);
    return done;
}

/* flush_poke_qmgr: send trigger bytes to qmgr; 0 or -1 with why */
static int flush_poke_qmgr(const char *bytes, strbuf *why)
{
    if (trigger_send(TRIGGER_QMGR_PATH, bytes, strlen(bytes), TRIGGER_TIMEOUT_MS) < 0) {
        strbuf_setf(why, "cannot reach the queue manager: %s", strerror(errno));
        msg_warn("%s", strbuf_str(why));
        return -1;
    }
    return 0;
}

/* flush_send_site_req: the send_site request; a FLUSH_STAT_* value */
static int flush_send_site_req(const char *site, strbuf *why)
{
    static const char qmgr_bytes[] = {TRIGGER_FLUSH, TRIGGER_DEFERRED, 0};
    char   *dir;
    long    count;
    int     rc;

    if (!flush_site_ok(site)) {
        strbuf_setf(why, "bad site name");
        return FLUSH_STAT_BAD;
    }
    if ((rc = flush_eligible(site, why)) < 0)
        return FLUSH_STAT_FAIL;
    if (rc == 0) {
        msg_info("flush request for %s refused: not in %s", site,
                 PARAM_FAST_FLUSH_DOMAINS);
        strbuf_setf(why, "%s: site is not eligible for flushing (%s)", site,
                    PARAM_FAST_FLUSH_DOMAINS);
        return FLUSH_STAT_DENY;
    }
    dir = str_concat(param_str(PARAM_QUEUE_DIRECTORY), "/", MASTER_DIR_DEFERRED,
                     (char *) NULL);
    count = flush_scan(dir, site, 0);
    mem_free(dir);
    msg_info("flush %s: %ld deferred message%s made due", site, count,
             count == 1 ? "" : "s");
    if (count > 0 && flush_poke_qmgr(qmgr_bytes, why) < 0)
        return FLUSH_STAT_FAIL;
    return FLUSH_STAT_OK;
}

/* flush_send_file_req: the send_file request; a FLUSH_STAT_* value */
static int flush_send_file_req(const char *id, strbuf *why)
{
    static const char qmgr_bytes[] = {TRIGGER_FLUSH, TRIGGER_DEFERRED, 0};
    static const char *const busy[] = {MASTER_DIR_INCOMING, MASTER_DIR_ACTIVE};
    strbuf *path = strbuf_new(128);
    size_t  i;
    int     rc = FLUSH_STAT_BAD;

    if (!mail_queue_id_ok(id)) {
        strbuf_setf(why, "bad queue ID");
        goto done;
    }
    (void) mail_queue_path(MASTER_DIR_DEFERRED, id, path);
    if (flush_make_due(strbuf_str(path))) {
        msg_info("%s: flush requested", id);
        rc = flush_poke_qmgr(qmgr_bytes, why) < 0 ? FLUSH_STAT_FAIL : FLUSH_STAT_OK;
        goto done;
    }
    for (i = 0; i < sizeof(busy) / sizeof(busy[0]); i++) {
        (void) mail_queue_path(busy[i], id, path);
        if (access(strbuf_str(path), F_OK) == 0) {
            rc = FLUSH_STAT_OK;         /* already being delivered */
            goto done;
        }
    }
    (void) mail_queue_path(MASTER_DIR_HOLD, id, path);
    if (access(strbuf_str(path), F_OK) == 0)
        strbuf_setf(why, "%s: message is on hold", id);
    else
        strbuf_setf(why, "%s: no such message in the deferred queue", id);
done:
    strbuf_free(path);
    return rc;
}

/* flush_reply: send status and reason */
static void flush_reply(stream *client, int status, const char *reason)
{
    attr_list *list = attr_list_new();

    attr_list_add_long(list, ATTR_NAME_STATUS, status);
    if (status != FLUSH_STAT_OK && reason && *reason)
        attr_list_add_str(list, ATTR_NAME_REASON, reason);
    (void) attr_write(client, list);
    attr_list_free(list);
}

/* flush_service: serve one client request */
static void flush_service(mail_server *srv, stream *client)
{
    static const attr_limits limits = {FLUSH_REQ_ATTRS, FLUSH_REQ_VALUE_MAX,
        4 * FLUSH_REQ_VALUE_MAX};
    static const char all_bytes[] = {TRIGGER_FLUSH, TRIGGER_INCOMING, TRIGGER_ALL, 0};
    attr_list *req = attr_list_new();
    strbuf *why = strbuf_new(64);
    const char *request = NULL, *site = NULL, *id = NULL;
    attr_spec specs[] = {
        ATTR_SPEC_STR(ATTR_NAME_REQUEST, 1, &request),
        ATTR_SPEC_STR(ATTR_NAME_SITE, 0, &site),
        ATTR_SPEC_STR(ATTR_NAME_QUEUE_ID, 0, &id),
    };
    int     status;

    (void) srv;
    stream_set_timeout(client, FLUSH_READ_TIMEOUT);
    if (attr_send_protocol(client, ATTR_PROTO_FLUSH) < 0)
        goto done;
    if (attr_read(client, &limits, req, why) < 0
        || attr_scan(req, specs, 3, why) < 0) {
        msg_warn("bad flush request: %s", strbuf_str(why));
        flush_reply(client, FLUSH_STAT_BAD, "bad request");
        goto done;
    }
    if (strcmp(request, FLUSH_REQ_SEND_ALL) == 0 && site == NULL && id == NULL) {
        status = flush_poke_qmgr(all_bytes, why) < 0 ? FLUSH_STAT_FAIL : FLUSH_STAT_OK;
    } else if (strcmp(request, FLUSH_REQ_SEND_SITE) == 0 && site && id == NULL) {
        status = flush_send_site_req(site, why);
    } else if (strcmp(request, FLUSH_REQ_SEND_FILE) == 0 && id && site == NULL) {
        status = flush_send_file_req(id, why);
    } else {
        msg_warn("bad flush request \"%s\"", request);
        strbuf_setf(why, "bad request");
        status = FLUSH_STAT_BAD;
    }
    flush_reply(client, status, strbuf_str(why));
done:
    attr_list_free(req);
    strbuf_free(why);
}

/* flush_pre_init: split fast_flush_domains into names and tables */
static void flush_pre_init(mail_server *srv)
{
    const char *const *items;
    strbuf *tables = strbuf_new(64);
    size_t  count, i;

    (void) srv;
    items = param_list(PARAM_FAST_FLUSH_DOMAINS, &count);
    for (i = 0; items != NULL && i < count; i++) {
        if (strchr(items[i], ':') != NULL && items[i][0] != '[') {
            (void) strbuf_printf(tables, "%s%s", tables->len ? ", " : "", items[i]);
        } else {
            flush_names = mem_realloc(flush_names, (flush_nnames + 1) * sizeof(*flush_names));
            flush_names[flush_nnames] = mem_strdup(items[i]);
            str_lower(flush_names[flush_nnames]);
            flush_nnames++;
        }
    }
    if (tables->len)
        flush_maps = maps_open(PARAM_FAST_FLUSH_DOMAINS, strbuf_str(tables), DICT_F_FOLD);
    strbuf_free(tables);
}

/* main: hand the service to the skeleton */
int     main(int argc, char **argv)
{
    mail_server_desc desc;

    memset(&desc, 0, sizeof(desc));
    desc.name = "flush";
    desc.mode = MAIL_SERVER_SINGLE;
    desc.pre_init = flush_pre_init;
    desc.conn = flush_service;
    mail_server_main(argc, argv, &desc);
}
