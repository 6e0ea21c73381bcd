# dnsq: DNS lookups through lib/net/dns and lib/mail/dnsbl, for the tests.
PROGRAMS += dnsq
dnsq_SRCS := $(wildcard dnsq/*.c)
NOINSTALL += dnsq
