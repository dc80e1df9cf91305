package devices

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/floorgate/floorgate/internal/id"
	"github.com/floorgate/floorgate/internal/token"
)

// ManagerInvited is the status of a manager created without a password:
// they cannot sign in until they accept their invitation and set one.
const ManagerInvited ManagerStatus = "invited"

// Kinds of manager link: a one-time secret, sent or handed to a manager,
// that lets them set their password without knowing the old one.
const (
	LinkInvitation = "invitation" // a new manager's first password
	LinkReset      = "reset"      // a forgotten password
)

// Token prefixes of manager links.
const (
	InvitationTokenPrefix = "fgi_"
	ResetTokenPrefix      = "fgr_"
)

// Lifetimes of manager links.
const (
	DefaultInvitationTTL = 48 * time.Hour
	MinInvitationTTL     = time.Hour
	MaxInvitationTTL     = 30 * 24 * time.Hour
	ResetTTL             = time.Hour
)

// Errors of a manager link that cannot be used.
var (
	// ErrLinkInvalid: no such link, or it was used or revoked (a resent
	// invitation revokes the one before).
	ErrLinkInvalid = errors.New("the link is unknown, used or revoked")
	// ErrLinkExpired: the link was right but is past its expiry.
	ErrLinkExpired = errors.New("the link has expired")
)

