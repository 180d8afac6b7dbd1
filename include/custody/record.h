/*
 * Records: one received message (or one collector audit event) with the
 * evidence about its arrival, MessagePack-encoded (SPEC section 5).
 */
#ifndef CUSTODY_RECORD_H
#define CUSTODY_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "custody/buf.h"
#include "custody/syslog.h"

enum cst_record_kind {
	CST_REC_EVENT = 0,
	CST_REC_START = 1,
	CST_REC_STOP = 2,
	CST_REC_RECOVERY = 3,
	CST_REC_KEY_EPOCH = 4,
	CST_REC_LOSS = 5,
	CST_REC_STATS = 6,
	CST_REC_CLOCK = 7,
	CST_REC_RELOAD = 8,
	CST_REC_REFUSAL = 9,     /* a connection refused (R-REC-8) */
	/* 10 and 11 are reserved for other amendments (R-REP-10). */
	CST_REC_REPLICATION = 12, /* a replication backlog (R-REP-9) */
	CST_REC_KIND_MAX = 12,
};

enum cst_transport {
	CST_TR_INTERNAL = 0,
	CST_TR_UDP = 1,
	CST_TR_TCP = 2,
	CST_TR_TLS = 3,
	CST_TR_RELP = 4,
	CST_TR_UNIX = 5,
	CST_TR_MAX = 5,
};

/* Record flags (SPEC section 5, field 7). */
#define CST_RF_PARSE_FAILED 0x01u
#define CST_RF_TRUNCATED 0x02u   /* a piece of an oversized message; more follow */
#define CST_RF_CONTINUED 0x04u   /* continues the previous record's message */
#define CST_RF_FRAMING_ERROR 0x08u
#define CST_RF_INCOMPLETE 0x10u  /* connection closed mid-message */
#define CST_RF_ALL 0x1fu

/* Most keys a detail map may have (R-REC-1). */
#define CST_DETAIL_MAX_KEYS 64

/* A borrowed byte string; p == NULL means nil where nil is allowed. */
typedef struct cst_bytes {
	const uint8_t *p;
	size_t len;
} cst_bytes;

typedef struct cst_record {
	uint8_t kind;      /* enum cst_record_kind */
	uint8_t transport; /* enum cst_transport */
	uint32_t flags;    /* CST_RF_* */
	uint64_t seq;
	int64_t recv_ns;
	cst_bytes listener;
	cst_bytes peer;
	cst_bytes tls_peer; /* p == NULL: nil; R-REC-7 */
	cst_bytes raw;
	int has_parsed;     /* 0: parsed is nil */
	cst_syslog parsed;  /* spans into raw */
	cst_bytes detail;   /* encoded MessagePack map; p == NULL: nil */
} cst_record;

/*
 * Appends the encoding of r (borrowed) to out (borrowed).  Checks that
 * r satisfies R-REC-1/R-REC-2 (the detail bytes must be one well-formed
 * map) and returns CST_EINVAL if not; 0 or CST_ENOMEM otherwise.
 */
int cst_record_encode(const cst_record *r, cst_buf *out);

/*
 * Decodes one record from buf[0..len) into out; out's byte strings borrow
 * from buf.  *used is set to the encoded length.  Enforces R-REC-1 and
 * R-REC-2.  Returns 0, CST_ETRUNC when buf ends inside the record, or
 * CST_ECORRUPT.
 */
int cst_record_decode(const uint8_t *buf, size_t len, cst_record *out,
    size_t *used);

/*
 * Returns the length of the one MessagePack object at buf[0..len) in
 * *used, without decoding it: for splitting a payload into Merkle leaves.
 * Returns 0, CST_ETRUNC or CST_ECORRUPT (nesting deeper than 8, or a
 * length past len).
 */
int cst_msgpack_skip(const uint8_t *buf, size_t len, size_t *used);

/*
 * Looks up key in the detail map detail[0..len).  Each returns 0 and sets
 * *out, CST_ENOENT when the key is absent, or CST_ECORRUPT when the map is
 * malformed or the value has another type.  String results borrow from
 * detail and are not NUL-terminated.
 */
int cst_detail_get_u64(const uint8_t *detail, size_t len, const char *key,
    uint64_t *out);
int cst_detail_get_i64(const uint8_t *detail, size_t len, const char *key,
    int64_t *out);
int cst_detail_get_str(const uint8_t *detail, size_t len, const char *key,
    cst_bytes *out);

/*
 * Builds a detail map.  Usage: cst_detail_begin(out, n) then exactly n
 * cst_detail_put_* calls.  Each returns 0 or CST_ENOMEM.
 */
int cst_detail_begin(cst_buf *out, uint32_t n);
int cst_detail_put_u64(cst_buf *out, const char *key, uint64_t v);
int cst_detail_put_i64(cst_buf *out, const char *key, int64_t v);
int cst_detail_put_str(cst_buf *out, const char *key, const char *v,
    size_t vlen);

/*
 * The names of the record kinds and transports, one list each: every tool
 * (custody-query's --kind and output, custody-verify's report) spells a
 * kind the same way.  XX(NAME, value, "name"); the values are those of
 * the enums above, which formats/names.c checks at compile time.
 */
#define CST_RECORD_KIND_MAP(XX)                                               \
	XX(EVENT, 0, "event")                                                 \
	XX(START, 1, "start")                                                 \
	XX(STOP, 2, "stop")                                                   \
	XX(RECOVERY, 3, "recovery")                                           \
	XX(KEY_EPOCH, 4, "key-epoch")                                         \
	XX(LOSS, 5, "loss")                                                   \
	XX(STATS, 6, "stats")                                                 \
	XX(CLOCK, 7, "clock")                                                 \
	XX(RELOAD, 8, "reload")                                               \
	XX(REFUSAL, 9, "refusal")                                             \
	XX(REPLICATION, 12, "replication")

#define CST_TRANSPORT_MAP(XX)                                                 \
	XX(INTERNAL, 0, "internal")                                           \
	XX(UDP, 1, "udp")                                                     \
	XX(TCP, 2, "tcp")                                                     \
	XX(TLS, 3, "tls")                                                     \
	XX(RELP, 4, "relp")                                                   \
	XX(UNIX, 5, "unix")

/* The static name of record kind kind ("key-epoch"), or "-" if unknown. */
const char *cst_record_kind_name(unsigned kind);

/* The static name of transport t ("udp"), or "-" if unknown. */
const char *cst_transport_name(unsigned t);

#endif /* CUSTODY_RECORD_H */
