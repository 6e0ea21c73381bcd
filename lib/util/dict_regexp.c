/*
 * dict_regexp: the "regexp:" table type: keys are matched against POSIX
 * regular expressions, first match wins (the Postfix regexp_table(5)
 * format).
 *
 * Public functions:
 *   dict_regexp_open(path, flags, err): read and compile the table in
 *     path. Returns NULL with err "PATH: cannot open: ..." or "PATH, line
 *     N: what is wrong" (for a bad regular expression, the regcomp error
 *     text): a table with any error is refused as a whole, so that
 *     dict_open_or_fail defers mail instead of skipping rules. The table
 *     is read-only (DICT_P_PATTERN: keys are never folded), cannot be
 *     listed, and reports dict_changed once the file is replaced or
 *     modified.
 *   dict_regexp_parse_mem(text, len, origin, flags, err): the same parser
 *     on len bytes of memory, origin naming them in messages ("ORIGIN,
 *     line N: ..."); the table is named origin and has no file to watch.
 *
 * Format. Logical lines as in every table source (dict_src: white space
 * at the start of a line continues the previous one; blank lines and '#'
 * comment lines are ignored). Each logical line is one of:
 *
 *   /pattern/flags result    a key that matches pattern gives result
 *   !/pattern/flags result   a key that does NOT match gives result
 *   if /pattern/flags        the lines up to the matching endif are
 *   if !/pattern/flags       only used when the key matches (does not
 *   endif                    match) pattern; if blocks nest
 *
 * The delimiter is the first character of the pattern: '/' or any other
 * character that is not a letter, digit, white space or backslash. A
 * backslash before any character (the delimiter included) keeps both in
 * the pattern, so "/a\/b/" is the expression "a\/b". Flags toggle
 * regcomp options: 'i' case sensitivity (the default is case-
 * INSENSITIVE), 'x' extended syntax (the default is extended; x gives
 * basic expressions), 'm' multi-line mode (REG_NEWLINE, default off).
 * "if" and "endif" are recognised in any case.
 *
 * Results: "$n", "${n}" and "$(n)" insert the text the n-th
 * parenthesised subexpression matched (nothing when that group took no
 * part in the match); "$$" is a '$'. A '$' name takes every following
 * letter, digit and '_', so "$1x" is an error: write "${1}x". A group
 * number the pattern does not have, any $n in the result of a '!' rule,
 * and any other '$' use are errors when the table is parsed.
 *
 * SECURITY: tables are admin-written, but a regular expression can cost
 * exponential time and memory in regcomp/regexec, so each pattern is
 * bounded in length and in an estimate of what regcomp builds from it
 * (see "Pattern cost" below); stacked repetition operators ("a+*", which
 * POSIX leaves undefined) and repeated back-references are refused. That
 * keeps a typo, or a fuzzer, from stalling the process. Keys come from
 * mail (client input) and are only handed to regexec; keys longer than
 * DICT_KEY_MAX never get here (dict.c). Nothing here is fatal.
 * LIMITS: see dict_regexp.h: DICT_REGEXP_RULES_MAX lines that are rules,
 * if or endif; DICT_REGEXP_PATTERN_MAX bytes per pattern; per pattern
 * DICT_REGEXP_SIZE_MAX elements after expanding repetitions, of which
 * DICT_REGEXP_OPTIONAL_MAX optional, DICT_REGEXP_EMPTY_MAX ways to match
 * nothing, DICT_REGEXP_REPEAT_DEPTH_MAX nested repetitions,
 * DICT_REGEXP_DEPTH_MAX nested groups, DICT_REGEXP_BACKREF_MAX
 * back-references; per table DICT_REGEXP_TABLE_SIZE_MAX elements and
 * DICT_REGEXP_TABLE_COST_MAX (sum of the squared optional counts: about
 * 100 bytes of regcomp memory per unit); DICT_REGEXP_RESULT_MAX bytes per
 * result; $1..$DICT_REGEXP_GROUP_MAX; DICT_VALUE_MAX per expanded value
 * (a longer one is DICT_RETRY).
 */
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dict.h"
#include "dict_regexp.h"
#include "dict_src.h"
#include "dict_types.h"
#include "mem.h"
#include "numparse.h"
#include "strbuf.h"

/* Rule kinds. */
#define DICT_REGEXP_MATCH   1
#define DICT_REGEXP_IF      2
#define DICT_REGEXP_ENDIF   3

