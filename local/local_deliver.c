/*
 * local_deliver: what local does for one recipient: aliases, .forward,
 * then the mailbox (or mailbox_command), with |command, /file and
 * :include: destinations found on the way.
 *
 *   local_deliver_rcpt(cfg, msg, rcpt, orig, res): deliver msg to rcpt (a
 *     local address: "user", "user+ext" or "user+ext@local.domain").
 *     Returns res->status: 0 when every destination the recipient expands
 *     to took the message, 4 when any deferred (the whole recipient is
 *     tried again later), else 5 when any bounced. res->reason and
 *     res->dsn describe the first failure, or the (first) delivery.
 *
 * Rules, in order, for each address the recipient expands to:
 *   - depth above LOCAL_DEPTH_MAX, or an address already on the current
 *     expansion path (other than an alias naming itself): bounce 5.4.6
 *     "mail forwarding loop"; a Delivered-To: header equal to the
 *     original recipient: bounce 5.4.6 too (loops through other hosts).
 *   - a domain that is not ours (not in mydestination, not "localhost"):
 *     forwarded through cleanup as a new message (sender kept, or
 *     owner-NAME when that alias exists).
 *   - alias_maps, key "user+ext" then "user" (lower case): the value is
 *     split (local_alias_split) and each item handled recursively with
 *     class "alias". An alias that lists itself means its mailbox. A
 *     table that cannot answer defers (4.3.0), never bounces.
 *   - the passwd entry of "user"; none: luser_relay (expanded) when set,
 *     else bounce 5.1.1 unknown user: "user".
 *   - forward_path: the first existing file is read as the user and its
 *     items handled with class "forward" ("\user" or "user" there means
 *     the user's own mailbox).
 *   - mailbox_command (as the user; root: default_privs), else
 *     home_mailbox (Maildir when it ends in '/'), else
 *     mail_spool_directory/user (mbox, mailbox_delivery_lock,
 *     mailbox_size_limit). Home mailboxes are written with the user's
 *     ids; the spool mailbox as root (users cannot create files or locks
 *     in a root:mail 2775 spool), on a file that must belong to the user
 *     (a new one is given to the user).
 *   Items: "|command" (allow_mail_to_commands), "/file" or "/dir/"
 *   (allow_mail_to_files), ":include:/path" (read with the ids of the
 *   branch; its items get the ids of the file's owner, default_privs
 *   when that is root, and class "include"), else an address.
 *
 * Privileges: in a privileged instance every file access and command
 * happens with the ids of the branch: the recipient's for his mailbox and
 * .forward, default_privs for alias destinations (commands and files are
 * never run or written as root: those become default_privs). An
 * unprivileged instance does everything as itself.
 *
 * SECURITY: addresses, extensions and Delivered-To values come from the
 * sender; .forward and :include: files from users. Those files must be
 * regular files owned by the user (or root); extension and local part
 * are filtered before they are put into a mailbox_command.
 * LIMITS: LOCAL_DEPTH_MAX nesting, LOCAL_EXPAND_MAX destinations per
 * recipient, LOCAL_FORWARD_MAX bytes per .forward/:include: file.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup_client.h"
#include "dict.h"
#include "local.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "recip_priv.h"
#include "strbuf.h"
#include "strutil.h"

/* The state of one recipient's delivery. */
struct local_state {
    const local_config *cfg;
    local_message *msg;
    const char *rcpt;                   /* as qmgr gave it */
    const char *orig;                   /* original recipient, or NULL */
    htable *path;                       /* expansion path, lower case */
    size_t  ndest;
    int     nsent;
    mailbox_result *res;                /* aggregate */
    int     have_failure;
    mailbox_result one;                 /* one destination */
};

/* One branch of the expansion. */
struct local_branch {
    const char *sender;                 /* envelope sender of copies */
    int     class;                      /* LOCAL_CLASS_ALIAS/... or 0 */
    recip_priv_id priv;                 /* ids for files and commands */
    const char *user;                   /* whose branch, for commands */
    const char *home;                   /* cwd of commands */
    const char *self;                   /* the key that led here */
    int     depth;
};

