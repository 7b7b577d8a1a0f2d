package control

import (
	"context"
	"regexp"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// TestPipeIsPrivate: the default control channel is the pipe named after
// the user's SID, owned by the user, and its ACL grants nobody else.
func TestPipeIsPrivate(t *testing.T) {
	t.Setenv(SocketEnv, "")
	path, err := SocketPath()
	if err != nil {
		t.Fatal(err)
	}
	sid, _ := userSID()
	if want := `\\.\pipe\rolecall-` + sid.String(); path != want {
		t.Fatalf("SocketPath() = %q, want %q", path, want)
	}
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sd, err := windows.GetSecurityInfo(windows.Handle(c.(*pipeConn).Fd()), windows.SE_KERNEL_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	sddl := sd.String()
	if !regexp.MustCompile(`^O:` + sid.String() + `D:P?(\(A;;[^;]*;;;` + sid.String() + `\))+$`).MatchString(sddl) {
		t.Errorf("pipe security %s: want owner %s and access for that SID only", sddl, sid)
	}
}
