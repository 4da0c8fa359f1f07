package installer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// CommandOptions describe a binary's service to AddCommands.
type CommandOptions struct {
	// Name is the service name, e.g. "dray-agent"; User the default
	// service account.
	Name, DisplayName, Description, User string
	// ConfigPath is the binary's --config flag.
	ConfigPath *string
	// DataDir loads and validates the configuration at path and returns
	// its data directory.
	DataDir func(path string) (string, error)
	// Run runs the service until ctx ends (for run-service).
	Run func(ctx context.Context, configPath string) error
}

// AddCommands adds install, uninstall, start, stop, status and the hidden
// run-service to root.
func AddCommands(root *cobra.Command, o CommandOptions) {
	var hostRoot, init, user, exe string
	var purge, start bool
	host := func() *Host {
		h := &Host{Root: hostRoot, Log: os.Stderr}
		if init != "" {
			h.Detect = func() string { return init }
		}
		return h
	}
	hidden := func(c *cobra.Command) {
		c.Flags().StringVar(&hostRoot, "root", "/", "filesystem root to install under (tests, image builds)")
		c.Flags().StringVar(&init, "init", "", "init system: systemd or kardianos (default: detected)")
		_ = c.Flags().MarkHidden("root")
		_ = c.Flags().MarkHidden("init")
	}
	spec := func() (Spec, error) {
		cfg, err := filepath.Abs(*o.ConfigPath)
		if err != nil {
			return Spec{}, err
		}
		dataDir, err := o.DataDir(filepath.Join(host().root(), cfg))
		if err != nil {
			return Spec{}, err
		}
		if exe == "" {
			if exe, err = os.Executable(); err != nil {
				return Spec{}, err
			}
			if real, err := filepath.EvalSymlinks(exe); err == nil {
				exe = real
			}
			// Run from inside the root: the path the service will see.
			if r := host().root(); r != "/" {
				if rel, err := filepath.Rel(r, exe); err == nil && !strings.HasPrefix(rel, "..") {
					exe = "/" + filepath.ToSlash(rel)
				}
			}
		}
		s := Spec{Name: o.Name, DisplayName: o.DisplayName, Description: o.Description, Executable: exe,
			ConfigFile: cfg, User: user, DataDir: dataDir, Arguments: []string{"run", "--config", cfg}}
		if host().init() != InitSystemd {
			s.Arguments = ServiceArgs(cfg)
		}
		return s, nil
	}
	withInstaller := func(f func(*Installer) error) func(*cobra.Command, []string) error {
		return func(*cobra.Command, []string) error {
			s, err := spec()
			if err != nil {
				return err
			}
			return f(New(s, host()))
		}
	}

	install := &cobra.Command{
		Use:   "install",
		Short: "Install as an OS service (systemd: hardened unit and a dedicated account; Windows, launchd: via the service manager)",
		Long: `Install ` + o.Name + ` as an OS service that runs with --config.

On Linux with systemd: creates the service account (--user) and the data
directory (0750, owned by it), makes the configuration 0640 root:<account>,
writes a hardened unit to /etc/systemd/system/` + o.Name + `.service and enables
it. Elsewhere the service manager is used through kardianos/service.
Installing again updates the service; a failed install is rolled back.`,
		Args: cobra.NoArgs,
		RunE: withInstaller(func(in *Installer) error {
			if err := in.Install(); err != nil {
				return err
			}
			fmt.Printf("%s installed (%s, account %s, data %s)\n", in.Spec.Name, in.Backend(), in.Spec.User, in.Spec.DataDir)
			if start {
				return in.Start()
			}
			return nil
		}),
	}
	hidden(install)
	install.Flags().StringVar(&user, "user", o.User, "service account (created when missing)")
	install.Flags().StringVar(&exe, "exe", "", "binary the service runs (default: this one)")
	install.Flags().BoolVar(&start, "start", false, "start the service after installing it")
	root.AddCommand(install)

	uninstall := &cobra.Command{
		Use:   "uninstall",
		Short: "Stop and remove the OS service (the data directory and account stay unless --purge)",
		Args:  cobra.NoArgs,
		RunE: withInstaller(func(in *Installer) error {
			if err := in.Uninstall(purge); err != nil {
				return err
			}
			fmt.Printf("%s uninstalled\n", in.Spec.Name)
			return nil
		}),
	}
	hidden(uninstall)
	uninstall.Flags().BoolVar(&purge, "purge", false, "also remove the data directory (spool, identity) and the account")
	uninstall.Flags().StringVar(&user, "user", o.User, "service account")
	root.AddCommand(uninstall)

	for _, c := range []struct {
		use, short string
		f          func(*Installer) error
	}{
		{"start", "Start the OS service", (*Installer).Start},
		{"stop", "Stop the OS service", (*Installer).Stop},
	} {
		cmd := &cobra.Command{Use: c.use, Short: c.short, Args: cobra.NoArgs, RunE: withInstaller(c.f)}
		hidden(cmd)
		root.AddCommand(cmd)
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Print whether the OS service is installed and running (exit 3 when not running)",
		Args:  cobra.NoArgs,
		RunE: withInstaller(func(in *Installer) error {
			st, err := in.Status()
			if err != nil {
				return err
			}
			fmt.Printf("%s: %s (%s)\n", in.Spec.Name, st, in.Backend())
			if st != StatusRunning {
				os.Exit(3)
			}
			return nil
		}),
	}
	hidden(status)
	root.AddCommand(status)

	var unitExe, unitConfig, unitData string
	printUnit := &cobra.Command{
		Use:    "print-unit",
		Short:  "Print the hardened systemd unit (what packages ship)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cc *cobra.Command, _ []string) error {
			s := Spec{Name: o.Name, Description: o.Description, User: user, Executable: unitExe,
				Arguments: []string{"run", "--config", unitConfig}, DataDir: unitData}
			_, err := fmt.Fprint(cc.OutOrStdout(), PackagedUnit(s))
			return err
		},
	}
	printUnit.Flags().StringVar(&unitExe, "exe", "/usr/bin/"+o.Name, "binary")
	printUnit.Flags().StringVar(&unitConfig, "config-path", "/etc/dray/"+strings.TrimPrefix(o.Name, "dray-")+".yaml", "configuration")
	printUnit.Flags().StringVar(&unitData, "data-dir", "/var/lib/"+o.Name, "data directory")
	printUnit.Flags().StringVar(&user, "user", o.User, "service account")
	root.AddCommand(printUnit)

	root.AddCommand(&cobra.Command{
		Use:    "run-service",
		Short:  "Run under a service manager (Windows SCM, launchd); what install registers there",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return RunService(o.Name, func(ctx context.Context) error { return o.Run(ctx, *o.ConfigPath) })
		},
	})
}
