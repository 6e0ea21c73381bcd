# sendmail: the sendmail-compatible submission command (also mailq and
# newaliases by name).
PROGRAMS += sendmail
COMMANDS += sendmail
sendmail_SRCS := $(wildcard sendmail/*.c)
