package private

import (
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"golang.org/x/sys/windows"
)

// TestPrivateFileACL reads the written file's security descriptor back as
// SDDL, independently of Check: owned by the current user, and
// every ACE granting the current user's SID and no other (no Everyone,
// Users, Administrators), SYSTEM aside: wine derives a file's ACL from its
// Unix mode and always lists SYSTEM; real Windows keeps the user-only ACL
// as written.
func TestPrivateFileACL(t *testing.T) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	me := u.User.Sid.String()
	check := func(p string) {
		t.Helper()
		sd, err := windows.GetNamedSecurityInfo(p, windows.SE_FILE_OBJECT,
			windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
		if err != nil {
			t.Fatal(err)
		}
		sddl := sd.String()
		if !regexp.MustCompile(`^O:` + me + `D:`).MatchString(sddl) {
			t.Errorf("%s: %s; want owner %s", filepath.Base(p), sddl, me)
		}
		aces := regexp.MustCompile(`\(([^)]*)\)`).FindAllStringSubmatch(sddl, -1)
		if len(aces) == 0 {
			t.Errorf("%s: no ACE in %s", filepath.Base(p), sddl)
		}
		for _, a := range aces {
			if !regexp.MustCompile(`^A;[^;]*;[^;]*;;;(` + me + `|SY)$`).MatchString(a[1]) {
				t.Errorf("%s: ACE %q gives access to another SID (%s)", filepath.Base(p), a[1], sddl)
			}
		}
	}
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := WriteFile(token, []byte("tok")); err != nil {
		t.Fatal(err)
	}
	check(token)
	audit := filepath.Join(dir, "audit.log")
	f, err := OpenFile(audit, os.O_WRONLY|os.O_APPEND|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	check(audit)
}

// underWine tells whether this Windows is wine (its ntdll exports
// wine_get_version).
var underWine = sync.OnceValue(func() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
})
