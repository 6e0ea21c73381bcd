/*
 * rec_type: the record type codes of the queue file (see qfile.h for the
 * format, the segments and which codes each segment allows).
 *
 * Each code is one byte, the first byte of a record. The letters are
 * chosen to read well in a hex dump; a done recipient differs from a
 * pending one only in its type byte, so marking it is a one-byte write.
 */
#ifndef POSTERN_REC_TYPE_H
#define POSTERN_REC_TYPE_H

/* Header segment: exactly one record, first in the file. */
#define REC_TYPE_HEADER     'C'     /* fixed-width fields, updated in place */

/* Envelope segment. */
#define REC_TYPE_TIME       'T'     /* arrival time: "sec usec" */
#define REC_TYPE_SENDER     'S'     /* envelope sender; empty = null sender */
#define REC_TYPE_ATTR       'A'     /* named attribute: "name=value" */
#define REC_TYPE_ENVID      'i'     /* DSN envelope id (ENVID) */
#define REC_TYPE_RET        '<'     /* DSN RET: "FULL" or "HDRS" */
#define REC_TYPE_WARN       'W'     /* next delay warning time, fixed width */

/* Recipient groups (envelope and extracted segments). */
#define REC_TYPE_ORIG_RCPT  'O'     /* original recipient of the next R/D */
#define REC_TYPE_ORCPT      'o'     /* DSN ORCPT of the next R/D */
#define REC_TYPE_NOTIFY     'n'     /* DSN NOTIFY flags of the next R/D */
#define REC_TYPE_RCPT       'R'     /* recipient still to be delivered */
#define REC_TYPE_DONE       'D'     /* recipient done (R rewritten in place) */

/* Content segment. */
#define REC_TYPE_MESSAGE    'M'     /* start of the content segment */
#define REC_TYPE_NORMAL     'N'     /* a line (without its line end) */
#define REC_TYPE_PARTIAL    'L'     /* a line piece continued by the next record */

/* Extracted segment and end. */
#define REC_TYPE_EXTRACTED  'X'     /* start of the extracted segment */
#define REC_TYPE_END        'E'     /* end of file (required, last) */

/* Every known code, for validity checks and dumps. */
#define REC_TYPE_ALL        "CTSAi<WOonRDMNLXE"

/* Codes each segment allows (besides the code that opens the next one). */
#define REC_TYPE_ENVELOPE_SET   "TSAi<WOonRD"
#define REC_TYPE_CONTENT_SET    "NL"
#define REC_TYPE_EXTRACTED_SET  "AOonRD"

#endif
