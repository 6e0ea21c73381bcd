/*
 * Unit tests for lib/util/dict_regexp.c: the regexp: table format
 * (captures, flags, '!' patterns, if/endif, delimiters), every parse
 * error with its line number, the limits, and the file-backed open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "dict.h"
#include "dict_regexp.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

static char tmpdir[] = "/tmp/test_dict_regexp.XXXXXX";

/* ------------------------------------------------------------ lookups */

struct lookup_case {
    const char *label;
    const char *table;
    const char *key;
    int     rc;
    const char *value;
};

static const char nested[] =
    "# nested if blocks\n"
    "if /@example\\.com$/\n"
    "/^postmaster@/ pm\n"
    "if !/^info@/\n"
    "/./ other\n"
    "endif\n"
    "endif\n"
    "/./ fallback\n";

static const struct lookup_case lookup_cases[] = {
    {"captures", "/^(.*)@(.*)$/ user=$1 domain=$2\n", "a@b.c", DICT_FOUND, "user=a domain=b.c"},
    {"braced capture", "/^(a+)b$/ ${1}x\n", "aab", DICT_FOUND, "aax"},
    {"paren capture", "/(x)/ $(1)$(1)\n", "-x-", DICT_FOUND, "xx"},
    {"dollar dollar", "/a/ cost $$5 $$$$\n", "a", DICT_FOUND, "cost $5 $$"},
    {"dollar before capture", "/(a)/ $$$1\n", "a", DICT_FOUND, "$a"},
    {"ten groups", "/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)/ $10-$1\n", "abcdefghij", DICT_FOUND, "j-a"},
    {"unmatched group is empty", "/^(a)?(b)$/ [$1][$2]\n", "b", DICT_FOUND, "[][b]"},
    {"no match", "/^a$/ x\n", "b", DICT_NOTFOUND, ""},
    {"empty table", "# nothing\n\n", "a", DICT_NOTFOUND, ""},
    {"default ignores case", "/^ABC$/ yes\n", "abc", DICT_FOUND, "yes"},
    {"i makes it case-sensitive", "/^ABC$/i yes\n", "abc", DICT_NOTFOUND, ""},
    {"i still matches exact", "/^ABC$/i yes\n", "ABC", DICT_FOUND, "yes"},
    {"ii toggles back", "/^ABC$/ii yes\n", "abc", DICT_FOUND, "yes"},
    {"negated match", "!/^a/ not-a\n", "b", DICT_FOUND, "not-a"},
    {"negated no match", "!/^a/ not-a\n", "abc", DICT_NOTFOUND, ""},
    {"negated with blank", "! /^a/ not-a\n", "b", DICT_FOUND, "not-a"},
    {"first match wins", "/a/ first\n/a/ second\n", "a", DICT_FOUND, "first"},
    {"later rule", "/x/ first\n/a/ second\n", "a", DICT_FOUND, "second"},
    {"escaped delimiter", "/^a\\/b$/ esc\n", "a/b", DICT_FOUND, "esc"},
    {"pipe delimiter", "|^a/b$| pipe\n", "a/b", DICT_FOUND, "pipe"},
    {"at delimiter", "@^x y$@ at\n", "x y", DICT_FOUND, "at"},
    {"comma delimiter and flag", ",^X$,i comma\n", "x", DICT_NOTFOUND, ""},
    {"escaped pipe is literal", "|^a\\|b$| lit\n", "a|b", DICT_FOUND, "lit"},
    {"escaped pipe no alt", "|^a\\|b$| lit\n", "a", DICT_NOTFOUND, ""},
    {"basic syntax", "/^a+$/x basic\n", "a+", DICT_FOUND, "basic"},
    {"basic syntax plus literal", "/^a+$/x basic\n", "aa", DICT_NOTFOUND, ""},
    {"basic groups", "/^\\(a*\\)b$/x $1\n", "aab", DICT_FOUND, "aa"},
    {"basic interval", "/^a\\{2\\}$/x two\n", "aa", DICT_FOUND, "two"},
    {"extended interval", "/^a{2,3}$/ ok\n", "aaa", DICT_FOUND, "ok"},
    {"multi-line flag", "/^b$/m line\n", "a\nb", DICT_FOUND, "line"},
    {"no multi-line by default", "/^b$/ line\n", "a\nb", DICT_NOTFOUND, ""},
    {"continuation", "/a/ b\n  c\n\td\n", "a", DICT_FOUND, "b c d"},
    {"comments", "# x\n/z/ no\n  # y\n\n/a/ yes # not a comment\n", "a", DICT_FOUND,
     "yes # not a comment"},
    {"result spaces", "/a/   spaced   out  \n", "a", DICT_FOUND, "spaced   out"},
    {"nested pm", nested, "postmaster@example.com", DICT_FOUND, "pm"},
    {"nested other", nested, "joe@example.com", DICT_FOUND, "other"},
    {"nested info skips inner", nested, "info@example.com", DICT_FOUND, "fallback"},
    {"nested outside", nested, "joe@example.org", DICT_FOUND, "fallback"},
    {"if upper case", "IF /a/\n/./ in\nENDIF\n/./ out\n", "b", DICT_FOUND, "out"},
    {"if no blank", "if/a/\n/./ in\nendif\n", "a", DICT_FOUND, "in"},
    {"if negated", "if !/a/\n/./ not-a\nendif\n", "b", DICT_FOUND, "not-a"},
    {"if negated skip", "if !/a/\n/./ not-a\nendif\n", "a", DICT_NOTFOUND, ""},
    {"if flags", "if /^A$/i\n/./ in\nendif\n", "a", DICT_NOTFOUND, ""},
    {"empty if", "if /a/\nendif\n/a/ after\n", "a", DICT_FOUND, "after"},
    {"empty key", "/^$/ empty\n", "", DICT_FOUND, "empty"},
    {"backref", "/^(.+)@\\1$/ same\n", "ab@ab", DICT_FOUND, "same"},
    {"backref no match", "/^(.+)@\\1$/ same\n", "ab@ac", DICT_NOTFOUND, ""},
    {"lazy habit", "/^(.*?)@/ $1\n", "joe@x", DICT_FOUND, "joe"},
};

