package sqlite

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps the dependency direction of DESIGN.md: a store
// backend imports devices and its driver, never a sibling or a caller.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/floorgate/floorgate/"
	allowed := map[string]bool{module + "devices": true, module + "devices/devicestest": true}
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, module) && !allowed[path] {
				t.Errorf("%s imports %s; a devices store imports only devices (and its tests devicestest)", name, path)
			}
			if path == module+"devices/devicestest" && !strings.HasSuffix(name, "_test.go") {
				t.Errorf("%s imports the test suite outside a test", name)
			}
		}
	}
}
