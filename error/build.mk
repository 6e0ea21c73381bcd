# error: the error and retry delivery agents (daemon_directory).
PROGRAMS += error
error_SRCS := $(wildcard error/*.c)