// ManagerLink is an invitation or password-reset link of a manager. Only
// the SHA-256 of its token is kept; the token is shown once.
type ManagerLink struct {
	ID        string     `json:"id"`
	ManagerID string     `json:"manager_id"`
	Kind      string     `json:"kind"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Hash      string     `json:"-"`
}

// Manager link states, as ManagerLink.State says them.
const (
	LinkPending = "pending"
	LinkUsed    = "used"
	LinkRevoked = "revoked"
	LinkExpired = "expired"
)

// State is the link's state at now: used, revoked, expired or pending,
// the first that applies.
func (l ManagerLink) State(now time.Time) string {
	switch {
	case l.UsedAt != nil:
		return LinkUsed
	case l.RevokedAt != nil:
		return LinkRevoked
	case !now.Before(l.ExpiresAt):
		return LinkExpired
	}
	return LinkPending
}

// Invitation is where an invited manager's invitation stands, as the
// manager list shows it.
type Invitation struct {
	State     string    `json:"state"` // pending, expired, or revoked (none pending)
	ExpiresAt time.Time `json:"expires_at"`
}

// linkAction is the audit action of a link event: manager.<kind>.<what>.
func linkAction(kind, what string) string { return "manager." + kind + "." + what }

// linkPrefix is the token prefix of a kind.
func linkPrefix(kind string) string {
	if kind == LinkReset {
		return ResetTokenPrefix
	}
	return InvitationTokenPrefix
}

// ParseLinkToken reads a link token of kind as pasted or taken from a
// link: the prefix and a well-formed body, surrounding white space and
// a leading "#" ignored. Anything else is not a token and never reaches
// a store.
func ParseLinkToken(kind, s string) (Token, bool) {
	if kind != LinkInvitation && kind != LinkReset {
		return "", false
	}
	return token.Parse(linkPrefix(kind), strings.TrimPrefix(strings.TrimSpace(s), "#"))
}

// checkManagerInput validates a new account's fields (not its password).
func (r *Registry) checkManagerInput(ctx context.Context, v *ValidationError, in ManagerInput) (email, first, last string, roles []Role, err error) {
	email = strings.TrimSpace(in.Email)
	_, kerr := EmailKey(email)
	v.Merge(kerr)
	first = checkText(v, "first_name", in.FirstName, true, maxNameLength)
	last = checkText(v, "last_name", in.LastName, true, maxNameLength)
	roles, err = r.checkRoles(ctx, v, in.Roles)
	return email, first, last, roles, err
}

// InviteManager creates an account with no password (status invited)
// and its invitation, valid for ttl (DefaultInvitationTTL when 0; from
// MinInvitationTTL to MaxInvitationTTL). The token is returned once.
// in.Password must be empty. Whether actor may grant the roles is the
// caller's to decide. When the invitation cannot be stored after the
// account was, the account stays invited and the error is returned: a
// resend issues its link.
func (r *Registry) InviteManager(ctx context.Context, actor string, in ManagerInput, ttl time.Duration) (Manager, ManagerLink, Token, error) {
	if err := checkActor(actor); err != nil {
		return Manager{}, ManagerLink{}, "", err
	}
	v := &ValidationError{}
	email, first, last, roles, err := r.checkManagerInput(ctx, v, in)
	if err != nil {
		return Manager{}, ManagerLink{}, "", fmt.Errorf("invite manager: %w", err)
	}
	if in.Password != "" {
		v.Add("password", "not_allowed", "an invited manager sets their own password")
	}
	if err := v.Err(); err != nil {
		return Manager{}, ManagerLink{}, "", err
	}
	if ttl, err = invitationTTL(ttl); err != nil {
		return Manager{}, ManagerLink{}, "", err
	}
	now := r.clock()
	m := Manager{
		ID:        id.New("mgr_", now),
		Email:     email,
		FirstName: first,
		LastName:  last,
		Status:    ManagerInvited,
		Roles:     roles,
		CreatedAt: now,
		UpdatedAt: now,
	}
	ev := event(now, actor, "manager.create", ManagerActor(m.ID))
	ev.Details = map[string]string{"roles": rolesDetail(roles), "invited": "true"}
	if err := r.store.CreateManager(ctx, m, ev); err != nil {
		return Manager{}, ManagerLink{}, "", fmt.Errorf("invite manager: %w", err)
	}
	l, tok, err := r.issueLink(ctx, now, actor, m.ID, LinkInvitation, ttl)
	if err != nil {
		return m, ManagerLink{}, "", fmt.Errorf("invite manager: %w", err)
	}
	m.Invitation = &Invitation{State: LinkPending, ExpiresAt: l.ExpiresAt}
	return m, l, tok, nil
}

func invitationTTL(ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl == 0:
		return DefaultInvitationTTL, nil
	case ttl < MinInvitationTTL || ttl > MaxInvitationTTL:
		return 0, fieldProblem("expires_in_s", "out_of_range", fmt.Sprintf("expires_in_s is from %d to %d",
			int(MinInvitationTTL/time.Second), int(MaxInvitationTTL/time.Second)))
	}
	return ttl, nil
}

// issueLink stores a new link of kind for managerID, revoking the ones
// still live before it, with its audit event.
func (r *Registry) issueLink(ctx context.Context, now time.Time, actor, managerID, kind string, ttl time.Duration) (ManagerLink, Token, error) {
	tok := token.New(linkPrefix(kind))
	l := ManagerLink{
		ID:        id.New("mlk_", now),
		ManagerID: managerID,
		Kind:      kind,
		CreatedBy: actor,
		CreatedAt: now,
		ExpiresAt: now.Add(ttl),
		Hash:      tok.Hash(),
	}
	ev := event(now, actor, linkAction(kind, "issue"), ManagerActor(managerID))
	ev.Details = map[string]string{"link_id": l.ID, "expires_at": l.ExpiresAt.Format(time.RFC3339)}
	if err := r.store.CreateManagerLink(ctx, l, ev); err != nil {
		return ManagerLink{}, "", err
	}
	return l, tok, nil
}

// IssueManagerLink issues a new link of kind for a manager, and revokes
// the one issued before: an invitation for an invited manager (a resend;
// ttl as for InviteManager), a reset for an active one (ttl ignored:
// ResetTTL). Another state is ErrState. The token is returned once.
func (r *Registry) IssueManagerLink(ctx context.Context, actor, managerID, kind string, ttl time.Duration) (ManagerLink, Token, error) {
	if err := checkActor(actor); err != nil {
		return ManagerLink{}, "", err
	}
	m, err := r.store.Manager(ctx, managerID)
	if err != nil {
		return ManagerLink{}, "", fmt.Errorf("issue %s link: %w", kind, err)
	}
	switch kind {
	case LinkInvitation:
		if m.Status != ManagerInvited {
			return ManagerLink{}, "", fmt.Errorf("%w: the manager has accepted their invitation", ErrState)
		}
		if ttl, err = invitationTTL(ttl); err != nil {
			return ManagerLink{}, "", err
		}
	case LinkReset:
		if m.Status != ManagerActive {
			return ManagerLink{}, "", fmt.Errorf("%w: only an active manager gets a reset link", ErrState)
		}
		ttl = ResetTTL
	default:
		return ManagerLink{}, "", fieldProblem("kind", "invalid", "kind is invitation or reset")
	}
	l, tok, err := r.issueLink(ctx, r.clock(), actor, managerID, kind, ttl)
	if err != nil {
		return ManagerLink{}, "", fmt.Errorf("issue %s link: %w", kind, err)
	}
	return l, tok, nil
}

// RevokeManagerLinks ends the live links of kind of a manager; it
// reports how many it ended (0 changes nothing and records nothing).
func (r *Registry) RevokeManagerLinks(ctx context.Context, actor, managerID, kind string) (int, error) {
	if err := checkActor(actor); err != nil {
		return 0, err
	}
	now := r.clock()
	ev := event(now, actor, linkAction(kind, "revoke"), ManagerActor(managerID))
	n, err := r.store.RevokeManagerLinks(ctx, managerID, kind, now, ev)
	if err != nil {
		return 0, fmt.Errorf("revoke %s links of %s: %w", kind, managerID, err)
	}
	return n, nil
}

// RequestPasswordReset issues a reset link for the active manager with
// email, unless one was issued in the last cooldown: what "forgot
// password" does. ok is false, with no error, when there is no such
// active manager or one is still fresh; the caller answers the same in
// every case.
func (r *Registry) RequestPasswordReset(ctx context.Context, email, remoteAddr string, cooldown time.Duration) (m Manager, l ManagerLink, tok Token, ok bool, err error) {
	key, kerr := EmailKey(email)
	if kerr != nil {
		return Manager{}, ManagerLink{}, "", false, nil
	}
	m, err = r.store.ManagerByEmail(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return Manager{}, ManagerLink{}, "", false, nil
	}
	if err != nil {
		return Manager{}, ManagerLink{}, "", false, fmt.Errorf("request password reset: %w", err)
	}
	if m.Status != ManagerActive {
		return Manager{}, ManagerLink{}, "", false, nil
	}
	now := r.clock()
	links, err := r.store.ManagerLinks(ctx, m.ID)
	if err != nil {
		return Manager{}, ManagerLink{}, "", false, fmt.Errorf("request password reset: %w", err)
	}
	for _, x := range links {
		if x.Kind == LinkReset && x.State(now) == LinkPending && now.Sub(x.CreatedAt) < cooldown {
			return Manager{}, ManagerLink{}, "", false, nil
		}
	}
	l, tok, err = r.issueLink(ctx, now, ActorSystem, m.ID, LinkReset, ResetTTL)
	if err != nil {
		return Manager{}, ManagerLink{}, "", false, fmt.Errorf("request password reset: %w", err)
	}
	if err := r.store.AppendEvents(ctx, withDetails(event(now, ActorSystem, "manager.reset.requested", ManagerActor(m.ID)),
		map[string]string{"link_id": l.ID, "remote_addr": remoteAddr})); err != nil {
		r.log.Warn("audit reset request", "manager_id", m.ID, "err", err)
	}
	return m, l, tok, true, nil
}

func withDetails(ev Event, d map[string]string) Event {
	ev.Details = d
	return ev
}

// ManagerLinks lists a manager's links, oldest first.
func (r *Registry) ManagerLinks(ctx context.Context, managerID string) ([]ManagerLink, error) {
	ls, err := r.store.ManagerLinks(ctx, managerID)
	if err != nil {
		return nil, fmt.Errorf("manager links of %s: %w", managerID, err)
	}
	return ls, nil
}

// CheckManagerLink reads the link of kind with tok and its manager
// without using it: ErrLinkInvalid or ErrLinkExpired when it cannot be
// used.
func (r *Registry) CheckManagerLink(ctx context.Context, kind string, tok Token) (ManagerLink, Manager, error) {
	if _, ok := ParseLinkToken(kind, tok.Reveal()); !ok {
		return ManagerLink{}, Manager{}, ErrLinkInvalid
	}
	l, err := r.store.ManagerLinkByHash(ctx, tok.Hash())
	if errors.Is(err, ErrNotFound) {
		return ManagerLink{}, Manager{}, ErrLinkInvalid
	}
	if err != nil {
		return ManagerLink{}, Manager{}, fmt.Errorf("check %s link: %w", kind, err)
	}
	if l.Kind != kind {
		return ManagerLink{}, Manager{}, ErrLinkInvalid
	}
	if err := linkUsable(l, r.clock()); err != nil {
		return l, Manager{}, err
	}
	m, err := r.store.Manager(ctx, l.ManagerID)
	if errors.Is(err, ErrNotFound) {
		return ManagerLink{}, Manager{}, ErrLinkInvalid
	}
	if err != nil {
		return ManagerLink{}, Manager{}, fmt.Errorf("check %s link: %w", kind, err)
	}
	return l, m, nil
}

func linkUsable(l ManagerLink, now time.Time) error {
	switch l.State(now) {
	case LinkPending:
		return nil
	case LinkExpired:
		return ErrLinkExpired
	}
	return ErrLinkInvalid
}

// UseManagerLink sets a manager's password with a link of kind, once:
// an invitation makes the invited manager active, a reset replaces an
// active manager's password. The link is marked used, the manager's
// other links are revoked and all their manager tokens end, in one
// transaction. A bad, used or revoked link is ErrLinkInvalid; an expired
// one ErrLinkExpired; a password against the policy a *PolicyError;
// none of them changes anything. Two uses at once: one wins, the other
// is ErrLinkInvalid.
func (r *Registry) UseManagerLink(ctx context.Context, kind string, tok Token, password, remoteAddr string) (Manager, error) {
	if _, ok := ParseLinkToken(kind, tok.Reveal()); !ok {
		return Manager{}, ErrLinkInvalid
	}
	if err := r.password.Check(password); err != nil {
		return Manager{}, err
	}
	if _, _, err := r.CheckManagerLink(ctx, kind, tok); err != nil {
		return Manager{}, err
	}
	hash, err := r.hash.hash(ctx, normalizePassword(password))
	if err != nil {
		return Manager{}, fmt.Errorf("use %s link: %w", kind, err)
	}
	now := r.clock()
	_, m, err := r.store.UseManagerLink(ctx, tok.Hash(), func(l *ManagerLink, m *Manager) ([]Event, error) {
		if l.Kind != kind {
			return nil, ErrLinkInvalid
		}
		if err := linkUsable(*l, now); err != nil {
			return nil, err
		}
		want := ManagerActive
		if kind == LinkInvitation {
			want = ManagerInvited
		}
		if m.Status != want {
			return nil, ErrLinkInvalid
		}
		at := now
		l.UsedAt = &at
		m.PasswordHash = hash
		m.Status = ManagerActive
		m.UpdatedAt = now
		action := "manager.invitation.accept"
		if kind == LinkReset {
			action = "manager.reset.use"
		}
		ev := event(now, ManagerActor(m.ID), action, ManagerActor(m.ID))
		ev.Details = map[string]string{"link_id": l.ID, "remote_addr": remoteAddr}
		return []Event{ev}, nil
	})
	if errors.Is(err, ErrNotFound) {
		return Manager{}, ErrLinkInvalid
	}
	if err != nil {
		return Manager{}, fmt.Errorf("use %s link: %w", kind, err)
	}
	r.managerChanged(ctx, m.ID) // a new password
	return m, nil
}

// withInvitation fills m.Invitation for an invited manager from their
// latest invitation link.
func (r *Registry) withInvitation(ctx context.Context, m *Manager) error {
	if m.Status != ManagerInvited {
		return nil
	}
	ls, err := r.store.ManagerLinks(ctx, m.ID)
	if err != nil {
		return err
	}
	now := r.clock()
	for i := len(ls) - 1; i >= 0; i-- {
		if ls[i].Kind != LinkInvitation {
			continue
		}
		st := ls[i].State(now)
		if st == LinkUsed {
			st = LinkRevoked
		}
		m.Invitation = &Invitation{State: st, ExpiresAt: ls[i].ExpiresAt}
		return nil
	}
	m.Invitation = &Invitation{State: LinkRevoked}
	return nil
}
