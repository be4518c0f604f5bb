package wal

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

const crashDirEnv = "VIGIL_WAL_CRASH_DIR"

// TestCrashChild is the writer TestKillDuringLog runs in a child process: it replays the WAL to
// find where numbering stopped, then logs numbered records forever, printing each number once Log
// has returned for it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only run as the child of TestKillDuringLog")
	}
	w, err := Open(dir, Options{SegmentSize: 64 << 10}, nil, nil)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	recs, err := readAll(t, dir, 0, -1)
	if err != nil {
		fmt.Println("replay:", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	payload := make([]byte, 300)
	for n := len(recs); ; n++ {
		rec := append(strconv.AppendInt(payload[:0], int64(n), 10), ';')
		rec = rec[:max(len(rec), 10+n%290)] // varying sizes, so kills land inside records of all sizes
		if err := w.Log(rec); err != nil {
			fmt.Fprintln(out, "log:", err)
			out.Flush()
			os.Exit(2)
		}
		fmt.Fprintln(out, n)
		out.Flush()
	}
}

// TestKillDuringLog kills a writing child process with SIGKILL at random points, several times:
// after each kill the WAL must open cleanly and hold every record whose Log call returned, in
// order, with nothing corrupt.
func TestKillDuringLog(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	acked := -1
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAt := time.Now().Add(time.Duration(50+rand.IntN(250)) * time.Millisecond)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			n, err := strconv.Atoi(sc.Text())
			if err != nil {
				t.Fatalf("round %d: child said %q", round, sc.Text())
			}
			if n != acked+1 {
				t.Fatalf("round %d: child acknowledged %d after %d", round, n, acked)
			}
			acked = n
			if time.Now().After(killAt) {
				break
			}
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()

		w, err := Open(dir, Options{SegmentSize: 64 << 10}, nil, nil)
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		recs, err := readAll(t, dir, 0, -1)
		if err != nil {
			t.Fatalf("round %d: replay after kill: %v", round, err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if len(recs) <= acked {
			t.Fatalf("round %d: %d records after kill, but %d were acknowledged", round, len(recs), acked+1)
		}
		for i, r := range recs {
			want := strconv.Itoa(i) + ";"
			if len(r) < len(want) || string(r[:len(want)]) != want {
				t.Fatalf("round %d: record %d = %q", round, i, r)
			}
		}
		// Records logged but not yet acknowledged when the kill came count as written: the next
		// child continues after them.
		acked = len(recs) - 1
	}
	if acked < 100 {
		t.Fatalf("only %d records written over all rounds; the child barely ran", acked+1)
	}
}