static void test_lookups(void **state)
{
    strbuf *err = strbuf_new(16);
    strbuf *value = strbuf_new(16);
    size_t  i;
    dict   *d;
    int     rc;

    (void) state;
    for (i = 0; i < sizeof(lookup_cases) / sizeof(lookup_cases[0]); i++) {
        const struct lookup_case *c = &lookup_cases[i];

        strbuf_reset(err);
        d = dict_regexp_parse_mem(c->table, strlen(c->table), "mem", 0, err);
        if (d == NULL)
            fail_msg("%s: parse failed: %s", c->label, err->data);
        rc = dict_get(d, c->key, value);
        if (rc != c->rc || strcmp(value->data, c->value) != 0)
            fail_msg("%s: got %d \"%s\", want %d \"%s\"", c->label, rc, value->data,
                     c->rc, c->value);
        dict_close(d);
    }
    strbuf_free(err);
    strbuf_free(value);
}

/* ------------------------------------------------------------ errors */

struct error_case {
    const char *label;
    const char *table;
    size_t  len;                        /* 0: strlen */
    const char *error;                  /* expected prefix of err */
};

#define BIN(s)  s, sizeof(s) - 1

static const struct error_case error_cases[] = {
    {"bad regex with line", "# c\n\n/a(/ x\n", 0,
     "mem, line 3: bad regular expression \"a(\": "},
    {"bad regex bracket", "/a/ ok\n/[z-a]/ x\n", 0,
     "mem, line 2: bad regular expression \"[z-a]\": "},
    {"group out of range", "/a/ $2\n", 0,
     "mem, line 1: $2: the pattern has 0 parenthesised groups"},
    {"group out of range braced", "/(a)(b)/ ${3}\n", 0,
     "mem, line 1: $3: the pattern has 2 parenthesised groups"},
    {"group out of range basic", "/\\(a\\)(b)/x $2\n", 0,
     "mem, line 1: $2: the pattern has 1 parenthesised group"},
    {"group zero", "/(a)/ $0\n", 0,
     "mem, line 1: \"$0\" is not a group number from 1 to 99"},
    {"capture in negated", "!/(a)/ $1\n", 0,
     "mem, line 1: $1 in the result of a '!' pattern"},
    {"missing result", "/a/\n", 0, "mem, line 1: missing result after the pattern"},
    {"missing result blanks", "/a/i   \n", 0, "mem, line 1: missing result after the pattern"},
    {"unterminated", "/a\n", 0, "mem, line 1: missing '/' at the end of the pattern"},
    {"unterminated escaped", "/a\\/ x\n", 0,
     "mem, line 1: missing '/' at the end of the pattern"},
    {"unknown flag", "/a/q x\n", 0, "mem, line 1: unknown flag 'q' after the pattern"},
    {"flag glued to result", "/a/result\n", 0, "mem, line 1: unknown flag 'r'"},
    {"endif alone", "/a/ b\nendif\n", 0, "mem, line 2: endif without a matching if"},
    {"missing endif", "/a/ b\nif /a/\n/b/ c\n", 0,
     "mem, line 2: if without a matching endif"},
    {"missing inner endif", "if /a/\nif /b/\nendif\n", 0,
     "mem, line 1: if without a matching endif"},
    {"missing outer endif", "if /a/\nif /b/\n/c/ d\nendif\n", 0,
     "mem, line 1: if without a matching endif"},
    {"two missing", "if /a/\nif /b/\n", 0, "mem, line 2: if without a matching endif"},
    {"text after if", "if /a/ result\nendif\n", 0,
     "mem, line 1: unexpected text after the if pattern"},
    {"text after endif", "if /a/\nendif now\n", 0, "mem, line 2: unexpected text after endif"},
    {"bad regex in if", "if /(/\nendif\n", 0, "mem, line 1: bad regular expression \"(\""},
    {"if without pattern", "if\nendif\n", 0, "mem, line 1: missing pattern"},
    {"negation without pattern", "!\n", 0, "mem, line 1: missing pattern"},
    {"word", "abc def\n", 0,
     "mem, line 1: expected \"/pattern/ result\", \"if /pattern/\" or \"endif\""},
    {"alnum delimiter", "!apatterna x\n", 0, "mem, line 1: 'a' cannot delimit a pattern"},
    {"backslash delimiter", "\\a\\ x\n", 0, "mem, line 1: '\\' cannot delimit a pattern"},
    {"lone dollar", "/a/ cost $\n", 0, "mem, line 1: '$' must be followed by a group number"},
    {"dollar space", "/a/ $ 5\n", 0, "mem, line 1: '$' must be followed by a group number"},
    {"name glued", "/(a)/ $1x\n", 0,
     "mem, line 1: \"$1x\" is not a group number from 1 to 99 (write ${1}x for group 1"
     " followed by x)"},
    {"name not numeric", "/(a)/ $user\n", 0,
     "mem, line 1: \"$user\" is not a group number from 1 to 99"},
    {"braced not numeric", "/(a)/ ${x}\n", 0,
     "mem, line 1: \"${x}\" is not a group number from 1 to 99"},
    {"braced sign", "/(a)/ ${+1}\n", 0,
     "mem, line 1: \"${+1}\" is not a group number from 1 to 99"},
    {"unterminated brace", "/(a)/ ${1\n", 0, "mem, line 1: missing '}' after \"${\""},
    {"unterminated paren", "/(a)/ $(1\n", 0, "mem, line 1: missing ')' after \"$(\""},
    {"group over 99", "/(a)/ $100\n", 0, "mem, line 1: \"$100\" is not a group number"},
    {"continuation first", "  /a/ b\n", 0,
     "mem, line 1: continuation line (it starts with white space) before the first entry"},
    {"nul byte", BIN("/a/ b\n/c/ d\0\n"), "mem, line 2: line contains a NUL byte"},
    {"too complex", "/(.{0,255}){0,255}/ x\n", 0, "mem, line 1: pattern \"(.{0,255}){0,255}\""
     " is too complex: its repetitions expand to too many elements"},
    {"empty ways", "/(x||){20}(|)*/ x\n", 0, "mem, line 1: pattern \"(x||){20}(|)*\""
     " is too complex: it has too many ways to match nothing"},
    {"empty ways nested", "/((y?|)+){0,16}/ x\n", 0, "mem, line 1: pattern"
     " \"((y?|)+){0,16}\" is too complex: it has too many ways to match nothing"},
    {"too big plain", "/(ab){20000}/ x\n", 0, "mem, line 1: pattern \"(ab){20000}\" is too"
     " complex: its repetitions expand to too many elements"},
    {"too many optional", "/(a?){301}/ x\n", 0, "mem, line 1: pattern \"(a?){301}\" is too"
     " complex: its repetitions expand to too many optional elements"},
    {"too many optional basic", "/\\(a\\{0,100\\}\\)\\{0,100\\}/x y\n", 0,
     "mem, line 1: pattern \"\\(a\\{0,100\\}\\)\\{0,100\\}\" is too complex: its repetitions"
     " expand to too many optional elements"},
    {"too big", "/(a{100,}){400}/ x\n", 0, "mem, line 1: pattern \"(a{100,}){400}\" is too"
     " complex: its repetitions expand to too many elements"},
    {"stacked plus", "/^(aa)?+++++++++++++(b)$/ x\n", 0, "mem, line 1: pattern"
     " \"^(aa)?+++++++++++++(b)$\" is too complex: it has a repetition operator right"
     " after another one (as in \"a+*\"; put a group around the first)"},
    {"stacked plus basic", "/^\\(aa\\)\\+\\+/x y\n", 0,
     "mem, line 1: pattern \"^\\(aa\\)\\+\\+\" is too complex: it has a repetition operator"},
    {"stacked interval", "/a{2}{3}/ y\n", 0, "mem, line 1: pattern \"a{2}{3}\" is too complex:"
     " it has a repetition operator"},
    {"stacked after lazy", "/a*?\?/ y\n", 0, "mem, line 1: pattern \"a*?\?\" is too complex:"
     " it has a repetition operator"},
    {"nested optional plus", "/(((((a?)+)+)+)+)+/ x\n", 0, "mem, line 1: pattern"
     " \"(((((a?)+)+)+)+)+\" is too complex: it has too many ways to match nothing"},
    {"nested plus", "/(((((ab)+)+)+)+)+/ x\n", 0, "mem, line 1: pattern \"(((((ab)+)+)+)+)+\""
     " is too complex: it repeats repetitions too deeply"},
    {"empty ways in sequence", "/(x||)(x||)(x||)(x||)(x||)(x||)(x||)(x||)(x||)(x||)(x||)y/"
     " x\n", 0, "mem, line 1: pattern"},
    {"empty ways hidden by later text", "/((y?|)+){0,30}x/ x\n", 0, "mem, line 1: pattern"
     " \"((y?|)+){0,30}x\" is too complex: it has too many ways to match nothing"},
    {"empty alternatives", "/(x||)+++/ x\n", 0, "mem, line 1: pattern"},
    {"empty alternatives nested", "/(((x||)+)+)+/ x\n", 0, "mem, line 1: pattern"
     " \"(((x||)+)+)+\" is too complex: it has too many ways to match nothing"},
    {"empty groups", "/((){20}){0,30}/ x\n", 0, "mem, line 1: pattern \"((){20}){0,30}\" is"
     " too complex: its repetitions expand to too many optional elements"},
    {"nested stars", "/((((a*)*)*)*)*/ x\n", 0, "mem, line 1: pattern \"((((a*)*)*)*)*\" is"
     " too complex: it repeats repetitions too deeply"},
    {"repeated backref", "/(a)\\1+/ x\n", 0, "mem, line 1: pattern \"(a)\\1+\" is too complex:"
     " it repeats a back-reference"},
    {"backref in repeated group", "/(a)(b\\1)*/ x\n", 0, "mem, line 1: pattern"
     " \"(a)(b\\1)*\" is too complex: it repeats a back-reference"},
    {"too many backrefs", "/(a)\\1\\1\\1\\1\\1/ x\n", 0, "mem, line 1: pattern"
     " \"(a)\\1\\1\\1\\1\\1\" is too complex: it has too many back-references"},
    {"backref and repeated group", "/^(a|b)*\\1/ x\n", 0, "mem, line 1: pattern"
     " \"^(a|b)*\\1\" is too complex: it has back-references and repeats a group"},
    {"repeated anchors", "/(^){100}/ x\n", 0, "mem, line 1: pattern \"(^){100}\" is too"
     " complex: its repetitions expand to too many optional elements"},
    {"repeated empty group", "/^(){0,100}.(a|b)?/ x\n", 0, "mem, line 1: pattern"
     " \"^(){0,100}.(a|b)?\" is too complex: its repetitions expand to too many optional"
     " elements"},
    {"repeated empty alternative", "/$(|.){0,100}$/ x\n", 0, "mem, line 1: pattern"},
    {"repeated anchor group", "/a*[a-z]+(.(^){0,100})*b/ x\n", 0, "mem, line 1: pattern"},
    {"error on later line", "/a/ b\n/c/ d\n\n# x\n/e/ $1\n", 0,
     "mem, line 5: $1: the pattern has 0"},
};

