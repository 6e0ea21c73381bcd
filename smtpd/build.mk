# smtpd: the ESMTP server.
PROGRAMS += smtpd
smtpd_SRCS := $(wildcard smtpd/*.c)
