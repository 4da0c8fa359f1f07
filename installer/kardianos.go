package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/kardianos/service"
)

// kservice is the part of service.Service the installer uses.
type kservice interface {
	Install() error
	Uninstall() error
	Start() error
	Stop() error
	Status() (service.Status, error)
}

// ServiceArgs are the arguments of a kardianos-managed service: the
// run-service command, which speaks to the service manager.
func ServiceArgs(config string) []string { return []string{"run-service", "--config", config} }

// kconfig is the kardianos configuration: delayed automatic start and
// restart on failure on Windows, KeepAlive and RunAtLoad on launchd.
func (in *Installer) kconfig() *service.Config {
	s := in.Spec
	c := &service.Config{
		Name: s.Name, DisplayName: s.DisplayName, Description: s.Description,
		Executable: s.Executable, Arguments: s.Arguments, WorkingDirectory: s.DataDir,
		Option: service.KeyValue{
			// Windows
			"StartType":              "automatic",
			"DelayedAutoStart":       true,
			"OnFailure":              "restart",
			"OnFailureDelayDuration": RestartSec,
			"OnFailureResetPeriod":   86400,
			// launchd
			"KeepAlive": true,
			"RunAtLoad": true,
		},
	}
	if in.Host.goos() == "windows" {
		// A virtual account: no password, its own SID to grant the data
		// directory to.
		c.UserName = WindowsAccount(s.Name)
	} else if in.Host.goos() != "darwin" {
		c.UserName = s.User
	}
	return c
}

// WindowsAccount is the virtual service account of a Windows service.
func WindowsAccount(name string) string { return `NT SERVICE\` + name }

type noop struct{}

func (noop) Start(service.Service) error { return nil }
func (noop) Stop(service.Service) error  { return nil }

func (in *Installer) newService() (kservice, error) {
	return service.New(noop{}, in.kconfig())
}

func (in *Installer) kardianos(f func(kservice) error) error {
	s, err := in.newService()
	if err != nil {
		return err
	}
	return f(s)
}

func (in *Installer) kardianosSteps() []step {
	s, h := in.Spec, in.Host
	steps := []step{{"check " + s.Executable, func() (func() error, error) {
		_, err := os.Stat(h.Path(s.Executable))
		return nil, err
	}}}
	if h.goos() != "windows" && h.goos() != "darwin" {
		steps = append(steps, step{"account " + s.User, in.ensureUser})
	}
	steps = append(steps, step{"data directory " + s.DataDir, func() (func() error, error) {
		return in.ensureDir(s.DataDir, 0o750)
	}})
	if h.goos() == "windows" {
		steps = append(steps, step{"grant " + s.DataDir, func() (func() error, error) {
			_, err := h.run("icacls", h.Path(s.DataDir), "/grant", WindowsAccount(s.Name)+":(OI)(CI)M", "/T", "/Q")
			return nil, err
		}})
	} else {
		steps = append(steps, step{"configuration " + s.ConfigFile, in.protectConfig})
	}
	steps = append(steps, step{"register with the service manager", func() (func() error, error) {
		svc, err := in.newService()
		if err != nil {
			return nil, err
		}
		// Installed already: remove, then install the current definition
		// (kardianos refuses to install over an existing one).
		if _, err := svc.Status(); !errors.Is(err, service.ErrNotInstalled) {
			_ = svc.Stop()
			_ = svc.Uninstall()
		}
		undo := func() error { return svc.Uninstall() }
		if err := svc.Install(); err != nil {
			// kardianos leaves what it wrote: remove it.
			_ = svc.Uninstall()
			return nil, err
		}
		return undo, nil
	}})
	return steps
}

func (in *Installer) kardianosUninstall(purge bool) error {
	svc, err := in.newService()
	if err != nil {
		return err
	}
	var errs []error
	if _, err := svc.Status(); !errors.Is(err, service.ErrNotInstalled) {
		_ = svc.Stop()
		if err := svc.Uninstall(); err != nil {
			errs = append(errs, err)
		}
	}
	if purge {
		errs = append(errs, in.purge()...)
	}
	return errors.Join(errs...)
}

func (in *Installer) kardianosStatus() (string, error) {
	svc, err := in.newService()
	if err != nil {
		return "", err
	}
	st, err := svc.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return StatusNotInstalled, nil
	case err != nil:
		return "", err
	case st == service.StatusRunning:
		return StatusRunning, nil
	case st == service.StatusStopped:
		return StatusStopped, nil
	}
	return "", fmt.Errorf("unknown service status %d", st)
}

// RunService runs fn until the service manager (Windows SCM, launchd, …)
// or a signal stops it. fn's context ends then; RunService returns fn's
// error once fn has returned.
func RunService(name string, fn func(ctx context.Context) error) error {
	if service.Interactive() {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return fn(ctx)
	}
	p := &program{fn: fn}
	svc, err := service.New(p, &service.Config{Name: name})
	if err != nil {
		return err
	}
	if err := svc.Run(); err != nil {
		return err
	}
	return p.err
}

// program adapts fn to kardianos: Start starts it, Stop cancels it and
// waits.
type program struct {
	fn     func(ctx context.Context) error
	cancel context.CancelFunc
	wg     sync.WaitGroup
	err    error // set before wg.Done
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Go(func() { p.err = p.fn(ctx) })
	return nil
}

func (p *program) Stop(service.Service) error {
	p.cancel()
	p.wg.Wait()
	return nil
}
