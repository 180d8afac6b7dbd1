/*
 * The little-endian helpers live in include/custody/le.h, the one copy
 * the library and the verifier share; this name stays for the formats/
 * files that include "le.h".
 */
#ifndef CUSTODY_LE_H
#define CUSTODY_LE_H

#include "custody/le.h"

#endif /* CUSTODY_LE_H */
