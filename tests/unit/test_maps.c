/*
 * Unit tests for lib/mail/maps.c: table lists and the lookup helpers.
 *
 * Tables used: inline: (entries written in the test), texthash: and
 * hash: files in a temporary directory, fail:, and names that cannot be
 * opened (missing files, unknown types, unbalanced braces).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "dict.h"
#include "maps.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

static char tmpdir[] = "/tmp/test_maps.XXXXXX";

/* path_in_tmp: "TMPDIR/name" in a static buffer. */
static const char *path_in_tmp(const char *name)
{
    static char path[256];

    assert_int_equal(str_format(path, sizeof(path), "%s/%s", tmpdir, name), 0);
    return path;
}

/* write_tmp: write a file in the temporary directory; returns its path. */
static const char *write_tmp(const char *name, const char *text)
{
    const char *path = path_in_tmp(name);
    int     fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    return path;
}

static void test_list_parsing(void **state)
{
    strbuf *value = strbuf_new(16);
    char   *list;
    maps   *m;

    (void) state;
    list = str_concat("inline:{a=1, { b = two words }},\t texthash:",
                      write_tmp("th", "c 3\n"), " ,, fail:x\n  inline:{d=4}",
                      (char *) NULL);
    m = maps_open("test_maps", list, DICT_F_FOLD);
    assert_int_equal(maps_count(m), 4);
    assert_string_equal(maps_title(m), "test_maps");
    assert_string_equal(maps_table(m, 0)->type, "inline");
    assert_string_equal(maps_table(m, 1)->type, "texthash");
    assert_string_equal(maps_table(m, 2)->type, "fail");
    assert_string_equal(maps_table(m, 3)->type, "inline");
    assert_null(maps_table(m, 4));
    assert_null(maps_free(m));
    mem_free(list);

    /* Braces around a whole item only group it. */
    m = maps_open("grouped", "{ inline:{e=5, f=6} }, {inline:{g=7}}", DICT_F_FOLD);
    assert_int_equal(maps_count(m), 2);
    assert_string_equal(maps_table(m, 0)->type, "inline");
    assert_int_equal(maps_find(m, "f", value), DICT_FOUND);
    assert_string_equal(value->data, "6");
    assert_int_equal(maps_find(m, "g", value), DICT_FOUND);
    assert_string_equal(value->data, "7");
    maps_free(m);

    m = maps_open("empty", "", 0);
    assert_int_equal(maps_count(m), 0);
    maps_free(m);
    m = maps_open("blank", " , \t", 0);
    assert_int_equal(maps_count(m), 0);
    maps_free(m);
    m = maps_open("null", NULL, 0);
    assert_int_equal(maps_count(m), 0);
    maps_free(m);
    assert_null(maps_free(NULL));
    strbuf_free(value);
    dict_cache_flush();
}

static void test_find_order_and_errors(void **state)
{
    strbuf *value = strbuf_new(16);
    maps   *m;

    (void) state;
    m = maps_open("alias_maps", "inline:{a=first, shared=one} fail:broken "
                  "inline:{b=second, shared=two}", DICT_F_FOLD);
    /* A hit in a table before the failing one is a hit. */
    assert_int_equal(maps_find(m, "a", value), DICT_FOUND);
    assert_string_equal(value->data, "first");
    assert_string_equal(maps_error(m), "");
    assert_int_equal(maps_find(m, "SHARED", value), DICT_FOUND);
    assert_string_equal(value->data, "one");
    /* Anything that has to get past fail: is a temporary failure, even
     * when a later table has the key. */
    assert_int_equal(maps_find(m, "b", value), DICT_RETRY);
    assert_string_equal(value->data, "");
    assert_non_null(strstr(maps_error(m), "alias_maps: fail:broken: "));
    assert_int_equal(maps_find(m, "nothing", value), DICT_RETRY);
    /* The error is cleared by the next successful lookup. */
    assert_int_equal(maps_find(m, "a", value), DICT_FOUND);
    assert_string_equal(maps_error(m), "");
    maps_free(m);

    m = maps_open("virtual_alias_maps", "inline:{a=1}, inline:{b=2}", DICT_F_FOLD);
    assert_int_equal(maps_find(m, "b", value), DICT_FOUND);
    assert_string_equal(value->data, "2");
    strbuf_puts(value, "stale");
    assert_int_equal(maps_find(m, "c", value), DICT_NOTFOUND);
    assert_string_equal(value->data, "");
    assert_string_equal(maps_error(m), "");
    maps_free(m);
    strbuf_free(value);
    dict_cache_flush();
}