static void test_errors(void **state)
{
    strbuf *err = strbuf_new(16);
    size_t  i;
    dict   *d;

    (void) state;
    for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct error_case *c = &error_cases[i];
        size_t  len = c->len ? c->len : strlen(c->table);

        strbuf_reset(err);
        d = dict_regexp_parse_mem(c->table, len, "mem", 0, err);
        if (d != NULL) {
            dict_close(d);
            fail_msg("%s: parsed, expected error \"%s\"", c->label, c->error);
        }
        if (strncmp(err->data, c->error, strlen(c->error)) != 0)
            fail_msg("%s: got \"%s\"\nwant \"%s...\"", c->label, err->data, c->error);
    }
    strbuf_free(err);
}

/* Patterns that are big but not pathological still compile. */
static void test_limits_accept(void **state)
{
    static const char *const ok[] = {
        "/^[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}$/ ip\n",
        "/^[a-f0-9]{32}$/ md5\n",
        "/((.{0,10}){0,10}){0,2}/ two hundred\n",
        "/a{4000}/ long\n",
        "/^[a-z]+\\.[a-z]+@([a-z0-9-]+\\.)+[a-z]+$/ plus\n",
        "/(a+)+b/ nested plus\n",
        "/(((a*)*)*)*/ four stars\n",
        "/^Subject: .*?(viagra|cialis)+?/ lazy habit\n",
        "/(x|)+/ empty alternative\n",
        "/((^|\\.)[a-z]+){50}$/ anchors in a repeated group\n",
        "/(^|,)x(,|$)/ anchors\n",
        "/a{2}?b+?c*?/ lazy\n",
        "/^.{1000,}$/ long line\n",
        "/(a?){300}/ optional\n",
        "/[a-z0-9-]{1,63}(\\.[a-z0-9-]{1,63}){0,3}/ labels\n",
        "/\\(a\\{100\\}\\)\\{100\\}/x mandatory copies\n",
        "/[[:alpha:]]{100}[]{}]{10}/ brackets\n",
    };
    strbuf *err = strbuf_new(16);
    strbuf *text = strbuf_new(16);
    size_t  i;
    dict   *d;

    (void) state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        d = dict_regexp_parse_mem(ok[i], strlen(ok[i]), "mem", 0, err);
        if (d == NULL)
            fail_msg("%s: %s", ok[i], err->data);
        dict_close(d);
    }

    /* Pattern length: DICT_REGEXP_PATTERN_MAX bytes pass, one more fails. */
    strbuf_putc(text, '/');
    for (i = 0; i < DICT_REGEXP_PATTERN_MAX; i++)
        strbuf_putc(text, 'a' + (char) (i % 2));
    strbuf_puts(text, "/ x\n");
    d = dict_regexp_parse_mem(text->data, text->len, "mem", 0, err);
    assert_non_null(d);
    dict_close(d);
    strbuf_reset(text);
    strbuf_putc(text, '/');
    for (i = 0; i <= DICT_REGEXP_PATTERN_MAX; i++)
        strbuf_putc(text, 'a');
    strbuf_puts(text, "/ x\n");
    assert_null(dict_regexp_parse_mem(text->data, text->len, "mem", 0, err));
    assert_string_equal(err->data, "mem, line 1: pattern is longer than 1024 bytes");

    /* Nesting depth. */
    strbuf_reset(text);
    strbuf_putc(text, '/');
    for (i = 0; i <= DICT_REGEXP_DEPTH_MAX; i++)
        strbuf_putc(text, '(');
    strbuf_putc(text, 'a');
    for (i = 0; i <= DICT_REGEXP_DEPTH_MAX; i++)
        strbuf_putc(text, ')');
    strbuf_puts(text, "/ x\n");
    assert_null(dict_regexp_parse_mem(text->data, text->len, "mem", 0, err));
    assert_non_null(strstr(err->data, "is too complex: it nests groups too deeply"));

    /* Result length. */
    strbuf_setf(text, "/a/ ");
    for (i = 0; i <= DICT_REGEXP_RESULT_MAX; i++)
        strbuf_putc(text, 'r');
    assert_null(dict_regexp_parse_mem(text->data, text->len, "mem", 0, err));
    assert_string_equal(err->data, "mem, line 1: result is longer than 4096 bytes");
    strbuf_free(err);
    strbuf_free(text);
}

