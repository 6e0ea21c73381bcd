# postcat: print queue files in readable form.
PROGRAMS += postcat
COMMANDS += postcat
postcat_SRCS := $(wildcard postcat/*.c)
