# discard: the discard delivery agent (daemon_directory).
PROGRAMS += discard
discard_SRCS := $(wildcard discard/*.c)