/* Heavy patterns are bounded for the table as a whole too. */
static void test_table_cost(void **state)
{
    strbuf *text = strbuf_new(16);
    strbuf *err = strbuf_new(16);
    dict   *d;
    int     i;

    (void) state;
    /* (a?){300}: 300 optional elements, 90000 cost units each. */
    for (i = 0; i < DICT_REGEXP_TABLE_COST_MAX / 90000; i++)
        strbuf_puts(text, "/(a?){300}/ x\n");
    d = dict_regexp_parse_mem(text->data, text->len, "mem", 0, err);
    assert_non_null(d);
    dict_close(d);
    strbuf_puts(text, "/(b?){300}/ y\n");
    assert_null(dict_regexp_parse_mem(text->data, text->len, "mem", 0, err));
    assert_string_equal(err->data, "mem, line 12: the patterns of the table are too"
                        " complex together (too many repetitions)");

    /* The same for plain size: a{30000} is 30000 elements. */
    strbuf_reset(text);
    for (i = 0; i < DICT_REGEXP_TABLE_SIZE_MAX / 30000; i++)
        strbuf_puts(text, "/a{30000}/ x\n");
    d = dict_regexp_parse_mem(text->data, text->len, "mem", 0, err);
    assert_non_null(d);
    dict_close(d);
    strbuf_puts(text, "if /a{30000}/\nendif\n");
    assert_null(dict_regexp_parse_mem(text->data, text->len, "mem", 0, err));
    assert_string_equal(err->data, "mem, line 34: the patterns of the table are too"
                        " complex together (too many repetitions)");
    strbuf_free(text);
    strbuf_free(err);
}

