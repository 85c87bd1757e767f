// yamux-peer: the upstream hashicorp/yamux library on the far end of kata-cpp's yamux, so the
// interop tests (tests/component/yamux_interop) check our wire behaviour against the real
// implementation rather than against our own reading of the spec.
//
//	yamux-peer agent -listen PATH
//	    yamux SERVER standing in for the guest kata-agent behind QEMU's chardev socket: listens
//	    on PATH, serves the first connection, runs the stream commands below on every stream it
//	    accepts, and prints one "agent-summary ..." line when the session ends.
//
//	yamux-peer proxy -connect PATH -streams N -bytes B [-pings K] [-goaway]
//	    yamux CLIENT standing in for upstream kata-proxy: connects to PATH, pings K times, then
//	    opens N streams at once; even streams run "echo" (B+i bytes both ways), odd ones
//	    "source" (the server sends B+i bytes and half-closes first, then we answer with a
//	    "done" trailer). With -goaway every stream pauses half-way, the session sends go-away
//	    and the streams must then finish normally, as between two upstream peers. Exits 0 only
//	    when every byte checked out; prints one "proxy-summary ..." line.
//
// Stream commands (first line a client sends on a stream):
//
//	echo\n              the server echoes every byte until the client's FIN, then closes
//	sink\n              the server reads until FIN, answers "<bytes> <fnv64a hex>\n", closes
//	source <n> <seed>\n the server sends n pattern bytes, closes; reads a trailer if any
//	stats\n             the server answers its frame counters (see counters.line), closes
//
// Data is patternByte(i, seed), the same generator as tests/component/proxy/proxy_harness.cc.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

func patternByte(i uint64, seed uint32) byte {
	x := (i + uint64(seed)) * 0x9E3779B97F4A7C15
	return byte(x >> 56)
}

func fillPattern(buf []byte, offset uint64, seed uint32) {
	for i := range buf {
		buf[i] = patternByte(offset+uint64(i), seed)
	}
}

// ---- frame counters: what actually crossed the wire, parsed passively ----------------------

// frameCounter parses one direction of the connection as yamux frames (header, then the Data
// payload skipped) and counts the frames the tests ask about.
type frameCounter struct {
	mu        sync.Mutex
	hdr       [12]byte
	have      int
	skip      uint32
	pingReq   int
	pingAck   int
	goAway    int
	goAwayArg uint32
	syn       int
	fin       int
	rst       int
	dataBytes uint64
}

func (c *frameCounter) feed(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(p) > 0 {
		if c.skip > 0 {
			n := uint32(len(p))
			if n > c.skip {
				n = c.skip
			}
			p = p[n:]
			c.skip -= n
			continue
		}
		n := copy(c.hdr[c.have:], p)
		c.have += n
		p = p[n:]
		if c.have < len(c.hdr) {
			return
		}
		c.have = 0
		typ := c.hdr[1]
		flags := binary.BigEndian.Uint16(c.hdr[2:4])
		length := binary.BigEndian.Uint32(c.hdr[8:12])
		switch typ {
		case 0: // data
			c.skip = length
			c.dataBytes += uint64(length)
		case 2: // ping
			if flags&1 != 0 {
				c.pingReq++
			}
			if flags&2 != 0 {
				c.pingAck++
			}
		case 3: // go away
			c.goAway++
			c.goAwayArg = length
		}
		if typ <= 1 {
			if flags&1 != 0 {
				c.syn++
			}
			if flags&4 != 0 {
				c.fin++
			}
			if flags&8 != 0 {
				c.rst++
			}
		}
	}
}

type sniffConn struct {
	net.Conn
	in, out *frameCounter
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.in.feed(p[:n])
	}
	return n, err
}

func (c *sniffConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.out.feed(p[:n])
	}
	return n, err
}

// line: pings we received and answered, go-aways received, stream opens/closes/resets seen.
func (c *sniffConn) line() string {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	return fmt.Sprintf("pings_in=%d pongs_out=%d pongs_in=%d goaway_in=%d goaway_code=%d "+
		"syn_in=%d fin_in=%d rst_in=%d rst_out=%d data_in=%d data_out=%d",
		c.in.pingReq, c.out.pingAck, c.in.pingAck, c.in.goAway, c.in.goAwayArg,
		c.in.syn, c.in.fin, c.in.rst, c.out.rst, c.in.dataBytes, c.out.dataBytes)
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "yamux-peer: "+format+"\n", args...)
	os.Exit(2)
}

// ---- agent: yamux server ------------------------------------------------------------------