typedef struct dict_regexp_rule {
    int     op;                         /* DICT_REGEXP_MATCH, _IF, _ENDIF */
    int     negate;                     /* '!' pattern */
    int     line;                       /* source line, for messages */
    int     compiled;                   /* re holds a compiled pattern */
    regex_t re;
    size_t  nmatch;                     /* 1 + highest $n used, or 0 */
    char   *result;                     /* MATCH: result template */
    size_t  endif;                      /* IF: index of its endif */
} dict_regexp_rule;

typedef struct dict_regexp {
    dict    dict;                       /* must be first */
    dict_regexp_rule *rules;
    size_t  count;
    size_t  alloc;
    char   *origin;                     /* for messages */
    unsigned long table_size;           /* pattern costs, summed */
    unsigned long table_cost;
    int     watch;                      /* file identity below is valid */
    dev_t   dev;
    ino_t   ino;
    time_t  mtime;
} dict_regexp;

/* dict_regexp_blank: white space inside a logical line. */
static int dict_regexp_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* dict_regexp_alnum: ASCII letter or digit (locale independent). */
static int dict_regexp_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* dict_regexp_name_char: characters of a $name. */
static int dict_regexp_name_char(int c)
{
    return dict_regexp_alnum(c) || c == '_';
}

/* dict_regexp_error: set err to "ORIGIN, line N: " + formatted text. */
static void dict_regexp_error(strbuf *err, const char *origin, int line,
                              const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void dict_regexp_error(strbuf *err, const char *origin, int line,
                              const char *fmt, ...)
{
    va_list ap;

    strbuf_setf(err, "%s, line %d: ", origin, line);
    va_start(ap, fmt);
    strbuf_vprintf(err, fmt, ap);
    va_end(ap);
}

/*
 * Pattern cost. glibc's regcomp expands repetitions into copies ("x{3}"
 * is "xxx", "x+" is "xx*", "x{2,4}" is "xx" plus two optional copies).
 * Its memory grows with the square of the optional elements, and its
 * time explodes with the number of distinct ways a piece can match the
 * empty string ("(x||){20}(|)*", "((y?|)+){0,16}"), which it does not
 * merge. A cost tracks, for a piece of pattern:
 *   size    elements after expansion (each group counts one more)
 *   opt     how many of them are optional
 *   eps     ways to match the empty string (0: the piece needs input);
 *           product over a sequence, sum over alternatives
 *   rdepth  how deeply repetitions are applied to repetitions
 *   backrefs  back-references in the piece
 *   groups  parenthesised groups in the piece
 * Over-estimates are fine: they only refuse pathological patterns.
 */
typedef struct dict_regexp_cost {
    unsigned long size;
    unsigned long opt;
    unsigned long eps;
    int     rdepth;
    int     backrefs;                   /* back-references in the piece */
    int     groups;                     /* groups in the piece */
} dict_regexp_cost;

/* Saturation point for cost arithmetic (far above every limit). */
#define DICT_REGEXP_COST_CAP    (1UL << 30)

/* The cost of nothing (the identity of a sequence) and of one element. */
static const dict_regexp_cost dict_regexp_nothing = {0, 0, 1, 0, 0, 0};
static const dict_regexp_cost dict_regexp_atom = {1, 0, 0, 0, 0, 0};

/* Anchors and back-references match nothing or constrain; glibc pays for
 * them like for several optional elements (measured: "(^){300}" is slow). */
static const dict_regexp_cost dict_regexp_anchor = {4, 4, 1, 0, 0, 0};
static const dict_regexp_cost dict_regexp_backref = {4, 4, 1, 0, 1, 0};

/* dict_regexp_add: saturating a + b. */
static unsigned long dict_regexp_add(unsigned long a, unsigned long b)
{
    return a + b > DICT_REGEXP_COST_CAP ? DICT_REGEXP_COST_CAP : a + b;
}

/* dict_regexp_mul: saturating a * b. */
static unsigned long dict_regexp_mul(unsigned long a, unsigned long b)
{
    if (a == 0 || b == 0)
        return 0;
    return a > DICT_REGEXP_COST_CAP / b ? DICT_REGEXP_COST_CAP : a * b;
}

/* dict_regexp_pow: saturating a ** n. */
static unsigned long dict_regexp_pow(unsigned long a, unsigned long n)
{
    unsigned long r = 1;

    if (a <= 1)
        return n == 0 ? 1 : a;
    while (n-- > 0 && r < DICT_REGEXP_COST_CAP)
        r = dict_regexp_mul(r, a);
    return r;
}

/* dict_regexp_seq: append piece from to the sequence to. */
static void dict_regexp_seq(dict_regexp_cost *to, const dict_regexp_cost *from)
{
    to->size = dict_regexp_add(to->size, from->size);
    to->opt = dict_regexp_add(to->opt, from->opt);
    to->eps = dict_regexp_mul(to->eps, from->eps);
    to->groups += from->groups;
    to->backrefs += from->backrefs;
    if (from->rdepth > to->rdepth)
        to->rdepth = from->rdepth;
}

/* dict_regexp_alt: add alternative from to the alternatives in to. */
static void dict_regexp_alt(dict_regexp_cost *to, const dict_regexp_cost *from)
{
    to->size = dict_regexp_add(to->size, from->size);
    to->opt = dict_regexp_add(to->opt, from->opt);
    to->eps = dict_regexp_add(to->eps, from->eps);
    to->groups += from->groups;
    to->backrefs += from->backrefs;
    if (from->rdepth > to->rdepth)
        to->rdepth = from->rdepth;
}

/*
 * dict_regexp_chain: ways through k nested optional copies of a piece
 * with e ways to match nothing (glibc builds "x{0,3}" as "(x(x(x)?)?)?"):
 * 1 + e + e^2 + ... + e^k, saturated.
 */
static unsigned long dict_regexp_chain(unsigned long e, unsigned long k)
{
    unsigned long sum = 1;
    unsigned long term = 1;

    if (e == 1)
        return dict_regexp_add(k, 1);
    while (k-- > 0 && e > 0 && sum < DICT_REGEXP_COST_CAP) {
        term = dict_regexp_mul(term, e);
        sum = dict_regexp_add(sum, term);
    }
    return sum;
}

/*
 * dict_regexp_repeat: apply a repetition to x: at least lo copies, at
 * most hi (hi < 0: unbounded, as for '*', '+' and "{n,}").
 */
static void dict_regexp_repeat(dict_regexp_cost *x, unsigned long lo, long hi)
{
    unsigned long s = x->size;
    unsigned long o = x->opt;
    unsigned long e = x->eps;

    if (hi < 0) {                               /* lo copies, then x* */
        x->size = dict_regexp_mul(s, lo + 1);
        x->opt = dict_regexp_add(dict_regexp_mul(o, lo), s);
        x->eps = dict_regexp_mul(dict_regexp_pow(e, lo), dict_regexp_add(e, 1));
    } else {
        if ((unsigned long) hi < lo)
            hi = (long) lo;
        x->size = dict_regexp_mul(s, (unsigned long) hi);
        x->opt = dict_regexp_add(dict_regexp_mul(o, lo),
                                 dict_regexp_mul(s, (unsigned long) hi - lo));
        x->eps = dict_regexp_mul(dict_regexp_pow(e, lo),
                                 dict_regexp_chain(e, (unsigned long) hi - lo));
    }
    x->rdepth++;
}

/* dict_regexp_interval: parse "n}", "n,}", "n,m}" (BRE: "\}"); 0 if not. */
static int dict_regexp_interval(const char **pp, int extended, unsigned long *lo,
                                long *hi)
{
    const char *p = *pp;
    const char *num = p;
    long    v;

    while (*p >= '0' && *p <= '9')
        p++;
    if (p == num)
        return 0;
    if (num_parse_long_n(num, (size_t) (p - num), 0, 1000000, &v) < 0)
        v = 1000000;
    *lo = (unsigned long) v;
    *hi = v;
    if (*p == ',') {
        num = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == num)
            *hi = -1;
        else if (num_parse_long_n(num, (size_t) (p - num), 0, 1000000, hi) < 0)
            *hi = 1000000;
    }
    if (extended ? *p != '}' : (p[0] != '\\' || p[1] != '}'))
        return 0;
    *pp = p + (extended ? 1 : 2);
    return 1;
}

