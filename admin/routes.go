package admin

import (
	"net/http"

	"github.com/floorgate/floorgate/devices"
)

// handlerFunc is an admin handler: it writes its answer, or returns an
// error that writeError maps to a problem document.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// param is one query parameter of a route (path parameters come from
// the path itself).
type param struct {
	Name, Type, Format, Description string
	Enum                            []string
}

// route is one entry of the route table: what chi serves and what the
// OpenAPI document says, from the same value.
type route struct {
	Method, Path string // Path is relative to BasePath, chi syntax
	Summary      string
	Tag          string
	Public       bool    // no bearer
	Query        []param // query parameters
	Body         any     // JSON request body (a zero value), nil for none
	CSVBody      bool    // text/csv request body
	Status       int     // success status
	Resp         any     // JSON response (a zero value); nil with 204
	List         bool    // the response is a Page of Resp
	CSVResp      bool    // text/csv response, streamed
	Errors       []int   // statuses beyond those every route of its kind may answer
	h            handlerFunc
}

var (
	pageParams = []param{
		{Name: "page_token", Type: "string", Description: "next_page_token of the previous page"},
		{Name: "page_size", Type: "integer", Description: "1 to 500, default 100"},
	}
	userFilterParams = []param{
		{Name: "warehouse_id", Type: "string", Description: "only this warehouse"},
		{Name: "status", Type: "string", Enum: []string{"active", "suspended", "deleted"}, Description: "default: active and suspended"},
		{Name: "q", Type: "string", Description: "case-insensitive prefix of username, first or last name, or employee id"},
	}
	auditFilterParams = []param{
		{Name: "actor", Type: "string", Description: `e.g. "manager:<id>", "service_key:<id>", "system"`},
		{Name: "subject", Type: "string", Description: `e.g. "user:<id>", "device:<id>", "warehouse:<id>"`},
		{Name: "type", Type: "string", Description: `an action ("user.suspend") or a prefix ending in "." ("user.")`},
		{Name: "warehouse_id", Type: "string"},
		{Name: "from", Type: "string", Format: "date-time", Description: "at or after (RFC 3339)"},
		{Name: "to", Type: "string", Format: "date-time", Description: "before (RFC 3339)"},
	}
)

func with(ps ...[]param) []param {
	var out []param
	for _, p := range ps {
		out = append(out, p...)
	}
	return out
}

