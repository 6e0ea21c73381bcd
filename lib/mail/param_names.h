/*
 * param_names: the name of every main.cf parameter, as a constant.
 *
 * Code never spells a parameter name as a string literal: it uses these
 * (STYLE rule 7). Each name here has exactly one entry in the parameter
 * table (param_table.c) and one ".SS" entry in man/man5/postconf.5.
 * Keep the list sorted within each group.
 */
#ifndef POSTERN_PARAM_NAMES_H
#define POSTERN_PARAM_NAMES_H

/* Identity and installation. */
#define PARAM_MAIL_NAME                 "mail_name"
#define PARAM_MAIL_VERSION              "mail_version"
#define PARAM_COMPATIBILITY_LEVEL       "compatibility_level"
#define PARAM_CONFIG_DIRECTORY          "config_directory"
#define PARAM_COMMAND_DIRECTORY         "command_directory"
#define PARAM_DAEMON_DIRECTORY          "daemon_directory"
#define PARAM_DATA_DIRECTORY            "data_directory"
#define PARAM_META_DIRECTORY            "meta_directory"
#define PARAM_QUEUE_DIRECTORY           "queue_directory"

/* Users and groups. */
#define PARAM_DEFAULT_PRIVS             "default_privs"
#define PARAM_MAIL_OWNER                "mail_owner"
#define PARAM_SETGID_GROUP              "setgid_group"

/* Host and network identity. */
#define PARAM_INET_INTERFACES           "inet_interfaces"
#define PARAM_INET_PROTOCOLS            "inet_protocols"
#define PARAM_MYDESTINATION             "mydestination"
#define PARAM_MYDOMAIN                  "mydomain"
#define PARAM_MYHOSTNAME                "myhostname"
#define PARAM_MYNETWORKS                "mynetworks"
#define PARAM_MYNETWORKS_STYLE          "mynetworks_style"
#define PARAM_MYORIGIN                  "myorigin"

/* Logging. */
#define PARAM_MAILLOG_FILE              "maillog_file"
#define PARAM_SYSLOG_FACILITY           "syslog_facility"
#define PARAM_SYSLOG_NAME               "syslog_name"

/* Processes and timeouts. */
#define PARAM_DAEMON_TIMEOUT            "daemon_timeout"
#define PARAM_DEFAULT_PROCESS_LIMIT     "default_process_limit"
#define PARAM_EXPORT_ENVIRONMENT        "export_environment"
#define PARAM_IMPORT_ENVIRONMENT        "import_environment"
#define PARAM_IPC_TIMEOUT               "ipc_timeout"
#define PARAM_MAX_IDLE                  "max_idle"
#define PARAM_MAX_USE                   "max_use"
#define PARAM_SERVICE_THROTTLE_TIME     "service_throttle_time"

/* Message limits. */
#define PARAM_HEADER_SIZE_LIMIT         "header_size_limit"
#define PARAM_LINE_LENGTH_LIMIT         "line_length_limit"
#define PARAM_MESSAGE_SIZE_LIMIT        "message_size_limit"
#define PARAM_HOPCOUNT_LIMIT            "hopcount_limit"
#define PARAM_MESSAGE_DROP_HEADERS      "message_drop_headers"

/* Address rewriting (cleanup). */
#define PARAM_APPEND_DOT_MYDOMAIN       "append_dot_mydomain"
#define PARAM_CANONICAL_MAPS            "canonical_maps"
#define PARAM_SENDER_CANONICAL_MAPS     "sender_canonical_maps"
#define PARAM_RECIPIENT_CANONICAL_MAPS  "recipient_canonical_maps"
#define PARAM_VIRTUAL_ALIAS_MAPS        "virtual_alias_maps"
#define PARAM_VIRTUAL_ALIAS_EXPANSION_LIMIT "virtual_alias_expansion_limit"
#define PARAM_VIRTUAL_ALIAS_RECURSION_LIMIT "virtual_alias_recursion_limit"