/* dict_regexp_bracket: skip a bracket expression; p is just past '['. */
static const char *dict_regexp_bracket(const char *p)
{
    char    t;

    if (*p == '^')
        p++;
    if (*p == ']')
        p++;
    while (*p && *p != ']') {
        if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            t = p[1];
            p += 2;
            while (*p && !(*p == t && p[1] == ']'))
                p++;
            if (*p)
                p += 2;
        } else {
            p++;
        }
    }
    return *p ? p + 1 : p;
}

/*
 * Parser state per group nesting level: alts holds the alternatives
 * already closed by '|', done the current alternative up to (not
 * including) last, the piece a repetition operator would apply to.
 */
typedef struct dict_regexp_level {
    dict_regexp_cost alts;
    int     nalts;                      /* alternatives in alts */
    dict_regexp_cost done;
    dict_regexp_cost last;
} dict_regexp_level;

/* dict_regexp_level_init: a level with nothing in it yet. */
static void dict_regexp_level_init(dict_regexp_level *lv)
{
    memset(&lv->alts, 0, sizeof(lv->alts));
    lv->nalts = 0;
    lv->done = dict_regexp_nothing;
    lv->last = dict_regexp_nothing;
}

/* dict_regexp_level_push: end the last piece; the next one starts. */
static void dict_regexp_level_push(dict_regexp_level *lv, const dict_regexp_cost *next)
{
    dict_regexp_seq(&lv->done, &lv->last);
    lv->last = *next;
}

