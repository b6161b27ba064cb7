package agent

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpt-dev/vpt/campaign"
	"github.com/vpt-dev/vpt/store/postgres"
	"github.com/vpt-dev/vpt/store/postgres/pgtest"
)

// River's rule for queue names.
var riverQueueName = regexp.MustCompile(`^(?:[a-z0-9])+(?:[_|\-]?[a-z0-9]+)*$`)

func TestQueueNames(t *testing.T) {
	seen := map[string]string{}
	for _, s := range []campaign.Selector{
		{Kind: campaign.SelectAuto},
		{Kind: campaign.SelectModel, Value: "android_tv"},
		{Kind: campaign.SelectModel, Value: "Android TV"},
		{Kind: campaign.SelectTag, Value: "4k"},
		{Kind: campaign.SelectTag, Value: "--"},
		{Kind: campaign.SelectDevice, Agent: "lab-a", Value: "device1"},
		// Read alike once cleaned, and still two queues.
		{Kind: campaign.SelectDevice, Agent: "lab-a-b", Value: "c"},
		{Kind: campaign.SelectDevice, Agent: "lab-a", Value: "b-c"},
		{Kind: campaign.SelectDevice, Agent: strings.Repeat("x", 80), Value: strings.Repeat("Y", 80)},
	} {
		q := queueFor(s)
		if len(q) > 64 || !riverQueueName.MatchString(q) {
			t.Errorf("%s: queue %q is not a River queue name", s, q)
		}
		if other, dup := seen[q]; dup {
			t.Errorf("%s and %s share queue %q", s, other, q)
		}
		seen[q] = s.String()
	}
	if tag := executionTag("campaign_exec_1_ab"); tag != "campaign_exec_1_ab" {
		t.Errorf("tag %q", tag)
	}
	if tag := executionTag("ci/7"); tag != "ci_7" {
		t.Errorf("tag %q", tag)
	}
}

func testLab() *lab {
	fresh := time.Second
	mk := func(name string, schema int, age time.Duration, devs ...DeviceInfo) AgentInfo {
		return AgentInfo{Name: name, State: StateRunning, Schema: schema, Protocol: Protocol, Version: "v", HeartbeatAge: age, Devices: devs}
	}
	v := postgres.SchemaVersion()
	return &lab{agents: []AgentInfo{
		mk("lab-a", v, fresh, DeviceInfo{ID: "device1", Model: "virtual", Tags: []string{"uhd"}, State: DeviceIdle},
			DeviceInfo{ID: "device2", Model: "stb", UserInterface: "horizon_tv", State: DeviceBusy}),
		mk("lab-b", v, fresh, DeviceInfo{ID: "device1", Model: "stb", UserInterface: "other_ui", State: DeviceIdle},
			DeviceInfo{ID: "device2", Model: "stb", State: DeviceDown, Reason: "adb gone"}),
		mk("gone", v, time.Minute, DeviceInfo{ID: "device1", Model: "phone", State: DeviceIdle}),
		mk("old", v-1, fresh, DeviceInfo{ID: "device1", Model: "tablet", State: DeviceIdle}),
	}}
}

func TestResolve(t *testing.T) {
	l := testLab()
	for _, c := range []struct {
		sel, ui, canonical, devices, err string
	}{
		{"", "", "auto", "lab-a/device1,lab-a/device2,lab-b/device1", ""},
		{"auto", "horizon_tv", "auto", "lab-a/device1,lab-a/device2", ""},
		{"stb", "", "model:stb", "lab-a/device2,lab-b/device1", ""},
		{"uhd", "", "tag:uhd", "lab-a/device1", ""},
		{"model:stb", "other_ui", "model:stb", "lab-b/device1", ""},
		{"lab-a/device2", "", "lab-a/device2", "lab-a/device2", ""},
		{"lab-b/device2", "", "", "", "device lab-b/device2 is down: adb gone"},
		{"lab-a/device9", "", "", "", "agent lab-a has no device device9 (it has device1, device2)"},
		{"lab-z/device1", "", "", "", "no agent is named lab-z (agents: lab-a, lab-b, gone, old)"},
		{"gone/device1", "", "", "", "agent gone is not live (down: no heartbeat for 1m0s"},
		{"old/device1", "", "", "", "schema " + fmt.Sprint(postgres.SchemaVersion()-1)},
		{"phone", "", "", "", `no live agent has a device of model or tag "phone"`},
		{"model:tablet", "", "", "", "unusable: old/device1 (different vpt schema versions: agent old runs vpt v"},
		{"lab-b/device1", "horizon_tv", "", "", "shows userinterface other_ui, not horizon_tv"},
	} {
		canonical, devices, err := l.Resolve(c.sel, c.ui)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if c.err != "" && !strings.Contains(got, c.err) || c.err == "" && err != nil {
			t.Errorf("%q %q: error %q, want %q", c.sel, c.ui, got, c.err)
			continue
		}
		if c.err == "" && (canonical != c.canonical || strings.Join(devices, ",") != c.devices) {
			t.Errorf("%q %q: %s %v, want %s %s", c.sel, c.ui, canonical, devices, c.canonical, c.devices)
		}
	}
}

// Devices go to the jobs that wait for them in the order they came, and
// never to one that does not wait while one waits.
func TestSlotsFirstComeFirstServed(t *testing.T) {
	var s slots
	dev := &slot{info: DeviceInfo{ID: "device1"}}
	s.list = []*slot{dev}
	each := func(*slot) bool { return true }
	got, r := s.acquire(context.Background(), each, 0)
	if r != acquired || got != dev {
		t.Fatal("a free device was not taken")
	}
	if _, r := s.acquire(context.Background(), each, 0); r != allBusy {
		t.Fatalf("a busy device: %d", r)
	}
	var order []int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sl, r := s.acquire(context.Background(), each, time.Minute)
			if r != acquired {
				t.Errorf("waiter %d: %d", i, r)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			s.release(sl)
		}()
		waitUntil(t, func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.waiters) == i+1 })
	}
	if _, r := s.acquire(context.Background(), each, 0); r != allBusy {
		t.Fatal("a job that does not wait took the device from those that do")
	}
	s.release(dev)
	wg.Wait()
	if fmt.Sprint(order) != "[0 1 2]" {
		t.Fatalf("order %v", order)
	}
	s.setDown(dev, "gone")
	if _, r := s.acquire(context.Background(), each, time.Minute); r != noDevice {
		t.Fatalf("a down device: %d", r)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("timed out")
		}
	}
}

// River's tables are migrated with vpt's, under one lock, by processes
// that open a fresh database at once.
func TestRiverMigratesWithTheStore(t *testing.T) {
	url := pgtest.FreshDB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := postgres.Open(context.Background(), url)
			if err != nil {
				errs <- err
				return
			}
			st.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n int
	if err := st.SQL().QueryRow("SELECT count(*) FROM river_job").Scan(&n); err != nil {
		t.Fatalf("River's tables: %v", err)
	}
	if err := st.SQL().QueryRow("SELECT count(*) FROM vpt_attempts").Scan(&n); err != nil {
		t.Fatalf("vpt's lab tables: %v", err)
	}
}
