package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/internal/crashpoint"
	"github.com/draylink/dray/testenv/stack"
	"go.yaml.in/yaml/v3"
)

// The small file system: a tmpfs holding the third agent's data, with a
// low-water mark the disk-full episodes push it under.
const (
	smallDiskSize     = 192 << 20
	smallDiskLowWater = 32 << 20
)

// deployment is the stack under test and the harness's handles on it.
type deployment struct {
	Stack  *stack.Stack
	Relay  *RelayTarget
	Sinks  []*SinkTarget
	Agents []*AgentTarget
	Sims   []*Watched
	// Watched are every process the watchdog looks after.
	Watched []*Watched
	mount   string // the small file system, unmounted by Stop
}

// deploy builds dray and prepares the stack: three sites, each agent
// behind its own UDP fault proxy and speaking QUIC only (so a partition
// cuts it off instead of sending it to the TLS/TCP fallback), the third
// agent's data on a small tmpfs. Start is the caller's.
func deploy(ctx context.Context, o Options, progress func(string, ...any)) (*deployment, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the small agent's file system is a tmpfs: run as root")
	}
	progress("building dray")
	bins, err := stack.Build(ctx, "", filepath.Join(o.Dir, "bin"), nil)
	if err != nil {
		return nil, err
	}
	dep := &deployment{mount: filepath.Join(o.Dir, "small-disk")}
	if err := os.MkdirAll(dep.mount, 0o755); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, "mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", smallDiskSize), "tmpfs", dep.mount).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mount the small file system: %w: %s", err, out)
	}
	var sites []stack.SiteConfig
	for i := range 3 {
		sim := stack.DemoSim(o.Seed*10 + uint64(i) + 1)
		sim.Rate = o.Profile.Rate
		sc := stack.SiteConfig{Sim: sim, Proxy: true}
		if i == 2 {
			sc.AgentDataDir = filepath.Join(dep.mount, "agent")
			sc.Spool.MinFreeBytes = configfile.ByteSize(smallDiskLowWater)
		}
		sites = append(sites, sc)
	}
	st, err := stack.New(ctx, stack.Config{Dir: filepath.Join(o.Dir, "stack"), Bins: bins, Sites: sites, Log: o.Progress})
	if err != nil {
		_ = dep.unmount()
		return nil, err
	}
	dep.Stack = st
	for i, site := range st.Sites {
		site.AgentCfg.Relay.TCP = ""
		b, err := yaml.Marshal(&site.AgentCfg)
		if err == nil {
			err = os.WriteFile(site.ConfigPath, b, 0o644)
		}
		if err != nil {
			_ = dep.Stop()
			return nil, fmt.Errorf("agent %s configuration: %w", site.ID, err)
		}
		if pr := o.Profile.CrashPoints[CrashAgentBeforeAck]; pr > 0 {
			site.Agent.Env = append(site.Agent.Env, fmt.Sprintf("%s=%s:%g", crashpoint.EnvVar, crashpoint.AgentBeforeAck, pr))
		}
		aw := &Watched{Proc: site.Agent, Name: site.Agent.Name, Log: site.Agent.Log}
		sw := &Watched{Proc: site.Sim, Name: site.Sim.Name}
		a := &AgentTarget{Name: site.Agent.Name, Proc: aw, Status: site.Status, Link: site.Proxy}
		if i == 2 {
			a.Disk = &SmallDisk{Dir: dep.mount, LowWater: smallDiskLowWater}
		}
		dep.Agents = append(dep.Agents, a)
		dep.Sims = append(dep.Sims, sw)
		dep.Watched = append(dep.Watched, aw, sw)
	}
	var relayPoints []string
	for class, point := range map[Class]string{CrashRelayAfterCommit: crashpoint.RelayAfterCommit, CrashRelayAfterSinkAnswer: crashpoint.RelayAfterSinkAnswer} {
		if pr := o.Profile.CrashPoints[class]; pr > 0 {
			relayPoints = append(relayPoints, fmt.Sprintf("%s:%g", point, pr))
		}
	}
	if len(relayPoints) > 0 {
		slices.Sort(relayPoints)
		st.Relay.Env = append(st.Relay.Env, crashpoint.EnvVar+"="+strings.Join(relayPoints, ","))
	}
	rw := &Watched{Proc: st.Relay.Process, Name: "relay", Log: st.Relay.Log}
	dep.Relay = &RelayTarget{Proc: rw, Ready: st.WaitRelay}
	dep.Watched = append(dep.Watched, rw)
	for _, k := range []*stack.Sink{st.ERP, st.TMS} {
		dep.Sinks = append(dep.Sinks, &SinkTarget{Name: k.Name, Client: k.Client})
		dep.Watched = append(dep.Watched, &Watched{Proc: k.Process, Name: k.Name})
	}
	return dep, nil
}

// Stop stops the stack (SIGTERM, in order) and unmounts the small file
// system.
func (d *deployment) Stop() error {
	for _, w := range d.Watched {
		w.Expect()
	}
	var errs []error
	if d.Stack != nil {
		errs = append(errs, d.Stack.Stop())
	}
	errs = append(errs, d.unmount())
	return errors.Join(errs...)
}

func (d *deployment) unmount() error {
	if out, err := exec.Command("umount", d.mount).CombinedOutput(); err != nil {
		return fmt.Errorf("unmount %s: %w: %s", d.mount, err, out)
	}
	return nil
}
