//go:build unix

package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
)

// Server is a redis-server or PostgreSQL of a test's own, on a free
// 127.0.0.1 port, for fault tests: Pause stalls it (SIGSTOP to its whole
// process group, so a PostgreSQL's backends stop too, as when its host
// freezes), Resume lets it go on, Kill ends it (SIGKILL), and Start
// starts it again on the same port and data. It is killed and its files
// removed at the test's cleanup.
type Server struct {
	tb    testing.TB
	name  string
	addr  string
	dir   string
	cmd   func() *exec.Cmd
	ready func(context.Context) error
	quit  syscall.Signal // what ends it cleanly at the cleanup

	mu   sync.Mutex
	proc *exec.Cmd
	out  *bytes.Buffer
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Pause stops every process of the server with SIGSTOP: the one it
// started and all their descendants (PostgreSQL's backends each lead a
// process group of their own).
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

// Kill ends every process of the server with SIGKILL and waits for it.
func (s *Server) Kill() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	kids := descendants(s.proc.Process.Pid)
	_ = syscall.Kill(-s.proc.Process.Pid, syscall.SIGKILL)
	for _, pid := range kids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = s.proc.Wait()
	s.proc = nil
}

func (s *Server) signal(sig syscall.Signal) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.tb.Fatalf("%s is not running", s.name)
	}
	if err := syscall.Kill(-s.proc.Process.Pid, sig); err != nil {
		s.tb.Fatalf("signal %v to %s: %v", sig, s.name, err)
	}
	// The parent is stopped first, so that it starts no new child
	// meanwhile.
	for _, pid := range descendants(s.proc.Process.Pid) {
		_ = syscall.Kill(pid, sig)
	}
}

// descendants lists the processes under pid, from /proc (none where
// there is no /proc).
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(string(f[1])); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	for queue := []int{pid}; len(queue) > 0; {
		p := queue[0]
		queue = queue[1:]
		out = append(out, children[p]...)
		queue = append(queue, children[p]...)
	}
	return out
}

// Start starts the server (again) and waits until it answers, at most
// 30 s.
func (s *Server) Start() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.tb.Fatalf("%s is running already", s.name)
	}
	cmd := s.cmd()
	s.out = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("start %s: %v", s.name, err)
	}
	s.proc = cmd
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		if err = s.ready(ctx); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.tb.Fatalf("%s does not answer on %s: %v\n%s", s.name, s.addr, err, s.out)
}

// stop ends the server cleanly (its quit signal, so that PostgreSQL
// frees its shared memory), or kills it after 10 s.
func (s *Server) stop() {
	s.mu.Lock()
	if p := s.proc; p != nil {
		_ = syscall.Kill(-p.Process.Pid, syscall.SIGCONT)
		for _, pid := range descendants(p.Process.Pid) {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
		_ = p.Process.Signal(s.quit)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
			<-done
		}
		s.proc = nil
	}
	s.mu.Unlock()
}

// newServer registers the cleanup of a server and starts it.
func newServer(tb testing.TB, s *Server) *Server {
	tb.Cleanup(func() {
		s.stop()
		_ = os.RemoveAll(s.dir)
	})
	s.Start()
	return s
}

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartRedis starts a redis-server of the test's own (no persistence),
// or skips (fails under CI) when redis-server is not installed.
func StartRedis(tb testing.TB) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		SkipOrFail(tb, "redis-server is not installed: "+err.Error())
	}
	dir, err := os.MkdirTemp("", "fgredis")
	if err != nil {
		tb.Fatal(err)
	}
	port := strconv.Itoa(freePort(tb))
	s := &Server{tb: tb, name: "redis-server", addr: "127.0.0.1:" + port, dir: dir, quit: syscall.SIGTERM}
	s.cmd = func() *exec.Cmd {
		return exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--protected-mode", "no",
			"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no")
	}
	s.ready = func(ctx context.Context) error {
		c := goredis.NewClient(&goredis.Options{Addr: s.addr, MaxRetries: -1})
		defer c.Close()
		return c.Ping(ctx).Err()
	}
	return newServer(tb, s)
}

// StartPostgres starts a PostgreSQL of the test's own (initdb into a
// temporary directory, trust authentication, fsync off), run as the
// postgres user when the test runs as root, or skips (fails under CI)
// when the binaries are not found (/usr/lib/postgresql/*/bin or PATH).
// Its URL is PostgresServerURL.
func StartPostgres(tb testing.TB) *Server {
	tb.Helper()
	bin := postgresBin()
	if bin == "" {
		SkipOrFail(tb, "PostgreSQL's initdb and postgres are not installed")
	}
	dir, err := os.MkdirTemp("", "fgpg")
	if err != nil {
		tb.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	cred, err := postgresCredential(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		tb.Fatal(err)
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	port := strconv.Itoa(freePort(tb))
	// SIGQUIT: PostgreSQL's immediate shutdown.
	s := &Server{tb: tb, name: "postgres", addr: "127.0.0.1:" + port, dir: dir, quit: syscall.SIGQUIT}
	s.cmd = func() *exec.Cmd {
		c := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", port, "-k", dir,
			"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "max_connections=50")
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return c
	}
	s.ready = func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, PostgresServerURL(s))
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	}
	return newServer(tb, s)
}

// PostgresServerURL is the URL of the database "postgres" on s.
func PostgresServerURL(s *Server) string {
	return "postgres://postgres@" + s.addr + "/postgres?sslmode=disable"
}

// postgresBin finds the directory of initdb and postgres.
func postgresBin() string {
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin"); len(dirs) > 0 {
		return dirs[len(dirs)-1]
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// postgresCredential is who runs PostgreSQL: it refuses to run as root,
// so as root the postgres user (who is given dir), else nobody else.
func postgresCredential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and there is no postgres user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
