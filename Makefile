# Postern top-level Makefile (GNU make).
#
#   make            build the library and every program into $(BUILD)/
#   make check      build, then run every test: style checks, unit tests,
#                   fuzz smoke runs, integration tests
#   make unit       unit tests only;  make integration  integration only
#   make run        start an unprivileged instance in ./run (see README)
#   make install    install under $(DESTDIR)$(PREFIX) (see README "Install")
#   make deb        a Debian package in $(BUILD)/ (dpkg-deb only)
#   make asan       ASan+UBSan build in build-asan/ and the full suite on it
#   make fuzz       libFuzzer targets (clang) in build-fuzz/, longer runs
#   make clean      remove every build directory
#
# Each program folder has a build.mk fragment that adds itself to PROGRAMS;
# lib/ sources, unit tests (tests/unit/test_*.c) and fuzz targets
# (tests/fuzz/fuzz_*.c) are found by name.

BUILD      ?= build
CC         ?= cc
PREFIX     ?= /usr
DESTDIR    ?=
PYTHON     ?= /usr/bin/python3
FUZZ_SECONDS ?= 3

WARNINGS   := -Wall -Wextra -Werror -Wformat=2 -Wmissing-prototypes \
              -Wstrict-prototypes -Wshadow -fno-common
OPTFLAGS   ?= -O2 -g
SANFLAGS   ?=
CPPFLAGS   += -D_GNU_SOURCE -Ilib/util -Ilib/mail -Ilib/net
CFLAGS     += -std=c11 $(OPTFLAGS) $(WARNINGS) $(SANFLAGS)
LDFLAGS    += $(SANFLAGS)
LDLIBS     +=
LDLIBS += -ldb -llmdb -lcdb
LDLIBS += $(shell pkg-config --libs libcares 2>/dev/null || echo -lcares)
LDLIBS += $(shell pkg-config --libs libssl libcrypto 2>/dev/null || echo -lssl -lcrypto)
LDLIBS += $(shell pkg-config --libs libsasl2 2>/dev/null || echo -lsasl2)
DEPFLAGS    = -MMD -MP

# cmocka comes through pkg-config; fall back to the plain library name.
CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

LIB_DIRS   := lib/util lib/mail lib/net
# LIB_SKIP: lib sources to leave out (for building while a module is broken).
LIB_SKIP   ?=
LIB_SRCS   := $(filter-out $(LIB_SKIP),$(sort $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))))
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIBPOSTERN := $(BUILD)/lib/libpostern.a

# Fragments add to PROGRAMS; COMMANDS go to sbindir, the rest to
# daemon_directory; NOINSTALL programs (test helpers) are not installed.
PROGRAMS   :=
COMMANDS   :=
NOINSTALL  :=
include $(sort $(wildcard */build.mk))

