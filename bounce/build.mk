# bounce: writes delivery status notifications from the bounce logs.
PROGRAMS += bounce
bounce_SRCS := $(wildcard bounce/*.c)

# The unit tests of the notice composer (tests/unit/test_bounce_dsn.c)
# link bounce's composer object, which lives here and not in lib/ because
# no other program needs it.
BOUNCE_DSN_OBJ := $(BUILD)/obj/bounce/bounce_dsn.o
$(BUILD)/tests/unit/test_bounce_dsn: $(BOUNCE_DSN_OBJ)
$(BUILD)/tests/unit/test_bounce_dsn: LDFLAGS += $(BOUNCE_DSN_OBJ)
$(BUILD)/obj/tests/unit/test_bounce_dsn.o: CPPFLAGS += -Ibounce
