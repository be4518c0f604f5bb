package tsdb

const (
	snapshotDirname  = "head_snapshot"
	snapshotFilename = "snapshot"
)