/* The number of rules is bounded. */
static void test_rule_limit(void **state)
{
    strbuf *text = strbuf_new(16);
    strbuf *err = strbuf_new(16);
    strbuf *want = strbuf_new(16);
    dict   *d;
    int     i;

    (void) state;
    for (i = 0; i < DICT_REGEXP_RULES_MAX; i++)
        strbuf_puts(text, "/a/ b\n");
    d = dict_regexp_parse_mem(text->data, text->len, "mem", 0, err);
    assert_non_null(d);
    dict_close(d);
    strbuf_puts(text, "/a/ b\n");
    assert_null(dict_regexp_parse_mem(text->data, text->len, "mem", 0, err));
    strbuf_setf(want, "mem, line %d: more than %d rules", DICT_REGEXP_RULES_MAX + 1,
                DICT_REGEXP_RULES_MAX);
    assert_string_equal(err->data, want->data);
    strbuf_free(text);
    strbuf_free(err);
    strbuf_free(want);
}

/* A result that expands past DICT_VALUE_MAX is a temporary failure. */
static void test_expansion_limit(void **state)
{
    strbuf *text = strbuf_new(16);
    strbuf *err = strbuf_new(16);
    strbuf *value = strbuf_new(16);
    char   *key = mem_alloc(1001);
    dict   *d;
    int     i;

    (void) state;
    strbuf_puts(text, "/^(.*)$/ ");
    for (i = 0; i < 2000; i++)
        strbuf_puts(text, "$1");
    strbuf_putc(text, '\n');
    d = dict_regexp_parse_mem(text->data, text->len, "mem", 0, err);
    assert_non_null(d);
    memset(key, 'k', 1000);
    key[1000] = 0;
    assert_int_equal(dict_get(d, key, value), DICT_RETRY);
    assert_string_equal(value->data, "");
    assert_string_equal(dict_error(d), "mem, line 1: result is longer than 1048576 bytes");
    key[10] = 0;
    assert_int_equal(dict_get(d, key, value), DICT_FOUND);
    assert_int_equal(value->len, 20000);
    dict_close(d);
    mem_free(key);
    strbuf_free(text);
    strbuf_free(err);
    strbuf_free(value);
}