/* Local delivery and aliases. */
#define PARAM_ALIAS_DATABASE            "alias_database"
#define PARAM_ALIAS_MAPS                "alias_maps"
#define PARAM_DEFAULT_DATABASE_TYPE     "default_database_type"
#define PARAM_HOME_MAILBOX              "home_mailbox"
#define PARAM_MAIL_SPOOL_DIRECTORY      "mail_spool_directory"
#define PARAM_MAILBOX_SIZE_LIMIT        "mailbox_size_limit"
#define PARAM_RECIPIENT_DELIMITER       "recipient_delimiter"
#define PARAM_ALLOW_MAIL_TO_COMMANDS    "allow_mail_to_commands"
#define PARAM_ALLOW_MAIL_TO_FILES       "allow_mail_to_files"
#define PARAM_COMMAND_TIME_LIMIT        "command_time_limit"
#define PARAM_FORWARD_PATH              "forward_path"
#define PARAM_LOCAL_COMMAND_SHELL       "local_command_shell"
#define PARAM_LUSER_RELAY               "luser_relay"
#define PARAM_MAILBOX_COMMAND           "mailbox_command"
#define PARAM_MAILBOX_DELIVERY_LOCK     "mailbox_delivery_lock"
#define PARAM_PREPEND_DELIVERED_HEADER  "prepend_delivered_header"

/* Routing. */
#define PARAM_DEFAULT_TRANSPORT         "default_transport"
#define PARAM_LOCAL_TRANSPORT           "local_transport"
#define PARAM_RELAY_DOMAINS             "relay_domains"
#define PARAM_RELAY_TRANSPORT           "relay_transport"
#define PARAM_RELAYHOST                 "relayhost"
#define PARAM_VIRTUAL_TRANSPORT         "virtual_transport"

/* SMTP server. */
#define PARAM_SMTPD_BANNER              "smtpd_banner"
#define PARAM_SMTPD_TIMEOUT             "smtpd_timeout"
#define PARAM_SMTPD_RECIPIENT_LIMIT     "smtpd_recipient_limit"
#define PARAM_SMTPD_HARD_ERROR_LIMIT    "smtpd_hard_error_limit"
#define PARAM_SMTPD_SOFT_ERROR_LIMIT    "smtpd_soft_error_limit"
#define PARAM_SMTPD_ERROR_SLEEP_TIME    "smtpd_error_sleep_time"
#define PARAM_SMTPD_JUNK_COMMAND_LIMIT  "smtpd_junk_command_limit"
#define PARAM_SMTPD_HISTORY_FLUSH_THRESHOLD "smtpd_history_flush_threshold"
#define PARAM_SMTPD_FORBID_BARE_NEWLINE "smtpd_forbid_bare_newline"
#define PARAM_SMTPD_FORBID_UNAUTH_PIPELINING "smtpd_forbid_unauth_pipelining"
#define PARAM_SMTPD_DISCARD_EHLO_KEYWORDS "smtpd_discard_ehlo_keywords"
#define PARAM_DISABLE_VRFY_COMMAND      "disable_vrfy_command"
#define PARAM_SMTPD_PEERNAME_LOOKUP     "smtpd_peername_lookup"

/* Queue. */
#define PARAM_BOUNCE_QUEUE_LIFETIME     "bounce_queue_lifetime"
#define PARAM_BOUNCE_SIZE_LIMIT         "bounce_size_limit"
#define PARAM_BOUNCE_NOTICE_RECIPIENT   "bounce_notice_recipient"
#define PARAM_2BOUNCE_NOTICE_RECIPIENT  "2bounce_notice_recipient"
#define PARAM_ERROR_NOTICE_RECIPIENT   "error_notice_recipient"
#define PARAM_DOUBLE_BOUNCE_SENDER      "double_bounce_sender"
#define PARAM_DELAY_WARNING_TIME        "delay_warning_time"
#define PARAM_ENABLE_LONG_QUEUE_IDS     "enable_long_queue_ids"
#define PARAM_HASH_QUEUE_DEPTH          "hash_queue_depth"
#define PARAM_HASH_QUEUE_NAMES          "hash_queue_names"
#define PARAM_MAXIMAL_BACKOFF_TIME      "maximal_backoff_time"
#define PARAM_MAXIMAL_QUEUE_LIFETIME    "maximal_queue_lifetime"
#define PARAM_MINIMAL_BACKOFF_TIME      "minimal_backoff_time"
#define PARAM_QMGR_MESSAGE_ACTIVE_LIMIT "qmgr_message_active_limit"
#define PARAM_QUEUE_RUN_DELAY           "queue_run_delay"