/* local_record: fold one destination's outcome into the aggregate. */
static void local_record(struct local_state *st, const mailbox_result *one)
{
    mailbox_result *res = st->res;

    if (one->status == 0) {
        if (st->nsent++ == 0 && !st->have_failure)
            mailbox_result_set(res, 0, one->dsn, "%s", strbuf_str(one->reason));
        return;
    }
    if (!st->have_failure || (one->status == 4 && res->status != 4)) {
        mailbox_result_set(res, one->status, one->dsn, "%s", strbuf_str(one->reason));
        st->have_failure = 1;
    }
}

/* local_fail: record a failure. */
#define local_fail(st, status, dsn, ...) do { \
        mailbox_result_set(&(st)->one, (status), (dsn), __VA_ARGS__); \
        local_record((st), &(st)->one); \
    } while (0)

/* local_domain_is_local: recipient domain served here? */
static int local_domain_is_local(const local_config *cfg, const char *domain)
{
    size_t  i;

    if (domain == NULL || *domain == 0 || strcasecmp(domain, "localhost") == 0)
        return 1;
    if (cfg->myhostname && strcasecmp(domain, cfg->myhostname) == 0)
        return 1;
    for (i = 0; i < cfg->nmydestination; i++) {
        if (strcasecmp(domain, cfg->mydestination[i]) == 0)
            return 1;
    }
    return 0;
}

/* local_safe_ids: ids for a file or command: never root. */
static recip_priv_id local_safe_ids(const local_config *cfg, const recip_priv_id *id)
{
    if (id->uid == 0)
        return cfg->default_privs;
    return *id;
}

/* local_copy_args_for: what to write around a copy for one class. */
static void local_copy_args_for(struct local_state *st, const struct local_branch *br,
                                int what, mailbox_copy_args *a)
{
    memset(a, 0, sizeof(*a));
    a->sender = br->sender;
    a->arrival_time = st->msg->arrival_time;
    a->return_path = 1;
    if (what == 0 || (st->cfg->delivered_classes & what))
        a->delivered_to = st->rcpt;
}

/* local_filter: keep a value safe inside a shell command. */
static char *local_filter(const char *value)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        "0123456789!%+,-./:=@_^~";
    char   *copy = mem_strdup(value ? value : "");
    char   *p;

    for (p = copy; *p; p++) {
        if (strchr(ok, *p) == NULL)
            *p = '_';
    }
    return copy;
}

static void local_addr(struct local_state *st, const struct local_branch *br,
                       const char *addr);

/* local_to_command: deliver to a |command item. */
static void local_to_command(struct local_state *st, const struct local_branch *br,
                             const char *command)
{
    mailbox_copy_args a;
    local_cmd_vars v;
    recip_priv_id id = local_safe_ids(st->cfg, &br->priv);

    if ((st->cfg->command_classes & br->class) == 0) {
        local_fail(st, 5, "5.7.1", "mail to command is restricted: \"|%s\"", command);
        return;
    }
    local_copy_args_for(st, br, LOCAL_CLASS_COMMAND, &a);
    memset(&v, 0, sizeof(v));
    v.user = br->user;
    v.home = br->home;
    v.shell = st->cfg->shell;
    v.recipient = st->rcpt;
    v.sender = br->sender;
    v.orig_recipient = st->orig;
    (void) local_command_run(st->cfg->shell, command, &v, &id,
                             br->home, st->msg->content, &a,
                             st->cfg->command_time_limit, &st->one);
    local_record(st, &st->one);
}

