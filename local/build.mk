# local: the local delivery agent (daemon_directory).
PROGRAMS += local
local_SRCS := $(wildcard local/*.c)
