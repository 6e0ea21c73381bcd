# flush: per-site and per-message flushing of deferred mail (daemon_directory).
PROGRAMS += flush
flush_SRCS := $(wildcard flush/*.c)