/* local_to_file: deliver to a /file or /dir/ item. */
static void local_to_file(struct local_state *st, const struct local_branch *br,
                          const char *path)
{
    mailbox_copy_args a;
    recip_priv_id id = local_safe_ids(st->cfg, &br->priv);
    strbuf *err = strbuf_new(64);
    size_t  n = strlen(path);

    if ((st->cfg->file_classes & br->class) == 0) {
        local_fail(st, 5, "5.7.1", "mail to file is restricted: \"%s\"", path);
        strbuf_free(err);
        return;
    }
    local_copy_args_for(st, br, LOCAL_CLASS_FILE, &a);
    if (recip_priv_enter(&id, err) < 0) {
        local_fail(st, 4, "4.3.0", "cannot switch to uid %ld: %s", (long) id.uid, strbuf_str(err));
        strbuf_free(err);
        return;
    }
    if (n > 1 && path[n - 1] == '/') {
        char   *dir = mem_strndup(path, n - 1);

        (void) mailbox_maildir_deliver(AT_FDCWD, dir, st->msg->content, &a, 0, &st->one);
        mem_free(dir);
    } else {
        a.mbox = 1;
        (void) mailbox_mbox_deliver(AT_FDCWD, path, st->msg->content, &a,
                                    st->cfg->lock_flags, NULL, &st->one);
    }
    recip_priv_leave();
    if (st->one.status == 0)
        mailbox_result_set(&st->one, 0, "2.0.0", "delivered to file: %s", path);
    local_record(st, &st->one);
    strbuf_free(err);
}

/* local_read_file: read a .forward or :include: file as id. 0, 1 missing,
 * -1 with err (temporary), -2 with err (refused). */
static int local_read_file(const char *path, const recip_priv_id *id, uid_t want_owner,
                           strbuf *text, struct stat *st, strbuf *err)
{
    int     fd;
    ssize_t n;
    int     rc = 0;
    char    buf[8192];

    if (recip_priv_enter(id, err) < 0)
        return -1;
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        rc = (errno == ENOENT || errno == ENOTDIR) ? 1 : -1;
        if (rc < 0)
            strbuf_printf(err, "open %s: %s", path, strerror(errno));
        recip_priv_leave();
        return rc;
    }
    recip_priv_leave();
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        strbuf_printf(err, "%s is not a regular file", path);
        (void) close(fd);
        return -2;
    }
    if (want_owner != (uid_t) -1 && st->st_uid != want_owner && st->st_uid != 0) {
        strbuf_printf(err, "%s is owned by uid %ld, not by the user or root",
                      path, (long) st->st_uid);
        (void) close(fd);
        return -2;
    }
    if ((st->st_mode & 002) != 0) {
        strbuf_printf(err, "%s is world-writable", path);
        (void) close(fd);
        return -2;
    }
    strbuf_reset(text);
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        if (text->len + (size_t) n > LOCAL_FORWARD_MAX) {
            strbuf_printf(err, "%s is larger than %d bytes", path, LOCAL_FORWARD_MAX);
            (void) close(fd);
            return -2;
        }
        (void) strbuf_append(text, buf, (size_t) n);
    }
    if (n < 0) {
        strbuf_printf(err, "read %s: %s", path, strerror(errno));
        rc = -1;
    }
    (void) close(fd);
    return rc;
}

/* local_items: handle every item of an expansion. */
static void local_items(struct local_state *st, const struct local_branch *br,
                        const char *value)
{
    char  **items;
    size_t  n = local_alias_split(value, &items);
    size_t  i;

    for (i = 0; i < n; i++) {
        const char *it = items[i];

        if (++st->ndest > LOCAL_EXPAND_MAX) {
            local_fail(st, 5, "5.3.0", "too many destinations for %s", st->rcpt);
            break;
        }
        if (it[0] == '|') {
            local_to_command(st, br, it + 1);
        } else if (it[0] == '/') {
            local_to_file(st, br, it);
        } else if (strncasecmp(it, ":include:", 9) == 0) {
            strbuf *text = strbuf_new(256);
            strbuf *err = strbuf_new(64);
            struct stat sb;
            struct local_branch sub = *br;
            const char *path = str_trim(items[i] + 9);
            int     rc;

            if (path[0] != '/') {
                local_fail(st, 5, "5.3.5", "include file must be an absolute path: %s", path);
            } else if (htable_has(st->path, it)) {
                local_fail(st, 5, "5.4.6", "mail forwarding loop through %s", path);
            } else if ((rc = local_read_file(path, &br->priv, (uid_t) -1, text, &sb, err)) != 0) {
                local_fail(st, rc == -2 ? 5 : 4, rc == -2 ? "5.3.5" : "4.3.0",
                           "cannot read include file %s: %s", path,
                           rc == 1 ? "no such file" : strbuf_str(err));
            } else {
                sub.class = LOCAL_CLASS_INCLUDE;
                sub.depth = br->depth + 1;
                if (sb.st_uid == 0 || !recip_priv_privileged()) {
                    sub.priv = st->cfg->default_privs;
                } else {
                    struct passwd *pw = getpwuid(sb.st_uid);

                    sub.priv.uid = sb.st_uid;
                    sub.priv.gid = sb.st_gid;
                    sub.priv.user[0] = 0;
                    if (pw && str_copy(sub.priv.user, sizeof(sub.priv.user), pw->pw_name) < 0)
                        sub.priv.user[0] = 0;
                }
                (void) htable_put(st->path, it, NULL);
                local_items(st, &sub, text->data);
                (void) htable_remove(st->path, it, NULL);
            }
            strbuf_free(text);
            strbuf_free(err);
        } else {
            local_addr(st, br, it);
        }
    }
    local_alias_free(items, n);
}

