# scache: the shared connection cache (daemon_directory).
PROGRAMS += scache
scache_SRCS := $(wildcard scache/*.c)
