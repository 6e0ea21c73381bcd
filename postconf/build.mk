# postconf: show and edit main.cf, show master.cf.
PROGRAMS += postconf
COMMANDS += postconf
postconf_SRCS := $(wildcard postconf/*.c)
