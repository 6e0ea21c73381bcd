# smtp: the SMTP and LMTP delivery agent (daemon_directory).
PROGRAMS += smtp
smtp_SRCS := $(wildcard smtp/*.c)
