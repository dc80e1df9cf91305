package console

import "strconv"

// menuItem is one entry of the menu.
type menuItem struct {
	Key, Label, Href string
}

// menu lists the pages the manager's roles open (the API refuses the
// rest anyway).
func menu(s *session) []menuItem {
	items := []menuItem{{"board", "Board", "/board"}}
	if s.managesUsers() {
		items = append(items, menuItem{"users", "Users", "/users"})
	}
	if s.managesDevices() {
		items = append(items, menuItem{"devices", "Devices", "/devices"}, menuItem{"enrollment", "Enrollment", "/enrollment-tokens"})
	}
	items = append(items, menuItem{"sessions", "Sessions", "/sessions"})
	if s.admin() || s.managesUsers() {
		items = append(items, menuItem{"managers", "Managers", "/managers"})
	}
	items = append(items, menuItem{"warehouses", "Warehouses", "/warehouses"})
	if s.admin() {
		items = append(items, menuItem{"settings", "Settings", "/settings"}, menuItem{"keys", "Service keys", "/service-keys"})
	}
	items = append(items, menuItem{"custody", "Custody", "/custody"}, menuItem{"audit", "Audit log", "/audit"})
	return items
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