/*
 * dict_regexp_level_end_alt: finish the current alternative. An empty
 * one ("(|x)", "()") is a node that matches nothing, priced like an
 * anchor.
 */
static void dict_regexp_level_end_alt(dict_regexp_level *lv)
{
    dict_regexp_seq(&lv->done, &lv->last);
    lv->last = dict_regexp_nothing;
    if (lv->done.size == 0)
        lv->done = dict_regexp_anchor;
}

/* dict_regexp_level_close: the cost of everything at a level. */
static void dict_regexp_level_close(dict_regexp_level *lv, dict_regexp_cost *out)
{
    dict_regexp_level_end_alt(lv);
    *out = lv->alts;
    if (lv->nalts == 0)
        *out = lv->done;
    else
        dict_regexp_alt(out, &lv->done);
}

/*
 * dict_regexp_too_complex: NULL when pattern p is within the cost
 * limits, else the reason; *cost gets the pattern's cost.
 */
static const char *dict_regexp_too_complex(const char *p, int extended,
                                           dict_regexp_cost *cost)
{
    static const dict_regexp_cost node = {1, 0, 0, 0, 0, 1};
    dict_regexp_level lv[DICT_REGEXP_DEPTH_MAX + 1];
    dict_regexp_cost group;
    unsigned long lo = 0;
    long    hi = 0;
    int     depth = 0;
    int     rep;                                /* 0 none, 1 ?, 2 *, 3 +, 4 {} */
    int     stacked = 0;                        /* operators on the same piece */
    int     prev;
    int     backrefs = 0;
    int     group_repeated = 0;

    dict_regexp_level_init(&lv[0]);
    for (;;) {
        /*
         * Check every piece as it grows: a later non-nullable piece would
         * hide the cost from the total ("((y?|)+){0,30}x" needs no empty
         * match, but regcomp still pays for the group).
         */
        if (lv[depth].done.eps > DICT_REGEXP_EMPTY_MAX
            || lv[depth].last.eps > DICT_REGEXP_EMPTY_MAX
            || lv[depth].alts.eps > DICT_REGEXP_EMPTY_MAX)
            return "it has too many ways to match nothing";
        if (*p == 0)
            break;
        rep = 0;
        prev = stacked;
        stacked = 0;
        if (*p == '[') {
            p = dict_regexp_bracket(p + 1);
            dict_regexp_level_push(&lv[depth], &dict_regexp_atom);
            continue;
        }
        if (!extended && p[0] == '\\' && (p[1] == '?' || p[1] == '+')) {
            rep = p[1] == '?' ? 1 : 3;
            p += 2;
        } else if ((!extended && p[0] == '\\' && p[1] == '{') || (extended && *p == '{')) {
            p += extended ? 1 : 2;
            if (!dict_regexp_interval(&p, extended, &lo, &hi))
                continue;
            rep = 4;
        } else if ((extended && *p == '(') || (!extended && p[0] == '\\' && p[1] == '(')) {
            p += extended ? 1 : 2;
            if (depth == DICT_REGEXP_DEPTH_MAX)
                return "it nests groups too deeply";
            dict_regexp_level_push(&lv[depth], &dict_regexp_nothing);
            dict_regexp_level_init(&lv[++depth]);
            continue;
        } else if (depth > 0 && ((extended && *p == ')')
                                 || (!extended && p[0] == '\\' && p[1] == ')'))) {
            p += extended ? 1 : 2;
            dict_regexp_level_close(&lv[depth--], &group);
            group.size = dict_regexp_add(group.size, node.size);
            group.groups += node.groups;
            lv[depth].last = group;
            continue;
        } else if ((extended && *p == '|') || (!extended && p[0] == '\\' && p[1] == '|')) {
            p += extended ? 1 : 2;
            dict_regexp_level_end_alt(&lv[depth]);
            if (lv[depth].nalts++ == 0)
                lv[depth].alts = lv[depth].done;
            else
                dict_regexp_alt(&lv[depth].alts, &lv[depth].done);
            lv[depth].done = dict_regexp_nothing;
            lv[depth].last = dict_regexp_nothing;
            continue;
        } else if (*p == '*') {
            rep = 2;
            p++;
        } else if (extended && (*p == '?' || *p == '+')) {
            rep = *p == '?' ? 1 : 3;
            p++;
        } else if (p[0] == '\\' && p[1] >= '1' && p[1] <= '9') {
            p += 2;
            if (++backrefs > DICT_REGEXP_BACKREF_MAX)
                return "it has too many back-references";
            dict_regexp_level_push(&lv[depth], &dict_regexp_backref);
            continue;
        } else if (*p == '^' || *p == '$') {
            p++;                                /* anchors match nothing */
            dict_regexp_level_push(&lv[depth], &dict_regexp_anchor);
            continue;
        } else {
            p += (*p == '\\' && p[1]) ? 2 : 1;
            dict_regexp_level_push(&lv[depth], &dict_regexp_atom);
            continue;
        }

        /*
         * A repetition operator. POSIX leaves operators on operators
         * ("a**", "a+{2}") undefined and glibc's cost for them explodes;
         * only one '?' after another operator (".*?", a habit from other
         * regexp dialects) is let through.
         */
        if (prev > 1 || (prev == 1 && rep != 1))
            return "it has a repetition operator right after another one (as in"
                " \"a+*\"; put a group around the first)";
        /* regexec backtracks on back-references: never repeat them. */
        if (lv[depth].last.backrefs > 0)
            return "it repeats a back-reference";
        if (lv[depth].last.groups > 0)
            group_repeated = 1;
        stacked = prev + 1;
        if (rep == 4)
            dict_regexp_repeat(&lv[depth].last, lo, hi);
        else if (rep == 3)
            dict_regexp_repeat(&lv[depth].last, 1, -1);
        else
            dict_regexp_repeat(&lv[depth].last, 0, rep == 1 ? 1 : -1);
    }
    while (depth > 0) {                         /* unclosed: regcomp refuses */
        dict_regexp_level_close(&lv[depth--], &group);
        lv[depth].last = group;
        if (group.eps > DICT_REGEXP_EMPTY_MAX)
            return "it has too many ways to match nothing";
    }
    dict_regexp_level_close(&lv[0], cost);
    if (backrefs > 0 && group_repeated)
        return "it has back-references and repeats a group";
    if (cost->rdepth > DICT_REGEXP_REPEAT_DEPTH_MAX)
        return "it repeats repetitions too deeply";
    if (cost->eps > DICT_REGEXP_EMPTY_MAX)
        return "it has too many ways to match nothing";
    if (cost->size > DICT_REGEXP_SIZE_MAX)
        return "its repetitions expand to too many elements";
    if (cost->opt > DICT_REGEXP_OPTIONAL_MAX)
        return "its repetitions expand to too many optional elements";
    return NULL;
}

