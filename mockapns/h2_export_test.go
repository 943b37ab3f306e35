package mockapns

// HTTP2ConnsOpen returns the gauge of open HTTP/2 connections.
func (s *Server) HTTP2ConnsOpen() int64 { return s.h2.stats.connectionsOpen.Load() }