func runAgent(args []string) {
	fs := flag.NewFlagSet("agent", flag.ExitOnError)
	listen := fs.String("listen", "", "unix socket to listen on (QEMU's chardev)")
	fs.Parse(args)
	if *listen == "" {
		fail("agent: -listen is required")
	}
	ln, err := net.Listen("unix", *listen)
	if err != nil {
		fail("agent: %v", err)
	}
	conn, err := ln.Accept()
	ln.Close() // one connection, as a chardev socket
	if err != nil {
		fail("agent: accept: %v", err)
	}
	sc := &sniffConn{Conn: conn, in: &frameCounter{}, out: &frameCounter{}}
	cfg := yamux.DefaultConfig() // as upstream kata-agent
	cfg.LogOutput = os.Stderr
	sess, err := yamux.Server(sc, cfg)
	if err != nil {
		fail("agent: %v", err)
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	served, failed := 0, 0
	for {
		st, err := sess.AcceptStream()
		if err != nil {
			fmt.Fprintf(os.Stderr, "agent: session ended: %v\n", err)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := serveStream(st, sc)
			mu.Lock()
			served++
			if err != nil {
				failed++
				fmt.Fprintf(os.Stderr, "agent: stream %d: %v\n", st.StreamID(), err)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Printf("agent-summary streams=%d failed=%d %s\n", served, failed, sc.line())
}

func serveStream(st *yamux.Stream, sc *sniffConn) error {
	defer st.Close()
	br := bufio.NewReader(st)
	cmd, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading command: %v", err)
	}
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return errors.New("empty command")
	}
	switch f[0] {
	case "echo":
		_, err := io.Copy(st, br)
		return err
	case "sink":
		h := fnv.New64a()
		n, err := io.Copy(h, br)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(st, "%d %016x\n", n, h.Sum64())
		return err
	case "source":
		if len(f) != 3 {
			return fmt.Errorf("bad source command %q", cmd)
		}
		n, err1 := strconv.ParseUint(f[1], 10, 64)
		seed, err2 := strconv.ParseUint(f[2], 10, 32)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("bad source command %q", cmd)
		}
		return sendPattern(st, n, uint32(seed))
	case "stats":
		_, err := fmt.Fprintf(st, "%s\n", sc.line())
		return err
	}
	return fmt.Errorf("unknown command %q", f[0])
}

func sendPattern(w io.Writer, n uint64, seed uint32) error {
	buf := make([]byte, 64*1024)
	for off := uint64(0); off < n; {
		chunk := buf
		if n-off < uint64(len(chunk)) {
			chunk = chunk[:n-off]
		}
		fillPattern(chunk, off, seed)
		if _, err := w.Write(chunk); err != nil {
			return fmt.Errorf("write at %d/%d: %v", off, n, err)
		}
		off += uint64(len(chunk))
	}
	return nil
}

// readPattern reads exactly n pattern bytes (or to EOF when toEOF) and checks every byte.
// After `pauseAt` bytes it calls pause() once (the -goaway barrier).
func readPattern(r io.Reader, n uint64, seed uint32, toEOF bool, pauseAt uint64,
	pause func()) (uint64, error) {
	buf := make([]byte, 64*1024)
	got := uint64(0)
	paused := pause == nil
	for toEOF || got < n {
		if !paused && got >= pauseAt {
			pause()
			paused = true
		}
		want := buf
		if !toEOF && n-got < uint64(len(want)) {
			want = want[:n-got]
		}
		if !paused && pauseAt-got < uint64(len(want)) {
			want = want[:pauseAt-got]
		}
		k, err := r.Read(want)
		for i := 0; i < k; i++ {
			if want[i] != patternByte(got+uint64(i), seed) {
				return got, fmt.Errorf("byte %d differs", got+uint64(i))
			}
		}
		got += uint64(k)
		if err == io.EOF && toEOF {
			break
		}
		if err != nil {
			return got, fmt.Errorf("read at %d/%d: %v", got, n, err)
		}
	}
	if got != n {
		return got, fmt.Errorf("got %d bytes, want %d", got, n)
	}
	return got, nil
}

// ---- proxy: yamux client ------------------------------------------------------------------

type barrier struct {
	arrived sync.WaitGroup
	release chan struct{}
}

func (b *barrier) wait() {
	b.arrived.Done()
	<-b.release
}

func runProxy(args []string) {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	connect := fs.String("connect", "", "unix socket of the yamux server")
	streams := fs.Int("streams", 4, "streams to open at once")
	bytes := fs.Uint64("bytes", 1<<20, "bytes per stream (stream i moves bytes+i)")
	pings := fs.Int("pings", 3, "pings to send first")
	goAway := fs.Bool("goaway", false, "send go-away half-way through the streams")
	fs.Parse(args)
	if *connect == "" {
		fail("proxy: -connect is required")
	}
	conn, err := net.Dial("unix", *connect)
	if err != nil {
		fail("proxy: %v", err)
	}
	sc := &sniffConn{Conn: conn, in: &frameCounter{}, out: &frameCounter{}}
	// As upstream kata-proxy: no keepalive of the library, 1 s write timeout (also the ping
	// reply timeout of Session.Ping).
	cfg := yamux.DefaultConfig()
	cfg.EnableKeepAlive = false
	cfg.ConnectionWriteTimeout = time.Second
	cfg.LogOutput = os.Stderr
	sess, err := yamux.Client(sc, cfg)
	if err != nil {
		fail("proxy: %v", err)
	}

	failures := 0
	for i := 0; i < *pings; i++ {
		if _, err := sess.Ping(); err != nil {
			fmt.Fprintf(os.Stderr, "proxy: ping %d: %v\n", i, err)
			failures++
		}
	}

	var b *barrier
	if *goAway {
		b = &barrier{release: make(chan struct{})}
		b.arrived.Add(*streams)
	}
	var wg sync.WaitGroup
	errs := make([]error, *streams)
	for i := 0; i < *streams; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			n := *bytes + uint64(i)
			errs[i] = runStream(sess, i, n, b)
		}(i)
	}
	goAwaySent := false
	if b != nil {
		waited := make(chan struct{})
		go func() { b.arrived.Wait(); close(waited) }()
		select {
		case <-waited:
			if err := sess.GoAway(); err != nil {
				fmt.Fprintf(os.Stderr, "proxy: go-away: %v\n", err)
				failures++
			} else {
				goAwaySent = true
			}
		case <-time.After(10 * time.Second):
			fmt.Fprintf(os.Stderr, "proxy: streams never reached the half-way barrier\n")
			failures++
		}
		close(b.release)
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if err != nil {
			fmt.Fprintf(os.Stderr, "proxy: stream %d: %v\n", i, err)
			failures++
		} else {
			ok++
		}
	}
	// Give our last FINs a moment to reach the server before the connection goes.
	time.Sleep(100 * time.Millisecond)
	sess.Close()
	fmt.Printf("proxy-summary ok=%d failed=%d goaway_sent=%v %s\n", ok, failures, goAwaySent,
		sc.line())
	if failures > 0 {
		os.Exit(1)
	}
}

