# postdrop: writes a locally submitted message into maildrop/ (set-gid
# setgid_group when installed); sendmail runs it.
PROGRAMS += postdrop
COMMANDS += postdrop
postdrop_SRCS := $(wildcard postdrop/*.c)
