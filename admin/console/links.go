package console

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/floorgate/floorgate/admin"
)

// The pages that invitation and reset links open. The link carries its
// token in the fragment (/invitation#fgi_…), which the browser never
// sends: console.js copies it into the form's code field, and the form
// posts it in its body; without script, the manager pastes it. Neither
// page ever puts the token in a URL, a cookie or a log.

// linkPage is the data of the set-password page of one kind of link.
type linkPage struct {
	Kind   string // invitation or reset
	Action string // the form's path
	Title  string
	Intro  string
}

var (
	invitationPage = linkPage{Kind: "invitation", Action: admin.InvitationPath, Title: "Accept your invitation",
		Intro: "Choose the password you will sign in with. The invitation works once."}
	resetPage = linkPage{Kind: "reset", Action: admin.ResetPasswordPath, Title: "Set a new password",
		Intro: "Choose a new password. The link works once, and signs you out everywhere else."}
)

// linkForm shows a set-password page.
func (c *Console) linkForm(p linkPage) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ *session) error {
		return c.render(w, r, http.StatusOK, "link", view{Title: p.Title, Data: p, Form: url.Values{}})
	}
}

// useLink posts the code and the new password to the API; on success
// the manager is signed in.
func (c *Console) useLink(p linkPage, apiPath string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, _ *session) error {
		if err := r.ParseForm(); err != nil {
			return badForm(err)
		}
		f := r.PostForm
		keep := url.Values{"code": {f.Get("code")}}
		if f.Get("password") != f.Get("password2") {
			return c.render(w, r, http.StatusBadRequest, "link", view{Title: p.Title, Data: p, Form: keep,
				Error: "The two passwords differ. Nothing was changed.", Fields: map[string]string{"password2": "type the same password twice"}})
		}
		var out admin.LoginResponse
		err := c.do(r.Context(), r, "", "POST", apiPath, admin.LinkRequest{Token: f.Get("code"), Password: f.Get("password")}, &out)
		var ae *apiError
		if errors.As(err, &ae) && ae.Status < 500 {
			fields := ae.fieldErrors()
			if v, ok := fields["token"]; ok {
				fields["code"] = v
			}
			return c.render(w, r, ae.Status, "link", view{Title: p.Title, Data: p, Form: keep, Error: linkMessage(ae), Fields: fields})
		}
		if err != nil {
			return err
		}
		c.setCookie(w, r, out.Token, out.ExpiresAt)
		c.redirect(w, r, "/account", flash{Kind: "ok", Text: "Your password is set, and you are signed in."})
		return nil
	}
}

// linkMessage says why a link was refused.
func linkMessage(ae *apiError) string {
	switch ae.Code {
	case "invalid_link":
		return "This link does not work: it was used already, replaced by a newer one, or revoked. Ask an admin for a new one."
	case "link_expired":
		return "This link has expired. Ask an admin for a new one."
	}
	return problemMessage(ae) + " Nothing was changed."
}

// resendInvitation issues a new invitation and shows its link once.
func (c *Console) resendInvitation(w http.ResponseWriter, r *http.Request, s *session) error {
	var l admin.IssuedLink
	if err := c.do(r.Context(), r, s.token, "POST", "/managers/"+url.PathEscape(r.PathValue("id"))+"/invitation", nil, &l); err != nil {
		return c.linkActionFailed(w, r, err)
	}
	return c.renderManager(w, r, s, http.StatusCreated, view{Data: &l})
}

// sendResetLink issues a reset link and shows it once.
func (c *Console) sendResetLink(w http.ResponseWriter, r *http.Request, s *session) error {
	var l admin.IssuedLink
	if err := c.do(r.Context(), r, s.token, "POST", "/managers/"+url.PathEscape(r.PathValue("id"))+"/reset-link", nil, &l); err != nil {
		return c.linkActionFailed(w, r, err)
	}
	return c.renderManager(w, r, s, http.StatusCreated, view{Data: &l})
}

func (c *Console) revokeInvitation(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	if err := c.do(r.Context(), r, s.token, "DELETE", "/managers/"+url.PathEscape(id)+"/invitation", nil, nil); err != nil {
		return c.linkActionFailed(w, r, err)
	}
	c.redirect(w, r, "/managers/"+url.PathEscape(id), flash{Kind: "ok", Text: "Invitation revoked: its link no longer works."})
	return nil
}

// linkActionFailed shows a refused link action on the manager's page.
func (c *Console) linkActionFailed(w http.ResponseWriter, r *http.Request, err error) error {
	var ae *apiError
	if errors.As(err, &ae) && (ae.Status == http.StatusConflict || ae.Status == http.StatusForbidden) {
		c.redirect(w, r, "/managers/"+url.PathEscape(r.PathValue("id")), flash{Kind: "error", Text: problemMessage(ae)})
		return nil
	}
	return err
}

// forgotPage asks for an email; forgotPassword passes it on and shows the
// API's one answer, whatever the email.
func (c *Console) forgotPage(w http.ResponseWriter, r *http.Request, _ *session) error {
	return c.render(w, r, http.StatusOK, "forgot", view{Title: "Forgot your password", Form: url.Values{}})
}

func (c *Console) forgotPassword(w http.ResponseWriter, r *http.Request, _ *session) error {
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	var out admin.ForgotPasswordResponse
	err := c.do(r.Context(), r, "", "POST", "/forgot-password", admin.ForgotPasswordRequest{Email: r.PostForm.Get("email")}, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status < 500 {
		return c.render(w, r, ae.Status, "forgot", view{Title: "Forgot your password", Form: r.PostForm, Error: problemMessage(ae), Fields: ae.fieldErrors()})
	}
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusAccepted, "forgot", view{Title: "Forgot your password", Form: url.Values{}, Data: out.Status})
}