/* local_forward_remote: hand a copy for a remote address to cleanup. */
static void local_forward_remote(struct local_state *st, const struct local_branch *br,
                                 const char *addr)
{
    struct cleanup_envelope env;
    cleanup_client *cl;
    strbuf *err = strbuf_new(64);
    strbuf *id = strbuf_new(32);
    strbuf *piece = strbuf_new(1024);
    mailbox_content *c = st->msg->content;
    int     rc;
    int     crc;

    if ((cl = cleanup_open(err)) == NULL) {
        local_fail(st, 4, "4.3.0", "cannot forward to %s: %s", addr, strbuf_str(err));
        goto out;
    }
    memset(&env, 0, sizeof(env));
    env.sender = br->sender;
    env.log_ident = st->msg->queue_id;
    env.submit_uid = -1;
    env.arrival_time = st->msg->arrival_time;
    rc = cleanup_envelope(cl, &env);
    if (rc == 0)
        rc = cleanup_recipient(cl, addr, NULL, NULL, 0);
    if (rc == 0 && (st->cfg->delivered_classes & LOCAL_CLASS_FORWARD)) {
        strbuf_reset(piece);
        (void) strbuf_printf(piece, "Delivered-To: %s\n", st->rcpt);
        rc = cleanup_content(cl, piece->data, piece->len);
    }
    if (rc == 0 && c->start(c->ctx, err) < 0)
        rc = -1;
    while (rc == 0 && (crc = c->next(c->ctx, piece, err)) > 0) {
        if (crc == 1)
            (void) strbuf_putc(piece, '\n');
        rc = cleanup_content(cl, piece->data, piece->len);
    }
    if (rc == 0 && crc < 0)
        rc = -1;
    rc = rc == 0 ? cleanup_finish(cl, id, err) : -1;
    cl = cleanup_close(cl);
    if (rc == 0)
        mailbox_result_set(&st->one, 0, "2.0.0", "forwarded as %s", strbuf_str(id));
    else if (rc == 5)
        mailbox_result_set(&st->one, 5, "5.3.0", "forward to %s refused: %s", addr,
                           strbuf_str(err));
    else
        mailbox_result_set(&st->one, 4, "4.3.0", "cannot forward to %s: %s", addr,
                         err->len ? strbuf_str(err) : "cleanup failed");
    local_record(st, &st->one);
out:
    strbuf_free(err);
    strbuf_free(id);
    strbuf_free(piece);
}

