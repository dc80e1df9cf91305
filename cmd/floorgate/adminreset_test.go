package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestAdminResetPassword: the only admin lost the password; `floorgate
// admin reset-password EMAIL`, with the server's flags and environment,
// prints a new one that signs in, ends the old sessions, and is audited.
func TestAdminResetPassword(t *testing.T) {
	env := e2eEnv(t)
	in := startFloorgate(t, env)
	var login struct {
		Token string `json:"token"`
	}
	call(t, "POST", in.AdminURL+"/admin/v1/login", "", map[string]string{"email": e2eAdminEmail, "password": e2eAdminPassword}, &login, http.StatusOK)

	var out, errs bytes.Buffer
	args := []string{"floorgate", "admin", "reset-password", "-log-level", "warn", strings.ToUpper(e2eAdminEmail)}
	if err := run(context.Background(), args, envMap(testEnv(env)), &out, &errs); err != nil {
		t.Fatalf("reset-password: %v\n%s", err, errs.String())
	}
	email, password := signIn(out.String())
	if email != e2eAdminEmail || len(password) < 12 || password == e2eAdminPassword {
		t.Fatalf("reset-password printed %q; want the email and a new password", out.String())
	}
	if strings.Contains(errs.String(), password) {
		t.Errorf("the new password is in the logs")
	}
	if got := adminLogin(t, in, e2eAdminEmail, e2eAdminPassword); got != http.StatusUnauthorized {
		t.Errorf("sign-in with the old password = %d; want 401", got)
	}
	call(t, "GET", in.AdminURL+"/admin/v1/me", login.Token, nil, nil, http.StatusUnauthorized)
	var fresh struct {
		Token string `json:"token"`
	}
	call(t, "POST", in.AdminURL+"/admin/v1/login", "", map[string]string{"email": e2eAdminEmail, "password": password}, &fresh, http.StatusOK)
	var audit struct {
		Items []struct {
			Actor   string            `json:"actor"`
			Type    string            `json:"type"`
			Details map[string]string `json:"details"`
		} `json:"items"`
	}
	call(t, "GET", in.AdminURL+"/admin/v1/audit?actor=system:cli", fresh.Token, nil, &audit, http.StatusOK)
	if len(audit.Items) != 1 || audit.Items[0].Type != "manager.update" || !strings.Contains(audit.Items[0].Details["fields"], "password") {
		t.Errorf("audit by system:cli = %+v; want one manager.update of the password", audit.Items)
	}

	for _, bad := range [][]string{
		{"floorgate", "admin", "reset-password", "nobody@example.com"},
		{"floorgate", "admin", "reset-password"},
		{"floorgate", "admin", "delete-everything", "x"},
		{"floorgate", "admin", "reset-password", "not-an-email"},
	} {
		var o, e bytes.Buffer
		if err := run(context.Background(), bad, envMap(testEnv(env)), &o, &e); err == nil {
			t.Errorf("run %q = nil; want an error", bad[1:])
		}
		if strings.Contains(o.String(), "password:") {
			t.Errorf("run %q printed a password", bad[1:])
		}
	}
}
