# testsvc: a trivial service that the integration tests run under master.
PROGRAMS += testsvc
testsvc_SRCS := $(wildcard testsvc/*.c)
NOINSTALL += testsvc
