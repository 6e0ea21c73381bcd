# master: the process supervisor (lives in daemon_directory, not a command).
PROGRAMS += master
master_SRCS := $(wildcard master/*.c)
