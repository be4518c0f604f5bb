// Command scalegen serves realistic Kubernetes-cluster metrics for the scale benchmarks
// (scripts/bench/side.sh, docs/performance.md): each target is one node, with node_exporter-like
// families (CPU seconds per cpu and mode, memory, filesystems, network, disks, load) and the
// kube-state-metrics- and cAdvisor-like families of the pods on it (pod info and phase, container
// requests, limits, restarts, status, CPU, memory, network). Label values repeat across targets
// as they do in a cluster (namespaces, deployments, containers, images, devices, mount points).
//
// It takes avagen's flags (../shared/bench/gen), so that ../shared/bench/run.sh can start it in
// avagen's place: a target has (--gauge-metric-count + --counter-metric-count) × --series-count
// series (the pod count is chosen to reach it), --value-interval is the seconds between value
// changes, and --series-interval the seconds between pod churn: every churn, --churn-fraction
// (env SCALEGEN_CHURN_FRACTION, default 0.1) of each target's pods are replaced by new ones with
// new names and uids, as a deploy does. --label-count and --metric-interval are accepted and
// ignored.
//
// Values look like real ones: counters grow by amounts with two decimals (CPU seconds) or by
// integers (bytes, packets), byte gauges move in 4 KiB pages, most kube-state-metrics series are
// constant 0/1. Each target's body is rendered once per change and served from memory.
package main

