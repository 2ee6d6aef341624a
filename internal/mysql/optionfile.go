package mysql

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// ReadOptionFile reads the [client] (and [tailor]) groups of a my.cnf-style
// option file, as the mysql client does: "key = value" or "key" lines,
// comments after # or ;, values optionally quoted. Later groups win, so
// [tailor] overrides [client]. Keys are lower-case with '-' and '_' alike.
func ReadOptionFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read option file: %w", err)
	}
	defer f.Close()
	groups := map[string]map[string]string{}
	group := ""
	scanner := bufio.NewScanner(f)
	for lineNo := 1; scanner.Scan(); lineNo++ {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, fmt.Errorf("option file %s line %d: unterminated group name", path, lineNo)
			}
			group = strings.ToLower(strings.TrimSpace(line[1:end]))
			continue
		}
		key, value, _ := strings.Cut(line, "=")
		key = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "_", "-")
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		} else if i := strings.IndexAny(value, "#"); i >= 0 {
			value = strings.TrimSpace(value[:i])
		}
		if groups[group] == nil {
			groups[group] = map[string]string{}
		}
		groups[group][key] = value
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read option file %s: %w", path, err)
	}
	out := map[string]string{}
	for _, g := range []string{"client", "tailor"} {
		for k, v := range groups[g] {
			out[k] = v
		}
	}
	return out, nil
}
