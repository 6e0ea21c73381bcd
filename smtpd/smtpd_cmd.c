/*
 * smtpd_cmd: the SMTP command-line parser (pure: no I/O, no state).
 *
 * Public functions:
 *   smtpd_cmd_parse(line, len, cmd): line holds one command as read from
 *     the client (len bytes, normally ending in CRLF). The line end is
 *     removed in place (line[...] = NUL), trailing SP/TAB are ignored, the
 *     verb is matched case-insensitively, and cmd->args points (into
 *     line) at the text after the verb and its separating SP/TAB.
 *     Returns SMTPD_CMD_OK; SMTPD_CMD_EBARELF when the line ended in a
 *     bare LF (cmd is still filled: the caller decides per
 *     smtpd_forbid_bare_newline); SMTPD_CMD_ENOEOL when there was no LF
 *     at all (cmd filled); SMTPD_CMD_EBADCHAR when the line holds a NUL,
 *     a CR other than the one before LF, or another control byte except
 *     TAB (cmd not usable); SMTPD_CMD_EEMPTY for an empty line.
 *     An unknown verb is SMTPD_CMD_OK with cmd->id SMTPD_CMD_UNKNOWN.
 *   smtpd_cmd_name(id): upper-case verb, "UNKNOWN" for unknown ids.
 *   smtpd_cmd_path(args, len, keyword, &path, &path_len): check that args
 *     start with keyword ("FROM:" / "TO:", any case), skip SP/TAB after
 *     it, and point path at the rest. 0, or -1 when the keyword is absent.
 *
 * SECURITY: the whole input is client-controlled. Every scan is bounded
 * by len; control bytes are refused so that no CR or NUL reaches a reply,
 * a log line or an address.
 * LIMITS: the caller bounds len (SMTPD_CMD_MAX).
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "smtpd.h"
#include "strutil.h"

static const char *const smtpd_cmd_names[SMTPD_CMD_COUNT] = {
    "UNKNOWN", "HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET",
    "NOOP", "QUIT", "VRFY", "HELP", "ETRN", "EXPN", "STARTTLS", "AUTH",
};

/* smtpd_cmd_name: upper-case verb for id. */
const char *smtpd_cmd_name(enum smtpd_cmd_id id)
{
    if ((int) id < 0 || id >= SMTPD_CMD_COUNT)
        return smtpd_cmd_names[0];
    return smtpd_cmd_names[id];
}

/* smtpd_cmd_parse: split one command line into verb and arguments. */
int     smtpd_cmd_parse(char *line, size_t len, smtpd_cmd *cmd)
{
    int     status = SMTPD_CMD_OK;
    size_t  i, vlen, start;
    int     id;

    memset(cmd, 0, sizeof(*cmd));
    cmd->id = SMTPD_CMD_UNKNOWN;
    cmd->verb = smtpd_cmd_names[0];
    cmd->args = "";

    if (len > 0 && line[len - 1] == '\n') {
        len--;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        else
            status = SMTPD_CMD_EBARELF;
    } else {
        status = SMTPD_CMD_ENOEOL;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) line[i];

        if ((c < 32 && c != '\t') || c == 127)
            return SMTPD_CMD_EBADCHAR;
    }
    line[len] = '\0';
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        line[--len] = '\0';
    start = 0;
    while (start < len && (line[start] == ' ' || line[start] == '\t'))
        start++;
    if (start == len)
        return SMTPD_CMD_EEMPTY;
    for (vlen = 0; start + vlen < len && line[start + vlen] != ' '
         && line[start + vlen] != '\t'; vlen++)
         /* void */ ;
    for (id = 1; id < SMTPD_CMD_COUNT; id++) {
        if (strlen(smtpd_cmd_names[id]) == vlen
            && strncasecmp(line + start, smtpd_cmd_names[id], vlen) == 0) {
            cmd->id = (enum smtpd_cmd_id) id;
            cmd->verb = smtpd_cmd_names[id];
            break;
        }
    }
    i = start + vlen;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    cmd->args = line + i;
    cmd->args_len = len - i;
    return status;
}

/* smtpd_cmd_path: check "FROM:"/"TO:" and point at the path after it. */
int     smtpd_cmd_path(const char *args, size_t len, const char *keyword,
                       const char **path, size_t *path_len)
{
    size_t  klen = strlen(keyword);
    size_t  i;

    if (len < klen || strncasecmp(args, keyword, klen) != 0)
        return -1;
    i = klen;
    while (i < len && (args[i] == ' ' || args[i] == '\t'))
        i++;
    *path = args + i;
    *path_len = len - i;
    return 0;
}
