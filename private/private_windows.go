package private

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// userSID is the SID of the user this process runs as.
var userSID = sync.OnceValues(func() (*windows.SID, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	return u.User.Sid.Copy()
})

// privateSD is a security descriptor owned by the current user whose
// protected DACL (nothing inherited from the folder) grants only that user.
func privateSD() (*windows.SECURITY_DESCRIPTOR, error) {
	sid, err := userSID()
	if err != nil {
		return nil, err
	}
	return windows.SecurityDescriptorFromString("O:" + sid.String() + "D:P(A;;FA;;;" + sid.String() + ")")
}

func openPrivate(path string, flag int) (*os.File, error) {
	if flag&os.O_CREATE != 0 {
		if err := createPrivate(path, flag&os.O_EXCL != 0); err != nil {
			return nil, err
		}
	} else if err := makePrivate(path); err != nil {
		return nil, err
	}
	return os.OpenFile(path, flag&^(os.O_CREATE|os.O_EXCL), 0o600)
}

// createPrivate creates path with the private descriptor from the start, or
// makes an existing file private.
func createPrivate(path string, excl bool) error {
	sd, err := privateSD()
	if err != nil {
		return err
	}
	sa := &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return err
	}
	// CREATE_NEW, not OPEN_ALWAYS: whether the file was there decides
	// whether the descriptor given here applies.
	h, err := windows.CreateFile(name, windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, sa, windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if (err == windows.ERROR_FILE_EXISTS || err == windows.ERROR_ALREADY_EXISTS) && !excl {
		return makePrivate(path)
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	return windows.CloseHandle(h)
}

// makePrivate gives an existing file the private owner and DACL.
func makePrivate(path string) error {
	sd, err := privateSD()
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	sid, _ := userSID()
	err = windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION,
		sid, nil, dacl, nil)
	if err != nil {
		return &os.PathError{Op: "set security", Path: path, Err: err}
	}
	return nil
}

// checkPrivate accepts ACEs for the current user and for SYSTEM, the
// operating system itself, which reads every file whatever its ACL (as
// OpenSSH for Windows accepts it on private keys; wine lists it on every
// file, deriving the ACL from the Unix mode).
func checkPrivate(path string) error {
	me, err := userSID()
	if err != nil {
		return err
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return &os.PathError{Op: "read security", Path: path, Err: err}
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil || !owner.Equals(me) {
		return fmt.Errorf("%s belongs to %v, not to you", path, owner)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	if dacl == nil {
		return fmt.Errorf("%s has no access list: everyone may open it", path)
	}
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return err
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE || ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 || ace.Mask == 0 {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if !sid.Equals(me) && !sid.IsWellKnown(windows.WinLocalSystemSid) {
			return fmt.Errorf("%s is open to %s, not only to you", path, sid)
		}
	}
	return nil
}

func privateDir(path string, create bool) (bool, error) {
	if create {
		if err := os.MkdirAll(path, 0o700); err != nil {
			return false, err
		}
	}
	return false, nil
}