import (
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

var (
	gauges         = flag.Int("gauge-metric-count", 50, "with --counter-metric-count and --series-count: series per target = (gauges+counters) × series-count")
	counters       = flag.Int("counter-metric-count", 50, "see --gauge-metric-count")
	seriesCount    = flag.Int("series-count", 100, "see --gauge-metric-count")
	_              = flag.Int("label-count", 5, "accepted for avagen compatibility; ignored")
	valueInterval  = flag.Int("value-interval", 15, "seconds between value updates")
	seriesInterval = flag.Int("series-interval", 0, "seconds between pod churn; 0 = never")
	_              = flag.Int("metric-interval", 0, "accepted for avagen compatibility; ignored")
	churnFraction  = flag.Float64("churn-fraction", envFloat("SCALEGEN_CHURN_FRACTION", 0.1), "fraction of each target's pods replaced at every churn")
	port           = flag.Int("port", 9101, "first port")
	instances      = flag.Int("instances", 1, "number of targets (nodes), on ports port..port+instances-1")
	host           = flag.String("host", "127.0.0.1", "listen host")
	once           = flag.Bool("print", false, "print the first target's body to stdout and exit")

	// History mode (scripts/bench/history.sh): write node_exporter-like samples into TSDBs and exit.
	histSpan     = flag.Duration("history", 0, "write this span of history instead of serving targets (e.g. 168h)")
	histSeries   = flag.Int("history-series", 10000, "series in the history")
	histInterval = flag.Duration("history-interval", 15*time.Second, "sample interval of the history")
	histPromDir  = flag.String("prometheus-dir", "", "history: Prometheus TSDB directory to write (upstream tsdb package)")
	histVigilDir = flag.String("vigil-dir", "", "history: Vigil TSDB directory to write")
	histVMURL    = flag.String("vm-url", "", "history: VictoriaMetrics base URL to import into (/api/v1/import/prometheus)")
)

func newRand(i int) *rand.Rand { return rand.New(rand.NewPCG(uint64(i), 42)) }

func envFloat(name string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return def
}

// kind of a series' value.
type kind uint8

const (
	constant    kind = iota // never changes (kube-state-metrics info/status series)
	counterDec              // counter growing by amounts with two decimals (seconds)
	counterInt              // counter growing by integers (bytes, packets)
	gaugeBytes              // gauge moving in 4 KiB steps
	gaugeDec                // gauge with two decimals (load, ratios)
	counterRare             // counter that seldom moves (restarts, errors)
)

type series struct {
	prefix string // `name{labels} `
	kind   kind
	v      float64
	owner  int // pod index, or -1 for node series
}

var (
	namespaces  = []string{"default", "kube-system", "monitoring", "payments", "checkout", "search", "frontend", "backend", "data", "ingress-nginx"}
	deployments = []string{"api", "web", "worker", "cache", "gateway", "auth", "billing", "catalog", "orders", "notifier", "scheduler", "indexer"}
	containers  = []string{"app", "istio-proxy", "log-shipper"}
	cpuModes    = []string{"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"}
	memNames    = []string{"MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Active", "Inactive", "Active_anon", "Inactive_anon", "Active_file", "Inactive_file", "Unevictable", "Mlocked", "SwapTotal", "SwapFree", "Dirty", "Writeback", "AnonPages", "Mapped", "Shmem", "KReclaimable", "Slab", "SReclaimable", "SUnreclaim", "KernelStack", "PageTables", "NFS_Unstable", "Bounce", "WritebackTmp", "CommitLimit", "Committed_AS", "VmallocTotal", "VmallocUsed", "VmallocChunk", "Percpu", "HardwareCorrupted", "AnonHugePages", "ShmemHugePages", "HugePages_Total"}
	mounts      = [][3]string{{"/dev/nvme0n1p1", "ext4", "/"}, {"/dev/nvme0n1p15", "vfat", "/boot/efi"}, {"/dev/nvme1n1", "ext4", "/var/lib/kubelet"}, {"tmpfs", "tmpfs", "/run"}, {"tmpfs", "tmpfs", "/run/lock"}, {"shm", "tmpfs", "/dev/shm"}}
	netDevs     = []string{"eth0", "eth1", "cni0", "lo"}
	disks       = []string{"nvme0n1", "nvme1n1", "dm-0"}
)

type target struct {
	idx     int
	rnd     *rand.Rand
	node    string
	nodeIP  string
	series  []series
	pods    int
	podGen  []int // generation of each pod slot (bumped by churn)
	body    atomic.Pointer[[]byte]
	podBase int // series index where pod series start
	cpus    int // node_cpu_seconds_total cpus (8 when 0)
}

func (t *target) addNode() {
	inst := fmt.Sprintf(`node="%s"`, t.node)
	add := func(k kind, v float64, format string, a ...any) {
		t.series = append(t.series, series{prefix: fmt.Sprintf(format, a...) + " ", kind: k, v: initial(k, v), owner: -1})
	}
	cpus := t.cpus
	if cpus == 0 {
		cpus = 8
	}
	for c := 0; c < cpus; c++ {
		for _, m := range cpuModes {
			add(counterDec, 1000*t.rnd.Float64(), `node_cpu_seconds_total{cpu="%d",mode="%s",%s}`, c, m, inst)
		}
	}
	for _, m := range memNames {
		add(gaugeBytes, float64(t.rnd.IntN(1<<22))*4096, `node_memory_%s_bytes{%s}`, m, inst)
	}
	for _, f := range []string{"avail", "free", "size", "files", "files_free"} {
		for _, m := range mounts {
			add(gaugeBytes, float64(t.rnd.IntN(1<<24))*4096, `node_filesystem_%s_bytes{device="%s",fstype="%s",mountpoint="%s",%s}`, f, m[0], m[1], m[2], inst)
		}
	}
	for _, dir := range []string{"receive", "transmit"} {
		for _, what := range []string{"bytes", "packets", "errs", "drop"} {
			for _, d := range netDevs {
				k := counterInt
				if what == "errs" || what == "drop" {
					k = counterRare
				}
				add(k, float64(t.rnd.IntN(1e9)), `node_network_%s_%s_total{device="%s",%s}`, dir, what, d, inst)
			}
		}
	}
	for _, what := range []string{"reads_completed", "writes_completed", "read_bytes", "written_bytes"} {
		for _, d := range disks {
			add(counterInt, float64(t.rnd.IntN(1e9)), `node_disk_%s_total{device="%s",%s}`, what, d, inst)
		}
	}
	for _, d := range disks {
		add(counterDec, 1000*t.rnd.Float64(), `node_disk_io_time_seconds_total{device="%s",%s}`, d, inst)
	}
	for _, l := range []string{"1", "5", "15"} {
		add(gaugeDec, 4*t.rnd.Float64(), `node_load%s{%s}`, l, inst)
	}
	add(constant, 1, `node_uname_info{machine="x86_64",release="6.1.0-28-cloud-amd64",sysname="Linux",version="#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1",%s}`, inst)
}

// initial rounds a first value as the kind's later values are.
func initial(k kind, v float64) float64 {
	switch k {
	case counterDec, gaugeDec:
		return math.Round(v*100) / 100
	case counterInt, gaugeBytes:
		return math.Round(v)
	}
	return v
}

// podSeries appends the series of pod slot p (at its current generation).
func (t *target) podSeries(p int) []series {
	ns := namespaces[(t.idx+p)%len(namespaces)]
	dep := deployments[p%len(deployments)]
	rs := fmt.Sprintf("%08x", uint32(p*2654435761)^uint32(t.podGen[p]*40503)) // replica set hash
	pod := fmt.Sprintf("%s-%s-%05x", dep, rs[:8], (t.idx*7919+p*31+t.podGen[p]*104729)&0xfffff)
	uid := fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", t.idx, p&0xffff, t.podGen[p]&0xfff, p&0xfff, uint64(t.idx)<<20|uint64(p))
	ip := fmt.Sprintf("10.%d.%d.%d", 1+t.idx/250, t.idx%250, 2+p%250)
	pl := fmt.Sprintf(`namespace="%s",pod="%s",uid="%s"`, ns, pod, uid)
	var out []series
	add := func(k kind, v float64, format string, a ...any) {
		out = append(out, series{prefix: fmt.Sprintf(format, a...) + " ", kind: k, v: initial(k, v), owner: p})
	}
	add(constant, 1, `kube_pod_info{%s,node="%s",host_ip="%s",pod_ip="%s",created_by_kind="ReplicaSet",created_by_name="%s-%s",priority_class=""}`, pl, t.node, t.nodeIP, ip, dep, rs[:8])
	for _, ph := range []string{"Pending", "Running", "Succeeded", "Failed", "Unknown"} {
		v := 0.0
		if ph == "Running" {
			v = 1
		}
		add(constant, v, `kube_pod_status_phase{%s,phase="%s"}`, pl, ph)
	}
	add(constant, 1, `kube_pod_status_ready{%s,condition="true"}`, pl)
	img := fmt.Sprintf("registry.example.com/%s/%s:v1.%d.%d", ns, dep, p%7, t.podGen[p]%3)
	for ci, c := range containers[:1+p%len(containers)] {
		cl := fmt.Sprintf(`%s,container="%s"`, pl, c)
		add(counterRare, 0, `kube_pod_container_status_restarts_total{%s}`, cl)
		for _, s := range []string{"ready", "running", "waiting", "terminated"} {
			v := 0.0
			if s == "ready" || s == "running" {
				v = 1
			}
			add(constant, v, `kube_pod_container_status_%s{%s}`, s, cl)
		}
		cpuReq := []float64{0.1, 0.25, 0.5, 1}[ci%4]
		memReq := float64(int64(128<<20) << (p % 4))
		add(constant, cpuReq, `kube_pod_container_resource_requests{%s,node="%s",resource="cpu",unit="core"}`, cl, t.node)
		add(constant, memReq, `kube_pod_container_resource_requests{%s,node="%s",resource="memory",unit="byte"}`, cl, t.node)
		add(constant, 2*cpuReq, `kube_pod_container_resource_limits{%s,node="%s",resource="cpu",unit="core"}`, cl, t.node)
		add(constant, 2*memReq, `kube_pod_container_resource_limits{%s,node="%s",resource="memory",unit="byte"}`, cl, t.node)
		cid := fmt.Sprintf("/kubepods/burstable/pod%s/%016x", uid, uint64(t.idx)<<32|uint64(p)<<8|uint64(ci))
		ca := fmt.Sprintf(`container="%s",id="%s",image="%s",name="k8s_%s_%s",namespace="%s",pod="%s"`, c, cid, img, c, pod, ns, pod)
		add(counterDec, 100*t.rnd.Float64(), `container_cpu_usage_seconds_total{cpu="total",%s}`, ca)
		add(counterDec, 10*t.rnd.Float64(), `container_cpu_system_seconds_total{%s}`, ca)
		add(counterDec, 90*t.rnd.Float64(), `container_cpu_user_seconds_total{%s}`, ca)
		add(counterRare, 0, `container_cpu_cfs_throttled_periods_total{%s}`, ca)
		for _, m := range []string{"working_set_bytes", "rss", "cache", "usage_bytes", "mapped_file"} {
			add(gaugeBytes, float64(t.rnd.IntN(1<<16))*4096, `container_memory_%s{%s}`, m, ca)
		}
		add(constant, 2*memReq, `container_spec_memory_limit_bytes{%s}`, ca)
		for _, f := range []string{"reads_bytes", "writes_bytes", "reads", "writes"} {
			add(counterInt, float64(t.rnd.IntN(1e6)), `container_fs_%s_total{device="/dev/nvme1n1",%s}`, f, ca)
		}
	}
	pa := fmt.Sprintf(`container="POD",id="/kubepods/burstable/pod%s",interface="eth0",namespace="%s",pod="%s"`, uid, ns, pod)
	for _, dir := range []string{"receive", "transmit"} {
		for _, what := range []string{"bytes", "packets", "errors", "packets_dropped"} {
			k := counterInt
			if what == "errors" || what == "packets_dropped" {
				k = counterRare
			}
			add(k, float64(t.rnd.IntN(1e6)), `container_network_%s_%s_total{%s}`, dir, what, pa)
		}
	}
	return out
}

// build lays out the target's series: node series, then pods until want series are reached.
func (t *target) build(want int) {
	t.addNode()
	t.podBase = len(t.series)
	for p := 0; len(t.series) < want; p++ {
		t.podGen = append(t.podGen, 0)
		t.series = append(t.series, t.podSeries(p)...)
		t.pods++
	}
}

// churn replaces a fraction of the pods by new ones (new names, uids, images).
func (t *target) churn(fraction float64) {
	n := int(math.Round(fraction * float64(t.pods)))
	replace := map[int]bool{}
	for _, p := range t.rnd.Perm(t.pods)[:n] {
		t.podGen[p]++
		replace[p] = true
	}
	out := append([]series(nil), t.series[:t.podBase]...)
	for _, s := range t.series[t.podBase:] {
		if !replace[s.owner] {
			out = append(out, s)
		} else if len(out) == 0 || out[len(out)-1].owner != s.owner {
			out = append(out, t.podSeries(s.owner)...)
		}
	}
	t.series = out
}

func (t *target) step() {
	for i := range t.series {
		s := &t.series[i]
		switch s.kind {
		case counterDec:
			s.v = math.Round((s.v+15*t.rnd.Float64())*100) / 100
		case counterInt:
			s.v += float64(t.rnd.IntN(100000))
		case counterRare:
			if t.rnd.IntN(500) == 0 {
				s.v++
			}
		case gaugeBytes:
			s.v = math.Max(0, s.v+float64(t.rnd.IntN(33)-16)*4096)
		case gaugeDec:
			s.v = math.Round(4*t.rnd.Float64()*100) / 100
		}
	}
}

func (t *target) render() {
	old := t.body.Load()
	size := 1 << 16
	if old != nil {
		size = len(*old) + len(*old)/8
	}
	buf := make([]byte, 0, size)
	for i := range t.series {
		buf = append(buf, t.series[i].prefix...)
		buf = strconv.AppendFloat(buf, t.series[i].v, 'g', -1, 64)
		buf = append(buf, '\n')
	}
	t.body.Store(&buf)
}

func main() {
	flag.Parse()
	if *histSpan > 0 {
		if err := history(*histSeries, *histInterval, *histSpan, time.Now(), *histPromDir, *histVigilDir, *histVMURL); err != nil {
			log.Fatal(err)
		}
		return
	}
	want := (*gauges + *counters) * *seriesCount
	var total int
	for i := 0; i < *instances; i++ {
		t := &target{
			idx:    i,
			rnd:    newRand(i),
			node:   fmt.Sprintf("ip-10-0-%d-%d.eu-west-1.compute.internal", i/250, i%250),
			nodeIP: fmt.Sprintf("10.0.%d.%d", i/250, i%250),
		}
		t.build(want)
		t.render()
		total += len(t.series)
		if *once {
			os.Stdout.Write(*t.body.Load())
			return
		}
		// All changes happen on one goroutine per target, so no locking is needed.
		go func() {
			tick := time.NewTicker(time.Second)
			for n := 1; ; n++ {
				<-tick.C
				changed := false
				if *seriesInterval > 0 && n%*seriesInterval == 0 {
					t.churn(*churnFraction)
					changed = true
				}
				if *valueInterval > 0 && n%*valueInterval == 0 {
					t.step()
					changed = true
				}
				if changed {
					t.render()
				}
			}
		}()
		mux := http.NewServeMux()
		mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			w.Write(*t.body.Load())
		})
		addr := fmt.Sprintf("%s:%d", *host, *port+i)
		go func() { log.Fatal(http.ListenAndServe(addr, mux)) }()
	}
	log.Printf("scalegen: %d targets on %s:%d..%d, %d series in all (about %d per target)", *instances, *host, *port, *port+*instances-1, total, want)
	select {}
}
