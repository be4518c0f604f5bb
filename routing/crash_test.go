package routing

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The crash test's writer runs in a child process (this test binary re-executed) so that it can
// be killed with SIGKILL at arbitrary points: mid-journal-write, mid-fsync, mid-snapshot.
const (
	crashDirEnv         = "VIGIL_ROUTING_CRASH_DIR"
	crashMaintenanceEnv = "VIGIL_ROUTING_CRASH_MAINTENANCE"
)

var crashReceiver = &nflogpb.Receiver{GroupName: "crash", Integration: "webhook", Idx: 0}

// TestCrashStateWriterChild is the child: it creates silences, expires some and logs
// notifications, through the calls the API and the notification pipeline make, and prints each
// change once the call returned (acknowledged).
func TestCrashStateWriterChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestCrashAlertingState")
	}
	maint, err := time.ParseDuration(os.Getenv(crashMaintenanceEnv))
	if err != nil {
		fmt.Printf("bad maintenance interval: failed %v\n", err)
		os.Exit(2)
	}
	r, err := New(Options{DataDir: dir, MaintenanceInterval: maint, Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry()})
	if err != nil {
		fmt.Printf("open failed: %v\n", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready")
	out.Flush()
	ctx := context.Background()
	var created []string
	prefix := strconv.Itoa(os.Getpid())
	for i := 0; ; i++ {
		switch i % 3 {
		case 0:
			now := time.Now()
			sil := &silencepb.Silence{
				MatcherSets: []*silencepb.MatcherSet{{Matchers: []*silencepb.Matcher{{Type: silencepb.Matcher_EQUAL, Name: "n", Pattern: strconv.Itoa(i)}}}},
				StartsAt:    timestamppb.New(now),
				EndsAt:      timestamppb.New(now.Add(time.Hour)),
				CreatedBy:   "crash",
				Comment:     "crash test",
			}
			if err := r.Silences().Set(ctx, sil); err != nil {
				fmt.Printf("set failed: %v\n", err)
				os.Exit(4)
			}
			created = append(created, sil.Id)
			fmt.Fprintf(out, "silence %s\n", sil.Id)
		case 1:
			gkey := fmt.Sprintf("%s-%d", prefix, i)
			if err := r.durableNflog.Log(crashReceiver, gkey, []uint64{uint64(i)}, nil, nil, 0); err != nil {
				fmt.Printf("nflog failed: %v\n", err)
				os.Exit(5)
			}
			fmt.Fprintf(out, "nflog %s %d\n", gkey, i)
		case 2:
			id := created[len(created)/2]
			// Announced before the call: a kill during it may leave the silence expired
			// without an acknowledgement.
			fmt.Fprintf(out, "expiring %s\n", id)
			out.Flush()
			if err := r.Silences().Expire(ctx, id); err != nil {
				fmt.Printf("expire failed: %v\n", err)
				os.Exit(6)
			}
			fmt.Fprintf(out, "expired %s\n", id)
		}
		out.Flush()
	}
}

// TestCrashAlertingState kills the writer at random points and checks after each kill that every
// acknowledged change is there: silences exist, expired ones are expired, notification log
// entries are found by the pipeline's query.
func TestCrashAlertingState(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("child")
	}
	rounds := 10
	if testing.Short() {
		rounds = 4
	}
	dir := t.TempDir()
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))
	const (
		active   = iota
		expiring // expiry asked for, not acknowledged: either state is right
		expired
	)
	silences := map[string]int{}
	entries := map[string]uint64{} // group key -> firing alert
	for round := 0; round < rounds; round++ {
		// Maintenance (snapshot and journal compaction) runs often, so that kills land in it too.
		maint := time.Duration(10+rnd.Intn(100)) * time.Millisecond
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashStateWriterChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashMaintenanceEnv+"="+maint.String())
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The kill comes at a random point after the child is up, and in any case within 5s.
		killAfter := time.Duration(rnd.Intn(300)) * time.Millisecond
		kill := func() { cmd.Process.Signal(syscall.SIGKILL) }
		timer := time.AfterFunc(5*time.Second, kill)
		acked := 0
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 1 && f[0] == "ready":
				timer.Stop()
				timer = time.AfterFunc(killAfter, kill)
				continue
			case len(f) == 2 && f[0] == "silence":
				silences[f[1]] = active
			case len(f) == 2 && f[0] == "expiring":
				if silences[f[1]] != expired {
					silences[f[1]] = expiring
				}
				continue
			case len(f) == 2 && f[0] == "expired":
				silences[f[1]] = expired
			case len(f) == 3 && f[0] == "nflog":
				v, err := strconv.ParseUint(f[2], 10, 64)
				if err != nil {
					t.Fatalf("bad child output %q", sc.Text())
				}
				entries[f[1]] = v
			default:
				timer.Stop()
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: child: %s", round, sc.Text())
			}
			acked++
		}
		timer.Stop()
		cmd.Wait()

		r, err := New(Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry()})
		if err != nil {
			t.Fatalf("round %d: reopening after kill -9: %v", round, err)
		}
		// The replayed journal was folded into a snapshot at start: one (new) segment each.
		for _, f := range []string{silencesFile, nflogFile} {
			segs, _ := filepath.Glob(filepath.Join(dir, f+".journal.????????"))
			if len(segs) != 1 {
				t.Fatalf("round %d: %d %s journal segments after start, want 1: %v", round, len(segs), f, segs)
			}
		}
		now := time.Now()
		for id, want := range silences {
			sil, err := r.Silences().QueryOne(context.Background(), silence.QIDs(id))
			if err != nil {
				t.Fatalf("round %d: acknowledged silence %s lost: %v", round, id, err)
			}
			isExpired := !sil.EndsAt.AsTime().After(now)
			if (want == active && isExpired) || (want == expired && !isExpired) {
				t.Fatalf("round %d: silence %s expired=%v, acknowledged state %d (0 active, 2 expired)", round, id, isExpired, want)
			}
		}
		for gkey, firing := range entries {
			es, err := r.nflog.Query(nflog.QReceiver(crashReceiver), nflog.QGroupKey(gkey))
			if err != nil || len(es) != 1 || len(es[0].FiringAlerts) != 1 || es[0].FiringAlerts[0] != firing {
				t.Fatalf("round %d: acknowledged notification log entry %s lost: %v %v", round, gkey, es, err)
			}
		}
		// Every other round ends with a clean stop (a final snapshot); the others abandon the
		// router as it is, leaving the journal as the killed child left it for the next child.
		if round%2 == 0 {
			r.Stop()
		}
		t.Logf("round %d: maintenance every %v, killed %v after start with %d changes acknowledged; %d silences, %d entries checked",
			round, maint, killAfter, acked, len(silences), len(entries))
	}
	if len(silences) == 0 || len(entries) == 0 {
		t.Fatalf("the writer acknowledged nothing (%d silences, %d entries): the test checked nothing", len(silences), len(entries))
	}
}
