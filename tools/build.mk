# tools: load generator and sink for benchmarks and admins' load tests
# (postern-smtp-load, postern-smtp-sink; commands, man/man1). Their
# unit-testable parts (loadstat, addrpat, sinkrule) live here, not in
# lib/, because no daemon needs them; the unit tests link the objects.
PROGRAMS += postern-smtp-load postern-smtp-sink
COMMANDS += postern-smtp-load postern-smtp-sink
postern-smtp-load_SRCS := tools/smtp_load.c tools/loadstat.c tools/addrpat.c
postern-smtp-load_LIBS := -lpthread
postern-smtp-sink_SRCS := tools/smtp_sink.c tools/sinkrule.c

TOOLS_TEST_OBJS := $(BUILD)/obj/tools/loadstat.o $(BUILD)/obj/tools/addrpat.o \
                   $(BUILD)/obj/tools/sinkrule.o
$(BUILD)/tests/unit/test_loadstat: $(BUILD)/obj/tools/loadstat.o
$(BUILD)/tests/unit/test_loadstat: LDFLAGS += $(BUILD)/obj/tools/loadstat.o
$(BUILD)/obj/tests/unit/test_loadstat.o: CPPFLAGS += -Itools
$(BUILD)/tests/unit/test_addrpat: $(BUILD)/obj/tools/addrpat.o
$(BUILD)/tests/unit/test_addrpat: LDFLAGS += $(BUILD)/obj/tools/addrpat.o
$(BUILD)/obj/tests/unit/test_addrpat.o: CPPFLAGS += -Itools
$(BUILD)/tests/unit/test_sinkrule: $(BUILD)/obj/tools/sinkrule.o
$(BUILD)/tests/unit/test_sinkrule: LDFLAGS += $(BUILD)/obj/tools/sinkrule.o
$(BUILD)/obj/tests/unit/test_sinkrule.o: CPPFLAGS += -Itools

# The fuzz target of the three modules (tests/fuzz/fuzz_sinkrule.c).
$(BUILD)/tests/fuzz/fuzz_sinkrule: $(TOOLS_TEST_OBJS)
$(BUILD)/tests/fuzz/fuzz_sinkrule: LDFLAGS += $(TOOLS_TEST_OBJS)
$(BUILD)/obj/tests/fuzz/fuzz_sinkrule.o: CPPFLAGS += -Itools
