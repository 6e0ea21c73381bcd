# qmgr: the queue manager (lives in daemon_directory, not a command).
PROGRAMS += qmgr
qmgr_SRCS := $(wildcard qmgr/*.c)
