# anvil: the per-client connection and rate counter service (daemon_directory).
PROGRAMS += anvil
anvil_SRCS := $(wildcard anvil/*.c)
