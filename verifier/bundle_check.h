/*
 * custody-verify --bundle: checks an evidence bundle (SPEC section 11)
 * offline with only the root public key, and reports what it proves.
 */
#ifndef CUSTODY_BUNDLE_CHECK_H
#define CUSTODY_BUNDLE_CHECK_H

/*
 * The whole of `custody-verify --bundle FILE --root ROOT.pub [--json]
 * [--report FILE] [--records] [--root-fpr HEX]`: argv (borrowed) is
 * the verifier's command line, options in any order; it prints the report
 * on stdout (or to --report FILE, and then a one-line verdict on stdout)
 * and returns an exit status of exit.h: EXIT_OK when every rule R-BND-*
 * holds, EXIT_INTEGRITY when the bundle fails one, EXIT_USAGE or EXIT_IO
 * when the bundle or the key cannot be read.
 */
int bundle_check_main(int argc, char **argv);

#endif /* CUSTODY_BUNDLE_CHECK_H */