// routeTable lists every route of the admin API.
func (a *API) routeTable() []route {
	ok, created, none := http.StatusOK, http.StatusCreated, http.StatusNoContent
	conflict, weak, tooMany, tooLarge := http.StatusConflict, http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusRequestEntityTooLarge
	return []route{
		{Method: "GET", Path: "/openapi.json", Tag: "meta", Summary: "This OpenAPI 3.1 document", Public: true, Status: ok, h: a.openAPI},
		{Method: "POST", Path: "/login", Tag: "auth", Summary: "Sign in with email and password (throttled); the token is shown once", Public: true,
			Body: LoginRequest{}, Status: ok, Resp: LoginResponse{}, Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, tooMany, http.StatusServiceUnavailable}, h: a.login},
		{Method: "POST", Path: "/invitation/accept", Tag: "auth", Summary: "Accept an invitation: the token from the link and a password meeting the policy; signs the manager in (the token is shown once)", Public: true,
			Body: LinkRequest{}, Status: ok, Resp: LoginResponse{}, Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusGone, http.StatusServiceUnavailable}, h: a.useLink(devices.LinkInvitation)},
		{Method: "POST", Path: "/forgot-password", Tag: "auth", Summary: "Ask for a password-reset link by email: the same 202 answer whatever the email; an active manager gets a link valid 1 hour by mail (at most one per 5 minutes)", Public: true,
			Body: ForgotPasswordRequest{}, Status: http.StatusAccepted, Resp: ForgotPasswordResponse{}, Errors: []int{http.StatusBadRequest}, h: a.forgotPassword},
		{Method: "POST", Path: "/password-reset", Tag: "auth", Summary: "Set a new password with a reset link's token; ends the manager's other sign-ins and signs them in", Public: true,
			Body: LinkRequest{}, Status: ok, Resp: LoginResponse{}, Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusGone, http.StatusServiceUnavailable}, h: a.useLink(devices.LinkReset)},
		{Method: "POST", Path: "/logout", Tag: "auth", Summary: "Revoke the manager token of this request", Status: none, h: a.logout},
		{Method: "GET", Path: "/me", Tag: "auth", Summary: "Who is calling", Status: ok, Resp: Me{}, h: a.me},

		{Method: "GET", Path: "/warehouses", Tag: "warehouses", Summary: "Warehouses the caller's roles cover", Query: pageParams, Status: ok, Resp: devices.Warehouse{}, List: true, h: a.listWarehouses},
		{Method: "POST", Path: "/warehouses", Tag: "warehouses", Summary: "Create a warehouse (admin)", Body: devices.WarehouseInput{}, Status: created, Resp: WarehouseView{}, Errors: []int{conflict}, h: a.createWarehouse},
		{Method: "GET", Path: "/warehouses/{id}", Tag: "warehouses", Summary: "Read a warehouse with the settings in force there", Status: ok, Resp: WarehouseView{}, h: a.getWarehouse},
		{Method: "PATCH", Path: "/warehouses/{id}", Tag: "warehouses", Summary: "Change name, code or settings overrides (admin)", Body: devices.WarehousePatch{}, Status: ok, Resp: WarehouseView{}, Errors: []int{conflict}, h: a.patchWarehouse},
		{Method: "GET", Path: "/warehouses/{id}/summary", Tag: "board", Summary: "Count the warehouse's devices by state: in use, online and free, offline, not seen, quarantined, below the minimum app version, unacknowledged logouts",
			Query: []param{{Name: "not_seen_hours", Type: "integer", Description: "1 to 8760, default 24"}}, Status: ok, Resp: WarehouseSummary{}, h: a.warehouseSummary},
		{Method: "GET", Path: "/warehouses/{id}/holders", Tag: "board", Summary: "Who holds which device: live sessions with their device, user and presence",
			Query: pageParams, Status: ok, Resp: Holder{}, List: true, h: a.warehouseHolders},
		{Method: "GET", Path: "/warehouses/{id}/commands", Tag: "board", Summary: "Logout commands of the warehouse's devices not yet acknowledged (pages of devices: a page may be short and still have a next)",
			Query: pageParams, Status: ok, Resp: CommandView{}, List: true, h: a.warehouseCommands},
		{Method: "POST", Path: "/warehouses/{id}/logout", Tag: "sessions", Summary: "End every session in the warehouse", Status: ok, Resp: CommandIDsResponse{}, h: a.logoutWarehouse},

		{Method: "GET", Path: "/managers", Tag: "managers", Summary: "Manager accounts the caller manages",
			Query:  with([]param{{Name: "role", Type: "string", Enum: []string{"admin", "user_manager", "mobile_manager"}}, {Name: "warehouse_id", Type: "string"}}, pageParams),
			Status: ok, Resp: devices.Manager{}, List: true, h: a.listManagers},
		{Method: "POST", Path: "/managers", Tag: "managers", Summary: "Create a manager account; with no password, an invited one and its one-time invitation link (mailed, or in the answer)", Body: devices.ManagerInput{}, Status: created, Resp: CreatedManager{}, Errors: []int{conflict}, h: a.createManager},
		{Method: "POST", Path: "/managers/{id}/invitation", Tag: "managers", Summary: "Resend an invited manager's invitation: a new link; the old one dies", Status: created, Resp: IssuedLink{}, Errors: []int{conflict}, h: a.resendInvitation},
		{Method: "DELETE", Path: "/managers/{id}/invitation", Tag: "managers", Summary: "Revoke an invited manager's invitation", Status: ok, Resp: devices.Manager{}, Errors: []int{conflict}, h: a.revokeInvitation},
		{Method: "POST", Path: "/managers/{id}/reset-link", Tag: "managers", Summary: "Issue a one-time password-reset link, valid 1 hour, for an active manager (admins)", Status: created, Resp: IssuedLink{}, Errors: []int{conflict}, h: a.sendResetLink},
		{Method: "GET", Path: "/managers/{id}", Tag: "managers", Summary: "Read a manager account", Status: ok, Resp: devices.Manager{}, h: a.getManager},
		{Method: "PATCH", Path: "/managers/{id}", Tag: "managers", Summary: "Change a manager account (another manager's password: admins only; one's own: with current_password; a new password ends the account's other sign-ins)", Body: ManagerPatchRequest{}, Status: ok, Resp: devices.Manager{}, Errors: []int{conflict}, h: a.patchManager},
		{Method: "DELETE", Path: "/managers/{id}", Tag: "managers", Summary: "Delete a manager account", Status: none, Errors: []int{conflict}, h: a.deleteManager},
		{Method: "GET", Path: "/managers/{id}/data-export", Tag: "managers", Summary: "Download what Floorgate holds about a manager, as a JSON attachment (admins; audited): the record, roles and their warehouses, the invitation's state and the audit events about them; never a hash",
			Status: ok, Resp: ManagerDataExport{}, h: a.exportManagerData},
		{Method: "POST", Path: "/managers/{id}/unlock", Tag: "managers", Summary: "Clear the sign-in throttle of a manager", Status: ok, Resp: devices.Manager{}, h: a.unlockManager},

		{Method: "GET", Path: "/users", Tag: "users", Summary: "List mobile users", Query: with(userFilterParams, pageParams), Status: ok, Resp: devices.User{}, List: true, h: a.listUsers},
		{Method: "POST", Path: "/users", Tag: "users", Summary: "Create a mobile user", Body: CreateUserRequest{}, Status: created, Resp: devices.User{}, Errors: []int{conflict, weak}, h: a.createUser},
		{Method: "POST", Path: "/users/import", Tag: "users", Summary: "Import users from CSV, with a per-row report",
			Query:   []param{{Name: "dry_run", Type: "boolean", Description: "check and report, write nothing"}, {Name: "mode", Type: "string", Enum: []string{ModeAllOrNothing, ModeValidOnly}, Description: "default all_or_nothing"}},
			CSVBody: true, Status: ok, Resp: ImportReport{}, Errors: []int{conflict, tooLarge}, h: a.importUsers},
		{Method: "GET", Path: "/users/username", Tag: "users", Summary: "Check a username, or suggest a free one from first_name and last_name's initial",
			Query:  []param{{Name: "username", Type: "string"}, {Name: "first_name", Type: "string"}, {Name: "last_name", Type: "string"}},
			Status: ok, Resp: UsernameCheck{}, h: a.checkUsername},
		{Method: "GET", Path: "/users/export", Tag: "users", Summary: "Export users as CSV (never PINs)", Query: userFilterParams, Status: ok, CSVResp: true, h: a.exportUsers},
		{Method: "GET", Path: "/users/{id}", Tag: "users", Summary: "Read a mobile user", Status: ok, Resp: devices.User{}, h: a.getUser},
		{Method: "PATCH", Path: "/users/{id}", Tag: "users", Summary: "Change a mobile user (a new warehouse ends their sessions)", Body: devices.UserPatch{}, Status: ok, Resp: UserActionResponse{}, Errors: []int{conflict}, h: a.patchUser},
		{Method: "DELETE", Path: "/users/{id}", Tag: "users", Summary: "Soft-delete a user (restorable for 30 days); ends their sessions", Status: ok, Resp: UserActionResponse{}, Errors: []int{conflict}, h: a.deleteUser},
		{Method: "POST", Path: "/users/{id}/suspend", Tag: "users", Summary: "Suspend a user; ends their sessions", Status: ok, Resp: UserActionResponse{}, Errors: []int{conflict}, h: a.userLifecycle(a.reg.SuspendUser, "user_suspended")},
		{Method: "POST", Path: "/users/{id}/activate", Tag: "users", Summary: "Activate a suspended user", Status: ok, Resp: UserActionResponse{}, Errors: []int{conflict}, h: a.userLifecycle(a.reg.ActivateUser, "")},
		{Method: "POST", Path: "/users/{id}/restore", Tag: "users", Summary: "Restore a deleted user within 30 days", Status: ok, Resp: UserActionResponse{}, Errors: []int{conflict}, h: a.userLifecycle(a.reg.RestoreUser, "")},
		{Method: "POST", Path: "/users/{id}/unlock", Tag: "users", Summary: "Clear the user's PIN throttles", Status: ok, Resp: UserActionResponse{}, h: a.unlockUser},
		{Method: "POST", Path: "/users/{id}/logout", Tag: "users", Summary: "End all the user's sessions", Status: ok, Resp: UserActionResponse{}, h: a.logoutUser},
		{Method: "GET", Path: "/users/{id}/data-export", Tag: "users", Summary: "Download what Floorgate holds about a mobile user, as a JSON attachment (admins; audited): the record, badge (never its value), warehouse, the devices used and the sessions from custody, and the audit events about them; never a hash",
			Status: ok, Resp: UserDataExport{}, h: a.exportUserData},
		{Method: "GET", Path: "/users/{id}/badge", Tag: "users", Summary: "Whether the user has a badge, set when and by whom (never its value)", Status: ok, Resp: BadgeView{}, h: a.getBadge},
		{Method: "PUT", Path: "/users/{id}/badge", Tag: "users", Summary: "Set or replace the user's badge (kept as a keyed hash); replacing ends the sessions the old badge opened",
			Body: SetBadgeRequest{}, Status: ok, Resp: BadgeActionResponse{}, Errors: []int{conflict}, h: a.setBadge},
		{Method: "DELETE", Path: "/users/{id}/badge", Tag: "users", Summary: "Remove the user's badge; ends the sessions it opened", Status: ok, Resp: BadgeActionResponse{}, h: a.removeBadge},
		{Method: "POST", Path: "/users/{id}/reset-pin", Tag: "users", Summary: "Set a new PIN; ends the user's sessions (pin_reset)", Body: ResetPINRequest{}, Status: ok, Resp: UserActionResponse{}, Errors: []int{weak}, h: a.resetPIN},

		{Method: "GET", Path: "/devices", Tag: "devices", Summary: "List devices",
			Query: with([]param{
				{Name: "warehouse_id", Type: "string"},
				{Name: "status", Type: "string", Enum: []string{"active", "revoked"}, Description: "default active"},
				{Name: "online", Type: "boolean", Description: "holds a socket now"},
				{Name: "app_version", Type: "string", Description: "exact match"},
				{Name: "not_seen_since", Type: "string", Format: "date-time", Description: "last seen before this time, or never"},
			}, pageParams), Status: ok, Resp: DeviceView{}, List: true, h: a.listDevices},
		{Method: "GET", Path: "/devices/{id}", Tag: "devices", Summary: "Read a device with its session and presence", Status: ok, Resp: DeviceView{}, h: a.getDevice},
		{Method: "PATCH", Path: "/devices/{id}", Tag: "devices", Summary: "Rename a device", Body: devices.DevicePatch{}, Status: ok, Resp: DeviceView{}, h: a.patchDevice},
		{Method: "POST", Path: "/devices/{id}/revoke", Tag: "devices", Summary: "Revoke the enrollment: sessions end (device_revoked), socket closes 4403", Status: ok, Resp: DeviceActionResponse{}, h: a.revokeDevice},
		{Method: "POST", Path: "/devices/{id}/logout", Tag: "devices", Summary: "End the session on the device", Status: ok, Resp: DeviceActionResponse{}, h: a.logoutDevice},
		{Method: "POST", Path: "/devices/{id}/unlock", Tag: "devices", Summary: "Lift the device's PIN quarantine", Status: ok, Resp: DeviceView{}, h: a.unlockDevice},

		{Method: "GET", Path: "/enrollment-tokens", Tag: "devices", Summary: "Enrollment tokens of the warehouses where the caller enrolls devices, with their uses left",
			Query:  with([]param{{Name: "warehouse_id", Type: "string"}, {Name: "state", Type: "string", Enum: []string{"active", "all"}, Description: "default all"}}, pageParams),
			Status: ok, Resp: EnrollmentTokenView{}, List: true, h: a.listEnrollmentTokens},
		{Method: "POST", Path: "/enrollment-tokens", Tag: "devices", Summary: "Make an enrollment token for zero-touch enrollment (admin, or mobile_manager there); the token, its managed configuration and QR code (PNG, SVG) are shown once",
			Body: devices.EnrollmentTokenInput{}, Status: created, Resp: CreatedEnrollmentToken{}, h: a.createEnrollmentToken},
		{Method: "GET", Path: "/enrollment-tokens/{id}", Tag: "devices", Summary: "Read an enrollment token (never the token itself)", Status: ok, Resp: EnrollmentTokenView{}, h: a.getEnrollmentToken},
		{Method: "DELETE", Path: "/enrollment-tokens/{id}", Tag: "devices", Summary: "Revoke an enrollment token; the devices it enrolled stay enrolled", Status: ok, Resp: EnrollmentTokenView{}, h: a.revokeEnrollmentToken},

		{Method: "GET", Path: "/sessions", Tag: "sessions", Summary: "Live sessions of one user, device or warehouse (exactly one filter)",
			Query:  with([]param{{Name: "user_id", Type: "string"}, {Name: "device_id", Type: "string"}, {Name: "warehouse_id", Type: "string", Description: "paged"}}, pageParams),
			Status: ok, Resp: SessionView{}, List: true, h: a.listSessions},
		{Method: "DELETE", Path: "/sessions/{id}", Tag: "sessions", Summary: "Force the logout of one session", Status: ok, Resp: CommandIDsResponse{}, h: a.deleteSession},
		{Method: "GET", Path: "/commands/{id}", Tag: "sessions", Summary: "A logout command and its delivery", Status: ok, Resp: CommandView{}, h: a.getCommand},

		{Method: "GET", Path: "/custody", Tag: "custody", Summary: "Device custody: who had which device from when to when and how each session ended, newest first (kept 90 days)",
			Query: with(custodyFilterParams, pageParams), Status: ok, Resp: devices.Custody{}, List: true, h: a.listCustody},
		{Method: "GET", Path: "/custody/export", Tag: "custody", Summary: "Device custody as CSV, streamed", Query: custodyFilterParams, Status: ok, CSVResp: true, h: a.exportCustody},
		{Method: "GET", Path: "/custody/report", Tag: "custody", Summary: "A warehouse's devices still signed in past a time, and its devices not seen for N hours",
			Query: []param{{Name: "warehouse_id", Type: "string", Description: "required"}, {Name: "at", Type: "string", Format: "date-time", Description: "default now"},
				{Name: "not_seen_hours", Type: "integer", Description: "1 to 8760, default 24"}},
			Status: ok, Resp: CustodyReport{}, h: a.custodyReport},

		{Method: "GET", Path: "/audit", Tag: "audit", Summary: "Audit events, newest first", Query: with(auditFilterParams, pageParams), Status: ok, Resp: devices.Event{}, List: true, h: a.listAudit},
		{Method: "GET", Path: "/audit/export", Tag: "audit", Summary: "Audit events as CSV, streamed", Query: auditFilterParams, Status: ok, CSVResp: true, h: a.exportAudit},

		{Method: "GET", Path: "/settings", Tag: "settings", Summary: "Organisation defaults", Status: ok, Resp: devices.Settings{}, h: a.getSettings},
		{Method: "PATCH", Path: "/settings", Tag: "settings", Summary: "Change organisation defaults (admin); in force from the next login", Body: devices.SettingsOverride{}, Status: ok, Resp: devices.Settings{}, h: a.patchSettings},

		{Method: "GET", Path: "/service-keys", Tag: "service keys", Summary: "List service keys (admin)", Query: pageParams, Status: ok, Resp: devices.ServiceKey{}, List: true, h: a.listServiceKeys},
		{Method: "POST", Path: "/service-keys", Tag: "service keys", Summary: "Create a service key (admin); the key is shown once", Body: CreateServiceKeyRequest{}, Status: created, Resp: CreatedServiceKey{}, h: a.createServiceKey},
		{Method: "DELETE", Path: "/service-keys/{id}", Tag: "service keys", Summary: "Revoke a service key (admin)", Status: ok, Resp: devices.ServiceKey{}, Errors: []int{conflict}, h: a.revokeServiceKey},
	}
}
