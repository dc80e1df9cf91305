package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/floorgate/floorgate/devices"
	"github.com/floorgate/floorgate/internal/problem"
)

// Manager links: invitations (a manager created with no password sets
// their own) and password resets. A link is the console's address, a
// page path and the token in the fragment (/invitation#fgi_…): browsers
// never send a fragment, so no server, proxy or access log between the
// manager and Floorgate sees the token; the console page reads it and
// posts it in a form body.

// Console pages the links open.
const (
	InvitationPath    = "/invitation"
	ResetPasswordPath = "/reset-password"
)

// IssuedLink is an invitation or reset link just issued. URL carries the
// token: it is in the answer when the link was not mailed (no mail
// server, or the mail failed), for the admin to hand over by other means;
// it is never shown again (only its hash is kept).
type IssuedLink struct {
	Kind      string    `json:"kind"` // invitation or reset
	ExpiresAt time.Time `json:"expires_at"`
	URL       string    `json:"url,omitempty"`
	// Mailed reports whether the link went to the manager's email.
	Mailed bool `json:"mailed"`
	// MailError says why a mail was not sent, when a mail server is
	// configured (the link can be issued again).
	MailError string `json:"mail_error,omitempty"`
}

// Mailer sends one plain-text mail (internal/mail's SMTP client with
// -smtp-url). Send must give up within its own bounded time: the admin
// call waits for it.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// CreatedManager answers POST /managers: the account, and the invitation
// when it was created with no password.
type CreatedManager struct {
	devices.Manager
	Link *IssuedLink `json:"link,omitempty"`
}

// LinkRequest is the body of the public routes that use a link: the
// token (from the link's fragment) and the new password.
type LinkRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// ForgotPasswordRequest is the body of POST /forgot-password.
type ForgotPasswordRequest struct {
	Email string `json:"email"`
}

// ForgotPasswordResponse is the one answer of POST /forgot-password,
// whatever the email.
type ForgotPasswordResponse struct {
	Status string `json:"status"`
}

// linkURL is the link a manager opens: the console's address, the page
// and the token in the fragment.
func (a *API) linkURL(kind string, tok devices.Token) string {
	path := InvitationPath
	if kind == devices.LinkReset {
		path = ResetPasswordPath
	}
	return strings.TrimRight(a.cfg.ConsoleURL, "/") + path + "#" + tok.Reveal()
}

// deliver hands a just-issued link over: by mail when a mail server is
// configured (a failure says so and leaves the link valid, to be issued
// again), else in the answer to the admin who asked.
func (a *API) deliver(r *http.Request, m devices.Manager, l devices.ManagerLink, tok devices.Token) *IssuedLink {
	out := &IssuedLink{Kind: l.Kind, ExpiresAt: l.ExpiresAt}
	link := a.linkURL(l.Kind, tok)
	if a.mail == nil {
		out.URL = link
		return out
	}
	if err := a.mailLink(r.Context(), principalActor(r), m, l, link); err != nil {
		out.URL, out.MailError = link, "the mail was not sent (the mail server could not be reached or refused it); hand the link over yourself, or issue a new one"
		return out
	}
	out.Mailed = true
	return out
}

// principalActor is the caller's audit actor, or system on a public route.
func principalActor(r *http.Request) string {
	if p := principalFrom(r.Context()); p != nil {
		return p.actor
	}
	return devices.ActorSystem
}

// inviteManager creates an account with no password and its invitation.
func (a *API) inviteManager(w http.ResponseWriter, r *http.Request, in devices.ManagerInput) error {
	m, l, tok, err := a.reg.InviteManager(r.Context(), principalFrom(r.Context()).actor, in, a.cfg.InvitationTTL)
	if err != nil {
		return fmt.Errorf("invite manager: %w", err)
	}
	w.Header().Set("Location", BasePath+"/managers/"+m.ID)
	return writeJSON(w, http.StatusCreated, CreatedManager{Manager: m, Link: a.deliver(r, m, l, tok)})
}

// resendInvitation issues a new invitation (the old link dies).
func (a *API) resendInvitation(w http.ResponseWriter, r *http.Request) error {
	m, err := a.loadManager(r, false)
	if err != nil {
		return err
	}
	l, tok, err := a.reg.IssueManagerLink(r.Context(), principalFrom(r.Context()).actor, m.ID, devices.LinkInvitation, a.cfg.InvitationTTL)
	if err != nil {
		return fmt.Errorf("resend invitation: %w", err)
	}
	return writeJSON(w, http.StatusCreated, a.deliver(r, m, l, tok))
}

// revokeInvitation ends a manager's pending invitation.
func (a *API) revokeInvitation(w http.ResponseWriter, r *http.Request) error {
	m, err := a.loadManager(r, false)
	if err != nil {
		return err
	}
	if m.Status != devices.ManagerInvited {
		return conflict("the manager has no invitation to revoke")
	}
	if _, err := a.reg.RevokeManagerLinks(r.Context(), principalFrom(r.Context()).actor, m.ID, devices.LinkInvitation); err != nil {
		return fmt.Errorf("revoke invitation: %w", err)
	}
	if m, err = a.reg.Manager(r.Context(), m.ID); err != nil {
		return fmt.Errorf("revoke invitation: %w", err)
	}
	return writeJSON(w, http.StatusOK, m)
}

// sendResetLink issues a password-reset link for another manager: admins
// only (the same rule as setting their password).
func (a *API) sendResetLink(w http.ResponseWriter, r *http.Request) error {
	m, err := a.loadManager(r, true)
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	if !p.admin {
		a.denied(r, devices.ManagerActor(m.ID), "", http.StatusForbidden)
		return errForbidden
	}
	l, tok, err := a.reg.IssueManagerLink(r.Context(), p.actor, m.ID, devices.LinkReset, 0)
	if err != nil {
		return fmt.Errorf("send reset link: %w", err)
	}
	return writeJSON(w, http.StatusCreated, a.deliver(r, m, l, tok))
}