UNIT_SKIP  ?=
UNIT_SRCS  := $(filter-out $(UNIT_SKIP),$(sort $(wildcard tests/unit/test_*.c)))
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
UNIT_HELPER_SRCS := $(wildcard tests/unit/helpers/*.c)
UNIT_HELPER_OBJS := $(UNIT_HELPER_SRCS:%.c=$(BUILD)/obj/%.o)
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.c))

PROG_BINS  := $(foreach p,$(PROGRAMS),$(BUILD)/bin/$(p))

# Test and fuzz objects are intermediate to pattern rules; keep them so
# tests are not recompiled on every make.
.SECONDARY: $(UNIT_SRCS:%.c=$(BUILD)/obj/%.o) $(UNIT_HELPER_OBJS) \
            $(FUZZ_SRCS:%.c=$(BUILD)/obj/%.o)

.PHONY: all check unit integration style fuzz-smoke run install asan fuzz \
        clean bench deps deb print-programs
.DEFAULT_GOAL := all

all: $(LIBPOSTERN) $(PROG_BINS) $(UNIT_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CMOCKA_CFLAGS) -Itests/unit/helpers $(CFLAGS) $(DEPFLAGS) -c $< -o $@

# The archive also depends on the list of its members, so that adding a
# module (or building again without LIB_SKIP) re-creates it even when
# every object is older than the archive.
LIB_LIST   := $(BUILD)/lib/members.list
$(shell mkdir -p $(BUILD)/lib && { echo '$(LIB_OBJS)' | cmp -s - $(LIB_LIST) \
    || echo '$(LIB_OBJS)' > $(LIB_LIST); })

$(LIBPOSTERN): $(LIB_OBJS) $(LIB_LIST)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $(LIB_OBJS)

# Program template: $(1) = program name; sources in $(1)_SRCS, extra
# libraries in $(1)_LIBS.
define PROGRAM_template
$(1)_OBJS := $$($(1)_SRCS:%.c=$(BUILD)/obj/%.o)
$(BUILD)/bin/$(1): $$($(1)_OBJS) $(LIBPOSTERN)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$($(1)_OBJS) $(LIBPOSTERN) $$($(1)_LIBS) $$(LDLIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call PROGRAM_template,$(p))))

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(UNIT_HELPER_OBJS) $(LIBPOSTERN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(UNIT_HELPER_OBJS) $(LIBPOSTERN) $(CMOCKA_LIBS) $(LDLIBS)

# ---------------------------------------------------------------- tests

check: all
	@tests/check-style.sh
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory integration

unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

integration: $(LIBPOSTERN) $(PROG_BINS)
	POSTERN_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

style:
	@tests/check-style.sh

# Fuzz targets: built with clang and libFuzzer into build-fuzz/. In make
# check each runs for FUZZ_SECONDS on its seed corpus (tests/fuzz/corpus/
# NAME/), which also replays every crash file kept there as a regression.
FUZZ_BUILD := build-fuzz
FUZZ_MAKE   = $(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang \
              OPTFLAGS="-O1 -g" \
              SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"

fuzz-smoke:
	+@$(FUZZ_MAKE) fuzz-build
	@tests/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_SRCS)

fuzz:
	+@$(FUZZ_MAKE) fuzz-build
	@tests/run-fuzz.sh $(FUZZ_BUILD) $${FUZZ_SECONDS:-60} $(FUZZ_SRCS)

FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%)
.PHONY: fuzz-build
fuzz-build: $(FUZZ_BINS)

$(BUILD)/tests/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(LIBPOSTERN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(LIBPOSTERN) $(LDLIBS)

# ASan + UBSan: everything rebuilt in build-asan/, then the full suite.
asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPTFLAGS="-O1 -g" \
	    SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    all
	@tests/check-style.sh
	@ASAN_OPTIONS=detect_leaks=1 tests/run-unit.sh $(UNIT_BINS:$(BUILD)/%=build-asan/%)
	POSTERN_BUILD=$(abspath build-asan) ASAN_OPTIONS=detect_leaks=0 \
	    $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# ---------------------------------------------------------------- use

run: all
	@if [ -x $(BUILD)/bin/postern ]; then exec tools/run-instance.sh $(BUILD); \
	else echo "make run: the master and the postern command are not built yet" \
	    "(they come with the master issue); nothing to run."; fi

# make bench: tests/bench/bench.py on a fresh instance of this build;
# BENCH_SCALE (default 1.0) scales the sizes, BENCH_OUT names the results
# file, BENCH_SCENARIOS picks some (see tests/bench/RESULTS.md).
bench: $(LIBPOSTERN) $(PROG_BINS)
	POSTERN_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/bench/bench.py

# ---------------------------------------------------------------- install

# Installation paths. The directories are also compiled into the programs
# as the defaults of config_directory, command_directory (= sbindir),
# daemon_directory, data_directory and queue_directory, so a build always
# looks where it was installed; $(PATHS_STAMP) remembers the values and
# rebuilds the objects when they change.
sbindir           ?= $(PREFIX)/sbin
daemon_directory  ?= $(PREFIX)/libexec/postern
manpage_directory ?= $(PREFIX)/share/man
sample_directory  ?= $(PREFIX)/share/postern
config_directory  ?= /etc/postern
queue_directory   ?= /var/spool/postern
data_directory    ?= /var/lib/postern
# The host's MTA names and the aliases file (alias_database's default).
sendmail_path     ?= /usr/sbin/sendmail
mailq_path        ?= /usr/bin/mailq
newaliases_path   ?= /usr/bin/newaliases
alias_file        ?= /etc/aliases
systemd_unit_directory ?= /lib/systemd/system
initd_directory   ?= /etc/init.d
mail_owner        ?= postern
setgid_group      ?= postdrop
# yes: replace another MTA's sendmail, mailq and newaliases (kept as
# NAME.pre-postern). POST_INSTALL: auto (as root with an empty DESTDIR),
# yes or no. INSTALL_NOBUILD=yes installs what $(BUILD)/bin holds without
# running the compiler (the tests use it on the integrator's build).
INSTALL_AS_SYSTEM_MTA ?= no
POST_INSTALL      ?= auto
INSTALL_NOBUILD   ?= no

CPPFLAGS += -DPARAM_CONFIG_DIR_DEFAULT='"$(config_directory)"' \
            -DPARAM_COMMAND_DIR_DEFAULT='"$(sbindir)"' \
            -DPARAM_DAEMON_DIR_DEFAULT='"$(daemon_directory)"' \
            -DPARAM_DATA_DIR_DEFAULT='"$(data_directory)"' \
            -DPARAM_QUEUE_DIR_DEFAULT='"$(queue_directory)"'
INSTALL_PATHS := $(config_directory):$(sbindir):$(daemon_directory):$(data_directory):$(queue_directory)
DEFAULT_INSTALL_PATHS := /etc/postern:/usr/sbin:/usr/libexec/postern:/var/lib/postern:/var/spool/postern
PATHS_STAMP := $(BUILD)/gen/install-paths
# A new stamp with the default paths is dated 1970: objects built before
# the stamp existed were built with those very defaults. INSTALL_NOBUILD
# compiles nothing, so it leaves the stamp alone.
$(if $(filter yes,$(INSTALL_NOBUILD)),,$(shell mkdir -p $(BUILD)/gen && if [ ! -f $(PATHS_STAMP) ]; then \
    echo '$(INSTALL_PATHS)' > $(PATHS_STAMP); \
    if [ '$(INSTALL_PATHS)' = '$(DEFAULT_INSTALL_PATHS)' ]; then touch -d @0 $(PATHS_STAMP); fi; \
  else echo '$(INSTALL_PATHS)' | cmp -s - $(PATHS_STAMP) \
    || echo '$(INSTALL_PATHS)' > $(PATHS_STAMP); fi))
$(LIB_OBJS) $(foreach p,$(PROGRAMS),$($(p)_OBJS)) $(UNIT_SRCS:%.c=$(BUILD)/obj/%.o): $(PATHS_STAMP)

VERSION_STRING := $(shell cat VERSION 2>/dev/null || git describe --tags --always 2>/dev/null || echo 0.0.0)
INSTALL_PROGRAMS := $(filter-out $(NOINSTALL),$(PROGRAMS))
INSTALL_ENV = BUILD='$(BUILD)' PREFIX='$(PREFIX)' \
    sbindir='$(sbindir)' daemon_directory='$(daemon_directory)' \
    manpage_directory='$(manpage_directory)' sample_directory='$(sample_directory)' \
    config_directory='$(config_directory)' queue_directory='$(queue_directory)' \
    data_directory='$(data_directory)' sendmail_path='$(sendmail_path)' \
    mailq_path='$(mailq_path)' newaliases_path='$(newaliases_path)' \
    alias_file='$(alias_file)' systemd_unit_directory='$(systemd_unit_directory)' \
    initd_directory='$(initd_directory)' mail_owner='$(mail_owner)' \
    setgid_group='$(setgid_group)' INSTALL_AS_SYSTEM_MTA='$(INSTALL_AS_SYSTEM_MTA)' \
    INSTALL_PROGRAMS='$(INSTALL_PROGRAMS)' COMMANDS='$(COMMANDS)' \
    NOINSTALL='$(NOINSTALL)'

# print-programs: one line per installed program, "command NAME" (sbindir)
# or "daemon NAME" (daemon_directory), for the install tests.
print-programs:
	@for p in $(INSTALL_PROGRAMS); do \
	    case " $(COMMANDS) " in *" $$p "*) echo "command $$p";; *) echo "daemon $$p";; esac; \
	done

install: $(if $(filter yes,$(INSTALL_NOBUILD)),,$(PROG_BINS))
	@$(INSTALL_ENV) DESTDIR='$(DESTDIR)' POST_INSTALL='$(POST_INSTALL)' \
	    sh packaging/install.sh

# make deb: stage a make install (as the host's MTA) in $(DEBDIR)/deb and
# pack it with dpkg-deb into $(DEBDIR)/postern_VERSION_ARCH.deb.
DEBDIR ?= $(BUILD)
deb: $(if $(filter yes,$(INSTALL_NOBUILD)),,$(PROG_BINS))
	@$(INSTALL_ENV) VERSION='$(VERSION_STRING)' DEBDIR='$(DEBDIR)' sh packaging/make-deb.sh

deps:
	@tools/deps

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJS:.o=.d) $(foreach p,$(PROGRAMS),$($(p)_OBJS:.o=.d)) \
         $(UNIT_SRCS:%.c=$(BUILD)/obj/%.d)
