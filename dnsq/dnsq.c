/*
 * dnsq: print DNS lookups made through Postern's DNS modules.
 *
 * A test helper (not installed): the integration tests drive lib/net/dns
 * and lib/mail/dnsbl through it against a dnsmasq on a loopback port.
 *
 * Usage: dnsq [-c config_dir] [-s servers] [-t timeout_ms] command args
 *   lookup TYPE NAME          dns_lookup_sync
 *   async TYPE NAME...        dns_lookup on an event loop, all at once
 *   exists DOMAIN             dns_domain_exists
 *   reverse ADDR              dns_reverse_verify
 *   dnsbl ADDR LIST           dnsbl_client (+ dnsbl_text on a hit)
 *   rhsbl DOMAIN LIST         dnsbl_rhs (+ dnsbl_text on a hit)
 * -s sets dns_resolver_servers for this run (overrides main.cf).
 *
 * Output: one line "STATUS[ reason]" (ok, notfound, retry, invalid; for
 * async, "NAME STATUS[ reason]" per lookup in completion order), then one
 * line per record "TYPE text", "truncated" when the reply was cut,
 * "name NAME" for reverse, "text TEXT" for list hits. Exit status: 0 ok,
 * 1 notfound, 2 retry, 3 invalid (async: the worst), 64 usage, 78 config.
 *
 * SECURITY: runs with the caller's privileges; reads main.cf only.
 * LIMITS: those of the DNS modules; at most DNSQ_ASYNC_MAX async names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "dnsbl.h"
#include "event.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "param.h"
#include "strbuf.h"

#define DNSQ_ASYNC_MAX  64
#define DNSQ_EXIT_USAGE 64
#define DNSQ_EXIT_CONFIG 78

typedef struct dnsq_async {
    event_loop *loop;
    int     outstanding;
    int     worst;
} dnsq_async;

/* usage: print the synopsis and exit. */
static void usage(void)
{
    fprintf(stderr,
            "usage: dnsq [-c config_dir] [-s servers] [-t timeout_ms] command args\n"
            "  lookup TYPE NAME | async TYPE NAME... | exists DOMAIN\n"
            "  reverse ADDR | dnsbl ADDR LIST | rhsbl DOMAIN LIST\n");
    exit(DNSQ_EXIT_USAGE);
}

/* dnsq_status_line: print "status[ reason]". */
static void dnsq_status_line(const char *prefix, int status, const char *why)
{
    printf("%s%s%s%s\n", prefix, dns_status_name(status),
           (why && *why) ? " " : "", why ? why : "");
}

/* dnsq_records: print a reply's records. */
static void dnsq_records(const dns_reply *r)
{
    size_t  i;

    for (i = 0; i < r->count; i++)
        printf("%s %s\n", dns_type_name(r->rec[i].type), r->rec[i].text);
    if (r->truncated)
        printf("truncated\n");
}

/* dnsq_async_done: one asynchronous lookup finished. */
static void dnsq_async_done(int status, const dns_reply *reply, const char *err,
                            void *ctx)
{
    dnsq_async *st = ctx;

    printf("%s %s%s%s\n", reply->name, dns_status_name(status),
           *err ? " " : "", err);
    if (reply)
        dnsq_records(reply);
    if (status > st->worst)
        st->worst = status;
    if (--st->outstanding == 0)
        event_loop_stop(st->loop);
}

/* dnsq_run_async: start every lookup at once, print as they finish. */
static int dnsq_run_async(int type, char **names, int count, int timeout_ms)
{
    dnsq_async st;
    dns_resolver *res;
    int     i;

    if (count > DNSQ_ASYNC_MAX)
        usage();
    memset(&st, 0, sizeof(st));
    st.loop = event_loop_new();
    res = dns_resolver_new(st.loop, timeout_ms);
    for (i = 0; i < count; i++) {
        if (dns_lookup(res, names[i], type, dnsq_async_done, &st) == 0)
            st.outstanding++;
    }
    if (st.outstanding > 0)
        event_loop_run(st.loop);
    dns_resolver_free(res);
    event_loop_free(st.loop);
    return st.worst;
}

/* main: parse options, configure, run one command. */
int     main(int argc, char **argv)
{
    const char *config_dir = NULL;
    const char *servers = NULL;
    long    timeout_ms = DNS_DEFAULT_TIMEOUT_MS;
    strbuf *err;
    strbuf *out;
    dns_reply *reply;
    const char *cmd;
    int     status;
    int     type;
    int     ch;

    msg_init("dnsq", MSG_F_STDERR);
    while ((ch = getopt(argc, argv, "c:s:t:")) > 0) {
        switch (ch) {
        case 'c':
            config_dir = optarg;
            break;
        case 's':
            servers = optarg;
            break;
        case 't':
            if (num_parse_long(optarg, 1, 600000, &timeout_ms) < 0)
                usage();
            break;
        default:
            usage();
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 2)
        usage();
    err = strbuf_new(128);
    if (config_dir && param_load(param_config_dir(config_dir), err) < 0) {
        fprintf(stderr, "dnsq: %s\n", strbuf_str(err));
        return DNSQ_EXIT_CONFIG;
    }
    if (servers && param_override(PARAM_DNS_RESOLVER_SERVERS, servers) < 0) {
        fprintf(stderr, "dnsq: cannot set %s\n", PARAM_DNS_RESOLVER_SERVERS);
        return DNSQ_EXIT_CONFIG;
    }
    out = strbuf_new(128);
    reply = mem_calloc(1, sizeof(*reply));
    cmd = argv[0];
    if (strcmp(cmd, "lookup") == 0 || strcmp(cmd, "async") == 0) {
        if (argc < 3 || (type = dns_type_parse(argv[1])) < 0)
            usage();
        if (strcmp(cmd, "async") == 0) {
            status = dnsq_run_async(type, argv + 2, argc - 2, (int) timeout_ms);
        } else {
            if (argc != 3)
                usage();
            status = dns_lookup_sync(argv[2], type, (int) timeout_ms, reply, err);
            dnsq_status_line("", status, strbuf_str(err));
            dnsq_records(reply);
        }
    } else if (strcmp(cmd, "exists") == 0 && argc == 2) {
        status = dns_domain_exists(argv[1], err);
        dnsq_status_line("", status, strbuf_str(err));
    } else if (strcmp(cmd, "reverse") == 0 && argc == 2) {
        status = dns_reverse_verify(argv[1], out);
        dnsq_status_line("", status, "");
        printf("name %s\n", strbuf_str(out));
    } else if ((strcmp(cmd, "dnsbl") == 0 || strcmp(cmd, "rhsbl") == 0) && argc == 3) {
        if (strcmp(cmd, "dnsbl") == 0)
            status = dnsbl_client(argv[1], argv[2], reply, err);
        else
            status = dnsbl_rhs(argv[1], argv[2], reply, err);
        dnsq_status_line("", status, strbuf_str(err));
        if (status == DNS_OK) {
            printf("query %s\n", reply->name);
            dnsq_records(reply);
            dnsbl_text(reply, out);
            printf("text %s\n", strbuf_str(out));
        }
    } else {
        usage();
    }
    fflush(stdout);
    mem_free(reply);
    strbuf_free(out);
    strbuf_free(err);
    return status;
}
