/*
 * Unit tests for lib/mail/header.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "header.h"
#include "mem.h"
#include "strbuf.h"
#include "testlib.h"

/* One parse case: input, the field texts joined with '|', body, flags. */
static const struct header_case {
    const char *name;
    const char *input;
    const char *fields;
    const char *body;
    int     flags;
} header_cases[] = {
    {"simple", "From: a\nTo: b\n\nbody\n", "From: a|To: b", "body\n",
     HEADER_F_BLANK_LINE},
    {"folded", "Subject: one\n two\n\tthree\nX: y\n\nB", "Subject: one\n two\n\tthree|X: y",
     "B", HEADER_F_BLANK_LINE},
    {"crlf", "A: 1\r\nB: 2\r\n\r\nbody", "A: 1\r|B: 2\r", "body", HEADER_F_BLANK_LINE},
    {"no body", "A: 1\nB: 2\n", "A: 1|B: 2", "", 0},
    {"no final LF", "A: 1", "A: 1", "", 0},
    {"empty", "", "", "", 0},
    {"body only", "\nbody\n", "", "body\n", HEADER_F_BLANK_LINE},
    {"non-header line starts body", "A: 1\nnot a header\nB: 2\n", "A: 1",
     "not a header\nB: 2\n", 0},
    {"leading continuation is body", " cont\nA: 1\n", "", " cont\nA: 1\n", 0},
    {"space before colon", "Subject : x\n\n", "Subject : x", "", HEADER_F_BLANK_LINE},
    {"colon first is body", ": x\n\n", "", ": x\n\n", 0},
    {"control char in name", "A\001B: x\n\n", "", "A\001B: x\n\n", 0},
    {"8bit in name", "A\xe9: x\n\n", "", "A\xe9: x\n\n", 0},
    {"From_ line is body", "From joe Mon\nA: 1\n\n", "", "From joe Mon\nA: 1\n\n", 0},
    {"empty value", "A:\nB:\n\n", "A:|B:", "", HEADER_F_BLANK_LINE},
};

/* join_fields: field texts joined with '|' */
static void join_fields(const header_block *hb, strbuf *out)
{
    size_t  i;

    strbuf_reset(out);
    for (i = 0; i < hb->count; i++) {
        if (i > 0)
            strbuf_putc(out, '|');
        strbuf_append(out, hb->fields[i].text, hb->fields[i].len);
    }
}

/* test_parse_table: every case of header_cases */
static void test_parse_table(void **state)
{
    strbuf *joined = strbuf_new(64);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
        const struct header_case *c = header_cases + i;
        size_t  len = strlen(c->input);
        header_block *hb = header_parse(c->input, len, 0, 0);

        print_message("case %s\n", c->name);
        join_fields(hb, joined);
        assert_string_equal(joined->data, c->fields);
        assert_true(hb->body_offset <= len);
        assert_string_equal(c->input + hb->body_offset, c->body);
        assert_int_equal(hb->flags, c->flags);
        assert_null(header_block_free(hb));
    }
    strbuf_free(joined);
}

/* test_limits: a field over max_size and too many fields end the block */
static void test_limits(void **state)
{
    const char *msg = "A: 12345\nB: 1234567890\n continued\nC: x\n\nbody\n";
    header_block *hb;

    (void) state;
    hb = header_parse(msg, strlen(msg), 10, 0);
    assert_int_equal(hb->count, 1);
    assert_true(hb->flags & HEADER_F_TOO_BIG);
    assert_string_equal(msg + hb->body_offset, "B: 1234567890\n continued\nC: x\n\nbody\n");
    header_block_free(hb);
    /* The continuation line that passes the limit starts the body. */
    hb = header_parse(msg, strlen(msg), 20, 0);
    assert_int_equal(hb->count, 2);
    assert_true(hb->flags & HEADER_F_TOO_BIG);
    assert_int_equal(hb->fields[1].len, 13);
    assert_string_equal(msg + hb->body_offset, " continued\nC: x\n\nbody\n");
    header_block_free(hb);
    /* Room for the continuation line too. */
    hb = header_parse(msg, strlen(msg), 25, 0);
    assert_int_equal(hb->count, 3);
    assert_int_equal(hb->flags, HEADER_F_BLANK_LINE);
    header_block_free(hb);
    hb = header_parse(msg, strlen(msg), 0, 2);
    assert_int_equal(hb->count, 2);
    assert_true(hb->flags & HEADER_F_TOO_MANY);
    assert_string_equal(msg + hb->body_offset, "C: x\n\nbody\n");
    header_block_free(hb);
    /* Exactly at the limit is fine ("A: 12345" is 8 bytes + LF). */
    hb = header_parse("A: 12345\n\n", 10, 9, 1);
    assert_int_equal(hb->count, 1);
    assert_int_equal(hb->flags, HEADER_F_BLANK_LINE);
    header_block_free(hb);
}