static void test_tables_that_cannot_open(void **state)
{
    static const struct {
        const char *list;
        const char *log;                /* in the warning */
        const char *error;              /* in maps_error */
    } cases[] = {
        {"texthash:/nonexistent/postern-test-aliases", "/nonexistent/postern-test-aliases",
         "texthash:/nonexistent/postern-test-aliases: "},
        {"nosuchtype:/etc/x", "unsupported dictionary type: nosuchtype",
         "nosuchtype:/etc/x: unsupported dictionary type: nosuchtype"},
        {"noColonHere", "noColonHere", "noColonHere"},
        {"inline:{a=1, b=2", "unbalanced '{'", "unbalanced '{'"},
        {"inline:{a}", "inline:{a}", "inline:{a}"},
    };
    strbuf *value = strbuf_new(16);
    size_t  i;
    maps   *m;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        testlib_log_reset();
        m = maps_open("alias_maps", cases[i].list, DICT_F_FOLD);
        assert_int_equal(maps_count(m), 1);
        if (!testlib_log_has(cases[i].log))
            fail_msg("case %s: log lacks \"%s\":\n%s", cases[i].list, cases[i].log,
                     testlib_log());
        assert_int_equal(maps_find(m, "a", value), DICT_RETRY);
        if (strstr(maps_error(m), cases[i].error) == NULL
            || strncmp(maps_error(m), "alias_maps: ", 12) != 0)
            fail_msg("case %s: error \"%s\" lacks \"%s\"", cases[i].list,
                     maps_error(m), cases[i].error);
        maps_free(m);
    }
    strbuf_free(value);
    dict_cache_flush();
}

/* The address tables for the lookup-order cases: one entry per form. */
#define ALL_FORMS   "u+e@d.example=1, u@d.example=2, u+e=3, u=4, @d.example=5"

static const struct {
    const char *name;
    const char *table;                  /* inline:{...} body */
    const char *address;
    const char *delims;
    int     flags;
    int     rc;
    const char *value;
    const char *key;
} addr_cases[] = {
    {"full address first", ALL_FORMS, "u+e@d.example", "+", MAPS_ADDR_F_LOCAL,
     DICT_FOUND, "1", "u+e@d.example"},
    {"then user@domain",
     "u@d.example=2, u+e=3, u=4, @d.example=5", "u+e@d.example", "+",
     MAPS_ADDR_F_LOCAL, DICT_FOUND, "2", "u@d.example"},
    {"then user+ext when local", "u+e=3, u=4, @d.example=5", "u+e@d.example", "+",
     MAPS_ADDR_F_LOCAL, DICT_FOUND, "3", "u+e"},
    {"then user when local", "u=4, @d.example=5", "u+e@d.example", "+",
     MAPS_ADDR_F_LOCAL, DICT_FOUND, "4", "u"},
    {"bare forms skipped when not local", "u+e=3, u=4, @d.example=5",
     "u+e@d.example", "+", 0, DICT_FOUND, "5", "@d.example"},
    {"then @domain", "@d.example=5, other=6", "u+e@d.example", "+",
     MAPS_ADDR_F_LOCAL, DICT_FOUND, "5", "@d.example"},
    {"nothing", "other=6", "u+e@d.example", "+", MAPS_ADDR_F_LOCAL,
     DICT_NOTFOUND, "", ""},
    {"keys folded", ALL_FORMS, "U+E@D.Example", "+", MAPS_ADDR_F_LOCAL,
     DICT_FOUND, "1", "u+e@d.example"},
    {"keys folded, later form", "u=4", "U+Ext@D.EXAMPLE", "+", MAPS_ADDR_F_LOCAL,
     DICT_FOUND, "4", "u"},
    {"no extension: user@domain", ALL_FORMS, "u@d.example", "+", MAPS_ADDR_F_LOCAL,
     DICT_FOUND, "2", "u@d.example"},
    {"no extension: user", "u+e=3, u=4", "u@d.example", "+", MAPS_ADDR_F_LOCAL,
     DICT_FOUND, "4", "u"},
    {"no delimiter configured: not split",
     "u@d.example=2, u+e=3, u=4, @d.example=5", "u+e@d.example", "",
     MAPS_ADDR_F_LOCAL, DICT_FOUND, "3", "u+e"},
    {"null delimiters", "u=4, @d.example=5", "u+e@d.example", NULL,
     MAPS_ADDR_F_LOCAL, DICT_FOUND, "5", "@d.example"},
    {"second delimiter character", "u-e@d.example=7, u@d.example=2",
     "u-e@d.example", "+-", 0, DICT_FOUND, "7", "u-e@d.example"},
    {"second delimiter, stripped", "u@d.example=2", "u-e@d.example", "+-", 0,
     DICT_FOUND, "2", "u@d.example"},
    {"first delimiter wins", "u@d.example=2, u+a@d.example=8", "u+a-b@d.example",
     "+-", 0, DICT_FOUND, "2", "u@d.example"},
    {"several delimiters in the local part", "u@d.example=2",
     "u+x+y@d.example", "+", 0, DICT_FOUND, "2", "u@d.example"},
    {"no domain: user+ext", ALL_FORMS, "u+e", "+", 0, DICT_FOUND, "3", "u+e"},
    {"no domain: user", ALL_FORMS, "u+zzz", "+", 0, DICT_FOUND, "4", "u"},
    {"no domain, no match", "@d.example=5", "u+e", "+", MAPS_ADDR_F_LOCAL,
     DICT_NOTFOUND, "", ""},
    {"owner-request kept whole", "owner@d.example=9, owner-list@d.example=10",
     "owner-list@d.example", "-", MAPS_ADDR_F_OWNER_REQUEST, DICT_FOUND, "10",
     "owner-list@d.example"},
    {"owner-request split without the flag", "owner@d.example=9",
     "owner-list@d.example", "-", 0, DICT_FOUND, "9", "owner@d.example"},
    {"mailer-daemon never split", "mailer@d.example=12, mailer-daemon@d.example=11",
     "MAILER-DAEMON@d.example", "-", 0, DICT_FOUND, "11", "mailer-daemon@d.example"},
    {"empty local part", "@d.example=5", "@d.example", "+", MAPS_ADDR_F_LOCAL,
     DICT_FOUND, "5", "@d.example"},
    {"empty domain has no @domain form", "u=4", "u@", "+", 0, DICT_NOTFOUND, "", ""},
    {"null address", "u=4", "", "+", MAPS_ADDR_F_LOCAL, DICT_NOTFOUND, "", ""},
};

