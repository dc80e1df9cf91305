package mail_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/floorgate/floorgate/internal/mail"
	"github.com/floorgate/floorgate/internal/testenv"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	good := map[string]mail.Server{
		"smtp://mail.example.com":                 {Host: "mail.example.com", Port: "25"},
		"smtp://mail.example.com:587":             {Host: "mail.example.com", Port: "587"},
		"SMTPS://mail.example.com":                {TLS: true, Host: "mail.example.com", Port: "465"},
		"smtps://u%40x:p%3Ass@127.0.0.1:2465/":    {TLS: true, Host: "127.0.0.1", Port: "2465", Username: "u@x", Password: "p:ss"},
		"smtp://[::1]:2525":                       {Host: "::1", Port: "2525"},
		"smtp://apikey:secret@smtp.example.com:2": {Host: "smtp.example.com", Port: "2", Username: "apikey", Password: "secret"},
	}
	for in, want := range good {
		got, err := mail.ParseURL(in)
		if err != nil || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "mail.example.com", "http://mail.example.com", "smtp://", "smtp://h:0", "smtp://h:70000",
		"smtp://h/path", "smtp://h?x=1", "smtp://h#f", "smtp://:pw@h", "smtp:opaque", "smtp://h:25:26", "smtp://u%0d%0a:p@h"} {
		if s, err := mail.ParseURL(in); err == nil {
			t.Errorf("ParseURL(%q) = %+v; want an error", in, s)
		}
	}
	s, _ := mail.ParseURL("smtps://user:hunter2@mail.example.com")
	if strings.Contains(s.String(), "hunter2") {
		t.Errorf("String() = %q shows the password", s.String())
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"smtp://mail.example.com:587", "smtps://u:p@h", "smtp://[::1]:2525", "smtp://h/x", "smtp://u%0d%0a:p@h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		srv, err := mail.ParseURL(s)
		if err != nil {
			return
		}
		if srv.Host == "" || srv.Port == "" || strings.ContainsAny(srv.Host+srv.Username+srv.Password, "\r\n") {
			t.Fatalf("ParseURL(%q) = %+v", s, srv)
		}
		if _, _, err := net.SplitHostPort(srv.Addr()); err != nil {
			t.Fatalf("ParseURL(%q).Addr() = %q: %v", s, srv.Addr(), err)
		}
		// What String gives parses back to the same server, password aside.
		again, err := mail.ParseURL(srv.String())
		srv.Password = ""
		if err != nil || again != srv {
			t.Fatalf("ParseURL(%q) = %+v; its String %q gives %+v, %v", s, srv, srv.String(), again, err)
		}
	})
}

// TestSend drives each way of reaching a server: plain, STARTTLS with
// AUTH, smtps; and checks what the server received.
func TestSend(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		opts    testenv.SMTPOptions
		url     func(addr string) string
		wantTLS bool
		user    string
	}{
		{"plain", testenv.SMTPOptions{}, func(a string) string { return "smtp://" + a }, false, ""},
		{"starttls+auth", testenv.SMTPOptions{STARTTLS: true, User: "fg", Pass: "s3cret"}, func(a string) string { return "smtp://fg:s3cret@" + a }, true, "fg"},
		{"smtps", testenv.SMTPOptions{ImplicitTLS: true}, func(a string) string { return "smtps://" + a }, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := testenv.StartSMTP(t, tc.opts)
			s, err := mail.ParseURL(tc.url(srv.Addr))
			if err != nil {
				t.Fatal(err)
			}
			c, err := mail.New(s, "Floorgate <floorgate@example.com>", mail.Options{TLS: srv.ClientTLS(), Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			body := "Hello,\n.a line with a leading dot\nhttps://console.example.com/invitation#fgi_x\n"
			if err := c.Send(context.Background(), "mia@example.com", "Your invitation", body); err != nil {
				t.Fatalf("Send: %v", err)
			}
			ms := srv.WaitMessages(t, 1)
			m := ms[0]
			if m.From != "floorgate@example.com" || len(m.To) != 1 || m.To[0] != "mia@example.com" || m.TLS != tc.wantTLS || m.User != tc.user {
				t.Errorf("received %+v; want from floorgate@, to mia@, tls %v, user %q", m, tc.wantTLS, tc.user)
			}
			for _, want := range []string{"Subject: Your invitation\r\n", "Content-Type: text/plain; charset=utf-8\r\n", "\r\n\r\nHello,\r\n.a line with a leading dot\r\nhttps://console.example.com/invitation#fgi_x\r\n"} {
				if !strings.Contains(m.Data, want) {
					t.Errorf("mail lacks %q:\n%s", want, m.Data)
				}
			}
		})
	}
}

// TestSendRefusesBadInput: header injection through the recipient or
// the subject, and a wrong password, send nothing.
func TestSendRefusesBadInput(t *testing.T) {
	t.Parallel()
	srv := testenv.StartSMTP(t, testenv.SMTPOptions{STARTTLS: true, User: "fg", Pass: "right"})
	s, _ := mail.ParseURL("smtp://fg:wrong@" + srv.Addr)
	c, err := mail.New(s, "floorgate@example.com", mail.Options{TLS: srv.ClientTLS()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Send(ctx, "mia@example.com\r\nBcc: eve@example.com", "s", "b"); err == nil {
		t.Error("a recipient with CRLF was accepted")
	}
	if err := c.Send(ctx, "mia@example.com", "s\r\nBcc: eve@example.com", "b"); err == nil {
		t.Error("a subject with CRLF was accepted")
	}
	if err := c.Send(ctx, "mia@example.com", "s", "b"); err == nil {
		t.Error("a wrong password was accepted")
	}
	if ms := srv.Messages(); len(ms) != 0 {
		t.Errorf("server received %d mails; want none", len(ms))
	}
	if _, err := mail.New(s, "not an address\r\n", mail.Options{}); err == nil {
		t.Error("New accepted a bad from address")
	}
}

// TestSendDownOrSilent: a server that is down fails at once; one that
// accepts and never answers fails within the timeout.
func TestSendDownOrSilent(t *testing.T) {
	t.Parallel()
	dead := testenv.DeadAddr(t)
	s, _ := mail.ParseURL("smtp://" + dead)
	c, _ := mail.New(s, "floorgate@example.com", mail.Options{Timeout: 2 * time.Second})
	if err := c.Send(context.Background(), "mia@example.com", "s", "b"); err == nil {
		t.Error("Send to a dead server = nil")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent: never greets
		}
	}()
	s, _ = mail.ParseURL("smtp://" + ln.Addr().String())
	c, _ = mail.New(s, "floorgate@example.com", mail.Options{Timeout: 300 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- c.Send(context.Background(), "mia@example.com", "s", "b") }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Send to a silent server = nil")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send to a silent server did not give up")
	}
}
