# showq: the queue listing service (daemon_directory).
PROGRAMS += showq
showq_SRCS := $(wildcard showq/*.c)