static void test_find_addr_order(void **state)
{
    strbuf *value = strbuf_new(16);
    strbuf *key = strbuf_new(16);
    char   *spec;
    size_t  i;
    int     rc;
    maps   *m;

    (void) state;
    for (i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
        spec = str_concat("inline:{", addr_cases[i].table, "}", (char *) NULL);
        m = maps_open("virtual_alias_maps", spec, DICT_F_FOLD);
        strbuf_puts(key, "stale");
        rc = maps_find_addr(m, addr_cases[i].address, addr_cases[i].delims,
                            addr_cases[i].flags, value, key);
        if (rc != addr_cases[i].rc || strcmp(value->data, addr_cases[i].value) != 0
            || strcmp(key->data, addr_cases[i].key) != 0)
            fail_msg("case \"%s\": got %d \"%s\" (key \"%s\"), expected %d \"%s\" "
                     "(key \"%s\")", addr_cases[i].name, rc, value->data, key->data,
                     addr_cases[i].rc, addr_cases[i].value, addr_cases[i].key);
        maps_free(m);
        mem_free(spec);
    }
    strbuf_free(value);
    strbuf_free(key);
    dict_cache_flush();
}

static void test_find_addr_tables(void **state)
{
    strbuf *value = strbuf_new(16);
    maps   *m;

    (void) state;
    /* The order of forms comes before the order of tables. */
    m = maps_open("virtual_alias_maps", "inline:{u@d.example=A} "
                  "inline:{u+e@d.example=B}", DICT_F_FOLD);
    assert_int_equal(maps_find_addr(m, "u+e@d.example", "+", 0, value, NULL),
                     DICT_FOUND);
    assert_string_equal(value->data, "B");
    maps_free(m);

    /* A failure stops the search at the first form that meets it, even
     * when an earlier table has a later form. */
    m = maps_open("virtual_alias_maps", "inline:{@d.example=catchall} fail:down",
                  DICT_F_FOLD);
    assert_int_equal(maps_find_addr(m, "u@d.example", "+", MAPS_ADDR_F_LOCAL,
                                    value, NULL), DICT_RETRY);
    assert_string_equal(value->data, "");
    assert_non_null(strstr(maps_error(m), "virtual_alias_maps: fail:down: "));
    maps_free(m);

    /* ... but a hit in a form before the failure is a hit. */
    m = maps_open("virtual_alias_maps", "inline:{u@d.example=direct} fail:down",
                  DICT_F_FOLD);
    assert_int_equal(maps_find_addr(m, "u+x@d.example", "+", 0, value, NULL),
                     DICT_RETRY);
    assert_int_equal(maps_find_addr(m, "u@d.example", "+", 0, value, NULL),
                     DICT_FOUND);
    assert_string_equal(value->data, "direct");
    maps_free(m);
    strbuf_free(value);
    dict_cache_flush();
}

