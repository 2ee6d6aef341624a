package mysql

import "testing"

func TestParseServer(t *testing.T) {
	t.Parallel()
	cases := []struct {
		version, comment string
		flavor           Flavor
		want             Version
		renameUnderLock  bool
		statusQuery      string
	}{
		{"10.11.19-MariaDB-0+deb12u1", "Debian 12", FlavorMariaDB, Version{10, 11, 19}, false, "SHOW MASTER STATUS"},
		{"5.5.5-10.11.6-MariaDB", "mariadb.org binary distribution", FlavorMariaDB, Version{10, 11, 6}, false, "SHOW MASTER STATUS"},
		{"8.0.36", "MySQL Community Server - GPL", FlavorMySQL, Version{8, 0, 36}, true, "SHOW MASTER STATUS"},
		{"8.0.12", "MySQL Community Server - GPL", FlavorMySQL, Version{8, 0, 12}, false, "SHOW MASTER STATUS"},
		{"8.4.3", "MySQL Community Server - GPL", FlavorMySQL, Version{8, 4, 3}, true, "SHOW BINARY LOG STATUS"},
	}
	for _, c := range cases {
		s, err := ParseServer(c.version, c.comment)
		if err != nil {
			t.Fatalf("ParseServer(%q): %v", c.version, err)
		}
		if s.Flavor != c.flavor || s.Version != c.want {
			t.Errorf("ParseServer(%q) = %v %v, want %v %v", c.version, s.Flavor, s.Version, c.flavor, c.want)
		}
		if got := s.SupportsRenameUnderLock(); got != c.renameUnderLock {
			t.Errorf("%q SupportsRenameUnderLock = %v", c.version, got)
		}
		if got := s.BinlogStatusQuery(); got != c.statusQuery {
			t.Errorf("%q BinlogStatusQuery = %q", c.version, got)
		}
	}
	if _, err := ParseServer("garbage", ""); err == nil {
		t.Error("ParseServer(garbage) did not fail")
	}
}
