# pickup: the daemon that moves maildrop/ files through cleanup.
PROGRAMS += pickup
pickup_SRCS := $(wildcard pickup/*.c)