/* ------------------------------------------------------------ the file type */

static void test_open_file(void **state)
{
    char   *path = str_concat(tmpdir, "/table", (char *) NULL);
    char   *tmp = str_concat(tmpdir, "/table.new", (char *) NULL);
    char   *spec = str_concat("regexp:", path, (char *) NULL);
    strbuf *err = strbuf_new(16);
    strbuf *value = strbuf_new(16);
    strbuf *want = strbuf_new(16);
    FILE   *fp;
    dict   *d;

    (void) state;
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("# access table\n/^(.*)@example\\.com$/ OK $1\n/./ REJECT\n", fp);
    fclose(fp);

    d = dict_open(spec, DICT_F_FOLD | DICT_F_LOCK, err);
    assert_non_null(d);
    assert_string_equal(d->type, "regexp");
    assert_string_equal(d->name, path);
    assert_true(d->props & DICT_P_PATTERN);
    assert_true(d->props & DICT_P_FILE);
    assert_false(d->props & (DICT_P_FIXED | DICT_P_WRITABLE));
    assert_int_equal(dict_get(d, "Joe@EXAMPLE.com", value), DICT_FOUND);
    assert_string_equal(value->data, "OK Joe");          /* key not folded */
    assert_int_equal(dict_get(d, "x@y", value), DICT_FOUND);
    assert_string_equal(value->data, "REJECT");
    assert_int_equal(dict_get(d, "", value), DICT_NOTFOUND);
    assert_int_equal(dict_iterate(d, 1, err, value), DICT_RETRY);
    assert_int_equal(dict_changed(d), 0);

    /* Replaced by rename: changed. */
    fp = fopen(tmp, "w");
    assert_non_null(fp);
    fputs("/a/ b\n", fp);
    fclose(fp);
    assert_int_equal(rename(tmp, path), 0);
    assert_int_equal(dict_changed(d), 1);
    dict_close(d);

    /* Errors carry the path and line. */
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("/a/ b\n\n/[/ c\n", fp);
    fclose(fp);
    assert_null(dict_open(spec, 0, err));
    strbuf_setf(want, "%s, line 3: bad regular expression \"[\": ", path);
    assert_int_equal(strncmp(err->data, want->data, want->len), 0);

    /* And the surrogate defers with that reason. */
    testlib_log_reset();
    d = dict_open_or_fail(spec, 0);
    assert_true(testlib_log_has(want->data));
    assert_int_equal(dict_get(d, "a", value), DICT_RETRY);
    assert_int_equal(strncmp(dict_error(d), want->data, want->len), 0);
    dict_close(d);

    unlink(path);
    assert_null(dict_open(spec, 0, err));
    strbuf_setf(want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(err->data, want->data);

    /* Memory tables have nothing to watch. */
    d = dict_regexp_parse_mem("/a/ b\n", 6, "mem", 0, err);
    assert_false(d->props & DICT_P_FILE);
    assert_int_equal(dict_changed(d), 0);
    assert_string_equal(d->name, "mem");
    dict_close(d);

    mem_free(path);
    mem_free(tmp);
    mem_free(spec);
    strbuf_free(err);
    strbuf_free(value);
    strbuf_free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookups),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits_accept),
        cmocka_unit_test(test_table_cost),
        cmocka_unit_test(test_rule_limit),
        cmocka_unit_test(test_expansion_limit),
        cmocka_unit_test(test_open_file),
    };
    int     rc;

    testlib_setup();
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    (void) rmdir(tmpdir);
    return rc;
}
