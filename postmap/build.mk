# postmap: build and query lookup tables from "key value" text files.
PROGRAMS += postmap
COMMANDS += postmap
postmap_SRCS := $(wildcard postmap/*.c)
