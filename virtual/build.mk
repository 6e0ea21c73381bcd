# virtual: the virtual mailbox delivery agent (daemon_directory).
PROGRAMS += virtual
virtual_SRCS := $(wildcard virtual/*.c)
