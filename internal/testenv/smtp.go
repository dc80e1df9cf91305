package testenv

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// SMTPMessage is one mail a test SMTP server received.
type SMTPMessage struct {
	From string
	To   []string
	Data string // headers and body as sent, dot-unstuffed, CRLF line ends
	TLS  bool   // the session was encrypted when DATA came
	User string // the AUTH PLAIN user, "" without AUTH
}

// SMTPOptions shape a test SMTP server.
type SMTPOptions struct {
	STARTTLS    bool   // offer STARTTLS
	ImplicitTLS bool   // TLS from the first byte (smtps)
	User, Pass  string // require AUTH PLAIN with these (when User != "")
}

// SMTPServer is a tiny SMTP server on 127.0.0.1 for tests: it accepts
// every mail (after AUTH when asked) and keeps them for the test to read.
type SMTPServer struct {
	Addr string
	opts SMTPOptions
	ln   net.Listener
	cert tls.Certificate
	pool *x509.CertPool

	mu   sync.Mutex
	msgs []SMTPMessage
	wg   sync.WaitGroup
}

// StartSMTP starts a test SMTP server; it stops when the test ends.
func StartSMTP(t testing.TB, o SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{opts: o}
	s.cert, s.pool = selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtp listen: %v", err)
	}
	s.ln, s.Addr = ln, ln.Addr().String()
	s.wg.Go(s.serve)
	t.Cleanup(s.Close)
	return s
}

// ClientTLS trusts the server's certificate (for the client's Options).
func (s *SMTPServer) ClientTLS() *tls.Config { return &tls.Config{RootCAs: s.pool} }

// Close stops the server and waits for its sessions.
func (s *SMTPServer) Close() {
	s.ln.Close()
	s.wg.Wait()
}

// Messages returns the mails received so far.
func (s *SMTPServer) Messages() []SMTPMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMTPMessage(nil), s.msgs...)
}

// WaitMessages waits (at most 10 s) until n mails arrived and returns them.
func (s *SMTPServer) WaitMessages(t testing.TB, n int) []SMTPMessage {
	t.Helper()
	for range 1000 {
		if ms := s.Messages(); len(ms) >= n {
			return ms
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("smtp: %d mails after 10s; want %d", len(s.Messages()), n)
	return nil
}

func (s *SMTPServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Go(func() { s.session(c) })
	}
}

func (s *SMTPServer) session(c net.Conn) {
	defer func() { c.Close() }()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tlsOn := false
	if s.opts.ImplicitTLS {
		c = tls.Server(c, &tls.Config{Certificates: []tls.Certificate{s.cert}})
		tlsOn = true
	}
	r := bufio.NewReader(c)
	say := func(line string) bool { _, err := c.Write([]byte(line + "\r\n")); return err == nil }
	if !say("220 127.0.0.1 test ESMTP") {
		return
	}
	var cur SMTPMessage
	user := ""
	for range 100 {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			ext := []string{"250-127.0.0.1"}
			if s.opts.STARTTLS && !tlsOn {
				ext = append(ext, "250-STARTTLS")
			}
			if s.opts.User != "" {
				ext = append(ext, "250-AUTH PLAIN")
			}
			ext = append(ext, "250 8BITMIME")
			say(strings.Join(ext, "\r\n"))
		case "HELO", "NOOP":
			say("250 ok")
		case "STARTTLS":
			if !s.opts.STARTTLS || tlsOn {
				say("502 no")
				continue
			}
			say("220 go ahead")
			c = tls.Server(c, &tls.Config{Certificates: []tls.Certificate{s.cert}})
			r = bufio.NewReader(c)
			tlsOn = true
		case "AUTH":
			mech, b64, _ := strings.Cut(arg, " ")
			raw, err := base64.StdEncoding.DecodeString(b64)
			parts := strings.Split(string(raw), "\x00")
			if !strings.EqualFold(mech, "PLAIN") || err != nil || len(parts) != 3 || parts[1] != s.opts.User || parts[2] != s.opts.Pass {
				say("535 authentication failed")
				continue
			}
			user = parts[1]
			say("235 ok")
		case "MAIL":
			if s.opts.User != "" && user == "" {
				say("530 authentication required")
				continue
			}
			cur = SMTPMessage{From: addrOf(arg)}
			say("250 ok")
		case "RCPT":
			cur.To = append(cur.To, addrOf(arg))
			say("250 ok")
		case "DATA":
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.Data, cur.TLS, cur.User = b.String(), tlsOn, user
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			say("250 queued")
		case "RSET":
			cur = SMTPMessage{}
			say("250 ok")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 unknown command")
		}
	}
}

// addrOf reads the address of "FROM:<a@b>" or "TO:<a@b> SIZE=…".
func addrOf(arg string) string {
	_, a, _ := strings.Cut(arg, "<")
	a, _, _ = strings.Cut(a, ">")
	return a
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("smtp key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "floorgate test smtp"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("smtp certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("smtp certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// DeadAddr is an address on 127.0.0.1 where nothing listens (a port
// that was free a moment ago): a server that is down.
func DeadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
