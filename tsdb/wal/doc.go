// Package wal implements Vigil's write-ahead log: a directory of numbered segment files holding
// checksummed records, written before a commit is acknowledged and replayed on start.
//
// # Directory layout
//
//	wal/
//	  00000012               segment files, named by a zero-padded decimal index
//	  00000013
//	  checkpoint.00000011/   the newest checkpoint: itself a directory of segments (00000000, ...)
//	  checkpoint.00000014.tmp/  a checkpoint being written; a stale one is removed by Open
//
// Segment indexes only grow. After a restart writing continues in a new segment after the last
// existing one, so a segment is never appended to once its writer has gone. Replay reads the
// newest checkpoint (if any) and then the segments after its index.
//
// # Segment format
//
// A segment is a plain concatenation of records, with no file header and no padding:
//
//	record := length:uint32 LE | crc:uint32 LE | payload:[length]byte
//	crc    := CRC32-Castagnoli(length bytes || payload)
//
// The checksum covers the length too, so a zero-filled tail (left by a file system that extended
// the file before its data reached the disk) is not mistaken for a run of empty records: the
// CRC of four zero bytes is not zero. A record never spans segments; every Log call writes its
// records into one segment (with a single write syscall), cutting a new segment first if they
// would push the current one past Options.SegmentSize. A batch larger than the segment size gets a
// segment of its own, so segments may exceed SegmentSize.
//
// # Damage
//
// A reader never trusts a length: it must fit in the bytes left in the segment file, so damaged
// input cannot make it allocate more than the file's size. A record whose header or payload runs
// past the end of the file, or whose checksum does not match, is reported as a *CorruptionErr
// with the segment and the offset at which the bad record starts, which is also the end of the
// last good record.
//
// On Open the last segment (the only one a crash can leave half-written) is scanned and truncated
// to its last good record. A corruption found later by a Reader in any segment is repaired by
// (*WAL).Repair: the segment is truncated at the bad record and every later segment deleted, so
// everything before the first bad record is kept. Both are logged and counted in
// prometheus_tsdb_wal_corruptions_total.
//
// # Durability
//
// Log returns after the write syscall has completed: the records are in the page cache and
// survive the process being killed. Segments are fsynced when they are cut or the WAL is closed,
// and on Sync; surviving a power loss between those points is not promised. A failed write (for
// example ENOSPC) is undone by truncating the segment back to the end of the previous batch, so a
// half-written record is never replayed, and the next Log call writes at that offset again. If even the
// truncation fails, the written bytes are overwritten with zeros (an invalid record, dropped as a
// torn tail on the next Open) and no write or segment cut happens until a retried truncation
// succeeds.
//
// # Checkpoints
//
// Checkpoint(logger, w, from, to, keep, mint) reads the last checkpoint and segments [from, to],
// keeps the series records of series for which keep(ref) holds, their samples with T >= mint and
// their tombstone intervals ending at or after mint, and writes them (records of package
// tsdb/record) as checkpoint.<to>: a directory of segments in the format above, written under a
// .tmp name, fsynced and renamed, after which older checkpoints are deleted. The DB then calls
// Truncate(to+1). Replay is
//
//	name, idx, err := wal.LastCheckpoint(dir)  // ErrNotFound: no checkpoint, replay from 0
//	r, _ := wal.NewCheckpointReader(name)      // then wal.NewReader(dir, idx+1, -1)
//
// and on a *CorruptionErr from the WAL's own segments, (*WAL).Repair. A corrupt checkpoint cannot
// be repaired by dropping a tail (its records are the oldest), so Repair refuses it.
//
// # Metrics
//
//	prometheus_tsdb_wal_fsync_duration_seconds         summary of segment fsyncs
//	prometheus_tsdb_wal_corruptions_total              torn tails and corruptions repaired
//	prometheus_tsdb_wal_writes_failed_total            Log calls that failed
//	prometheus_tsdb_wal_segment_current                index of the segment being written
//	prometheus_tsdb_wal_truncations_total              Truncate calls (and _failed_total)
//	prometheus_tsdb_checkpoint_creations_total         Checkpoint calls (and _failed_total)
//	prometheus_tsdb_checkpoint_deletions_total         old checkpoints deleted
package wal
