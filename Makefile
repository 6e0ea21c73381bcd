# Postern top-level Makefile (GNU make).
#
#   make            build the library and every program into $(BUILD)/
#   make check      build, then run every test: style checks, unit tests,
#                   fuzz smoke runs, integration tests
#   make unit       unit tests only;  make integration  integration only
#   make run        start an unprivileged instance in ./run (see README)
#   make install    install under $(DESTDIR)$(PREFIX)
#   make asan       ASan+UBSan build in build-asan/ and the full suite on it
#   make fuzz       libFuzzer targets (clang) in build-fuzz/, longer runs
#   make clean      remove every build directory
#
# Each program folder has a build.mk fragment that adds itself to PROGRAMS;
# lib/ sources, unit tests (tests/unit/test_*.c) and fuzz targets
# (tests/fuzz/fuzz_*.c) are found by name.

BUILD      ?= build
CC         ?= cc
PREFIX     ?= /usr/local
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
        clean bench deps
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

bench:
	@echo "make bench: the benchmarks come with the benchmark issue."

sbindir          ?= $(PREFIX)/sbin
daemon_directory ?= $(PREFIX)/libexec/postern
manpage_directory ?= $(PREFIX)/share/man

install: all
	@for p in $(filter-out $(NOINSTALL),$(PROGRAMS)); do \
	    case " $(COMMANDS) " in *" $$p "*) dir=$(sbindir);; *) dir=$(daemon_directory);; esac; \
	    install -d "$(DESTDIR)$$dir" && install -m 0755 $(BUILD)/bin/$$p "$(DESTDIR)$$dir/$$p" || exit 1; \
	done
	@# newaliases and mailq are sendmail by other names (-bi, -bp).
	@ln -sf sendmail "$(DESTDIR)$(sbindir)/newaliases"
	@ln -sf sendmail "$(DESTDIR)$(sbindir)/mailq"
	@for sec in 1 5 8; do \
	    for f in man/man$$sec/*.$$sec; do [ -f "$$f" ] || continue; \
	        install -d "$(DESTDIR)$(manpage_directory)/man$$sec"; \
	        install -m 0644 "$$f" "$(DESTDIR)$(manpage_directory)/man$$sec/" || exit 1; \
	    done; \
	done
	@echo "installed programs under $(DESTDIR)$(PREFIX); users, spool and" \
	    "config setup come with the install issue"

deps:
	@tools/deps

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJS:.o=.d) $(foreach p,$(PROGRAMS),$($(p)_OBJS:.o=.d)) \
         $(UNIT_SRCS:%.c=$(BUILD)/obj/%.d)
