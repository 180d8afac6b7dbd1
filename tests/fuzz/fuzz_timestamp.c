/*
 * Fuzz target for RFC 3161 responses (formats/timestamp.c, SPEC section
 * 15): a .tsr file and a TSA's answer are both untrusted bytes.  Input:
 * the response.  It is checked against the SHA-256 of the seeds' data
 * ("custody fuzz seed\n") without and with the trust anchor below, the
 * CA of the TSA that made the seed tokens (its certificates are checked
 * at genTime, so the seeds keep verifying).  What verifies with the
 * anchor must pass without it, and nothing passes for another digest or
 * with a nonce other than the token's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custody/error.h"
#include "custody/timestamp.h"
#include "fuzz.h"

/* SHA-256 of "custody fuzz seed\n". */
static const uint8_t seed_digest[CST_TS_DIGEST_LEN] = {
	0x1a, 0x75, 0x8b, 0xa7, 0x31, 0xf0, 0xb5, 0xda,
	0xf9, 0xac, 0x85, 0xfb, 0xde, 0x4c, 0x67, 0x81,
	0xa2, 0xe2, 0xcf, 0xfb, 0xce, 0x58, 0x45, 0x69,
	0xf1, 0xdd, 0x09, 0xc0, 0xa6, 0xeb, 0xd1, 0xd4,
};

static const char ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBtzCCAV2gAwIBAgIUVIUeJlGhLNTWjYMiv89JF+iXDKowCgYIKoZIzj0EAwIw\n"
    "KTEVMBMGA1UECgwMY3VzdG9keSBmdXp6MRAwDgYDVQQDDAdmdXp6IENBMB4XDTI2\n"
    "MTIwNzAxMTQ0OVoXDTM2MTIwNDAxMTQ0OVowKTEVMBMGA1UECgwMY3VzdG9keSBm\n"
    "dXp6MRAwDgYDVQQDDAdmdXp6IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n"
    "drY7zutBtNmUAwgItkkS+1q+YOSVSeLjJvriUNH1q65r/y1gQYp6+no/V+L/Hfq/\n"
    "YLJ7fvlxXCan3UtO1kz9e6NjMGEwHQYDVR0OBBYEFNkizJTMfzusOCMIOqYmePgE\n"
    "HlA6MB8GA1UdIwQYMBaAFNkizJTMfzusOCMIOqYmePgEHlA6MA8GA1UdEwEB/wQF\n"
    "MAMBAf8wDgYDVR0PAQH/BAQDAgEGMAoGCCqGSM49BAMCA0gAMEUCIDqVuAFW4gpZ\n"
    "vnf/XE6KMSUNmB3seb+kvKCxZ295kkWzAiEA+X4p4dSGqThZama/bEmXOhCo4Imh\n"
    "LLImP+Ea6e9yXfQ=\n"
    "-----END CERTIFICATE-----\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cst_ts_trust *trust;
	uint8_t other[CST_TS_DIGEST_LEN], nonce[CST_TS_NONCE_LEN];
	char why[CST_TS_WHY_LEN];
	cst_ts_info info, vinfo;
	int rc, vrc;

	if (trust == NULL) {
		REQUIRE(cst_ts_trust_new(&trust) == 0);
		REQUIRE(cst_ts_trust_add_pem(trust, ca_pem, sizeof(ca_pem) - 1,
		    why) == 0);
	}
	rc = cst_ts_check(data, size, seed_digest, NULL, NULL, &info, why);
	REQUIRE(rc == 0 || rc == CST_ECORRUPT || rc == CST_EHASH ||
	    rc == CST_ENOMEM);
	REQUIRE(rc == 0 || why[0] != '\0');
	REQUIRE(memchr(why, '\0', sizeof(why)) != NULL);
	vrc = cst_ts_check(data, size, seed_digest, NULL, trust, &vinfo, why);
	REQUIRE(vrc != 0 || rc == 0);
	if (vrc == 0) {
		REQUIRE(vinfo.tsa[0] != '\0');
		REQUIRE(vinfo.gen_time_ns == info.gen_time_ns);
	}
	if (rc == 0) {
		REQUIRE(info.gen_time_ns >= 0);
		REQUIRE(info.status == 0 || info.status == 1);
		memcpy(other, seed_digest, sizeof(other));
		other[size % sizeof(other)] ^= 0x80;
		REQUIRE(cst_ts_check(data, size, other, NULL, trust, &vinfo,
		    why) == CST_EHASH);
		/* A replayed answer: not the nonce this request sent. */
		memset(nonce, 0xa5, sizeof(nonce));
		REQUIRE(cst_ts_check(data, size, seed_digest, nonce, NULL,
		    &vinfo, why) == CST_ECORRUPT);
	}
	return (0);
}
