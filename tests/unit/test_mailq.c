/*
 * Unit tests for lib/mail/mailq.c: the classic listing and the JSON
 * objects, compared byte for byte (TZ=UTC).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "mailq.h"
#include "mem.h"
#include "showq_proto.h"
#include "strbuf.h"
#include "testlib.h"

#define HEAD "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
#define IND  "                                         "  /* 41 spaces */

static showq_rcpt rcpts[] = {
    {"a@example.com", NULL, "connect to mx[192.0.2.1]:25: Connection refused"},
    {"b@example.com", "b-orig@example.com", "connect to mx[192.0.2.1]:25: Connection refused"},
    {"c@example.com", "c@example.com", "host said: 450 try\tlater"},
    {"d@example.com", NULL, NULL},
};

/* msg: a message in queue with sender */
static showq_msg msg(const char *queue, const char *id, const char *sender,
                     size_t nrcpts, long size)
{
    showq_msg m;

    memset(&m, 0, sizeof(m));
    m.queue_name = (char *) queue;
    m.queue_id = (char *) id;
    m.arrival_time = 1700000000;        /* Tue Nov 14 22:13:20 2023 UTC */
    m.size = size;
    m.sender = (char *) sender;
    m.rcpts = rcpts;
    m.nrcpts = nrcpts;
    return m;
}

/* listing: the text listing of msgs, totals included */
static char *listing(const showq_msg *msgs, size_t n)
{
    mailq_totals t = {0, 0};
    char   *buf = NULL;
    size_t  len = 0, i;
    FILE   *fp = open_memstream(&buf, &len);

    for (i = 0; i < n; i++)
        mailq_print_text(fp, msgs + i, &t);
    mailq_print_totals(fp, &t);
    fclose(fp);
    return buf;
}

static void test_empty(void **state)
{
    char   *out = listing(NULL, 0);

    (void) state;
    assert_string_equal(out, "Mail queue is empty\n");
    free(out);
}

static void test_layout(void **state)
{
    showq_msg m[3];
    char   *out;

    (void) state;
    m[0] = msg("deferred", "3A3D26C44CC", "", 4, 1234);
    m[1] = msg("active", "ABCDEF", "s@x.org", 1, 99999999);
    m[2] = msg("hold", "1234567", "h@x.org", 0, 1024);
    out = listing(m, 3);
    assert_string_equal(out, HEAD
        "3A3D26C44CC     1234 Tue Nov 14 22:13:20  MAILER-DAEMON\n"
        "(connect to mx[192.0.2.1]:25: Connection refused)\n"
        IND "a@example.com\n"
        IND "b@example.com\n"
        "(host said: 450 try?later)\n"
        IND "c@example.com\n"
        IND "d@example.com\n"
        "\n"
        "ABCDEF    *99999999 Tue Nov 14 22:13:20  s@x.org\n"
        "(connect to mx[192.0.2.1]:25: Connection refused)\n"
        IND "a@example.com\n"
        "\n"
        "1234567   !    1024 Tue Nov 14 22:13:20  h@x.org\n"
        "\n"
        "-- 97659 Kbytes in 3 Requests.\n");
    free(out);
    m[0] = msg("incoming", "ABCDEF", "s@x.org", 0, 1);
    out = listing(m, 1);
    assert_string_equal(out, HEAD "ABCDEF            1 Tue Nov 14 22:13:20  s@x.org\n\n"
                        "-- 1 Kbytes in 1 Request.\n");
    free(out);
}

static void test_json(void **state)
{
    strbuf *buf = strbuf_new(64);
    showq_msg m;

    (void) state;
    m = msg("deferred", "ABCDEF", "we\"ird\\s@x.org", 4, 42);
    m.forced_expire = 1;
    mailq_format_json(buf, &m);
    assert_string_equal(buf->data,
        "{\"queue_name\": \"deferred\", \"queue_id\": \"ABCDEF\", \"arrival_time\": 1700000000, "
        "\"message_size\": 42, \"forced_expire\": true, \"sender\": \"we\\\"ird\\\\s@x.org\", "
        "\"recipients\": [{\"address\": \"a@example.com\", \"delay_reason\": "
        "\"connect to mx[192.0.2.1]:25: Connection refused\"}, "
        "{\"address\": \"b@example.com\", \"orig_address\": \"b-orig@example.com\", "
        "\"delay_reason\": \"connect to mx[192.0.2.1]:25: Connection refused\"}, "
        "{\"address\": \"c@example.com\", \"delay_reason\": \"host said: 450 try\\tlater\"}, "
        "{\"address\": \"d@example.com\"}]}");
    m = msg("hold", "ABCDEF", "", 0, 0);
    mailq_format_json(buf, &m);
    assert_string_equal(buf->data,
        "{\"queue_name\": \"hold\", \"queue_id\": \"ABCDEF\", \"arrival_time\": 1700000000, "
        "\"message_size\": 0, \"forced_expire\": false, \"sender\": \"\", \"recipients\": []}");
    strbuf_free(buf);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_json),
    };

    setenv("TZ", "UTC", 1);
    tzset();
    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