/* test_embedded_nul: NUL bytes are data, not terminators */
static void test_embedded_nul(void **state)
{
    static const char msg[] = "A: x\0y\nB: 2\n\nbo\0dy";
    header_block *hb = header_parse(msg, sizeof(msg) - 1, 0, 0);
    strbuf *v = strbuf_new(8);

    (void) state;
    assert_int_equal(hb->count, 2);
    header_value(&hb->fields[0], v);
    assert_int_equal(v->len, 3);
    assert_memory_equal(v->data, "x\0y", 3);
    assert_int_equal(sizeof(msg) - 1 - hb->body_offset, 5);
    header_block_free(hb);
    strbuf_free(v);
}

/* test_lookup: names, prefixes, find, values */
static void test_lookup(void **state)
{
    const char *msg = "Resent-To: r\nTO:  a,\n\tb  \nCc: c\nto: d\n\n";
    header_block *hb = header_parse(msg, strlen(msg), 0, 0);
    strbuf *v = strbuf_new(8);
    const char *raw;
    size_t  len;

    (void) state;
    assert_int_equal(hb->count, 4);
    assert_int_equal(header_is(&hb->fields[1], "To"), 1);
    assert_int_equal(header_is(&hb->fields[0], "To"), 0);
    assert_int_equal(header_is(&hb->fields[2], "C"), 0);
    assert_int_equal(header_has_prefix(&hb->fields[0], "resent-"), 1);
    assert_int_equal(header_has_prefix(&hb->fields[1], "resent-"), 0);
    assert_int_equal(header_find(hb, "to", 0), 1);
    assert_int_equal(header_find(hb, "to", 2), 3);
    assert_int_equal(header_find(hb, "to", 4), -1);
    assert_int_equal(header_find(hb, "Bcc", 0), -1);
    header_value(&hb->fields[1], v);
    assert_string_equal(v->data, "a,\tb");
    header_raw_value(&hb->fields[2], &raw, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(raw, " c", 2);
    assert_int_equal(header_name_len("Subject: x", 10), 7);
    assert_int_equal(header_name_len("Subject x", 9), 0);
    assert_int_equal(header_name_len("Subject", 7), 0);
    header_block_free(hb);
    strbuf_free(v);
}

/* test_long_name: names over HEADER_NAME_MAX are not fields */
static void test_long_name(void **state)
{
    strbuf *msg = strbuf_new(HEADER_NAME_MAX + 16);
    header_block *hb;
    size_t  i;

    (void) state;
    for (i = 0; i < HEADER_NAME_MAX; i++)
        strbuf_putc(msg, 'X');
    strbuf_puts(msg, ": v\n\n");
    hb = header_parse(msg->data, msg->len, 0, 0);
    assert_int_equal(hb->count, 1);
    header_block_free(hb);
    strbuf_setf(msg, "Y");
    for (i = 0; i < HEADER_NAME_MAX; i++)
        strbuf_putc(msg, 'X');
    strbuf_puts(msg, ": v\n\n");
    hb = header_parse(msg->data, msg->len, 0, 0);
    assert_int_equal(hb->count, 0);
    assert_int_equal(hb->body_offset, 0);
    header_block_free(hb);
    strbuf_free(msg);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_long_name),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
