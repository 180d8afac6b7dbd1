#!/bin/bash
# Regenerates the committed test vectors: small stores made by
# custody-mkstore (deterministic from their seeds), some then altered by
# byte surgery, each with the verdict and rules a verifier must give in
# expect.json.  The output is byte for byte the same on every run.
#
#   MKSTORE=build/custody-mkstore tests/vectors/make_vectors.sh
#
# Layout of a vector: segments/, keys/root.pub, optional quarantine/ and
# checkpoints/, and expect.json:
#   {"description": ..., "verdict": "intact"|"failed",
#    "rules": [rules at least one finding must cite],
#    "root": "keys/root.pub", "checkpoints": ["checkpoints/x.ckpt", ...]}
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MKSTORE=${MKSTORE:-${CUSTODY_BUILD_DIR:-$here/../../build}/custody-mkstore}
PY=/usr/bin/python3
[ -x "$MKSTORE" ] || { echo "make_vectors.sh: no $MKSTORE" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Byte surgery on segment files, parsing only frame lengths (SPEC 4.1).
surgery() {
	"$PY" - "$@" <<'EOF'
import hashlib, struct, sys

def frames(d):
    pos, out = 128, []
    while pos + 224 <= len(d) and d[pos:pos + 4] == b'CBLK':
        cl, pl = struct.unpack_from('<II', d, pos + 60)
        n = 224 + cl + pl + 64
        out.append((pos, n))
        pos += n
    return out

def rd(p):
    return bytearray(open(p, 'rb').read())

def wr(p, d):
    open(p, 'wb').write(bytes(d))

op, path = sys.argv[1], sys.argv[2]
a = [int(x) for x in sys.argv[3:] if x.lstrip('-').isdigit()]
d = rd(path)
f = frames(d)
if op == 'flip':            # flip: frame index, offset in frame
    d[f[a[0]][0] + a[1]] ^= 0x01
elif op == 'flip_payload':  # flip the middle byte of frame i's payload
    pos, n = f[a[0]]
    cl, pl = struct.unpack_from('<II', d, pos + 60)
    d[pos + 224 + cl + pl // 2] ^= 0x01
elif op == 'flip_sig':
    pos, n = f[a[0]]
    d[pos + n - 10] ^= 0x01
elif op == 'flip_cert_len': # flip bit 0 of payload_len's top byte in the
    # last frame that carries a certificate: it runs 16 MiB past the end
    pos = [p for p, n in f if struct.unpack_from('<I', d, p + 60)[0]][-1]
    d[pos + 67] ^= 0x01
elif op == 'flip_at':       # flip: absolute offset
    d[a[0]] ^= 0x01
elif op == 'truncate_mid':  # cut frame i in half
    pos, n = f[a[0]]
    d = d[:pos + n // 2]
elif op == 'truncate_at':   # cut before frame i
    d = d[:f[a[0]][0]]
elif op == 'delete':        # remove frame i
    pos, n = f[a[0]]
    d = d[:pos] + d[pos + n:]
elif op == 'replay':        # insert a copy of frame i before frame j
    pos, n = f[a[0]]
    at = f[a[1]][0]
    d = d[:at] + d[pos:pos + n] + d[at:]
elif op == 'swap':          # swap frames i and i+1
    (p1, n1), (p2, n2) = f[a[0]], f[a[0] + 1]
    d = d[:p1] + d[p2:p2 + n2] + d[p1:p1 + n1] + d[p2 + n2:]
elif op == 'append_frame':  # append a copy of frame i of another file
    o = rd(sys.argv[4])
    pos, n = frames(o)[a[0]]
    d = d + o[pos:pos + n]
elif op == 'set_segno':     # rewrite the header's segment_no, check redone
    struct.pack_into('<Q', d, 32, a[0])
    d[96:128] = hashlib.blake2b(b'custody/v1/segment\0' + bytes(d[:96]),
                                digest_size=32).digest()
else:
    sys.exit('surgery: unknown op ' + op)
wr(path, d)
EOF
}

# Writes expect.json: name verdict "rules" "checkpoints" description [root].
expect() {
	"$PY" - "$@" <<'EOF'
import json, sys
name, verdict, rules, ckps, desc = sys.argv[1:6]
root = sys.argv[6] if len(sys.argv) > 6 else 'keys/root.pub'
e = {"description": desc, "verdict": verdict,
     "rules": rules.split() if rules else [], "root": root,
     "checkpoints": ckps.split() if ckps else []}
with open(name + '/expect.json', 'w') as f:
    json.dump(e, f, indent=2)
    f.write('\n')
EOF
}

mk() {
	local dir=$1
	shift
	rm -rf "$dir"
	"$MKSTORE" "$dir" "$@" > /dev/null
}

seg() { printf '%s/segments/seg-%010d.cst' "$1" "$2"; }

# Base stores, made once in $work and copied into each vector.
base="--events 120 --block-records 16 --seed 11"
mk "$work/single" $base
mk "$work/multi" $base --segments 3
mk "$work/epochs" $base --segments 3 --epochs 3
mk "$work/unsealed" $base --segments 2 --unsealed --partial-tail 100
mk "$work/recovery" $base --segments 2 --recovery --loss
mk "$work/ckpt" $base --segments 3 --checkpoint-every 4
mk "$work/empty" $base --segments 2 --empty-tail
mk "$work/forged_cert" $base --segments 2 --epochs 2 --forge-cert 2
mk "$work/other" --events 120 --block-records 16 --seed 12 --segments 3
mk "$work/fork" $base --segments 3 --checkpoint-every 4 --event-seed 99
mk "$work/stolen" $base --segments 3 --epochs 3 --checkpoint-every 4 --secrets
mk "$work/notes" $base --segments 3 --checkpoint-every 4 --log-key
mk "$work/notes_fork" $base --segments 3 --checkpoint-every 4 --log-key \
    --event-seed 99
mk "$work/notes_rogue" $base --segments 3 --checkpoint-every 4 --log-key \
    --log-seed 77
mk "$work/notes_other" --events 120 --block-records 16 --seed 12 \
    --segments 3 --checkpoint-every 4 --log-key

out=$here
vec() {
	# vec NAME BASE: a fresh copy of a base store as vector NAME.
	rm -rf "${out:?}/$1"
	cp -a "$work/$2" "$out/$1"
	chmod -R u+w,go+r "$out/$1"
}

# Intact stores.
vec good_single single
expect "$out/good_single" intact "" "" \
    "one sealed segment, one key epoch"
vec good_multi multi
expect "$out/good_multi" intact "" "" \
    "three sealed segments chained across files"
vec good_epochs epochs
expect "$out/good_epochs" intact "" "" \
    "three segments, key rotated twice (epochs 1..3, certificates in the chain)"
vec good_unsealed unsealed
expect "$out/good_unsealed" intact "" "" \
    "newest segment unsealed and ending in 100 bytes of a frame being written (R-SEG-4 allows it; warned)"
vec good_recovery recovery
expect "$out/good_recovery" intact "" "" \
    "crash recovery: torn tail cut to quarantine/, recovery record matches it (R-REC-4); a loss record"
vec good_checkpoint ckpt
expect "$out/good_checkpoint" intact "" \
    "checkpoints/latest.ckpt checkpoints/ckpt-000004.ckpt" \
    "checkpoints at the head and at block 3 both hold (R-CKP-2)"
vec good_empty_tail empty
expect "$out/good_empty_tail" intact "" "" \
    "newest segment holds only its header (R-SEG-5 allows it for the newest)"
vec good_renamed multi
mv "$(seg "$out/good_renamed" 0)" "$out/good_renamed/segments/x"
mv "$(seg "$out/good_renamed" 2)" "$(seg "$out/good_renamed" 0)"
mv "$out/good_renamed/segments/x" "$(seg "$out/good_renamed" 2)"
expect "$out/good_renamed" intact "" "" \
    "segment files 0 and 2 swapped names: order comes from the numbers inside (SPEC section 2), so still intact"

# Altered stores.
vec bad_header_flip multi
surgery flip "$(seg "$out/bad_header_flip" 1)" 2 200
expect "$out/bad_header_flip" failed "R-BLK-3" "" \
    "one bit of a block header's prev_hash flipped: the signature fails"
vec bad_payload_flip multi
surgery flip_payload "$(seg "$out/bad_payload_flip" 1)" 1
expect "$out/bad_payload_flip" failed "R-BLK-4" "" \
    "one bit of a compressed payload flipped: the payload hash fails"
vec bad_sig_flip multi
surgery flip_sig "$(seg "$out/bad_sig_flip" 0)" 3
expect "$out/bad_sig_flip" failed "R-BLK-3" "" \
    "one bit of a block signature flipped"
vec bad_cert_flip epochs
surgery flip "$(seg "$out/bad_cert_flip" 1)" 0 260
expect "$out/bad_cert_flip" failed "R-KEY-1 R-BLK-3" "" \
    "one bit of the public key in the epoch 2 certificate flipped"
vec bad_hidden_epoch epochs
surgery flip_cert_len "$(seg "$out/bad_hidden_epoch" 2)"
expect "$out/bad_hidden_epoch" failed "R-BLK-2" "" \
    "one bit of payload_len flipped in the newest segment's block that carries the epoch 3 certificate: the frame runs past the end of the file, yet the frames after it are there (R-SEG-8)"
vec bad_seghdr_flip multi
surgery flip_at "$(seg "$out/bad_seghdr_flip" 2)" 50
expect "$out/bad_seghdr_flip" failed "R-SEG-1" "" \
    "one bit of a segment header's first_seq flipped: its check fails"
vec bad_truncated_old multi
surgery truncate_mid "$(seg "$out/bad_truncated_old" 1)" 2
expect "$out/bad_truncated_old" failed "R-SEG-4" "" \
    "an older segment cut in the middle of a block"
vec bad_truncated_boundary multi
surgery truncate_at "$(seg "$out/bad_truncated_boundary" 0)" 3
expect "$out/bad_truncated_boundary" failed "R-SEG-4 R-BLK-6" "" \
    "an older segment cut at a block boundary: its last blocks and seal are gone"
vec bad_deleted_segment multi
rm "$(seg "$out/bad_deleted_segment" 1)"
expect "$out/bad_deleted_segment" failed "R-SEG-2" "" \
    "the middle segment deleted"
vec bad_reordered_segments multi
surgery set_segno "$(seg "$out/bad_reordered_segments" 0)" 1
surgery set_segno "$(seg "$out/bad_reordered_segments" 1)" 0
expect "$out/bad_reordered_segments" failed "R-SEG-3" "" \
    "segment numbers of segments 0 and 1 swapped in their (unsigned) headers, checks recomputed"
vec bad_foreign_segment multi
cp "$(seg "$work/other" 1)" "$(seg "$out/bad_foreign_segment" 1)"
expect "$out/bad_foreign_segment" failed "R-SEG-2 R-SEG-3" "" \
    "segment 1 replaced by segment 1 of another chain"
vec bad_dup_segment multi
cp "$(seg "$out/bad_dup_segment" 0)" "$(seg "$out/bad_dup_segment" 7)"
expect "$out/bad_dup_segment" failed "R-SEG-2" "" \
    "an old segment replayed under a new file name"
vec bad_replayed_block multi
surgery replay "$(seg "$out/bad_replayed_block" 1)" 1 3
expect "$out/bad_replayed_block" failed "R-BLK-6" "" \
    "a copy of an earlier block inserted later in the segment"
vec bad_deleted_block multi
surgery delete "$(seg "$out/bad_deleted_block" 1)" 2
expect "$out/bad_deleted_block" failed "R-BLK-6" "" \
    "a block deleted from the middle of a segment"
vec bad_swapped_blocks multi
surgery swap "$(seg "$out/bad_swapped_blocks" 0)" 1
expect "$out/bad_swapped_blocks" failed "R-BLK-6" "" \
    "two adjacent blocks swapped"
vec bad_after_seal multi
surgery append_frame "$(seg "$out/bad_after_seal" 0)" 1 "$(seg "$work/multi" 1)"
expect "$out/bad_after_seal" failed "R-SEG-4" "" \
    "a block appended after the seal of an older segment"
vec bad_wrong_root multi
"$PY" - "$out/bad_wrong_root/keys" "$work/other/keys/root.pub" <<'EOF'
import sys
d, other = sys.argv[1:3]
mine = open(d + '/root.pub').read().split()
theirs = open(other).read().split()
# The right chain id with another key: a substituted root key file.
open(d + '/wrong-root.pub', 'w').write(' '.join([mine[0], mine[1], theirs[2]]) + '\n')
EOF
expect "$out/bad_wrong_root" failed "R-KEY-1" "" \
    "verified with a root key that is not the chain's (same chain id, another key)" \
    keys/wrong-root.pub
vec bad_foreign_root multi
cp "$work/other/keys/root.pub" "$out/bad_foreign_root/keys/other-root.pub"
expect "$out/bad_foreign_root" failed "R-SEG-3" "" \
    "verified with the root key of another chain: every segment is foreign" \
    keys/other-root.pub
vec bad_forged_cert forged_cert
expect "$out/bad_forged_cert" failed "R-KEY-1 R-BLK-3" "" \
    "the epoch 2 certificate is signed by a key outside the chain"
vec bad_quarantine_altered recovery
surgery flip_at "$(ls "$out"/bad_quarantine_altered/quarantine/*)" 20
expect "$out/bad_quarantine_altered" failed "R-REC-4" "" \
    "one bit of the quarantined torn tail flipped: it no longer matches the recovery record"
vec bad_ckpt_truncated ckpt
rm "$(seg "$out/bad_ckpt_truncated" 2)"
expect "$out/bad_ckpt_truncated" failed "R-CKP-2" "checkpoints/latest.ckpt" \
    "the newest segment deleted: only the checkpoint at the head shows it"
vec bad_ckpt_rollback ckpt
cp "$work/fork/checkpoints/latest.ckpt" "$out/bad_ckpt_rollback/checkpoints/fork.ckpt"
expect "$out/bad_ckpt_rollback" failed "R-CKP-2" "checkpoints/fork.ckpt" \
    "a checkpoint of another history of the same chain (same keys, other records): a fork or rollback"
vec bad_ckpt_forged ckpt
sed -i 's/^records \([0-9]*\)$/records 9\1/' "$out/bad_ckpt_forged/checkpoints/latest.ckpt"
expect "$out/bad_ckpt_forged" failed "R-CKP-1" "checkpoints/latest.ckpt" \
    "a checkpoint whose record count was altered: its signature fails"

# A correctly signed record whose parsed ts_ns is the MessagePack uint 64
# 2^63: custody-mkstore writes only valid records, so the reference writer
# (tests/ref/gen_ref_store.py, deterministic from its seed) makes it.
rm -rf "${out:?}/bad_ts_uint64"
"$PY" "$here/../ref/gen_ref_store.py" --events 40 --segments 1 --seed 5 \
    --fault rec-ts-uint64 "$out/bad_ts_uint64" > /dev/null
rm "$out/bad_ts_uint64/keys/root.key" "$out/bad_ts_uint64/keys/epoch.key"
chmod -R u+w,go+r "$out/bad_ts_uint64"
expect "$out/bad_ts_uint64" failed "R-REC-1" "" \
    "a signed record whose parsed ts_ns is MessagePack uint 64 2^63: not an i64 (R-REC-1)"

vec bad_ckpt_store_truncated ckpt
surgery truncate_at "$(seg "$out/bad_ckpt_store_truncated" 2)" 1
expect "$out/bad_ckpt_store_truncated" failed "R-CKP-2" "" \
    "the newest segment cut at a block boundary, checkpoints/ left alone: no checkpoint is given, the store's own show it (R-CKP-4)"

# Note checkpoints and the log key (SPEC section 13).
vec good_notes notes
expect "$out/good_notes" intact "" "checkpoints/latest.note" \
    "note checkpoints at blocks 4, 8, 12 and the head, log.cert by the root: all hold (R-TLOG-5, R-NOTE-6)"
vec bad_note_root notes
cp "$work/notes_fork/checkpoints/latest.note" "$out/bad_note_root/fork.note"
expect "$out/bad_note_root" failed "R-NOTE-6" "fork.note" \
    "a note checkpoint signed by the chain's own log key for another history (same keys, other records): its root is not the chain tree's, a fork or rollback"
vec bad_note_foreign_key notes
cp "$work/notes_rogue/checkpoints/latest.note" \
    "$out/bad_note_foreign_key/rogue.note"
# Its certificate, for tests that give it (the vector does not).
cp "$work/notes_rogue/keys/log.cert" "$out/bad_note_foreign_key/rogue-log.cert"
expect "$out/bad_note_foreign_key" failed "R-NOTE-5" "rogue.note" \
    "a note checkpoint of the right chain and root signed by another log key, whose certificate (rogue-log.cert) is neither in the store nor given"
vec bad_log_cert_forged notes
"$PY" - "$out/bad_log_cert_forged" "$work/notes_other/keys/log.cert" <<'EOF'
import sys
d, other = sys.argv[1:3]
# The chain's own certificate with another root's signature in it.
mine = open(d + '/keys/log.cert').read().split()
theirs = open(other).read().split()
forged = ' '.join(mine[:3] + [theirs[3]]) + '\n'
for p in ('/keys/log.cert', '/checkpoints/log.cert'):
    open(d + p, 'w').write(forged)
EOF
expect "$out/bad_log_cert_forged" failed "R-TLOG-5" "checkpoints/latest.note" \
    "log.cert (in keys/ and checkpoints/) carries a signature that is not the root key's: no note can be checked"
vec bad_note_truncated notes
rm "$(seg "$out/bad_note_truncated" 2)" "$out"/bad_note_truncated/checkpoints/*.ckpt
expect "$out/bad_note_truncated" failed "R-NOTE-6" "checkpoints/latest.note" \
    "the newest segment deleted and the .ckpt checkpoints with it: the note checkpoint at the head shows the store ends before its size"

# Evidence bundles (SPEC section 11), not stores: no expect.json.  A
# bundle forged with only the current epoch key (of a store whose keys/
# held it), disclosing a record never sealed at block 10 (epoch 3 starts
# at 8) and carrying a checkpoint signed with that key; offsite.ckpt is
# the collector's own checkpoint at block 11, as an investigator copied it
# off the machine.  R-BND-12 rejects the bundle given offsite.ckpt.
b="$out/bundles/forged_epoch_key"
rm -rf "$b"
mkdir -p "$b"
"$PY" "$here/../tools/forge_bundle.py" "$work/stolen" 10 "$b/forged.cbnd" \
    "$b/forged.ckpt"
cp "$work/stolen/keys/root.pub" "$b/root.pub"
cp "$work/stolen/checkpoints/ckpt-000012.ckpt" "$b/offsite.ckpt"

echo "make_vectors.sh: $(ls -d "$out"/*/ | wc -l) vectors in $out"
