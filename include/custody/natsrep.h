/*
 * The layout of a store replicated to NATS JetStream (SPEC section 17):
 * subjects, header names and message ids, shared by the collector that
 * publishes and the tools that restore.  Names only; no NATS code here.
 */
#ifndef CUSTODY_NATSREP_H
#define CUSTODY_NATSREP_H

/* The default stream (R-REP-1) and what it takes. */
#define CST_REP_STREAM "CUSTODY"
#define CST_REP_SUBJECTS "custody.>"

/* Subjects of chain <chain>, 32 lower-case hex digits (R-REP-3). */
#define CST_REP_SUBJ_SEGMENTS "custody.%s.segments"
#define CST_REP_SUBJ_BLOCKS "custody.%s.blocks"
#define CST_REP_SUBJ_CHECKPOINTS "custody.%s.checkpoints"
#define CST_REP_SUBJ_KEYS "custody.%s.keys"
#define CST_REP_SUBJ_ALL "custody.%s.>"

/* Message headers (R-REP-3). */
#define CST_REP_H_SEGMENT "Custody-Segment"
#define CST_REP_H_OFFSET "Custody-Offset"
#define CST_REP_H_BLOCK "Custody-Block"
#define CST_REP_H_NAME "Custody-Name"

/* Nats-Msg-Id forms (R-REP-2): chain, then number or name and hash. */
#define CST_REP_ID_SEGMENT "%s/seg/%llu"
#define CST_REP_ID_BLOCK "%s/blk/%llu"
#define CST_REP_ID_CHECKPOINT "%s/ckpt/%s/%.16s"
#define CST_REP_ID_KEY "%s/key/%s/%.16s"

/* The duplicate window the collector gives the stream, ns (R-REP-2). */
#define CST_REP_DUPLICATE_WINDOW_NS (INT64_C(600) * 1000000000)

/* Longest Custody-Name (R-REP-3). */
#define CST_REP_NAME_MAX 255

#endif /* CUSTODY_NATSREP_H */