/* local_mailbox: final delivery for a user. */
static void local_mailbox(struct local_state *st, const struct local_branch *br,
                          const recip_priv_id *uid, const struct passwd *pw,
                          const char *ext, const char *domain)
{
    const local_config *cfg = st->cfg;
    mailbox_copy_args a;
    strbuf *path = strbuf_new(256);
    strbuf *err = strbuf_new(64);

    local_copy_args_for(st, br, 0, &a);
    if (cfg->mailbox_command && *cfg->mailbox_command) {
        local_cmd_vars v;
        recip_priv_id id = local_safe_ids(cfg, uid);
        char   *fext = local_filter(ext);
        char   *flocal = local_filter(st->rcpt);

        memset(&v, 0, sizeof(v));
        v.user = pw->pw_name;
        v.home = pw->pw_dir;
        v.shell = pw->pw_shell;
        v.extension = fext;
        v.local = flocal;
        v.domain = domain;
        v.recipient = st->rcpt;
        v.sender = br->sender;
        v.orig_recipient = st->orig;
        if (local_expand(cfg->mailbox_command, &v, cfg->delimiters, path, err) < 0) {
            local_fail(st, 4, "4.3.5", "bad mailbox_command: %s", strbuf_str(err));
        } else {
            v.extension = ext;
            (void) local_command_run(cfg->shell, path->data, &v, &id, pw->pw_dir,
                                     st->msg->content, &a, cfg->command_time_limit, &st->one);
            local_record(st, &st->one);
        }
        mem_free(fext);
        mem_free(flocal);
        goto out;
    }
    if (cfg->home_mailbox && *cfg->home_mailbox) {
        (void) strbuf_printf(path, "%s/%s", pw->pw_dir, cfg->home_mailbox);
    } else {
        /* The spool directory is not writable by users (root:mail 2775
         * on most systems): file and lock are handled as root, and the
         * mailbox belongs to the user (mailbox_mbox_deliver checks). */
        (void) strbuf_printf(path, "%s/%s", cfg->spool_dir, pw->pw_name);
        a.mbox = 1;
        a.limit = cfg->mailbox_size_limit;
        (void) mailbox_mbox_deliver(AT_FDCWD, path->data, st->msg->content, &a,
                                    cfg->lock_flags, recip_priv_privileged() ? uid : NULL,
                                    &st->one);
        local_record(st, &st->one);
        goto out;
    }
    if (recip_priv_enter(uid, err) < 0) {
        local_fail(st, 4, "4.3.0", "cannot switch to uid %ld: %s", (long) uid->uid, strbuf_str(err));
        goto out;
    }
    if (path->len > 1 && path->data[path->len - 1] == '/') {
        strbuf_truncate(path, path->len - 1);
        (void) mailbox_maildir_deliver(AT_FDCWD, path->data, st->msg->content, &a, 0, &st->one);
    } else {
        a.mbox = 1;
        a.limit = cfg->mailbox_size_limit;
        (void) mailbox_mbox_deliver(AT_FDCWD, path->data, st->msg->content, &a,
                                    cfg->lock_flags, NULL, &st->one);
    }
    recip_priv_leave();
    local_record(st, &st->one);
out:
    strbuf_free(path);
    strbuf_free(err);
}

/* local_dot_forward: try the user's .forward files; 1 when one was used. */
static int local_dot_forward(struct local_state *st, const struct local_branch *br,
                             const recip_priv_id *uid, const struct passwd *pw,
                             const char *key, const char *ext, const char *domain)
{
    const local_config *cfg = st->cfg;
    local_cmd_vars v;
    strbuf *list = strbuf_new(256);
    strbuf *text = strbuf_new(256);
    strbuf *err = strbuf_new(64);
    char  **paths;
    size_t  n;
    size_t  i;
    int     used = 0;

    if (cfg->forward_path == NULL || *cfg->forward_path == 0)
        goto out;
    memset(&v, 0, sizeof(v));
    v.user = pw->pw_name;
    v.home = pw->pw_dir;
    v.shell = pw->pw_shell;
    v.extension = ext;
    v.local = key;
    v.domain = domain;
    v.recipient = st->rcpt;
    if (local_expand(cfg->forward_path, &v, cfg->delimiters, list, err) < 0) {
        local_fail(st, 4, "4.3.5", "bad forward_path: %s", strbuf_str(err));
        used = 1;
        goto out;
    }
    n = local_alias_split(list->data, &paths);
    for (i = 0; i < n && !used; i++) {
        struct stat sb;
        int     rc;

        if (paths[i][0] != '/')
            continue;
        rc = local_read_file(paths[i], uid, recip_priv_privileged() ? uid->uid : (uid_t) -1,
                             text, &sb, err);
        if (rc == 1)
            continue;
        used = 1;
        if (rc < 0 && rc != -2) {
            local_fail(st, 4, "4.3.0", "cannot read %s: %s", paths[i], strbuf_str(err));
        } else if (rc == -2) {
            msg_warn("%s: ignoring forward file: %s", st->msg->queue_id, strbuf_str(err));
            used = 0;
        } else {
            struct local_branch sub = *br;

            sub.class = LOCAL_CLASS_FORWARD;
            sub.priv = *uid;
            sub.user = pw->pw_name;
            sub.home = pw->pw_dir;
            sub.self = key;
            sub.depth = br->depth + 1;
            (void) htable_put(st->path, key, NULL);
            local_items(st, &sub, text->data);
            (void) htable_remove(st->path, key, NULL);
        }
    }
    local_alias_free(paths, n);
out:
    strbuf_free(list);
    strbuf_free(text);
    strbuf_free(err);
    return used;
}

