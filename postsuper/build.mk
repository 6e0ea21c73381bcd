# postsuper: queue maintenance for the administrator (root only).
PROGRAMS += postsuper
COMMANDS += postsuper
postsuper_SRCS := $(wildcard postsuper/*.c)
