// ttrpc-peer: upstream's ttrpc library (github.com/containerd/ttrpc; Debian's 1.1.1, the
// version containerd 1.6 is built with) on the other side of ttrpc_interop_test.cc.
//
//	ttrpc-peer client SOCKET   calls our server's test.Echo service; one line per check
//	ttrpc-peer server SOCKET   serves test.Echo (Echo, Fail, Sleep) on SOCKET until killed
//
// Payloads are google.protobuf.StringValue messages (gogo's types, as ttrpc 1.1 marshals them).
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func call(c *ttrpc.Client, ctx context.Context, service, method, value string) (string, error) {
	var resp types.StringValue
	err := c.Call(ctx, service, method, &types.StringValue{Value: value}, &resp)
	return resp.Value, err
}

// describe prints an outcome as "Code \"message\"" (Code is OK on success).
func describe(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "DeadlineExceeded (client context)"
	}
	s := status.Convert(err)
	return fmt.Sprintf("%v %q", s.Code(), s.Message())
}

func runClient(path string) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	c := ttrpc.NewClient(conn)
	defer c.Close()
	ctx := context.Background()

	out, err := call(c, ctx, "test.Echo", "Echo", "hello from go")
	fmt.Printf("echo: %s %q\n", describe(err), out)

	mctx := ttrpc.WithMetadata(ctx, ttrpc.MD{"k": []string{"v1", "v2"}})
	out, err = call(c, mctx, "test.Echo", "Meta", "")
	fmt.Printf("metadata: %s %q\n", describe(err), out)

	_, err = call(c, ctx, "no.Such", "Echo", "")
	fmt.Printf("unknown service: %s\n", describe(err))
	_, err = call(c, ctx, "test.Echo", "Nope", "")
	fmt.Printf("unknown method: %s\n", describe(err))
	_, err = call(c, ctx, "test.Echo", "Fail", "")
	fmt.Printf("handler status: %s\n", describe(err))

	out, err = call(c, ctx, "test.Echo", "Echo", strings.Repeat("x", 3<<20))
	fmt.Printf("3 MiB echo: %s %d\n", describe(err), len(out))
	_, err = call(c, ctx, "test.Echo", "Echo", strings.Repeat("x", 5<<20))
	fmt.Printf("5 MiB request: %s\n", describe(err))

	// A slow call and fast calls on the same connection at once.
	slow := make(chan error, 1)
	go func() {
		_, err := call(c, ctx, "test.Echo", "Slow", "")
		slow <- err
	}()
	time.Sleep(200 * time.Millisecond)
	var wg sync.WaitGroup
	fastOK := 0
	var mu sync.Mutex
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			want := fmt.Sprintf("fast %d", i)
			if got, err := call(c, ctx, "test.Echo", "Echo", want); err == nil && got == want {
				mu.Lock()
				fastOK++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	slowPending := len(slow) == 0
	fmt.Printf("concurrent: %d/16 fast calls answered while the slow one ran: %v\n", fastOK, slowPending)
	_, err = call(c, ctx, "test.Echo", "Release", "")
	fmt.Printf("release: %s\n", describe(err))
	fmt.Printf("slow: %s\n", describe(<-slow))

	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = call(c, dctx, "test.Echo", "Sleep", "")
	fmt.Printf("deadline: %s\n", describe(err))
	// The server's own timer for that call fires about when the client's does: the
	// connection stays open meanwhile, or closing it would cancel the call first.
	time.Sleep(2 * time.Second)
}

func runServer(path string) {
	s, err := ttrpc.NewServer()
	if err != nil {
		fmt.Println("server:", err)
		os.Exit(1)
	}
	s.Register("test.Echo", map[string]ttrpc.Method{
		"Echo": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req types.StringValue
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			md, _ := ttrpc.GetMetadata(ctx)
			return &types.StringValue{Value: "go: " + req.Value + strings.Join(md["k"], ",")}, nil
		},
		"Fail": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			return nil, status.Errorf(codes.NotFound, "nothing here")
		},
		"Sleep": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			select {
			case <-ctx.Done():
				return nil, status.FromContextError(ctx.Err()).Err()
			case <-time.After(20 * time.Second):
				return &types.StringValue{Value: "no deadline"}, nil
			}
		},
	})
	l, err := net.Listen("unix", path)
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	if err := s.Serve(context.Background(), l); err != nil {
		fmt.Println("serve:", err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: ttrpc-peer client|server SOCKET")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "client":
		runClient(os.Args[2])
	case "server":
		runServer(os.Args[2])
	default:
		os.Exit(2)
	}
}
