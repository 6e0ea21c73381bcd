/*
 * postconf: private interfaces between the parts of the postconf command.
 *
 *   postconf.c         main(): options, loading, the parameter listings
 *   postconf_edit.c    -e, -X and -#: editing main.cf
 *   postconf_master.c  -M: master.cf listings
 *   postconf_json.c    JSON output helpers
 */
#ifndef POSTERN_POSTCONF_H
#define POSTERN_POSTCONF_H

#include "strbuf.h"

/* Command-line settings shared by the parts. */
typedef struct postconf_opts {
    const char *config_dir;             /* after -c / MAIL_CONFIG */
    int     defaults;                   /* -d */
    int     nondefault;                 /* -n */
    int     values_only;                /* -h */
    int     names_only;                 /* -H */
    int     expand;                     /* -x */
    int     json;                       /* -j */
} postconf_opts;

/* Exit status for success, and for any error or unknown name. */
#define POSTCONF_OK         0
#define POSTCONF_FAIL       1

int     postconf_edit(const postconf_opts *opts, int mode, char **args, int nargs);
int     postconf_master(const postconf_opts *opts, char **args, int nargs);
void    postconf_print(const strbuf *line);

#endif