// runStream: even i echo, odd i source. With b set, the stream waits at half-way.
func runStream(sess *yamux.Session, i int, n uint64, b *barrier) (err error) {
	seed := uint32(1000 + i)
	arrived := false
	pause := func() {
		arrived = true
		b.wait()
	}
	defer func() {
		if !arrived && b != nil {
			b.arrived.Done() // a failed stream must not hold the others at the barrier
		}
	}()
	var pauseFn func()
	if b != nil {
		pauseFn = pause
	}
	st, err := sess.OpenStream()
	if err != nil {
		return fmt.Errorf("open: %v", err)
	}
	defer st.Close()
	if i%2 == 0 {
		if _, err := io.WriteString(st, "echo\n"); err != nil {
			return err
		}
		// The writer sends the first half, waits until the echo of it arrived (and the barrier
		// released), then sends the rest.
		half := n / 2
		halfEchoed := make(chan struct{})
		writeErr := make(chan error, 1)
		go func() {
			buf := make([]byte, 64*1024)
			for off := uint64(0); off < n; {
				if off == half {
					<-halfEchoed
				}
				end := off + uint64(len(buf))
				if off < half && end > half {
					end = half
				}
				if end > n {
					end = n
				}
				chunk := buf[:end-off]
				fillPattern(chunk, off, seed)
				if _, err := st.Write(chunk); err != nil {
					writeErr <- fmt.Errorf("write at %d: %v", off, err)
					return
				}
				off = end
			}
			writeErr <- nil
		}()
		reached := func() {
			if pauseFn != nil {
				pauseFn()
			}
			close(halfEchoed)
		}
		if _, err := readPattern(st, n, seed, false, half, reached); err != nil {
			return fmt.Errorf("echo: %v", err)
		}
		return <-writeErr
	}
	if _, err := fmt.Fprintf(st, "source %d %d\n", n, seed); err != nil {
		return err
	}
	got, err := readPattern(st, n, seed, true, n/2, pauseFn)
	if err != nil {
		return fmt.Errorf("source: %v", err)
	}
	// The server half-closed first; writing after its FIN must still reach it.
	_, err = fmt.Fprintf(st, "done %d\n", got)
	return err
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: yamux-peer agent|proxy [flags]")
	}
	switch os.Args[1] {
	case "agent":
		runAgent(os.Args[2:])
	case "proxy":
		runProxy(os.Args[2:])
	default:
		fail("unknown mode %q (want agent or proxy)", os.Args[1])
	}
}
