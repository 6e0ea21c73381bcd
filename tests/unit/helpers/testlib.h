/*
 * testlib: shared helpers for the cmocka unit tests.
 *
 *   testlib_setup(): install the log capture and the fatal/panic hook;
 *     call at the start of main() (or in a group setup).
 *   testlib_log(): everything logged since the last testlib_log_reset(),
 *     one line per message, each ending in '\n' ("warning: text\n").
 *   testlib_log_reset(): forget captured lines.
 *   TESTLIB_EXPECT_EXIT(level, stmt): run stmt and assert that it ends in
 *     msg_fatal (MSG_FATAL) or msg_panic (MSG_PANIC) instead of returning.
 *
 * Include <setjmp.h>, <stdarg.h>, <stddef.h>, <stdint.h> and <cmocka.h>
 * before this header, as cmocka requires.
 */
#ifndef POSTERN_TESTLIB_H
#define POSTERN_TESTLIB_H

#include "msg.h"

extern jmp_buf testlib_jmp;
extern int testlib_armed;
extern enum msg_level testlib_exit_level;

void    testlib_setup(void);
const char *testlib_log(void);
void    testlib_log_reset(void);
int     testlib_log_has(const char *needle);

#define TESTLIB_EXPECT_EXIT(level, stmt) do { \
        testlib_armed = 1; \
        if (setjmp(testlib_jmp) == 0) { \
            stmt; \
            testlib_armed = 0; \
            fail_msg("expected %s from: %s", \
                     (level) == MSG_FATAL ? "fatal" : "panic", #stmt); \
        } \
        testlib_armed = 0; \
        assert_int_equal(testlib_exit_level, (level)); \
    } while (0)

#endif
