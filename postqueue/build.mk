# postqueue: list and flush the queue (any user; set-gid postdrop when installed).
PROGRAMS += postqueue
COMMANDS += postqueue
postqueue_SRCS := $(wildcard postqueue/*.c)
