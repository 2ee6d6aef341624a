package mysql

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// TestConnectTimesOut: a server that accepts the connection and never
// answers is given up after the connect timeout, with an error that says
// so (the driver alone waited forever, or said "invalid connection").
func TestConnectTimesOut(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // accepted, never answered
		}
	}()
	addr := l.Addr().(*net.TCPAddr)
	start := time.Now()
	_, err = Open(context.Background(), ConnConfig{Host: "127.0.0.1", Port: addr.Port, User: "u", Timeout: 500 * time.Millisecond})
	var timeout *ConnectTimeoutError
	if !errors.As(err, &timeout) || !strings.Contains(err.Error(), "timed out") || strings.Contains(err.Error(), "invalid connection") {
		t.Fatalf("Open = %v; want a ConnectTimeoutError", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("gave up after %s, want about the 500ms timeout", took)
	}
}