/* local_addr: deliver to one address of the expansion. */
static void local_addr(struct local_state *st, const struct local_branch *br,
                       const char *addr)
{
    const local_config *cfg = st->cfg;
    strbuf *key = strbuf_new(64);
    strbuf *user = strbuf_new(64);
    strbuf *value = strbuf_new(256);
    strbuf *err = strbuf_new(64);
    const char *at;
    const char *domain = NULL;
    const char *ext = NULL;
    int     no_alias = 0;
    size_t  cut;
    struct passwd *pw;
    recip_priv_id uid;
    int     rc;

    if (addr[0] == '\\') {
        no_alias = 1;
        addr++;
    }
    if (br->depth > LOCAL_DEPTH_MAX) {
        local_fail(st, 5, "5.4.6", "mail forwarding loop for %s: nesting deeper than %d",
                   st->rcpt, LOCAL_DEPTH_MAX);
        goto out;
    }
    at = strrchr(addr, '@');
    if (at) {
        domain = at + 1;
        (void) strbuf_set(key, addr, (size_t) (at - addr));
    } else {
        (void) strbuf_puts(key, addr);
    }
    if (!local_domain_is_local(cfg, domain)) {
        local_forward_remote(st, br, addr);
        goto out;
    }
    str_lower(key->data);
    if (key->len == 0) {
        local_fail(st, 5, "5.1.3", "bad address syntax: \"%s\"", addr);
        goto out;
    }
    /* user and extension */
    cut = cfg->delimiters && *cfg->delimiters ? strcspn(key->data, cfg->delimiters) : key->len;
    (void) strbuf_set(user, key->data, cut);
    if (cut < key->len)
        ext = key->data + cut + 1;
    if (br->self && strcmp(br->self, key->data) == 0)
        no_alias = 1;                           /* an alias or .forward naming itself */
    else if (br->self && cut < key->len && strcmp(br->self, user->data) == 0)
        no_alias = 1;
    else if (htable_has(st->path, key->data)) {
        local_fail(st, 5, "5.4.6", "mail forwarding loop for %s", st->rcpt);
        goto out;
    }
    if (!no_alias && cfg->aliases) {
        rc = maps_find(cfg->aliases, key->data, value);
        if (rc == DICT_NOTFOUND && cut < key->len)
            rc = maps_find(cfg->aliases, user->data, value);
        if (rc == DICT_RETRY) {
            local_fail(st, 4, "4.3.0", "alias database unavailable: %s", maps_error(cfg->aliases));
            goto out;
        }
        if (rc == DICT_FOUND) {
            struct local_branch sub = *br;
            strbuf *owner = strbuf_new(64);
            strbuf *oval = strbuf_new(64);
            char   *v = mem_strdup(value->data);

            (void) strbuf_printf(owner, "owner-%s", user->data);
            sub.class = LOCAL_CLASS_ALIAS;
            sub.priv = cfg->default_privs;
            sub.user = user->data;
            sub.home = "/";
            sub.self = key->data;
            sub.depth = br->depth + 1;
            if (maps_find(cfg->aliases, owner->data, oval) == DICT_FOUND) {
                strbuf_reset(owner);
                (void) strbuf_printf(owner, "owner-%s@%s", user->data,
                                     cfg->myhostname ? cfg->myhostname : "localhost");
                sub.sender = owner->data;
            }
            (void) htable_put(st->path, key->data, NULL);
            local_items(st, &sub, v);
            (void) htable_remove(st->path, key->data, NULL);
            mem_free(v);
            strbuf_free(owner);
            strbuf_free(oval);
            goto out;
        }
    }
    rc = recip_priv_lookup(user->data, &uid, err);
    if (rc < 0) {
        local_fail(st, 4, "4.3.0", "user lookup failed: %s", strbuf_str(err));
        goto out;
    }
    if (rc == 1) {
        if (cfg->luser_relay && *cfg->luser_relay && br->class == 0) {
            local_cmd_vars v;
            struct local_branch sub = *br;

            memset(&v, 0, sizeof(v));
            v.user = user->data;
            v.extension = ext;
            v.local = key->data;
            v.domain = domain;
            v.recipient = st->rcpt;
            if (local_expand(cfg->luser_relay, &v, cfg->delimiters, value, err) < 0) {
                local_fail(st, 4, "4.3.5", "bad luser_relay: %s", strbuf_str(err));
            } else {
                sub.class = LOCAL_CLASS_ALIAS;
                sub.depth = br->depth + 1;
                sub.self = NULL;
                (void) htable_put(st->path, key->data, NULL);
                local_addr(st, &sub, value->data);
                (void) htable_remove(st->path, key->data, NULL);
            }
            goto out;
        }
        local_fail(st, 5, "5.1.1", "unknown user: \"%s\"", user->data);
        goto out;
    }
    pw = getpwnam(user->data);
    if (pw == NULL) {
        local_fail(st, 4, "4.3.0", "user lookup failed for \"%s\"", user->data);
        goto out;
    }
    {
        /* getpwnam's static result is overwritten by later lookups. */
        struct passwd copy = *pw;
        char   *name = mem_strdup(pw->pw_name);
        char   *dir = mem_strdup(pw->pw_dir);
        char   *shell = mem_strdup(pw->pw_shell ? pw->pw_shell : "");

        copy.pw_name = name;
        copy.pw_dir = dir;
        copy.pw_shell = shell;
        if (no_alias || !local_dot_forward(st, br, &uid, &copy, key->data, ext, domain))
            local_mailbox(st, br, &uid, &copy, ext, domain);
        mem_free(name);
        mem_free(dir);
        mem_free(shell);
    }
out:
    strbuf_free(key);
    strbuf_free(user);
    strbuf_free(value);
    strbuf_free(err);
}