/* dict_regexp_ref: parse the $ reference at p (just past '$'). */
static const char *dict_regexp_ref(const char *p, long *group, strbuf *why)
{
    const char *name;
    const char *end;
    char    close;
    int     bare = 0;

    *group = -1;
    if (*p == '$')
        return p + 1;                           /* "$$" */
    if (*p == '{' || *p == '(') {
        close = *p == '{' ? '}' : ')';
        name = p + 1;
        if ((end = strchr(name, close)) == NULL) {
            strbuf_setf(why, "missing '%c' after \"$%c\"", close, *p);
            return NULL;
        }
        p = end + 1;
    } else {
        bare = 1;
        name = p;
        for (end = p; dict_regexp_name_char((unsigned char) *end); end++)
             /* void */ ;
        if (end == name) {
            strbuf_setf(why, "'$' must be followed by a group number, {number}"
                        " or another '$'");
            return NULL;
        }
        p = end;
    }
    if (strspn(name, "0123456789") < (size_t) (end - name)
        || num_parse_long_n(name, (size_t) (end - name), 1, DICT_REGEXP_GROUP_MAX,
                            group) < 0) {
        strbuf_setf(why, "\"$%.*s\" is not a group number from 1 to %d%s",
                    (bare ? 0 : 1) + (int) (end - name) + (bare ? 0 : 1),
                    name - (bare ? 0 : 1), DICT_REGEXP_GROUP_MAX,
                    bare && *name >= '0' && *name <= '9'
                    ? " (write ${1}x for group 1 followed by x)" : "");
        *group = -1;
        return NULL;
    }
    return p;
}

