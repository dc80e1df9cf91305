// Package mail is Floorgate's small SMTP client: plain-text mails (the
// invitation and password-reset links) to one recipient, over smtp://
// (STARTTLS when the server offers it) or smtps:// (TLS from the first
// byte), with optional AUTH PLAIN. It is the standard library's
// net/smtp with the parts a server needs around it: a URL to configure
// it, a bound on the time one mail may take, and headers that typed
// input cannot break. It starts no goroutine.
package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Server is a parsed -smtp-url.
type Server struct {
	// TLS is true for smtps:// (TLS from the start); smtp:// upgrades
	// with STARTTLS when the server offers it.
	TLS  bool
	Host string // without the port
	Port string
	// Username and Password, when Username is not empty, authenticate
	// with AUTH PLAIN, which is only sent over TLS (or to localhost).
	Username, Password string
}

// Addr is host:port.
func (s Server) Addr() string { return net.JoinHostPort(s.Host, s.Port) }

// String is the URL without its password.
func (s Server) String() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr()}
	if s.TLS {
		u.Scheme = "smtps"
	}
	if s.Username != "" {
		u.User = url.User(s.Username)
	}
	return u.String()
}

// maxURL bounds the URL ParseURL reads.
const maxURL = 2048

// ParseURL reads smtp://[user[:password]@]host[:port] (port 25 by
// default) or smtps://… (465). A path, a query or a fragment is refused:
// nothing in them would be read.
func ParseURL(s string) (Server, error) {
	bad := func(why string) (Server, error) {
		return Server{}, fmt.Errorf("smtp url: %s; want smtp://[user:password@]host[:port] or smtps://…", why)
	}
	if len(s) > maxURL {
		return bad("too long")
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("not a URL")
	}
	var srv Server
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		srv.Port = "25"
	case "smtps":
		srv.TLS, srv.Port = true, "465"
	default:
		return bad("the scheme is not smtp or smtps")
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return bad("a path, query or fragment")
	}
	srv.Host = u.Hostname()
	if srv.Host == "" || strings.ContainsAny(srv.Host, " \r\n\t/\\@[]%") {
		return bad("no host")
	}
	if strings.Contains(srv.Host, ":") && net.ParseIP(srv.Host) == nil {
		return bad("a host with a colon that is not an IPv6 address")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("the port is not 1 to 65535")
		}
		srv.Port = strconv.Itoa(n)
	}
	if u.User != nil {
		srv.Username = u.User.Username()
		srv.Password, _ = u.User.Password()
		if srv.Username == "" || strings.ContainsAny(srv.Username+srv.Password, "\x00\r\n") {
			return bad("a user name that is empty or holds control characters")
		}
	}
	return srv, nil
}

// DefaultTimeout bounds one mail, from the dial to QUIT.
const DefaultTimeout = 10 * time.Second

// Client sends mails through one server.
type Client struct {
	srv     Server
	from    *mail.Address
	timeout time.Duration
	tls     *tls.Config
	helo    string
}

// Options configure a Client; zero values take the defaults.
type Options struct {
	// Timeout bounds one mail (DefaultTimeout).
	Timeout time.Duration
	// TLS is the base TLS configuration (its ServerName is set to the
	// server's host); nil: the system's roots.
	TLS *tls.Config
	// Hello is the name said in EHLO ("localhost").
	Hello string
}

// New returns a client for srv sending from the address from.
func New(srv Server, from string, o Options) (*Client, error) {
	a, err := parseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("smtp from %q: %w", from, err)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	var tc *tls.Config
	if o.TLS != nil {
		tc = o.TLS.Clone()
	} else {
		tc = &tls.Config{}
	}
	tc.ServerName = srv.Host
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	if o.Hello == "" {
		o.Hello = "localhost"
	}
	return &Client{srv: srv, from: a, timeout: o.Timeout, tls: tc, helo: o.Hello}, nil
}

// parseAddress accepts one bare address (user@host) with no control
// characters: what a header and an SMTP command can carry safely.
func parseAddress(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n\x00") {
		return nil, errors.New("control characters")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, errors.New("not an email address")
	}
	if strings.ContainsAny(a.Address, "<>\r\n ") {
		return nil, errors.New("not a plain address")
	}
	return a, nil
}

// Send mails a plain-text body to one address. It gives up after the
// client's timeout (or when ctx ends). The subject is one line; the
// body's lines are sent with CRLF, dot-stuffed by net/smtp.
func (c *Client) Send(ctx context.Context, to, subject, body string) error {
	rcpt, err := parseAddress(to)
	if err != nil {
		return fmt.Errorf("send mail: recipient: %w", err)
	}
	if strings.ContainsAny(subject, "\r\n") {
		return errors.New("send mail: the subject holds a line break")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", c.srv.Addr())
	if err != nil {
		return fmt.Errorf("send mail: dial %s: %w", c.srv.Addr(), err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	// A context that ends early closes the connection, which ends any
	// read or write under way.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if c.srv.TLS {
		tc := tls.Client(conn, c.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("send mail: TLS: %w", err)
		}
		conn = tc
	}
	sc, err := smtp.NewClient(conn, c.srv.Host)
	if err != nil {
		return fmt.Errorf("send mail: greeting: %w", err)
	}
	defer sc.Close()
	if err := sc.Hello(c.helo); err != nil {
		return fmt.Errorf("send mail: EHLO: %w", err)
	}
	if !c.srv.TLS {
		if ok, _ := sc.Extension("STARTTLS"); ok {
			if err := sc.StartTLS(c.tls); err != nil {
				return fmt.Errorf("send mail: STARTTLS: %w", err)
			}
		}
	}
	if c.srv.Username != "" {
		if err := sc.Auth(smtp.PlainAuth("", c.srv.Username, c.srv.Password, c.srv.Host)); err != nil {
			return fmt.Errorf("send mail: AUTH: %w", err)
		}
	}
	if err := sc.Mail(c.from.Address); err != nil {
		return fmt.Errorf("send mail: MAIL FROM: %w", err)
	}
	if err := sc.Rcpt(rcpt.Address); err != nil {
		return fmt.Errorf("send mail: RCPT TO: %w", err)
	}
	w, err := sc.Data()
	if err != nil {
		return fmt.Errorf("send mail: DATA: %w", err)
	}
	if _, err := w.Write(message(c.from, rcpt, subject, body, time.Now())); err != nil {
		return fmt.Errorf("send mail: write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("send mail: end of data: %w", err)
	}
	if err := sc.Quit(); err != nil {
		return fmt.Errorf("send mail: QUIT: %w", err)
	}
	return nil
}

// message is the mail: its headers and the body with CRLF line ends.
func message(from, to *mail.Address, subject, body string, at time.Time) []byte {
	var id [12]byte
	rand.Read(id[:])
	host := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	var b strings.Builder
	b.WriteString("From: " + from.String() + "\r\n")
	b.WriteString("To: <" + to.Address + ">\r\n")
	b.WriteString("Subject: " + subject + "\r\n")
	b.WriteString("Date: " + at.UTC().Format(time.RFC1123Z) + "\r\n")
	b.WriteString("Message-ID: <" + hex.EncodeToString(id[:]) + "@" + host + ">\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: 8bit\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n\r\n")
	body = strings.ReplaceAll(body, "\r\n", "\n")
	for line := range strings.SplitSeq(body, "\n") {
		b.WriteString(strings.TrimRight(line, "\r") + "\r\n")
	}
	return []byte(b.String())
}