/* local_deliver_rcpt: deliver the message to one recipient. */
int     local_deliver_rcpt(const local_config *cfg, local_message *msg,
                           const char *rcpt, const char *orig, mailbox_result *res)
{
    struct local_state st;
    struct local_branch br;
    strbuf *lower = strbuf_new(64);

    memset(&st, 0, sizeof(st));
    st.cfg = cfg;
    st.msg = msg;
    st.rcpt = rcpt;
    st.orig = orig && *orig ? orig : NULL;
    st.path = htable_new(16);
    st.res = res;
    st.one.reason = strbuf_new(128);
    mailbox_result_set(res, 5, "5.1.1", "no destination for %s", rcpt);
    (void) strbuf_puts(lower, rcpt);
    str_lower(lower->data);
    if (msg->delivered_to && htable_has(msg->delivered_to, lower->data)) {
        mailbox_result_set(res, 5, "5.4.6", "mail forwarding loop for %s", rcpt);
    } else {
        memset(&br, 0, sizeof(br));
        br.sender = msg->sender;
        br.class = 0;
        br.home = "/";
        br.priv = cfg->default_privs;
        local_addr(&st, &br, rcpt);
    }
    htable_free(st.path, NULL);
    strbuf_free(st.one.reason);
    strbuf_free(lower);
    return res->status;
}
