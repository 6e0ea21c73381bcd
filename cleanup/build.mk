# cleanup: normalises one message and writes it to incoming/.
PROGRAMS += cleanup
cleanup_SRCS := $(wildcard cleanup/*.c)
