# postern: the control command (init, check, start, stop, reload, ...).
PROGRAMS += postern
COMMANDS += postern

# The sample main.cf and master.cf are compiled into the program (for
# "postern init") as C string constants, generated from conf/ by a small
# awk script: every byte that C treats specially is escaped.
POSTERN_CONF_C := $(BUILD)/gen/postern/postern_conf.c
postern_SRCS := $(wildcard postern/*.c) $(POSTERN_CONF_C)

$(POSTERN_CONF_C): conf/main.cf conf/master.cf postern/build.mk
	@mkdir -p $(@D)
	{ echo '/* Generated from conf/main.cf and conf/master.cf by postern/build.mk. */'; \
	  echo '#include "postern.h"'; \
	  for f in main master; do \
	    echo "const char postern_conf_$${f}_cf[] ="; \
	    LC_ALL=C awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\?/, "\\?"); \
	                    gsub(/\t/, "\\t"); gsub(/\r/, "\\r"); \
	                    printf "    \"%s\\n\"\n", $$0 } \
	                  END { print "    \"\";" }' conf/$$f.cf || exit 1; \
	  done; } > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/$(POSTERN_CONF_C:.c=.o): CPPFLAGS += -Ipostern
