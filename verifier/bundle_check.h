/*
 * custody-verify --bundle: checks an evidence bundle (SPEC section 11)
 * offline with only the root public key, and reports what it proves.
 */
#ifndef CUSTODY_BUNDLE_CHECK_H
#define CUSTODY_BUNDLE_CHECK_H

/* Exit statuses of bundle_check_main. */
#define BUNDLE_CHECK_VALID 0     /* every rule R-BND-* holds */
#define BUNDLE_CHECK_INVALID 1   /* the bundle fails a rule */
/* As custody-verify's own exit statuses: usage and I/O errors are both 2. */
#define BUNDLE_CHECK_USAGE 2
#define BUNDLE_CHECK_IO 2        /* the bundle or the key cannot be read */

/*
 * The whole of `custody-verify --bundle FILE --root ROOT.pub [--json]
 * [--report FILE] [--records] [--root-fpr HEX]`: argv (borrowed) is
 * the verifier's command line, options in any order; it prints the report
 * on stdout (or to --report FILE, and then a one-line verdict on stdout)
 * and returns one of the statuses above.
 */
int bundle_check_main(int argc, char **argv);

#endif /* CUSTODY_BUNDLE_CHECK_H */
