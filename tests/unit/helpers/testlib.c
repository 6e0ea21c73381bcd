/*
 * testlib: shared helpers for the cmocka unit tests (see testlib.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "strbuf.h"
#include "testlib.h"

jmp_buf testlib_jmp;
int     testlib_armed;
enum msg_level testlib_exit_level;
static strbuf *testlib_buf;

/* testlib_capture: msg capture sink that keeps every line. */
static void testlib_capture(enum msg_level level, const char *text, void *ctx)
{
    (void) level;
    (void) ctx;
    strbuf_puts(testlib_buf, text);
    strbuf_putc(testlib_buf, '\n');
}

/* testlib_exit: fatal/panic hook that returns control to the test. */
static void testlib_exit(enum msg_level level)
{
    testlib_exit_level = level;
    if (testlib_armed) {
        testlib_armed = 0;
        longjmp(testlib_jmp, 1);
    }
    fail_msg("unexpected %s; log so far:\n%s",
             level == MSG_FATAL ? "fatal" : "panic", strbuf_str(testlib_buf));
    abort();
}

/* testlib_setup: capture logs and trap fatal/panic. */
void testlib_setup(void)
{
    msg_init("test", 0);
    if (testlib_buf == NULL)
        testlib_buf = strbuf_new(1024);
    msg_set_capture(testlib_capture, NULL);
    msg_set_exit_hook(testlib_exit);
}

/* testlib_log: captured lines. */
const char *testlib_log(void)
{
    return testlib_buf ? strbuf_str(testlib_buf) : "";
}

/* testlib_log_reset: drop captured lines. */
void testlib_log_reset(void)
{
    if (testlib_buf)
        strbuf_reset(testlib_buf);
}

/* testlib_log_has: 1 if the captured log contains needle. */
int testlib_log_has(const char *needle)
{
    return strstr(testlib_log(), needle) != NULL;
}