// useLink is the public POST /invitation/accept and POST /password-reset:
// the token and a new password; the manager is signed in.
func (a *API) useLink(kind string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in LinkRequest
		if err := decode(w, r, &in, false); err != nil {
			return err
		}
		if strings.TrimSpace(in.Token) == "" {
			return invalid("token", "required", "token is required: the part of the link after #")
		}
		if len(in.Token) > maxTokenInput {
			return devices.ErrLinkInvalid
		}
		tok, ok := devices.ParseLinkToken(kind, in.Token)
		if !ok {
			return devices.ErrLinkInvalid
		}
		ctx := r.Context()
		m, err := a.reg.UseManagerLink(ctx, kind, tok, in.Password, a.clientIP(r))
		if err != nil {
			return fmt.Errorf("use %s link: %w", kind, err)
		}
		session, mt, err := a.reg.IssueManagerToken(ctx, m.ID)
		if err != nil {
			return fmt.Errorf("use %s link: sign in: %w", kind, err)
		}
		a.record(ctx, devices.Event{Actor: devices.ManagerActor(m.ID), Action: "manager.login", Subject: devices.ManagerActor(m.ID),
			Details: map[string]string{"remote_addr": a.clientIP(r), "by": kind + "_link"}})
		return writeJSON(w, http.StatusOK, LoginResponse{Token: session.Reveal(), ExpiresAt: mt.ExpiresAt, Manager: m})
	}
}

// maxTokenInput bounds a link token a request may carry.
const maxTokenInput = 200

// mailLink mails a link to its manager; a failure is logged and audited
// (manager.<kind>.mail_failed) and returned.
func (a *API) mailLink(ctx context.Context, actor string, m devices.Manager, l devices.ManagerLink, link string) error {
	subject, body := linkMail(m, l, link)
	err := a.mail.Send(ctx, m.Email, subject, body)
	if err != nil {
		a.log.WarnContext(ctx, "manager link not mailed", "manager_id", m.ID, "kind", l.Kind, "err", err)
		a.record(ctx, devices.Event{Actor: actor, Action: "manager." + l.Kind + ".mail_failed", Subject: devices.ManagerActor(m.ID),
			Details: map[string]string{"link_id": l.ID}})
	}
	return err
}

// linkMail is the plain-text mail of a link. Names are the manager's
// own, on a line of their own; the link is the only thing to act on.
func linkMail(m devices.Manager, l devices.ManagerLink, link string) (subject, body string) {
	until := l.ExpiresAt.UTC().Format("Mon 2 Jan 2006 15:04 MST")
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, m.FirstName)
	if l.Kind == devices.LinkReset {
		return "Reset your Floorgate password", "Hello " + name + ",\n\n" +
			"Someone asked to reset the password of your Floorgate manager account (" + m.Email + ").\n" +
			"To choose a new password, open this link before " + until + ":\n\n" + link + "\n\n" +
			"It works once. Setting a new password signs you out everywhere.\n" +
			"If you did not ask for this, ignore this mail: your password stays as it is.\n"
	}
	return "Your Floorgate invitation", "Hello " + name + ",\n\n" +
		"You are invited to manage Floorgate with " + m.Email + ".\n" +
		"To choose your password and sign in, open this link before " + until + ":\n\n" + link + "\n\n" +
		"It works once. If you did not expect this, ignore this mail.\n"
}

// forgotStatus is the one answer of POST /forgot-password.
const forgotStatus = "If an active manager account has this email, a password-reset link is on its way to it."

// forgotRequest is one forgot-password request, handled by Run.
type forgotRequest struct {
	email, addr string
}

// forgotPassword is the public POST /forgot-password: it answers the
// same status, body and headers whatever the email, at once; the lookup
// and the mail happen later, in Run, so that neither can be timed. A
// full queue drops the request (logged); without a mail server there is
// nothing to send and nothing is queued.
func (a *API) forgotPassword(w http.ResponseWriter, r *http.Request) error {
	var in ForgotPasswordRequest
	if err := decode(w, r, &in, false); err != nil {
		return err
	}
	var f problem.Fields
	f.Required("email", in.Email)
	f.MaxLen("email", in.Email, maxEmailInput)
	if err := f.Err(); err != nil {
		return err
	}
	if a.mail != nil {
		select {
		case a.forgot <- forgotRequest{email: in.Email, addr: a.clientIP(r)}:
		default:
			a.metrics.forgotDropped.Inc()
			a.log.WarnContext(r.Context(), "forgot-password queue full: request dropped")
		}
	}
	return writeJSON(w, http.StatusAccepted, ForgotPasswordResponse{Status: forgotStatus})
}

// handleForgot issues and mails a reset link for a forgot-password
// request (Run's loop), within forgotWork.
func (a *API) handleForgot(ctx context.Context, fr forgotRequest) {
	ctx, cancel := context.WithTimeout(ctx, forgotWork)
	defer cancel()
	m, l, tok, ok, err := a.reg.RequestPasswordReset(ctx, fr.email, fr.addr, a.cfg.ResetCooldown)
	if err != nil {
		a.log.ErrorContext(ctx, "forgot password", "err", err)
		return
	}
	if !ok {
		return
	}
	_ = a.mailLink(ctx, devices.ActorSystem, m, l, a.linkURL(devices.LinkReset, tok))
}

// forgotWork bounds the handling of one forgot-password request.
const forgotWork = 30 * time.Second
