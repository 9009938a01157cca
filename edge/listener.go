package edge

import (
	"errors"
	"log/slog"
	"net"
	"time"
)

// retryListener keeps an HTTP listener serving through failures to
// accept. fasthttp (under fiber) takes any Accept error but a timeout as
// permanent and stops serving: one EMFILE ("too many open files") in a
// flood of connections would end the node's HTTP side for good, while the
// broker, which retries (see edge/mqtt's acceptListener), carried on. It
// retries as net/http does, waiting 5 ms, doubling up to 1 s, until the
// listener is closed.
type retryListener struct {
	net.Listener
	log  *slog.Logger
	what string // "http" or "https", for the log
}

// Accept returns the next connection; its only errors are those of a
// closed listener.
func (l *retryListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return c, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		delay = min(max(2*delay, 5*time.Millisecond), time.Second)
		l.log.Warn("accept failed; retrying", "listener", l.what, "err", err, "retry_in", delay)
		time.Sleep(delay)
	}
}