/* DNS (Postern-specific). */
#define PARAM_DNS_RESOLVER_SERVERS      "dns_resolver_servers"

/* Per-client limits kept by anvil. */
#define PARAM_ANVIL_RATE_TIME_UNIT      "anvil_rate_time_unit"
#define PARAM_ANVIL_STATUS_UPDATE_TIME  "anvil_status_update_time"
#define PARAM_ANVIL_MAX_CLIENTS         "anvil_max_clients"     /* Postern-specific */
#define PARAM_SMTPD_CLIENT_CONN_COUNT_LIMIT "smtpd_client_connection_count_limit"
#define PARAM_SMTPD_CLIENT_CONN_RATE_LIMIT  "smtpd_client_connection_rate_limit"
#define PARAM_SMTPD_CLIENT_MSG_RATE_LIMIT   "smtpd_client_message_rate_limit"
#define PARAM_SMTPD_CLIENT_RCPT_RATE_LIMIT  "smtpd_client_recipient_rate_limit"
#define PARAM_SMTPD_CLIENT_EVENT_LIMIT_EXCEPTIONS "smtpd_client_event_limit_exceptions"

/* Notification and bounces. */
#define PARAM_NOTIFY_CLASSES            "notify_classes"
#define PARAM_SOFT_BOUNCE               "soft_bounce"


/* smtpd restrictions (smtpd_check). */
#define PARAM_SMTPD_CLIENT_RESTRICTIONS     "smtpd_client_restrictions"
#define PARAM_SMTPD_HELO_RESTRICTIONS       "smtpd_helo_restrictions"
#define PARAM_SMTPD_SENDER_RESTRICTIONS     "smtpd_sender_restrictions"
#define PARAM_SMTPD_RELAY_RESTRICTIONS      "smtpd_relay_restrictions"
#define PARAM_SMTPD_RECIPIENT_RESTRICTIONS  "smtpd_recipient_restrictions"
#define PARAM_SMTPD_DATA_RESTRICTIONS       "smtpd_data_restrictions"
#define PARAM_SMTPD_END_OF_DATA_RESTRICTIONS "smtpd_end_of_data_restrictions"
#define PARAM_SMTPD_ETRN_RESTRICTIONS       "smtpd_etrn_restrictions"
#define PARAM_SMTPD_RESTRICTION_CLASSES     "smtpd_restriction_classes"
#define PARAM_SMTPD_DELAY_REJECT            "smtpd_delay_reject"
#define PARAM_SMTPD_HELO_REQUIRED           "smtpd_helo_required"
#define PARAM_SMTPD_REJECT_UNLISTED_RECIPIENT "smtpd_reject_unlisted_recipient"
#define PARAM_SMTPD_REJECT_UNLISTED_SENDER  "smtpd_reject_unlisted_sender"
#define PARAM_SMTPD_NULL_ACCESS_LOOKUP_KEY  "smtpd_null_access_lookup_key"
#define PARAM_LOCAL_RECIPIENT_MAPS          "local_recipient_maps"
#define PARAM_UNKNOWN_LOCAL_RECIPIENT_REJECT_CODE "unknown_local_recipient_reject_code"
#define PARAM_UNKNOWN_ADDRESS_REJECT_CODE   "unknown_address_reject_code"
#define PARAM_UNKNOWN_CLIENT_HOSTNAME_REJECT_CODE "unknown_client_hostname_reject_code"
#define PARAM_NON_FQDN_REJECT_CODE          "non_fqdn_reject_code"
#define PARAM_INVALID_HOSTNAME_REJECT_CODE  "invalid_hostname_reject_code"
#define PARAM_RELAY_DOMAINS_REJECT_CODE     "relay_domains_reject_code"
#define PARAM_ACCESS_MAP_REJECT_CODE        "access_map_reject_code"
#define PARAM_ACCESS_MAP_DEFER_CODE         "access_map_defer_code"
#define PARAM_REJECT_CODE                   "reject_code"
#define PARAM_DEFER_CODE                    "defer_code"
#define PARAM_MAPS_RBL_REJECT_CODE          "maps_rbl_reject_code"

#endif
