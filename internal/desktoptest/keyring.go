package desktoptest

import (
	"testing"

	"github.com/godbus/dbus/v5"
)

// KeyringPassword is the password of the login keyring StartKeyring
// creates.
const KeyringPassword = "test-keyring-password"

const (
	secretsName    = "org.freedesktop.secrets"
	secretsPath    = dbus.ObjectPath("/org/freedesktop/secrets")
	loginKeyring   = dbus.ObjectPath("/org/freedesktop/secrets/collection/login")
	secretService  = "org.freedesktop.Secret.Service"
	gnomeInterface = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
)

// LockKeyring locks the login keyring, as the desktop does when the
// screen locks or before the user typed the password at login. With no
// password prompter on the private bus, a client that needs the keyring
// is refused until UnlockKeyring.
func (s *Session) LockKeyring(t testing.TB) {
	t.Helper()
	conn := s.connect(t)
	defer conn.Close()
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	err := conn.Object(secretsName, secretsPath).Call(secretService+".Lock", 0, []dbus.ObjectPath{loginKeyring}).Store(&locked, &prompt)
	if err != nil || len(locked) != 1 {
		t.Fatalf("lock the login keyring: %v (locked %v, prompt %s)", err, locked, prompt)
	}
}

// UnlockKeyring unlocks the login keyring with its password, as the user
// typing it into the desktop's prompt would.
func (s *Session) UnlockKeyring(t testing.TB) {
	t.Helper()
	conn := s.connect(t)
	defer conn.Close()
	svc := conn.Object(secretsName, secretsPath)
	var out dbus.Variant
	var session dbus.ObjectPath
	if err := svc.Call(secretService+".OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&out, &session); err != nil {
		t.Fatalf("open a Secret Service session: %v", err)
	}
	secret := struct {
		Session     dbus.ObjectPath
		Parameters  []byte
		Value       []byte
		ContentType string
	}{session, []byte{}, []byte(KeyringPassword), "text/plain"}
	if err := svc.Call(gnomeInterface+".UnlockWithMasterPassword", 0, loginKeyring, secret).Err; err != nil {
		t.Fatalf("unlock the login keyring: %v", err)
	}
}

func (s *Session) connect(t testing.TB) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}