/* dict_regexp_check_result: validate $ references; 0 or -1 with why. */
static int dict_regexp_check_result(dict_regexp_rule *r, strbuf *why)
{
    const char *p = r->result;
    long    group;

    r->nmatch = 0;
    while ((p = strchr(p, '$')) != NULL) {
        if ((p = dict_regexp_ref(p + 1, &group, why)) == NULL)
            return -1;
        if (group < 0)
            continue;
        if (r->negate) {
            strbuf_setf(why, "$%ld in the result of a '!' pattern, which has"
                        " no match to take text from", group);
            return -1;
        }
        if ((size_t) group > r->re.re_nsub) {
            strbuf_setf(why, "$%ld: the pattern has %zu parenthesised group%s",
                        group, r->re.re_nsub, r->re.re_nsub == 1 ? "" : "s");
            return -1;
        }
        if ((size_t) group + 1 > r->nmatch)
            r->nmatch = (size_t) group + 1;
    }
    return 0;
}

/* dict_regexp_pattern: parse [!]/pattern/flags at p and compile it. */
static const char *dict_regexp_pattern(dict_regexp *dr, dict_regexp_rule *r,
                                       const char *p, strbuf *pat, strbuf *why)
{
    const char *start;
    char    delim;
    int     cflags = REG_EXTENDED | REG_ICASE;
    int     rc;
    char    text[256];
    const char *why_complex;
    dict_regexp_cost cost;

    if (*p == '!') {
        r->negate = 1;
        for (p++; dict_regexp_blank((unsigned char) *p); p++)
             /* void */ ;
    }
    delim = *p;
    if (delim == 0) {
        strbuf_setf(why, "missing pattern");
        return NULL;
    }
    if (dict_regexp_alnum((unsigned char) delim) || delim == '\\') {
        strbuf_setf(why, "'%c' cannot delimit a pattern (use /pattern/)", delim);
        return NULL;
    }
    for (start = ++p; *p && *p != delim; p++)
        if (*p == '\\' && p[1])
            p++;
    if (*p == 0) {
        strbuf_setf(why, "missing '%c' at the end of the pattern", delim);
        return NULL;
    }
    if ((size_t) (p - start) > DICT_REGEXP_PATTERN_MAX) {
        strbuf_setf(why, "pattern is longer than %d bytes", DICT_REGEXP_PATTERN_MAX);
        return NULL;
    }
    strbuf_set(pat, start, (size_t) (p - start));
    for (p++; *p && !dict_regexp_blank((unsigned char) *p); p++) {
        switch (*p) {
        case 'i':
            cflags ^= REG_ICASE;
            break;
        case 'x':
            cflags ^= REG_EXTENDED;
            break;
        case 'm':
            cflags ^= REG_NEWLINE;
            break;
        default:
            strbuf_setf(why, "unknown flag '%c' after the pattern (flags are i,"
                        " m and x; put white space before the result)", *p);
            return NULL;
        }
    }
    if ((why_complex = dict_regexp_too_complex(pat->data, (cflags & REG_EXTENDED) != 0,
                                               &cost)) != NULL) {
        strbuf_setf(why, "pattern \"%s\" is too complex: %s", pat->data, why_complex);
        return NULL;
    }
    /* What regcomp allocates grows with size, and with opt squared. */
    dr->table_size = dict_regexp_add(dr->table_size, cost.size);
    dr->table_cost = dict_regexp_add(dr->table_cost, dict_regexp_mul(cost.opt, cost.opt));
    if (dr->table_size > DICT_REGEXP_TABLE_SIZE_MAX
        || dr->table_cost > DICT_REGEXP_TABLE_COST_MAX) {
        strbuf_setf(why, "the patterns of the table are too complex together (too"
                    " many repetitions)");
        return NULL;
    }
    if ((rc = regcomp(&r->re, pat->data, cflags)) != 0) {
        (void) regerror(rc, &r->re, text, sizeof(text));
        strbuf_setf(why, "bad regular expression \"%s\": %s", pat->data, text);
        return NULL;
    }
    r->compiled = 1;
    return p;
}

/* dict_regexp_keyword: 1 if p starts with word (any case) and a non-alnum. */
static int dict_regexp_keyword(const char *p, const char *word)
{
    size_t  n = strlen(word);
    size_t  i;

    for (i = 0; i < n; i++)
        if (p[i] == 0 || (p[i] | 0x20) != word[i])
            return 0;
    return !dict_regexp_alnum((unsigned char) p[n]);
}

/* dict_regexp_skip_blank: skip white space. */
static const char *dict_regexp_skip_blank(const char *p)
{
    while (dict_regexp_blank((unsigned char) *p))
        p++;
    return p;
}

