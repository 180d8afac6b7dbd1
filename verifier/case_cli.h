/*
 * custody-verify's case record modes (SPEC section 16):
 *   --check-case DIR [--case-head HEX]
 *   --case-dir DIR --transfer --from NAME --to NAME --reason TEXT
 *       [--case ID] FILE...
 */
#ifndef CUSTODY_VERIFIER_CASE_CLI_H
#define CUSTODY_VERIFIER_CASE_CLI_H

/* argv[1..] holds --check-case or --transfer. */
int case_cli_wanted(int argc, char **argv);

/* Runs the mode; returns the exit status (0, 1 or 2). */
int case_cli_main(int argc, char **argv);

#endif /* CUSTODY_VERIFIER_CASE_CLI_H */
