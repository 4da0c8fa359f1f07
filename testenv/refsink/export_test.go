package refsink

import "github.com/valyala/fasthttp"

// ServeRequest runs the server's request handler on ctx in-process (no
// connection: BenchmarkHandler). Faults that need the connection (latency,
// drop) must be off.
func (s *Server) ServeRequest(ctx *fasthttp.RequestCtx) { s.serve(ctx) }
