package mysql

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestReadOptionFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "my.cnf")
	content := `# a comment
[mysqld]
port = 9999

[client]
user = app
password = "s3cr#t pw"
host=db.internal
port = 3307 # trailing comment
socket_path = /tmp/x

[tailor]
user = migrator
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadOptionFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"user": "migrator", "password": "s3cr#t pw", "host": "db.internal", "port": "3307", "socket-path": "/tmp/x"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadOptionFile = %v, want %v", got, want)
	}
	if _, err := ReadOptionFile(filepath.Join(t.TempDir(), "missing.cnf")); err == nil {
		t.Error("missing file did not fail")
	}
}
