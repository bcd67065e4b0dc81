// Command etcd runs a single-member etcd for Herald's Kubernetes tests and
// generates the certificates the test kube-apiserver needs.
//
//	etcd serve --data-dir DIR --listen-client-url http://127.0.0.1:PORT [--listen-peer-url URL] [--unsafe-no-fsync]
//	etcd pki --dir DIR
//
// Debian's etcd package is older than the etcd client the apiserver is built
// with, so the server is embedded from go.etcd.io/etcd/server/v3 instead.
// `serve` prints one line, "etcd ready <client-url>", on stdout once the
// member serves clients, and exits 0 after SIGTERM or SIGINT once etcd has
// closed its data dir.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// startTimeout bounds how long a fresh single-member cluster may take to
// elect itself; on an idle machine it takes well under a second, on a busy
// 2-core CI runner a few seconds.
const startTimeout = 60 * time.Second

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "pki":
		err = pki(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcd %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: etcd serve --data-dir DIR --listen-client-url URL [--listen-peer-url URL] [--unsafe-no-fsync]")
	fmt.Fprintln(os.Stderr, "       etcd pki --dir DIR")
	os.Exit(2)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	dataDir := fs.String("data-dir", "", "directory for etcd's data (required)")
	clientURL := fs.String("listen-client-url", "", "loopback client URL, e.g. http://127.0.0.1:2379 (required)")
	peerURL := fs.String("listen-peer-url", "", "loopback peer URL; a free port on 127.0.0.1 when empty")
	noFsync := fs.Bool("unsafe-no-fsync", false, "skip fsync: faster, loses data on a machine crash (fine for tests)")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataDir == "" || *clientURL == "" {
		return errors.New("--data-dir and --listen-client-url are required")
	}
	cu, err := url.Parse(*clientURL)
	if err != nil {
		return fmt.Errorf("--listen-client-url: %w", err)
	}
	if *peerURL == "" {
		port, err := freePort()
		if err != nil {
			return err
		}
		*peerURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	}
	pu, err := url.Parse(*peerURL)
	if err != nil {
		return fmt.Errorf("--listen-peer-url: %w", err)
	}

	cfg := embed.NewConfig()
	cfg.Name = "herald-test"
	cfg.Dir = *dataDir
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = *noFsync
	cfg.LogLevel = *logLevel
	cfg.LogOutputs = []string{"stderr"}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	// Close runs on every path out, so the data dir's lock is released.
	defer e.Close()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	select {
	case <-e.Server.ReadyNotify():
		fmt.Printf("etcd ready %s\n", cu.String())
	case err := <-e.Err():
		return fmt.Errorf("before ready: %w", err)
	case <-time.After(startTimeout):
		e.Server.Stop()
		return fmt.Errorf("not ready after %s", startTimeout)
	case <-sigs:
		return nil
	}

	select {
	case err := <-e.Err():
		return err
	case <-sigs:
		return nil
	}
}

// freePort asks the kernel for a free loopback port. Another process may take
// it before etcd binds it; a test harness that cares passes --listen-peer-url.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
