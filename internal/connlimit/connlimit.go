package connlimit

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Why a connection or a socket was refused: the label of the refusal
// metrics.
const (
	ReasonAddress  = "per_address" // its client address holds PerAddr already
	ReasonInstance = "instance"    // the listener holds Max already
)

// Counter counts what is open, per client address and in all, against
// two caps. The zero value has no cap; it is safe for concurrent use.
type Counter struct {
	max, perAddr int

	mu     sync.Mutex
	total  int
	byAddr map[netip.Addr]int
}

// NewCounter returns a Counter that lets at most max things be open at
// once, and at most perAddr of them from one address; 0 is no cap.
func NewCounter(max, perAddr int) *Counter {
	return &Counter{max: max, perAddr: perAddr, byAddr: make(map[netip.Addr]int)}
}

// Acquire takes a slot for addr (see Key), or returns why it may not
// (ReasonAddress, ReasonInstance). Every slot taken must be given back
// with Release, once.
func (c *Counter) Acquire(addr netip.Addr) (refused string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 && c.total >= c.max {
		return ReasonInstance
	}
	if c.perAddr > 0 && c.byAddr[addr] >= c.perAddr {
		return ReasonAddress
	}
	c.total++
	if c.byAddr == nil {
		c.byAddr = make(map[netip.Addr]int)
	}
	c.byAddr[addr]++
	return ""
}

// Release gives back a slot Acquire took for addr.
func (c *Counter) Release(addr netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if n := c.byAddr[addr] - 1; n > 0 {
		c.byAddr[addr] = n
	} else {
		delete(c.byAddr, addr)
	}
}

// Open is how many slots are taken.
func (c *Counter) Open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// Key is the address a cap counts: an IPv4 address (also when written
// as IPv4-mapped IPv6), or the /64 prefix of an IPv6 address. A host
// that does not parse (a Unix socket's peer) counts as the zero Addr:
// all such peers share one slot count.
func Key(host string) netip.Addr {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return keyOf(a)
}

func keyOf(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}

// addrKey is Key of a connection's remote address.
func addrKey(addr net.Addr) netip.Addr {
	if ta, ok := addr.(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return keyOf(a)
		}
		return netip.Addr{}
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return netip.Addr{}
	}
	return Key(host)
}

// Config configures a Listener.
type Config struct {
	// Max caps the connections open at once; PerAddr those from one
	// address (see Key). 0 is no cap.
	Max, PerAddr int
	// RetryAfter is the wait the refusal tells the client (5s).
	RetryAfter time.Duration
	// OnRefuse, when set, is called with the reason of each refusal.
	OnRefuse func(reason string)
	// LingerMax bounds the refused connections kept open at once while
	// the client reads the answer (64); beyond it a refusal is closed
	// at once. Linger is how long one is kept at most (500ms).
	LingerMax int
	Linger    time.Duration
}

// Listener is a net.Listener that caps its open connections.
type Listener struct {
	net.Listener
	counter   *Counter
	onRefuse  func(string)
	answers   map[string][]byte
	lingerMax int32
	linger    time.Duration
	lingering atomic.Int32
}

// NewListener wraps ln with the caps of cfg.
func NewListener(ln net.Listener, cfg Config) *Listener {
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5 * time.Second
	}
	if cfg.LingerMax <= 0 {
		cfg.LingerMax = 64
	}
	if cfg.Linger <= 0 {
		cfg.Linger = 500 * time.Millisecond
	}
	retry := max(int((cfg.RetryAfter+time.Second-1)/time.Second), 1)
	return &Listener{
		Listener:  ln,
		counter:   NewCounter(cfg.Max, cfg.PerAddr),
		onRefuse:  cfg.OnRefuse,
		lingerMax: int32(cfg.LingerMax),
		linger:    cfg.Linger,
		answers: map[string][]byte{
			ReasonAddress:  Answer("too many connections from your address: try again later", retry),
			ReasonInstance: Answer("this server holds as many connections as it may: try again later", retry),
		},
	}
}

// Open is how many accepted connections are open.
func (l *Listener) Open() int { return l.counter.Open() }

// Accept returns the next connection within the caps; those over a cap
// are answered 503 and closed here, never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := addrKey(c.RemoteAddr())
		if reason := l.counter.Acquire(key); reason != "" {
			l.refuse(c, reason)
			continue
		}
		return &conn{Conn: c, counter: l.counter, key: key}, nil
	}
}

// refuse answers c with the refusal of reason, then lets it linger (when
// a lingering slot is free) so that the client reads the answer before
// the close: closing a socket with unread input sends a reset, which
// may reach the client before it has read the answer.
func (l *Listener) refuse(c net.Conn, reason string) {
	if l.onRefuse != nil {
		l.onRefuse(reason)
	}
	// A fresh connection's send buffer is empty: this write does not
	// wait, and the deadline bounds the accept loop anyway.
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(l.answers[reason]); err != nil || l.lingering.Add(1) > l.lingerMax {
		if err == nil {
			l.lingering.Add(-1)
		}
		_ = c.Close()
		return
	}
	go func() {
		defer l.lingering.Add(-1)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		_ = c.SetReadDeadline(time.Now().Add(l.linger))
		_, _ = io.CopyN(io.Discard, c, 64<<10)
		_ = c.Close()
	}()
}

// Answer is the whole HTTP/1.1 response of a refusal: 503, an RFC 9457
// problem with code unavailable and detail, Retry-After of retry
// seconds, and Connection: close.
func Answer(detail string, retry int) []byte {
	body, _ := json.Marshal(struct {
		Type       string `json:"type"`
		Title      string `json:"title"`
		Status     int    `json:"status"`
		Code       string `json:"code"`
		Detail     string `json:"detail"`
		RetryAfter int    `json:"retry_after"`
	}{"about:blank", "Service unavailable", 503, "unavailable", detail, retry})
	body = append(body, '\n')
	head := "HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: application/problem+json\r\n" +
		"Cache-Control: no-store\r\n" +
		"Retry-After: " + strconv.Itoa(retry) + "\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	return append([]byte(head), body...)
}

// conn is an accepted connection holding a slot until it is closed.
type conn struct {
	net.Conn
	counter *Counter
	key     netip.Addr
	closed  atomic.Bool
}

// Close closes the connection and gives its slot back (once).
func (c *conn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.counter.Release(c.key)
	}
	return err
}

// SyscallConn is the underlying connection's descriptor, so that a reader
// may wait for its readiness without a goroutine (the gateway's device
// sockets); an error when the underlying connection has none. Reads and
// writes through it bypass nothing this wrapper does: only Close counts.
func (c *conn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errNoDescriptor
}

var errNoDescriptor = errors.New("connlimit: the connection has no descriptor")

// CloseWrite half-closes the connection when the underlying one can
// (net/http uses it to end a response cleanly).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
