package schema

import (
	"reflect"
	"testing"
)

func TestPlainKeys(t *testing.T) {
	tests := []struct {
		name   string
		create string
		want   []KeyDefinition
	}{
		{
			name: "sysbench",
			create: "CREATE TABLE `sbtest1` (\n  `id` bigint(20) NOT NULL AUTO_INCREMENT,\n  `k` int(11) NOT NULL,\n" +
				"  PRIMARY KEY (`id`),\n  KEY `k_1` (`k`)\n) ENGINE=InnoDB",
			want: []KeyDefinition{{Name: "k_1", Definition: "KEY `k_1` (`k`)"}},
		},
		{
			name: "every kind of index, in the server's order",
			create: "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  `a` varchar(20) DEFAULT NULL,\n  `b` text DEFAULT NULL,\n" +
				"  `g` point NOT NULL,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `ua` (`a`),\n" +
				"  KEY `ab` (`a`(10),`id` DESC) COMMENT 'KEY `x`, not a line of its own',\n" +
				"  KEY `odd``name` (`id`) IGNORED,\n  FULLTEXT KEY `fb` (`b`),\n  SPATIAL KEY `sg` (`g`),\n" +
				"  CONSTRAINT `fk` FOREIGN KEY (`a`) REFERENCES `p` (`a`)\n) ENGINE=InnoDB",
			want: []KeyDefinition{
				{Name: "ab", Definition: "KEY `ab` (`a`(10),`id` DESC) COMMENT 'KEY `x`, not a line of its own'"},
				{Name: "odd`name", Definition: "KEY `odd``name` (`id`) IGNORED"},
			},
		},
		{
			name:   "no secondary index",
			create: "CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB",
		},
		{
			name:   "an unterminated name is not a key",
			create: "CREATE TABLE `t` (\n  KEY `broken\n)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PlainKeys(tt.create); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("PlainKeys() = %q, want %q", got, tt.want)
			}
		})
	}
}