/* dict_regexp_free_rules: release the rules of a table. */
static void dict_regexp_free_rules(dict_regexp *dr)
{
    size_t  i;

    for (i = 0; i < dr->count; i++) {
        if (dr->rules[i].compiled)
            regfree(&dr->rules[i].re);
        mem_free(dr->rules[i].result);
    }
    mem_free(dr->rules);
    dr->rules = NULL;
    dr->count = dr->alloc = 0;
}

/* dict_regexp_expand: the result of rule r for key with matches m. */
static int dict_regexp_expand(dict_regexp *dr, const dict_regexp_rule *r,
                              const char *key, const regmatch_t *m, strbuf *value)
{
    const char *p = r->result;
    const char *dollar;
    long    group;

    while ((dollar = strchr(p, '$')) != NULL) {
        strbuf_append(value, p, (size_t) (dollar - p));
        /* The result was checked when the table was parsed. */
        p = dict_regexp_ref(dollar + 1, &group, dr->dict.error);
        if (p == NULL) {
            strbuf_reset(value);
            return DICT_RETRY;
        }
        if (group < 0)
            strbuf_putc(value, '$');
        else if (m[group].rm_so >= 0 && m[group].rm_eo >= m[group].rm_so)
            strbuf_append(value, key + m[group].rm_so,
                          (size_t) (m[group].rm_eo - m[group].rm_so));
        if (value->len > DICT_VALUE_MAX)
            break;
    }
    strbuf_puts(value, p);
    if (value->len > DICT_VALUE_MAX) {
        strbuf_reset(value);
        strbuf_setf(dr->dict.error, "%s, line %d: result is longer than %d bytes",
                    dr->origin, r->line, DICT_VALUE_MAX);
        return DICT_RETRY;
    }
    return DICT_FOUND;
}

/* dict_regexp_lookup: first matching rule wins. */
static int dict_regexp_lookup(dict *d, const char *key, strbuf *value)
{
    dict_regexp *dr = (dict_regexp *) d;
    regmatch_t m[DICT_REGEXP_GROUP_MAX + 1];
    const dict_regexp_rule *r;
    size_t  i = 0;
    int     rc;
    int     matched;
    char    text[256];

    while (i < dr->count) {
        r = &dr->rules[i];
        if (r->op == DICT_REGEXP_ENDIF) {
            i++;
            continue;
        }
        rc = regexec(&r->re, key, r->nmatch, r->nmatch ? m : NULL, 0);
        if (rc != 0 && rc != REG_NOMATCH) {
            (void) regerror(rc, &r->re, text, sizeof(text));
            strbuf_setf(d->error, "%s, line %d: matching failed: %s",
                        dr->origin, r->line, text);
            return DICT_RETRY;
        }
        matched = (rc == 0) != (r->negate != 0);
        if (r->op == DICT_REGEXP_IF) {
            i = matched ? i + 1 : r->endif + 1;
            continue;
        }
        if (matched)
            return dict_regexp_expand(dr, r, key, m, value);
        i++;
    }
    return DICT_NOTFOUND;
}

/* dict_regexp_changed: has the table file changed? */
static int dict_regexp_changed(dict *d)
{
    dict_regexp *dr = (dict_regexp *) d;

    return dr->watch && dict_file_changed(dr->origin, dr->dev, dr->ino, dr->mtime);
}

/* dict_regexp_close: release everything. */
static void dict_regexp_close(dict *d)
{
    dict_regexp *dr = (dict_regexp *) d;

    dict_regexp_free_rules(dr);
    mem_free(dr->origin);
    dict_free_base(d);
}

