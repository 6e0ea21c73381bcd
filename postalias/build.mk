# postalias: build and query alias tables from aliases(5) files; run as
# "newaliases" it rebuilds the tables in alias_database.
PROGRAMS += postalias
COMMANDS += postalias
postalias_SRCS := $(wildcard postalias/*.c)