static void test_texthash_and_cache(void **state)
{
    strbuf *value = strbuf_new(16);
    char   *spec;
    maps   *m1, *m2;

    (void) state;
    spec = str_concat("texthash:", write_tmp("aliases.txt",
                                             "# aliases\n"
                                             "Root   admin@example.com\n"
                                             "list   a, b,\n"
                                             "  c\n"), (char *) NULL);
    m1 = maps_open("alias_maps", spec, DICT_F_FOLD);
    m2 = maps_open("local_recipient_maps", spec, DICT_F_FOLD);
    /* The per-process cache: one table for both lists. */
    assert_ptr_equal(maps_table(m1, 0), maps_table(m2, 0));
    assert_int_equal(maps_find(m1, "ROOT", value), DICT_FOUND);
    assert_string_equal(value->data, "admin@example.com");
    assert_int_equal(maps_find(m2, "list", value), DICT_FOUND);
    assert_string_equal(value->data, "a, b, c");
    assert_int_equal(maps_find_addr(m1, "root@Example.Net", NULL, MAPS_ADDR_F_LOCAL,
                                    value, NULL), DICT_FOUND);
    assert_string_equal(value->data, "admin@example.com");
    maps_free(m1);
    assert_int_equal(maps_find(m2, "root", value), DICT_FOUND);
    maps_free(m2);
    dict_cache_flush();
    mem_free(spec);
    strbuf_free(value);
}

static void test_hash_table(void **state)
{
    strbuf *err = strbuf_new(16);
    strbuf *value = strbuf_new(16);
    char   *spec;
    dict   *d;
    maps   *m;

    (void) state;
    spec = str_concat("hash:", path_in_tmp("virtual"), (char *) NULL);
    d = dict_open(spec, DICT_F_CREATE | DICT_F_FOLD, err);
    if (d == NULL)
        fail_msg("dict_open %s: %s", spec, err->data);
    assert_int_equal(dict_put(d, "Info@Example.COM", "staff"), 0);
    assert_int_equal(dict_put(d, "@example.com", "catchall"), 0);
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);

    m = maps_open("virtual_alias_maps", spec, DICT_F_FOLD);
    assert_int_equal(maps_find_addr(m, "INFO+tag@example.com", "+", 0, value, NULL),
                     DICT_FOUND);
    assert_string_equal(value->data, "staff");
    assert_int_equal(maps_find_addr(m, "sales@example.com", "+", 0, value, NULL),
                     DICT_FOUND);
    assert_string_equal(value->data, "catchall");
    assert_int_equal(maps_find_addr(m, "sales@example.org", "+", 0, value, NULL),
                     DICT_NOTFOUND);
    maps_free(m);
    dict_cache_flush();
    mem_free(spec);

    /* A hash table whose file is missing defers; it is never "not found". */
    spec = str_concat("hash:", path_in_tmp("missing"), (char *) NULL);
    m = maps_open("virtual_alias_maps", spec, DICT_F_FOLD);
    assert_int_equal(maps_find(m, "x", value), DICT_RETRY);
    assert_non_null(strstr(maps_error(m), "missing"));
    maps_free(m);
    dict_cache_flush();
    mem_free(spec);
    strbuf_free(err);
    strbuf_free(value);
}

/* cleanup: remove the temporary directory. */
static int cleanup(void **state)
{
    static const char *names[] = {"th", "aliases.txt", "virtual.db", NULL};
    int     i;

    (void) state;
    for (i = 0; names[i]; i++)
        (void) unlink(path_in_tmp(names[i]));
    (void) rmdir(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_parsing),
        cmocka_unit_test(test_find_order_and_errors),
        cmocka_unit_test(test_tables_that_cannot_open),
        cmocka_unit_test(test_find_addr_order),
        cmocka_unit_test(test_find_addr_tables),
        cmocka_unit_test(test_texthash_and_cache),
        cmocka_unit_test(test_hash_table),
    };

    testlib_setup();
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    return cmocka_run_group_tests_name("maps", tests, NULL, cleanup);
}
