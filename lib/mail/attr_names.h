/*
 * attr_names: the names used in the attribute protocol (see attr.h).
 *
 * Code never writes an attribute name or protocol name as a string
 * literal; it uses these constants, so a typo is a compile error and a
 * grep finds every user. Names follow Postfix's where the meaning is the
 * same, so protocol traces read familiar. Each name matches [a-z0-9_]{1,64}.
 * Add new names here, grouped by subject, never in a program folder.
 */
#ifndef POSTERN_ATTR_NAMES_H
#define POSTERN_ATTR_NAMES_H

/* Conversation framing. */
#define ATTR_NAME_PROTOCOL          "protocol"      /* first message: server's protocol */
#define ATTR_NAME_REQUEST           "request"       /* what a client asks for */
#define ATTR_NAME_STATUS            "status"        /* reply: 0 ok, else an error class */
#define ATTR_NAME_REASON            "reason"        /* reply: text for logs and DSNs */
#define ATTR_NAME_FLAGS             "flags"         /* request modifier bits */
#define ATTR_NAME_COUNT             "count"         /* how many items follow or were done */

/* Queue files. */
#define ATTR_NAME_QUEUE_NAME        "queue_name"    /* incoming, active, deferred, ... */
#define ATTR_NAME_QUEUE_ID          "queue_id"
#define ATTR_NAME_OFFSET            "offset"        /* record offset in a queue file */
#define ATTR_NAME_SIZE              "size"          /* message size in bytes */
#define ATTR_NAME_ARRIVAL_TIME      "arrival_time"  /* seconds since the epoch */
#define ATTR_NAME_TIME              "time"          /* event time, seconds */
#define ATTR_NAME_ENCODING          "encoding"      /* 7bit, 8bit, binarymime */
#define ATTR_NAME_SMTPUTF8          "smtputf8"      /* message needs SMTPUTF8 */
#define ATTR_NAME_FORCED_EXPIRE     "forced_expire" /* postsuper -e/-f mark (showq) */
#define ATTR_NAME_SITE              "site"          /* flush: destination domain */

/* Envelope. */
#define ATTR_NAME_SENDER            "sender"
#define ATTR_NAME_RECIPIENT         "recipient"
#define ATTR_NAME_ORIGINAL_RCPT     "original_recipient"
#define ATTR_NAME_RCPT_COUNT        "recipient_count"
#define ATTR_NAME_ENVELOPE_ID       "envelope_id"   /* DSN ENVID */
#define ATTR_NAME_RET_FLAGS         "ret_flags"     /* DSN RET=FULL/HDRS */
#define ATTR_NAME_NOTIFY_FLAGS      "notify_flags"  /* DSN NOTIFY= */
#define ATTR_NAME_DSN_ORCPT         "dsn_orcpt"     /* DSN ORCPT= */

/* Routing and delivery results. */
#define ATTR_NAME_TRANSPORT         "transport"
#define ATTR_NAME_NEXTHOP           "nexthop"
#define ATTR_NAME_RELAY             "relay"         /* host[addr]:port used */
#define ATTR_NAME_DSN_STATUS        "dsn_status"    /* e.g. 5.1.1 */
#define ATTR_NAME_DSN_ACTION        "dsn_action"    /* delivered, failed, delayed, ... */
#define ATTR_NAME_DELAY             "delay"

/* Client that submitted the message (smtpd, for logging and headers). */
#define ATTR_NAME_CLIENT_NAME       "client_name"
#define ATTR_NAME_CLIENT_ADDR       "client_address"
#define ATTR_NAME_CLIENT_PORT       "client_port"
#define ATTR_NAME_CLIENT_PROTO      "client_protocol"       /* SMTP, ESMTP, ... */
#define ATTR_NAME_HELO_NAME         "helo_name"
#define ATTR_NAME_SASL_METHOD       "sasl_method"
#define ATTR_NAME_SASL_USERNAME     "sasl_username"
#define ATTR_NAME_SASL_SENDER       "sasl_sender"
#define ATTR_NAME_TLS_SUMMARY       "tls_summary"           /* "TLSv1.3 with cipher ..." */
#define ATTR_NAME_LOG_IDENT         "log_ident"
#define ATTR_NAME_FULL_NAME         "full_name"     /* sender full name (sendmail -F) */
#define ATTR_NAME_SUBMIT_UID        "submit_uid"    /* uid of a local submitter */

/* Lookups and table access (proxy maps, verification). */
#define ATTR_NAME_TABLE             "table"
#define ATTR_NAME_KEY               "key"
#define ATTR_NAME_VALUE             "value"

/* Per-client counters (anvil). */
#define ATTR_NAME_SERVICE           "service"       /* master.cf service name */
#define ATTR_NAME_CLIENT            "client"        /* client address */
#define ATTR_NAME_RATE              "rate"          /* events in the current window */
#define ATTR_NAME_MSG_RATE          "message_rate"
#define ATTR_NAME_RCPT_RATE         "recipient_rate"

/* Connection cache (scache). */
#define ATTR_NAME_DEST_LABEL        "dest_label"    /* service:nexthop */
#define ATTR_NAME_ENDP_LABEL        "endp_label"    /* service:addr:port */
#define ATTR_NAME_ENDP_PROP         "endp_prop"     /* opaque text for the client */
#define ATTR_NAME_TTL               "ttl"           /* seconds to keep it */

/* Protocol names sent in the protocol= message. */
#define ATTR_PROTO_CLEANUP          "cleanup_protocol"
#define ATTR_PROTO_DELIVERY         "delivery_request_protocol"
#define ATTR_PROTO_POSTDROP         "postdrop_protocol"
#define ATTR_PROTO_QUEUE_LIST       "mail_queue_list_protocol"
#define ATTR_PROTO_FLUSH            "flush_protocol"
#define ATTR_PROTO_BOUNCE           "bounce_protocol"
#define ATTR_PROTO_TRIGGER          "trigger_protocol"
#define ATTR_PROTO_ANVIL            "anvil_protocol"
#define ATTR_PROTO_SCACHE           "scache_protocol"

#endif
