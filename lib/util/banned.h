/*
 * banned: poison the libc calls that STYLE.md rules out. Include it after
 * all system headers (sys_defs.h does this last). make check backs it with
 * a grep over the tree.
 */
#ifndef POSTERN_BANNED_H
#define POSTERN_BANNED_H

#undef alloca
#pragma GCC poison strcpy strcat sprintf vsprintf gets strtok atoi atol alloca

#endif