/* dict_regexp_parse_line: parse one logical line into a new rule. */
static int dict_regexp_parse_line(dict_regexp *dr, const char *text, int line,
                                  size_t **stack, size_t *depth, size_t *stack_alloc,
                                  strbuf *pat, strbuf *why)
{
    dict_regexp_rule *r;
    const char *p = text;

    if (dr->count >= DICT_REGEXP_RULES_MAX) {
        strbuf_setf(why, "more than %d rules", DICT_REGEXP_RULES_MAX);
        return -1;
    }
    if (dr->count == dr->alloc) {
        dr->alloc = dr->alloc ? dr->alloc * 2 : 16;
        dr->rules = mem_realloc(dr->rules, dr->alloc * sizeof(*dr->rules));
    }
    r = &dr->rules[dr->count];
    memset(r, 0, sizeof(*r));
    r->line = line;
    dr->count++;                                /* so errors free it */

    if (dict_regexp_keyword(p, "endif")) {
        r->op = DICT_REGEXP_ENDIF;
        if (*dict_regexp_skip_blank(p + 5) != 0) {
            strbuf_setf(why, "unexpected text after endif");
            return -1;
        }
        if (*depth == 0) {
            strbuf_setf(why, "endif without a matching if");
            return -1;
        }
        dr->rules[(*stack)[--*depth]].endif = dr->count - 1;
        return 0;
    }
    if (dict_regexp_keyword(p, "if")) {
        r->op = DICT_REGEXP_IF;
        if ((p = dict_regexp_pattern(dr, r, dict_regexp_skip_blank(p + 2), pat, why)) == NULL)
            return -1;
        if (*dict_regexp_skip_blank(p) != 0) {
            strbuf_setf(why, "unexpected text after the if pattern");
            return -1;
        }
        if (*depth == *stack_alloc) {
            *stack_alloc = *stack_alloc ? *stack_alloc * 2 : 8;
            *stack = mem_realloc(*stack, *stack_alloc * sizeof(**stack));
        }
        (*stack)[(*depth)++] = dr->count - 1;
        return 0;
    }
    if (dict_regexp_alnum((unsigned char) *p)) {
        strbuf_setf(why, "expected \"/pattern/ result\", \"if /pattern/\" or"
                    " \"endif\"");
        return -1;
    }
    r->op = DICT_REGEXP_MATCH;
    if ((p = dict_regexp_pattern(dr, r, p, pat, why)) == NULL)
        return -1;
    p = dict_regexp_skip_blank(p);
    if (*p == 0) {
        strbuf_setf(why, "missing result after the pattern");
        return -1;
    }
    if (strlen(p) > DICT_REGEXP_RESULT_MAX) {
        strbuf_setf(why, "result is longer than %d bytes", DICT_REGEXP_RESULT_MAX);
        return -1;
    }
    r->result = mem_strdup(p);
    return dict_regexp_check_result(r, why);
}

/* dict_regexp_parse: read every rule from src into a new table. */
static dict *dict_regexp_parse(dict_src *src, const char *name, int flags,
                               strbuf *err)
{
    dict_regexp *dr = (dict_regexp *) dict_alloc("regexp", name, flags,
                                                 DICT_P_PATTERN, sizeof(*dr));
    const char *origin = dict_src_origin(src);
    strbuf *line = strbuf_new(256);
    strbuf *pat = strbuf_new(64);
    strbuf *why = strbuf_new(64);
    size_t *stack = NULL;
    size_t  depth = 0;
    size_t  stack_alloc = 0;
    int     rc;

    dr->origin = mem_strdup(origin);
    dr->dict.lookup = dict_regexp_lookup;
    dr->dict.changed = dict_regexp_changed;
    dr->dict.close = dict_regexp_close;
    while ((rc = dict_src_next_line(src, line, err)) > 0) {
        if (memchr(line->data, 0, line->len) != NULL) {
            /* dict_src rejects NUL bytes; this keeps strchr honest. */
            dict_regexp_error(err, origin, dict_src_line(src), "NUL byte in line");
            rc = -1;
            break;
        }
        if (dict_regexp_parse_line(dr, line->data, dict_src_line(src), &stack,
                                   &depth, &stack_alloc, pat, why) < 0) {
            dict_regexp_error(err, origin, dict_src_line(src), "%s", why->data);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && depth > 0) {
        dict_regexp_error(err, origin, dr->rules[stack[depth - 1]].line,
                          "if without a matching endif");
        rc = -1;
    }
    mem_free(stack);
    strbuf_free(line);
    strbuf_free(pat);
    strbuf_free(why);
    if (rc < 0) {
        dict_regexp_close(&dr->dict);
        return NULL;
    }
    return &dr->dict;
}

/* dict_regexp_parse_mem: parse a table held in memory. */
dict   *dict_regexp_parse_mem(const char *text, size_t len, const char *origin,
                              int flags, strbuf *err)
{
    dict_src *src = dict_src_open_mem(text, len, origin);
    dict   *d = dict_regexp_parse(src, origin, flags, err);

    dict_src_close(src);
    return d;
}

/* dict_regexp_open: read a table file. */
dict   *dict_regexp_open(const char *name, int flags, strbuf *err)
{
    dict_src *src;
    dict_regexp *dr;
    const struct stat *st;

    if ((src = dict_src_open(name, err)) == NULL)
        return NULL;
    if ((dr = (dict_regexp *) dict_regexp_parse(src, name, flags, err)) != NULL) {
        st = dict_src_stat(src);
        dr->watch = 1;
        dr->dev = st->st_dev;
        dr->ino = st->st_ino;
        dr->mtime = st->st_mtime;
        dr->dict.props |= DICT_P_FILE;
    }
    dict_src_close(src);
    return (dict *) dr;
}
